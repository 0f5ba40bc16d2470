"""`ballast eval --audit FILE.sqlite` and `ballast audit verify|query|export`: the ledger from the command line."""

from __future__ import annotations

import base64
import io
import json
import sqlite3
from pathlib import Path

import pytest
from support import run_cli

from ballast.runtime.ledger_read import LedgerReader

REPO = Path(__file__).resolve().parents[2]
WATCHDOG = REPO / "catalog" / "watchdog.bal"
EVENTS = REPO / "catalog" / "watchdog-events.jsonl"
SEED = bytes(range(32))

run = run_cli


def new_key(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """A key pair written by `ballast key new`: (NAME.key, NAME.pub) under tmp_path/keys."""
    code, out, _ = run("key", "new", "--out", tmp_path / "keys", "--name", name, "--format", "json")
    assert code == 0
    info = json.loads(out)
    return Path(info["private_key_file"]), Path(info["public_key_file"])


def key_id_of(key: Path) -> str:
    return str(json.loads(run("key", "show", key, "--format", "json")[1])["key_id"])


def keyring(tmp_path: Path, *keys: tuple[Path, str], roles: str = "LedgerWriter", name: str = "keyring.yaml") -> Path:
    """A keyring of the keys given as (key file, extra YAML of its entry: roles, dates, revoked)."""
    lines = ["keyring: test", "roles:"] + [f"  {r}: {{threshold: 1}}" for r in roles.split()]
    lines += [f"default_role: {roles.split()[-1]}", "keys:"]
    for key, extra in keys:
        shown = json.loads(run("key", "show", key, "--format", "json")[1])
        lines += [
            f'  - id: "{shown["key_id"]}"',
            f"    name: {shown['name']}",
            f"    public_key: {shown['public_key']}",
        ]
        lines += [f"    {line}" for line in (extra or "roles: [LedgerWriter]").split("; ")]
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    """The ledger writer's key pair, made by `ballast key new`."""
    return new_key(tmp_path, "writer")


@pytest.fixture
def ledger(tmp_path: Path, keys: tuple[Path, Path]) -> Path:
    path = tmp_path / "audit.sqlite"
    code, _, err = run("eval", WATCHDOG, "--events", EVENTS, "--audit", path, "--audit-key", keys[0])
    assert code == 1 and err == ""  # the events file holds a few bad events on purpose
    return path


def strip_ledger_keys(entry: dict) -> dict:
    return {k: v for k, v in entry.items() if k not in ("time", "prev", "hash")}


def test_eval_writes_the_same_entries_to_a_ledger_as_to_a_jsonl_trail(tmp_path: Path, ledger: Path) -> None:
    trail = tmp_path / "audit.jsonl"
    run("eval", WATCHDOG, "--events", EVENTS, "--audit", trail)
    jsonl = [json.loads(line) for line in trail.read_text(encoding="utf-8").splitlines()]
    with LedgerReader.open(ledger) as reader:
        stored = [strip_ledger_keys(e) for e in reader.entries()]
    assert stored == jsonl and len(stored) > 5


class _CheckingStdout(io.StringIO):
    """Stdout that, whenever a directive is printed, checks that the ledger has committed it already."""

    def __init__(self, ledger: Path) -> None:
        super().__init__()
        self.ledger = ledger
        self.checked = 0

    def write(self, text: str) -> int:
        for line in text.splitlines():
            for directive in json.loads(line)["directives"]:
                with LedgerReader.open(self.ledger) as reader:
                    ids = {e.get("directive_id") for e in reader.query(kind="DirectiveIssued")}
                assert directive["directive_id"] in ids, (
                    f"printed before it was in the ledger: {directive['directive_id']}"
                )
                self.checked += 1
        return super().write(text)


def test_each_directive_is_committed_to_the_ledger_before_it_is_printed(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    stdout = _CheckingStdout(path)
    run("eval", WATCHDOG, "--events", EVENTS, "--audit", path, stdout=stdout)
    assert stdout.checked > 0


def test_re_running_eval_extends_the_chain(tmp_path: Path, ledger: Path, keys: tuple[Path, Path]) -> None:
    with LedgerReader.open(ledger) as reader:
        first = len(reader)
    run("eval", WATCHDOG, "--events", EVENTS, "--audit", ledger, "--audit-key", keys[0])
    code, out, _ = run("audit", "verify", ledger, "--key", keys[1], "--format", "json")
    report = json.loads(out)
    assert code == 0 and report["ok"] and report["entries"] == 2 * first
    assert report["checkpoints"] == {
        "stored": 2,
        "signatures_checked": True,
        "verified": 2,
        "signed_through": 2 * first,
        "unsigned_entries": 0,
        "signers": [{"key_id": key_id_of(keys[1]), "name": "writer", "checkpoints": 2, "last_seq": 2 * first}],
    }
    assert report["trust"] == {"keyring": str(keys[1]), "role": "LedgerWriter"}


def test_verify_says_ok_and_what_the_checkpoints_prove(ledger: Path, keys: tuple[Path, Path]) -> None:
    code, out, err = run("audit", "verify", ledger, "--key", keys[1])
    assert (code, err) == (0, "")
    assert out == (
        f"{ledger}: OK: 12 entries (seq 1–12), the hash chain is intact\n"
        f"checkpoints: 1, 1 verified against {keys[1]} (role LedgerWriter); signed through entry 12\n"
        f"  signed by writer ({key_id_of(keys[1])}): 1 checkpoint, the newest at entry 12\n"
    )
    code, out, _ = run("audit", "verify", ledger)
    assert code == 0 and "their signatures NOT checked (give --trust KEYRING)" in out
    assert f"  claimed by {key_id_of(keys[1])}: 1 checkpoint" in out


def test_verify_names_the_first_bad_entry_and_exits_1(ledger: Path, keys: tuple[Path, Path]) -> None:
    conn = sqlite3.connect(ledger)
    conn.execute("UPDATE entries SET body = replace(body, 'scale', 'pause') WHERE seq = 5")
    conn.execute("DELETE FROM entries WHERE seq > 9")
    conn.commit()
    conn.close()
    code, out, _ = run("audit", "verify", ledger, "--key", keys[1])
    assert code == 1
    assert out.splitlines()[0] == f"{ledger}: TAMPERED: the first bad entry is seq 5"
    assert [line.split(":")[0] for line in out.splitlines()[1:]] == ["  seq 5", "  seq 10"]
    code, out, _ = run("audit", "verify", ledger, "--format", "json")
    assert code == 1 and json.loads(out)["first_bad_seq"] == 5


def test_a_checkpoint_signed_by_another_key_fails_verification(tmp_path: Path, ledger: Path) -> None:
    other = new_key(tmp_path, "other")[1]
    code, out, _ = run("audit", "verify", ledger, "--key", other)
    assert code == 1 and out.splitlines()[1] == (
        f"  seq 12: unknown-key: the checkpoint at entry 12 does not count: key {key_id_of(ledger.parent / 'keys' / 'writer.pub')} is not in {other}"
    )


def test_an_unsigned_ledger_says_what_it_cannot_prove(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    run("eval", WATCHDOG, "--events", EVENTS, "--audit", path)
    code, out, _ = run("audit", "verify", path)
    assert code == 0 and out.endswith(
        "checkpoints: none: the ledger is not signed, so a rewritten chain or a cut tail cannot be detected\n"
    )


def test_an_unsigned_ledger_fails_verification_against_a_keyring(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    path = tmp_path / "audit.sqlite"
    run("eval", WATCHDOG, "--events", EVENTS, "--audit", path)
    code, out, _ = run("audit", "verify", path, "--trust", keyring(tmp_path, (keys[0], "")))
    assert code == 1 and out.splitlines() == [
        f"{path}: UNTRUSTED: the first bad entry is seq 1",
        "  seq 1: unsigned: the ledger has no checkpoints, so no key vouches for any entry: it was written "
        "without a key (--audit-key), or its checkpoints were deleted",
    ]


def test_query_answers_who_what_when(ledger: Path) -> None:
    code, out, _ = run("audit", "query", ledger, "--actor", "motb.watchdog/*", "--outcome", "scale")
    lines = out.splitlines()
    assert code == 0 and lines[-1] == f"{len(lines) - 1} of 12 entries match" and len(lines) > 2
    assert all("  DirectiveIssued  motb.watchdog/" in line and "  scale " in line for line in lines[:-1])
    code, out, _ = run("audit", "query", ledger, "--kind", "TelemetryGap", "--since", "1h", "--format", "json")
    gaps = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and {g["kind"] for g in gaps} == {"TelemetryGap"} and "watchdog-a" in {g["subject"] for g in gaps}
    code, out, _ = run("audit", "query", ledger, "--until", "2000-01-01")
    assert (code, out) == (0, "0 of 12 entries match\n")


def test_export_writes_json_lines_that_verify(tmp_path: Path, ledger: Path) -> None:
    export = tmp_path / "siem.jsonl"
    code, _, err = run("audit", "export", ledger, "--out", export)
    assert code == 0 and err == f"exported 12 entries to {export}\n"
    code, out, _ = run("audit", "export", ledger)
    assert out == export.read_text(encoding="utf-8")
    code, out, _ = run("audit", "verify", export)
    assert code == 0 and out.splitlines() == [
        f"{export}: OK: 12 entries (seq 1–12), the hash chain is intact",
        "an export carries no checkpoints: it shows the lines are consistent, not who wrote them",
    ]
    lines = export.read_text(encoding="utf-8").splitlines()
    export.write_text("\n".join(lines[:3] + lines[4:]) + "\n", encoding="utf-8")
    code, out, _ = run("audit", "verify", export)
    assert code == 1 and "the first bad entry is seq 4" in out
    code, out, _ = run("audit", "export", ledger, "--from-seq", "11")
    assert [json.loads(line)["seq"] for line in out.splitlines()] == [11, 12]


# ---- bad input: one line on stderr, exit 2, never a traceback ----------------------------------


def _bad_files(tmp_path: Path) -> dict[str, Path]:
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE users (name TEXT)")
    conn.commit()
    conn.close()
    trail = tmp_path / "trail.jsonl"
    run("eval", WATCHDOG, "--events", EVENTS, "--audit", trail)
    return {"text": text, "sqlite": other, "missing": tmp_path / "missing.sqlite", "trail": trail}


@pytest.mark.parametrize("command", ["verify", "query", "export"])
def test_bad_ledger_files_are_clear_errors(tmp_path: Path, command: str) -> None:
    files = _bad_files(tmp_path)
    expected = {
        "text": "not a SQLite database, so not a Ballast ledger",
        "sqlite": "a SQLite database, but not a Ballast ledger (its tables: users)",
        "missing": "no such file",
        "trail": "not a SQLite database" if command != "verify" else "has no hash chain to verify",
    }
    for name, path in files.items():
        code, out, err = run("audit", command, path)
        assert code == 2 and out == "", (name, out)
        assert err.startswith(f"ballast: {path}") and err.count("\n") == 1 and expected[name] in err, (name, err)
        assert "Traceback" not in err


def test_eval_refuses_to_write_a_ledger_into_a_file_that_is_not_one(tmp_path: Path) -> None:
    files = _bad_files(tmp_path)
    code, out, err = run("eval", WATCHDOG, "--events", EVENTS, "--audit", files["trail"], "--audit-format", "ledger")
    assert (code, out) == (2, "")
    assert err.startswith(f"ballast: {files['trail']}: not a SQLite database") and err.count("\n") == 1
    code, _, err = run("eval", WATCHDOG, "--events", EVENTS, "--audit", files["sqlite"])
    assert code == 2 and "not a Ballast ledger" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--audit-format", "ledger"], "ballast: --audit-format needs --audit FILE\n"),
        (["--audit-key", "k"], "ballast: --audit-key needs --audit FILE\n"),
        (["--audit", "{tmp}/a.jsonl", "--audit-key", "k"], "ballast: --audit-key signs a ledger's checkpoints, and"),
        (["--audit", "{tmp}/a.sqlite", "--audit-key", "{tmp}/missing.key"], "cannot read the private key"),
    ],
)
def test_eval_audit_option_mistakes_are_usage_errors(tmp_path: Path, args: list[str], message: str) -> None:
    code, out, err = run("eval", WATCHDOG, "--events", EVENTS, *(a.format(tmp=tmp_path) for a in args))
    assert code == 2 and out == "" and err.startswith(message if message.startswith("ballast:") else "ballast: ")
    assert message in err


def test_query_bad_time_and_verify_bad_key_are_usage_errors(tmp_path: Path, ledger: Path) -> None:
    code, _, err = run("audit", "query", ledger, "--since", "last week")
    assert code == 2 and err.startswith("ballast: since: cannot read 'last week' as a time")
    junk = tmp_path / "junk.pub"
    junk.write_text("not a key")
    code, _, err = run("audit", "verify", ledger, "--key", junk)
    assert code == 2 and err == (
        f"ballast: {junk}: not a Ballast key file (expected the JSON `ballast key new` writes)\n"
    )


def test_an_empty_ledger_is_not_reported_ok(tmp_path: Path) -> None:
    from ballast.runtime.ledger import Ledger

    path = tmp_path / "empty.sqlite"
    Ledger.open(path).close()
    code, out, _ = run("audit", "verify", path)
    assert (code, out) == (1, f"{path}: EMPTY: the ledger holds no entries; nothing was verified\n")


# ---- checkpoints against a keyring: `ballast key new`, `eval --audit-key`, `audit verify --trust` ----


def test_a_ledger_signed_with_a_key_new_key_verifies_against_a_keyring(tmp_path: Path) -> None:
    private, public = new_key(tmp_path, "writer")
    operator = new_key(tmp_path, "alice")[0]
    ring = keyring(tmp_path, (private, ""), (operator, "roles: [Operator]"), roles="LedgerWriter Operator")
    path = tmp_path / "audit.sqlite"
    code, _, err = run("eval", WATCHDOG, "--events", EVENTS, "--audit", path, "--audit-key", private)
    assert code == 1 and err == ""
    code, out, err = run("audit", "verify", path, "--trust", ring)
    assert (code, err) == (0, "")
    assert out.splitlines()[1:] == [
        f"checkpoints: 1, 1 verified against {ring} (role LedgerWriter); signed through entry 12",
        f"  signed by writer ({key_id_of(public)}): 1 checkpoint, the newest at entry 12",
    ]
    code, out, _ = run("audit", "verify", path, "--trust", ring, "--format", "json")
    report = json.loads(out)
    assert code == 0 and report["trust"] == {"keyring": str(ring), "role": "LedgerWriter"}
    assert [s["key_id"] for s in report["checkpoints"]["signers"]] == [key_id_of(public)]
    code, out, _ = run("audit", "verify", path, "--trust", ring, "--role", "Operator")
    assert code == 1 and "missing-role" in out


@pytest.mark.parametrize(
    ("entry", "reason", "words"),
    [
        (None, "unknown-key", "key {id} is not in {ring}"),
        ('roles: [LedgerWriter]; revoked: "disk stolen"', "revoked-key", "key writer ({id}) is revoked (disk stolen)"),
        ("roles: [LedgerWriter]; not_after: 2001-01-01T00:00:00Z", "expired-key", "expired at 2001-01-01T00:00:00Z"),
        ("roles: [Operator]", "missing-role", "may not sign for role LedgerWriter (its roles: Operator)"),
    ],
    ids=["lacking", "revoked", "expired", "missing-role"],
)
def test_verify_names_the_checkpoint_a_keyring_does_not_trust_and_why(
    tmp_path: Path, ledger: Path, keys: tuple[Path, Path], entry: str | None, reason: str, words: str
) -> None:
    other = new_key(tmp_path, "other")[0]
    mine = [] if entry is None else [(keys[0], entry)]
    ring = keyring(tmp_path, *mine, (other, "roles: [LedgerWriter, Operator]"), roles="LedgerWriter Operator")
    code, out, _ = run("audit", "verify", ledger, "--trust", ring)
    said = words.format(id=key_id_of(keys[1]), ring=ring)
    lines = out.splitlines()
    assert code == 1 and lines[0] == f"{ledger}: UNTRUSTED: the first bad entry is seq 12" and len(lines) == 2
    assert lines[1].startswith(f"  seq 12: {reason}: the checkpoint at entry 12 does not count: ")
    assert said in lines[1]


def test_verify_at_judges_validity_dates_at_that_time(tmp_path: Path, ledger: Path, keys: tuple[Path, Path]) -> None:
    ring = keyring(tmp_path, (keys[0], "roles: [LedgerWriter]; not_after: 2100-01-01T00:00:00Z"))
    assert run("audit", "verify", ledger, "--trust", ring)[0] == 0
    code, out, _ = run("audit", "verify", ledger, "--trust", ring, "--at", "2100-06-01T00:00:00Z")
    assert code == 1 and "expired-key" in out


def test_an_old_raw_seed_key_is_refused_by_eval_with_what_to_write_instead(tmp_path: Path) -> None:
    old = tmp_path / "ledger.key"
    old.write_text(base64.b64encode(SEED).decode() + "\n")
    old.chmod(0o600)
    code, out, err = run("eval", WATCHDOG, "--events", EVENTS, "--audit", tmp_path / "a.sqlite", "--audit-key", old)
    assert (code, out) == (2, "")
    assert err == f"ballast: {old}: not a Ballast key file (expected the JSON `ballast key new` writes)\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--trust", "{ring}", "--key", "{pub}"], "give --trust KEYRING or --key PUBLIC_KEY, not both"),
        (["--role", "Operator"], "--role says how to judge checkpoint signatures: give --trust KEYRING too"),
        (["--at", "2030-01-01T00:00:00Z"], "--at says how to judge checkpoint signatures"),
        (["--key", "{pub}", "--role", "Operator"], "--role names a role of the --trust keyring"),
        (["--trust", "{ring}", "--at", "soon"], "--at 'soon': expected an RFC 3339 time"),
        (["--trust", "{ring}", "--role", "LedgerWritr"], "has no role 'LedgerWritr' for the keys that sign ledger"),
        (["--trust", "{operators}"], "has no role 'LedgerWriter' for the keys that sign ledger checkpoints"),
    ],
)
def test_verify_trust_option_mistakes_are_usage_errors(
    tmp_path: Path, ledger: Path, keys: tuple[Path, Path], args: list[str], message: str
) -> None:
    ring = keyring(tmp_path, (keys[0], ""))
    operators = keyring(tmp_path, (keys[0], "roles: [Operator]"), roles="Operator", name="operators.yaml")
    given = [a.format(ring=ring, pub=keys[1], operators=operators) for a in args]
    code, out, err = run("audit", "verify", ledger, *given)
    assert (code, out) == (2, "") and err.startswith("ballast: ") and message in err, err
    assert err.count("\n") == 1


def test_trust_on_an_export_is_refused_it_has_no_checkpoints(
    tmp_path: Path, ledger: Path, keys: tuple[Path, Path]
) -> None:
    export = tmp_path / "siem.jsonl"
    run("audit", "export", ledger, "--out", export)
    code, _, err = run("audit", "verify", export, "--trust", keyring(tmp_path, (keys[0], "")))
    assert code == 2 and "a JSONL export carries no checkpoints, so --trust has no signature to check" in err
