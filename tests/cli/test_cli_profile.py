"""`ballast profile diff|remediate|apply`: exit codes, formats, the audit trail and bad input."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.support import run_cli

REPO = Path(__file__).resolve().parents[2]
SATURDAY = "2026-12-05T03:00:00Z"  # inside the standard window
THURSDAY = "2026-12-03T12:00:00Z"


def live(tmp_path: Path, settings: object) -> Path:
    path = tmp_path / "live.json"
    path.write_text(json.dumps(settings))
    return path


def test_diff_exit_codes_follow_the_unsafe_deltas(tmp_path: Path) -> None:
    code, out, err = run_cli("profile", "diff", "baseline", "--live", live(tmp_path, {"mfa": "off"}))
    assert code == 1 and err == ""
    assert out.splitlines()[0] == "unsafe   mfa: off is weaker than the profile's required (required > optional > off)"
    assert "         remediation: Require MFA for every operator and API client." in out
    assert out.endswith("profile baseline 3: 1 unsafe, 10 missing, 0 drift, 0 extra: below the profile\n")
    stricter = {"mfa": "required", "encryption_at_rest": True, "tls_min_version": "tls1_3", "audit_log": "full",
                "log_retention": 400, "data_retention": 30, "session_timeout": "15m", "export_limit": 10,
                "data_residency": "eu", "key_provider": "platform-kms", "public_sharing": False, "theme": "dark"}  # fmt: skip
    code, out, _ = run_cli("profile", "diff", "baseline", "--live", live(tmp_path, stricter), "--format", "json")
    assert code == 0  # drift and extra keys are reported, not failures
    report = json.loads(out)
    assert report["summary"] == {"unsafe": 0, "missing": 0, "drift": 7, "extra": 1}
    assert {d["risk"] for d in report["deltas"]} == {"drift", "extra"}


def test_diff_output_is_deterministic(tmp_path: Path) -> None:
    path = live(tmp_path, {"mfa": "optional", "zeta": 1, "alpha": 2, "session_timeout": "2h"})
    first = run_cli("profile", "diff", "regulated", "--live", path, "--format", "json")
    assert first == run_cli("profile", "diff", "regulated", "--live", path, "--format", "json")
    extras = [d["setting"] for d in json.loads(first[1])["deltas"] if d["risk"] == "extra"]
    assert extras == ["alpha", "zeta"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"mfa": ', "live.json:1:9: not JSON"),
        ("[1, 2]", "the live configuration is a JSON object of setting names to values"),
        ("null", "not null"),
    ],
)
def test_diff_refuses_a_malformed_live_configuration(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "live.json"
    path.write_text(content)
    code, out, err = run_cli("profile", "diff", "baseline", "--live", path)
    assert (code, out) == (2, "")
    assert message in err and "Traceback" not in err


def test_an_unknown_profile_or_a_missing_live_file_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = run_cli("profile", "diff", "strict", "--live", live(tmp_path, {}))
    assert code == 2 and "PROFILE strict: no such file, and not a catalog profile (baseline, sandbox, regulated)" in err
    code, _, err = run_cli("profile", "diff", "baseline", "--live", tmp_path / "nope.json")
    assert code == 2 and "nope.json" in err


def test_a_malformed_profile_is_reported_at_its_position(tmp_path: Path) -> None:
    path = tmp_path / "mine.bal"
    path.write_text('profile mine version "1" {\n  setting mfa: enum {\n    value required\n  }\n}\n')
    code, out, err = run_cli("profile", "diff", path, "--live", live(tmp_path, {}))
    assert (code, out) == (1, "")
    assert f"{path}:2:11: error[order]: setting 'mfa' needs exactly one safety order, has 0" in err
    assert "change log has no entry" in err


def test_a_profile_file_extends_the_catalog_or_its_neighbour(tmp_path: Path) -> None:
    mine = 'profile mine version "1" {\n  extends baseline\n\n  change "1" on "2026-12-01" "Mine."\n}\n'
    (tmp_path / "mine.bal").write_text(mine)
    code, out, _ = run_cli("profile", "diff", tmp_path / "mine.bal", "--live", live(tmp_path, {"mfa": "off"}))
    assert code == 1 and "profile mine 1: 1 unsafe, 10 missing" in out  # the catalog's baseline
    (tmp_path / "baseline.bal").write_text(
        'profile baseline version "1" {\n  setting mfa: enum {\n    order required > optional > off\n'
        '    value optional\n  }\n\n  change "1" on "2026-12-01" "Local."\n}\n'
    )
    code, out, _ = run_cli("profile", "diff", tmp_path / "mine.bal", "--live", live(tmp_path, {"mfa": "off"}))
    assert code == 1 and "profile mine 1: 1 unsafe, 0 missing" in out  # the one beside it


def test_apply_then_remediate_with_windows_and_the_audit_ledger(tmp_path: Path) -> None:
    tenants = tmp_path / "tenants"
    tenants.mkdir()
    ledger = tmp_path / "audit.sqlite"
    common = ["--tenant", "acme", "--config-dir", tenants, "--ledger", ledger]
    code, out, _ = run_cli("profile", "apply", "baseline", *common, "--now", THURSDAY)
    assert code == 0 and out.startswith(
        "tenant acme (class standard, window standard: sat, sun 02:00-06:00 UTC): created"
    )
    data = (tenants / "acme.json").read_bytes()
    code, out, _ = run_cli("profile", "apply", "baseline", *common, "--now", THURSDAY)
    assert code == 0 and ": unchanged (config version 1)" in out
    assert (tenants / "acme.json").read_bytes() == data  # apply twice == apply once
    code, out, _ = run_cli("profile", "remediate", "regulated", *common, "--now", THURSDAY)
    assert code == 1 and ": planned (config version 1)" in out and "  1. tls_min_version" in out
    code, advised, _ = run_cli("profile", "remediate", "regulated", *common, "--now", SATURDAY, "--advise-only")
    assert code == 1 and ": advised" in advised
    assert (tenants / "acme.json").read_bytes() == data  # nothing written yet
    code, out, _ = run_cli("profile", "remediate", "regulated", *common, "--now", SATURDAY, "--format", "json")
    assert code == 0
    report = json.loads(out)
    assert report["status"] == "applied" and report["config_version"] == 2
    assert [c["setting"] for c in report["changes"]][-2:] == ["dlp_scanning", "export_limit"]  # dependencies first
    code, out, _ = run_cli("profile", "remediate", "regulated", *common, "--now", SATURDAY)
    assert code == 0 and ": unchanged (config version 2)" in out
    with sqlite3.connect(ledger) as db:
        kinds = [row[0] for row in db.execute("SELECT kind FROM entries ORDER BY seq")]
    assert kinds == [
        "ProfileApplied",
        "ProfileApplied",
        "ProfilePlanned",
        "ProfilePlanned",
        "ProfileRemediated",
        "ProfileRemediated",
    ]
    code, out, _ = run_cli("audit", "verify", ledger)
    assert code == 0, out


def test_the_audit_trail_as_json_lines(tmp_path: Path) -> None:
    trail = tmp_path / "audit.jsonl"
    args = ["profile", "apply", "sandbox", "--tenant", "demo", "--config-dir", tmp_path, "--class", "trial"]
    assert run_cli(*args, "--audit", trail, "--now", THURSDAY)[0] == 0
    (entry,) = [json.loads(line) for line in trail.read_text().splitlines()]
    assert (entry["kind"], entry["subject"], entry["outcome"], entry["scope"]) == (
        "ProfileApplied", "demo", "created", "profile sandbox 1"
    )  # fmt: skip
    assert json.loads((tmp_path / "demo.json").read_text())["class"] == "trial"


def test_remediate_refuses_an_unknown_tenant_and_a_broken_document(tmp_path: Path) -> None:
    code, out, err = run_cli("profile", "remediate", "baseline", "--tenant", "ghost", "--config-dir", tmp_path)
    assert (code, out) == (2, "") and "no tenant 'ghost'" in err and "`ballast profile apply` creates it" in err
    (tmp_path / "acme.json").write_text("version: 3\n")
    code, _, err = run_cli("profile", "remediate", "baseline", "--tenant", "acme", "--config-dir", tmp_path)
    assert code == 2 and "acme.json:1:1: not JSON" in err
    code, _, err = run_cli("profile", "apply", "baseline", "--tenant", "../x", "--config-dir", tmp_path)
    assert code == 2 and "is not a tenant name" in err
    code, _, err = run_cli("profile", "apply", "baseline", "--tenant", "x", "--config-dir", tmp_path / "nope")
    assert code == 2 and "not a directory" in err


def test_a_profile_argument_that_is_not_a_profile_is_a_usage_error(tmp_path: Path) -> None:
    code, out, err = run_cli(
        "profile", "diff", REPO / "catalog" / "governance" / "router.bal", "--live", live(tmp_path, {})
    )
    assert (code, out) == (2, "")
    assert "router.bal: not a profile document" in err
