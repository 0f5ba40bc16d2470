"""`ballast preflight`, `confirm` and `execute`: a whole guarded action across processes' worth of
calls sharing one store file, overrides signed with a key file, and bad input as one clear line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import run_cli

CATALOG = "catalog/safety/workflows.bal"
DELETE = {
    "actor": "alice",
    "roles": ["sre"],
    "operation": "delete",
    "tenant": "acme",
    "sensitivity": "internal",
    "volume": 5000,
    "scope": "collection",
    "environment": "prod",
}
START = "2026-12-03T16:00:00Z"


@pytest.fixture
def where(tmp_path: Path) -> dict[str, str]:
    action = tmp_path / "action.json"
    action.write_text(json.dumps(DELETE), encoding="utf-8")
    return {"action": f"@{action}", "store": str(tmp_path / "approvals.db"), "audit": str(tmp_path / "audit.db")}


def step(command: str, where: dict[str, str], *extra: str, now: str = START) -> tuple[int, str, str]:
    return run_cli(
        command,
        CATALOG,
        "--action",
        where["action"],
        "--store",
        where["store"],
        "--audit",
        where["audit"],
        "--now",
        now,
        *extra,
    )


def test_a_guarded_delete_from_preflight_to_execution(where: dict[str, str]) -> None:
    code, out, err = step("preflight", where, "--format", "json")
    report = json.loads(out)
    assert (code, err, report["decision"], report["risk"]) == (0, "", "needs-controls", "high")
    assert report["required"] == ["dual_control", "justification", "hold 10m"]
    assert report["expires_at"] == "2026-12-03T17:00:00Z" and report["hold_until"] == "2026-12-03T16:10:00Z"
    ticket = report["ticket"]
    assert step("confirm", where, "--ticket", ticket, "--approve", "--by", "alice")[:2] == (
        1,
        "refused (self-approval): alice asked for this action and cannot approve it\n",
    )
    assert step("confirm", where, "--ticket", ticket, "--approve", "--by", "bob")[:2] == (
        0,
        "recorded: approve by bob\n",
    )
    step("confirm", where, "--ticket", ticket, "--approve", "--by", "carol")
    step("confirm", where, "--ticket", ticket, "--justify", "CHG-1234", "--by", "alice")
    code, out, _ = step("execute", where, "--ticket", ticket, now="2026-12-03T16:05:00Z")
    assert (code, out) == (
        1,
        "refused (unmet): controls not met\n  missing: hold: the action may run from 2026-12-03T16:10:00Z\n",
    )
    code, out, _ = step("execute", where, "--ticket", ticket, now="2026-12-03T16:10:00Z")
    assert code == 0 and out.startswith("safety.workflows: executed at 2026-12-03T16:10:00Z, risk high\n")
    code, out, _ = step("execute", where, "--ticket", ticket, now="2026-12-03T16:11:00Z")
    assert (code, out) == (1, "refused (replayed): execute: this ticket was executed already at 2026-12-03T16:10:00Z\n")
    code, out, _ = run_cli("audit", "verify", where["audit"])
    assert code == 0 and "OK: 8 entries" in out  # every step and every refusal is in the ledger
    code, out, _ = run_cli("audit", "query", where["audit"], "--format", "json")
    assert code == 0
    kinds = [json.loads(line)["kind"] for line in out.splitlines() if line.strip()]
    assert kinds == [
        "SafetyPreflight",
        "SafetyRefused",
        "SafetyConfirmed",
        "SafetyConfirmed",
        "SafetyConfirmed",
        "SafetyRefused",
        "SafetyExecuted",
        "SafetyRefused",
    ]


def test_simulation_books_nothing_and_a_hard_block_exits_1(where: dict[str, str], tmp_path: Path) -> None:
    code, out, _ = run_cli("preflight", CATALOG, "--action", where["action"], "--simulate", "--now", START)
    assert code == 0 and out.startswith("safety.workflows: needs-controls (simulated), risk high\n")
    assert "ticket:" not in out and not Path(where["store"]).exists()
    fleet = json.dumps({**DELETE, "scope": "fleet"})
    code, out, _ = run_cli("preflight", CATALOG, "--action", fleet, "--simulate")
    assert code == 1 and "  blocking: class fleet_delete blocks this action (enforce hard: no override)\n" in out


def test_a_signed_override_from_the_command_line(tmp_path: Path) -> None:
    assert run_cli("key", "new", "--out", tmp_path, "--name", "officer")[0] == 0
    public = json.loads((tmp_path / "officer.pub").read_text(encoding="utf-8"))
    ring = tmp_path / "overrides.yaml"
    ring.write_text(
        "keyring: overrides\nroles:\n  safety-override: {}\ndefault_role: safety-override\nkeys:\n"
        f'  - id: "{public["key_id"]}"\n    name: officer\n    public_key: {public["public_key"]}\n'
        "    roles: [safety-override]\n",
        encoding="utf-8",
    )
    copy = json.dumps({**DELETE, "operation": "copy", "target_tenant": "globex", "volume": 10, "scope": "record"})
    store = str(tmp_path / "s.db")
    code, out, _ = run_cli("preflight", CATALOG, "--action", copy, "--store", store, "--format", "json")
    ticket = json.loads(out)["ticket"]
    override = ("--override", "cross_tenant_copy", "--key", tmp_path / "officer.key", "--overrides", ring)
    code, out, _ = run_cli(
        "confirm", CATALOG, "--action", copy, "--store", store, "--ticket", ticket, *override, "--why", "INC-88"
    )
    assert (code, out) == (0, "recorded: override by officer\n")
    code, out, _ = run_cli("execute", CATALOG, "--action", copy, "--store", store, "--ticket", ticket)
    assert code == 0 and "  override by officer at " in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--action", "{", "--simulate"), "ballast: --action is not valid JSON: Expecting property name"),
        (
            ("--action", '{"actor": 1}', "--simulate"),
            "ballast: the action descriptor does not fit catalog 'safety.workflows': actor:",
        ),
        (
            ("--action", "{}"),
            "ballast: preflight books its ticket in an approval store: give --store FILE, or --simulate",
        ),
        (("--action", "{}", "--simulate", "--now", "yesterday"), "ballast: --now yesterday: not a time"),
        (
            ("--action", "{}", "--simulate", "--catalog", "nope"),
            "ballast: --catalog nope: no such catalog; catalogs are safety.workflows",
        ),
    ],
)
def test_bad_input_is_one_clear_line(args: tuple[str, ...], message: str) -> None:
    code, out, err = run_cli("preflight", CATALOG, *args)
    assert code == 2 and out == "" and err.startswith(message) and "Traceback" not in err


def test_an_action_file_with_bad_json_names_its_line_and_column(tmp_path: Path) -> None:
    bad = tmp_path / "a.json"
    bad.write_text('{\n  "actor": "alice",\n  "volume": 5000,,\n}\n', encoding="utf-8")
    code, _, err = run_cli("preflight", CATALOG, "--action", f"@{bad}", "--simulate")
    assert code == 2 and err.startswith(f"ballast: {bad}:3:18: the action is not valid JSON")


def test_files_without_a_catalog_and_catalogs_with_errors(tmp_path: Path) -> None:
    code, _, err = run_cli("preflight", "catalog/motb.bal", "--action", "{}", "--simulate")
    assert code == 2 and "no safety catalog" in err
    broken = tmp_path / "s.bal"
    broken.write_text(
        'safety s version "1" {\n  input a { actor: string }\n  class c { when actr == "x" risk high require block }\n}\n',
        encoding="utf-8",
    )
    code, _, err = run_cli("preflight", broken, "--action", "{}", "--simulate")
    assert code == 1 and f"{broken}:3:18: error[name]: unknown name 'actr'" in err
