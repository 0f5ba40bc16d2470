"""`ballast key`, `sign` and `verify`, and `--trust` / `--allow-unsigned` where bundles are loaded."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from support import run_cli as run

REPO = Path(__file__).resolve().parents[2]
MOTB = REPO / "catalog" / "motb.bal"
EVENTS = REPO / "catalog" / "events.jsonl"
WARNING = "the bundle is not signed; loaded because unsigned bundles are allowed (development only)"


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, Path]:
    """Three fresh key pairs, by name, under tmp_path/keys."""
    for name in ("alice", "bob", "carol"):
        assert run("key", "new", "--out", tmp_path / "keys", "--name", name)[0] == 0
    return {name: tmp_path / "keys" / f"{name}.key" for name in ("alice", "bob", "carol")}


def entry(key: Path, *roles: str, **extra: str) -> str:
    shown = json.loads(run("key", "show", key, "--format", "json")[1])
    lines = [f'  - id: "{shown["key_id"]}"', f"    name: {shown['name']}", f"    public_key: {shown['public_key']}",
             f"    roles: [{', '.join(roles or ('MetaAdmin',))}]"]  # fmt: skip
    lines += [f"    {k}: {v}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


def keyring(tmp_path: Path, *entries: str, threshold: int = 1) -> Path:
    path = tmp_path / "keyring.yaml"
    path.write_text(
        f"keyring: test\nroles:\n  MetaAdmin: {{threshold: {threshold}}}\nkeys:\n" + "".join(entries), encoding="utf-8"
    )
    return path


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    path = tmp_path / "motb.bundle.json"
    assert run("compile", MOTB, "-o", path)[0] == 0
    return path


# ---- key ----


def test_key_new_writes_a_private_key_only_its_owner_reads_and_prints_the_public_key(tmp_path: Path) -> None:
    code, out, err = run("key", "new", "--out", tmp_path / "keys", "--name", "ops-1")
    assert code == 0
    private, public = tmp_path / "keys" / "ops-1.key", tmp_path / "keys" / "ops-1.pub"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    assert err == f"wrote {private} (the private key, mode 0600: keep it secret) and {public}\n"
    doc = json.loads(public.read_text(encoding="utf-8"))
    assert doc["format"] == "ballast-public-key/1" and "private_key" not in doc
    assert out.splitlines()[:2] == [f"key id:     {doc['key_id']}", f"public key: {doc['public_key']}"]
    assert f'  - id: "{doc["key_id"]}"' in out and "    roles: [ROLE]" in out
    assert json.loads(private.read_text(encoding="utf-8"))["private_key"] not in out


def test_key_new_refuses_to_overwrite_either_file(tmp_path: Path) -> None:
    assert run("key", "new", "--out", tmp_path, "--name", "k")[0] == 0
    before = (tmp_path / "k.key").read_bytes()
    code, out, err = run("key", "new", "--out", tmp_path, "--name", "k")
    assert (code, out) == (2, "")
    assert err == f"ballast: {tmp_path / 'k.key'} exists: refusing to overwrite a key; choose another --name or --out\n"
    assert (tmp_path / "k.key").read_bytes() == before
    (tmp_path / "k.key").unlink()
    code, _, err = run("key", "new", "--out", tmp_path, "--name", "k")  # the .pub alone is enough to refuse
    assert code == 2 and "k.pub exists" in err and not (tmp_path / "k.key").exists()
    assert run("key", "new", "--out", tmp_path, "--name", "../escape")[0] == 2


def test_key_new_names_a_key_by_its_id_by_default_and_prints_json(tmp_path: Path) -> None:
    code, out, _ = run("key", "new", "--out", tmp_path, "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["name"] == ""
    assert doc["private_key_file"] == str(tmp_path / f"{doc['key_id']}.key")
    assert run("key", "show", doc["private_key_file"])[1] == run("key", "show", doc["public_key_file"])[1]


def test_key_check_lists_the_keys_states_and_finds_unsatisfiable_roles(keys: dict[str, Path], tmp_path: Path) -> None:
    ring = keyring(
        tmp_path, entry(keys["alice"], not_after="2026-01-01T00:00:00Z"), entry(keys["bob"], revoked='"left"')
    )
    code, out, _ = run("key", "check", ring, "--at", "2025-06-01T00:00:00Z")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"{ring}: keyring test: 2 keys; roles: MetaAdmin (1 signer, default)"
    assert lines[1].endswith("valid until 2026-01-01T00:00:00Z") and lines[2].endswith("revoked: left")
    code, out, _ = run("key", "check", ring, "--at", "2026-06-01T00:00:00Z")
    assert code == 1
    assert "expired at 2026-01-01T00:00:00Z" in out
    assert out.splitlines()[-1] == (
        "warning: role MetaAdmin needs 1 signer, but 0 of its keys are valid at 2026-06-01T00:00:00Z: no bundle verifies for it"
    )
    code, out, _ = run("key", "check", ring, "--format", "json")
    assert code == 0 and json.loads(out)["keys"][1]["revoked"] == "left"


def test_key_check_reports_every_problem_at_its_line_and_column(keys: dict[str, Path], tmp_path: Path) -> None:
    ring = keyring(tmp_path, entry(keys["alice"]).replace("public_key: ", "public_key: x*").replace("roles:", "rolez:"))
    code, out, err = run("key", "check", ring)
    assert (code, out) == (1, "")
    found = [line for line in err.splitlines() if "error[keyring]" in line]
    assert found == [
        f"{ring}:5:5: error[keyring]: missing required key 'roles'",
        f"{ring}:7:17: error[keyring]: the public key is not valid base64",
        f"{ring}:8:5: error[keyring]: unknown key 'rolez' in a key",
    ]
    assert err.splitlines()[-1] == "3 errors, 0 warnings"


# ---- sign and verify ----


def test_compile_sign_verify_eval(keys: dict[str, Path], bundle: Path, tmp_path: Path) -> None:
    ring = keyring(tmp_path, entry(keys["alice"]))
    code, out, err = run("sign", bundle, "--key", keys["alice"])
    assert (code, out) == (0, "")
    assert err.startswith(f"wrote {bundle}: signed by alice (")
    code, out, _ = run("verify", bundle, "--trust", ring)
    assert code == 0
    assert out.startswith(f"{bundle}: trusted for role MetaAdmin (1 valid signature, 1 needed)\n  signed by alice (")
    trusted = run("eval", bundle, "--events", EVENTS, "--trust", ring)
    assert trusted == run("eval", MOTB, "--events", EVENTS)  # same decisions, and not a word more


def test_verify_exits_1_naming_the_reason_and_2_when_it_cannot_run(
    keys: dict[str, Path], bundle: Path, tmp_path: Path
) -> None:
    ring = keyring(tmp_path, entry(keys["alice"]), entry(keys["bob"]), threshold=2)
    assert run("sign", bundle, "--key", keys["alice"])[0] == 0
    code, out, _ = run("verify", bundle, "--trust", ring)
    assert code == 1
    assert out.endswith(
        "1 valid of the 2 needed (alice (" + out.split("(alice (")[1].split(")")[0] + ")) [too-few-signers]\n"
    )
    assert run("sign", bundle, "--key", keys["bob"])[0] == 0
    assert run("verify", bundle, "--trust", ring)[0] == 0
    # tampered bytes, then a stripped copy, then a signer outside the keyring
    stripped = tmp_path / "stripped.json"
    doc = json.loads(bundle.read_text(encoding="utf-8"))
    stripped.write_text(
        json.dumps({k: v for k, v in doc.items() if k != "signatures"}, indent=2, sort_keys=True) + "\n"
    )
    bundle.write_bytes(bundle.read_bytes().replace(b'"priority": 100', b'"priority": 101', 1))
    code, out, _ = run("verify", bundle, stripped, "--trust", ring, "--format", "json")
    assert code == 1
    assert [(b["trusted"], b["reason"]) for b in json.loads(out)["bundles"]] == [
        (False, "fingerprint-mismatch"),
        (False, "unsigned"),
    ]
    code, _, err = run("verify", tmp_path / "absent.json", "--trust", ring)
    assert code == 2 and "cannot read bundle" in err
    assert run("verify", stripped, "--trust", ring, "--role", "Admin")[0] == 2
    ring.write_text("keyring: x\nroles: {R: {}}\nkeys: []\n", encoding="utf-8")
    code, _, err = run("verify", stripped, "--trust", ring)
    assert code == 2
    assert err.startswith(
        f"ballast: the keyring {ring} has problems:\n{ring}:3:1: error[keyring]: a keyring lists at least one key"
    )


def test_verify_judges_expiry_at_a_given_time(keys: dict[str, Path], bundle: Path, tmp_path: Path) -> None:
    ring = keyring(tmp_path, entry(keys["alice"], not_after="2030-01-01T00:00:00Z"))
    assert run("sign", bundle, "--key", keys["alice"])[0] == 0
    assert run("verify", bundle, "--trust", ring, "--at", "2029-12-31T00:00:00Z")[0] == 0
    code, out, _ = run("verify", bundle, "--trust", ring, "--at", "2030-01-02T00:00:00Z")
    assert code == 1 and out.endswith("expired at 2030-01-01T00:00:00Z [expired-key]\n")


def test_sign_writes_another_file_and_refuses_a_tampered_bundle_or_an_open_key(
    keys: dict[str, Path], bundle: Path, tmp_path: Path
) -> None:
    out_path = tmp_path / "signed.json"
    code, _, err = run("sign", bundle, "--key", keys["alice"], "--key", keys["bob"], "-o", out_path)
    assert code == 0 and "2 signatures" in err
    assert "signatures" not in json.loads(bundle.read_text(encoding="utf-8"))
    os.chmod(keys["carol"], 0o644)
    code, _, err = run("sign", bundle, "--key", keys["carol"])
    assert code == 2
    assert (
        err
        == f"ballast: {keys['carol']}: the private key may be read by others (mode 0644); run `chmod 600 {keys['carol']}` (and consider the key exposed if others could read it)\n"
    )
    code, _, err = run("sign", bundle, "--key", keys["alice"].with_suffix(".pub"))
    assert code == 2 and "that is a public key file" in err
    bundle.write_bytes(bundle.read_bytes().replace(b'"priority": 100', b'"priority": 101', 1))
    code, _, err = run("sign", bundle, "--key", keys["alice"])
    assert code == 2 and "fingerprint mismatch" in err


# ---- commands that load bundles ----


def test_eval_refuses_an_unsigned_bundle_unless_allowed(bundle: Path, tmp_path: Path) -> None:
    code, out, err = run("eval", bundle, "--events", EVENTS)
    assert (code, out) == (2, "")
    assert err.startswith(f"ballast: {bundle}: refused: the bundle is not signed and no keyring was given")
    code, out, err = run("eval", bundle, "--events", EVENTS, "--allow-unsigned")
    assert code == 1 and out  # the sample's last events have errors
    assert err == f"ballast: warning: {bundle}: {WARNING}\n"
    code, _, err = run("eval", MOTB, "--events", EVENTS, "--allow-unsigned")
    assert code == 2
    assert (
        err
        == "ballast: --allow-unsigned applies to a compiled bundle, and the paths name policy sources: they are compiled, not verified\n"
    )


def test_eval_with_a_keyring_refuses_a_stripped_or_foreign_bundle(
    keys: dict[str, Path], bundle: Path, tmp_path: Path
) -> None:
    ring = keyring(tmp_path, entry(keys["alice"]))
    code, _, err = run("eval", bundle, "--events", EVENTS, "--trust", ring)
    assert code == 2 and "it has no signatures, and" in err
    assert run("sign", bundle, "--key", keys["bob"])[0] == 0
    code, _, err = run("eval", bundle, "--events", EVENTS, "--trust", ring, "--allow-unsigned")
    assert code == 2 and "unknown key" in err  # allowing unsigned bundles never excuses a bad signature


def test_replay_and_simulate_load_bundles_through_the_keyring(
    keys: dict[str, Path], bundle: Path, tmp_path: Path
) -> None:
    ring = keyring(tmp_path, entry(keys["alice"]))
    code, _, err = run("replay", "--telemetry", EVENTS, "--baseline", bundle, "--candidate", MOTB)
    assert code == 2 and err.startswith(f"ballast: --baseline: {bundle}: refused")
    assert run("sign", bundle, "--key", keys["alice"])[0] == 0
    replay = ("replay", "--telemetry", EVENTS, "--candidate", MOTB, "--max-rejected", "1")
    code, out, err = run(*replay, "--baseline", bundle, "--trust", ring)
    assert code == 0, err
    assert json.loads(out)["baseline"]["paths"] == [str(bundle)]
    scenario = REPO / "catalog" / "scenarios" / "batch-surge.scenario.yaml"
    code, _, err = run("simulate", scenario, "--policy", bundle, "--check", "--trust", ring)
    assert code == 0, err
    code, _, err = run("simulate", scenario, "--policy", bundle, "--check")
    assert code == 2 and "no keyring was given" in err


def test_the_real_executable_signs_and_verifies(keys: dict[str, Path], bundle: Path, tmp_path: Path) -> None:
    ring = keyring(tmp_path, entry(keys["alice"]))
    for args in (["sign", bundle, "--key", keys["alice"]], ["verify", bundle, "--trust", ring]):
        done = subprocess.run(
            [sys.executable, "-m", "ballast.cli", *map(str, args)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
