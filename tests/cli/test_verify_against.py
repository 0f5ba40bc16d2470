"""`ballast verify BUNDLE --against CURRENT`: the PolicyStore's decision from the command line,
with the docs' example keyring and keys (alice and bob hold MetaAdmin, threshold 2)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from support import run_cli as run

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "docs" / "examples"
WATCHDOG = REPO / "catalog" / "watchdog.bal"


@pytest.fixture
def work(tmp_path: Path) -> Path:
    for name in ("keyring.yaml", "alice.key", "bob.key", "carol.key"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
        if name.endswith(".key"):
            (tmp_path / name).chmod(0o600)
    shutil.copytree(REPO / "catalog" / "lib", tmp_path / "lib")  # what the watchdog imports
    return tmp_path


def release(work: Path, name: str, source: str, *signers: str) -> Path:
    (work / f"{name}.bal").write_text(source, encoding="utf-8")
    bundle = work / f"{name}.json"
    assert run("compile", work / f"{name}.bal", "-o", bundle)[0] == 0
    for signer in signers:
        assert run("sign", bundle, "--key", work / f"{signer}.key")[0] == 0
    return bundle


def test_a_newer_bundle_signed_by_two_meta_admins_is_accepted_with_the_state_of_each_rule(work: Path) -> None:
    source = WATCHDOG.read_text(encoding="utf-8")
    current = release(work, "v1", source, "alice", "bob")
    changed = source.replace('version "1.0.0"', 'version "1.1.0"').replace(
        "    exit when queue_1m < htm_queue_warn * 0.8\n    for 1m",
        "    exit when queue_1m < htm_queue_warn * 0.8\n    for 2m",
    )
    new = release(work, "v2", changed, "alice", "bob")
    code, out, err = run("verify", new, "--trust", work / "keyring.yaml", "--against", current)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith(f"{new}: accepted in place of {current} (motb.watchdog 1.0.0 (")
    assert lines[1] == "  signed for MetaAdmin by alice (b2611bf141f5b207), bob (eeca5b4a7ad0f055)"
    assert lines[2] == "  policy motb.watchdog: 1.0.0 → 1.1.0 (raised)"
    assert "  motb.watchdog/htm_queue_warning: state reset (state shape changed: for 1m → 2m)" in lines
    assert "  motb.watchdog/htm_queue_critical: state kept" in lines
    code, out, _ = run("verify", new, "--trust", work / "keyring.yaml", "--against", current, "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["status"] == "committed" and doc["roles"] == ["MetaAdmin"]
    assert {c["state"] for c in doc["state"]} == {"kept", "reset"}


def test_refusals_exit_1_with_the_reason_and_the_decision_goes_to_the_ledger(work: Path) -> None:
    source = WATCHDOG.read_text(encoding="utf-8")
    old = release(work, "v1", source, "alice", "bob")
    new = release(work, "v2", source.replace('version "1.0.0"', 'version "1.1.0"'), "alice")
    ring, ledger = work / "keyring.yaml", work / "audit.sqlite"
    code, out, _ = run("verify", new, "--trust", ring, "--against", old, "--ledger", ledger)
    assert code == 1 and out.endswith(f"(changing policy documents needs role MetaAdmin in {ring}) [too-few-signers]\n")
    code, out, _ = run(
        "verify",
        old,
        "--trust",
        ring,
        "--against",
        release(work, "v3", source.replace('version "1.0.0"', 'version "1.2.0"'), "alice", "bob"),
    )
    assert code == 1 and out.endswith("[rollback]\n") and "it lowers policy motb.watchdog from 1.2.0 to 1.0.0" in out
    code, out, _ = run(
        "verify", old, "--trust", ring, "--against", work / "v3.json", "--allow-rollback", "--ledger", ledger
    )
    assert code == 0 and "accepted as a rollback" in out and out.endswith("recorded as ledger entry 2\n")
    code, out, _ = run("audit", "query", ledger, "--format", "json")
    kinds = [(e["kind"], e["outcome"]) for e in map(json.loads, out.splitlines())]
    assert kinds == [("PolicyChangeRejected", "too-few-signers"), ("PolicyChangeCommitted", "rollback")]
    assert run("audit", "verify", ledger)[0] == 0


def test_bad_uses_of_against_are_usage_errors(work: Path) -> None:
    source = WATCHDOG.read_text(encoding="utf-8")
    old = release(work, "v1", source, "alice", "bob")
    unsigned = release(work, "v2", source)
    ring = work / "keyring.yaml"
    code, _, err = run("verify", old, "--trust", ring, "--against", unsigned)
    assert code == 2 and err.startswith(
        f"ballast: --against {unsigned}: the keyring does not trust the running bundle: "
    )
    code, _, err = run("verify", old, unsigned, "--trust", ring, "--against", old)
    assert (code, err) == (2, "ballast: --against judges one bundle as a change, got 2\n")
    code, _, err = run("verify", old, "--trust", ring, "--allow-rollback")
    assert (code, err) == (2, "ballast: --allow-rollback applies to a change: add --against CURRENT\n")
    code, _, err = run("verify", old, "--trust", ring, "--against", old, "--role", "Operator")
    assert code == 2 and "--role does not apply with --against" in err
    code, _, err = run("verify", work / "missing.json", "--trust", ring, "--against", old)
    assert code == 2 and "cannot read bundle: No such file or directory" in err


def test_key_check_shows_the_roles_changes_need_when_the_keyring_declares_them(work: Path) -> None:
    ring = work / "keyring.yaml"
    code, out, _ = run("key", "check", ring)
    assert code == 0 and "changes need" not in out  # the default: shown in docs/security.md, not here
    ring.write_text(ring.read_text(encoding="utf-8") + "document_roles:\n  policy: Operator\n", encoding="utf-8")
    code, out, _ = run("key", "check", ring)
    assert code == 0 and out.splitlines()[-1] == "  changes need: policy: Operator, threat: MetaAdmin, safety: MetaAdmin, fleet: MetaAdmin, rollout: MetaAdmin, governance: MetaAdmin, scoring: MetaAdmin, profile: MetaAdmin, supervisor: MetaAdmin"
