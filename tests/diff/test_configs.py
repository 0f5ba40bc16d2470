"""`ballast diff --schema` on configuration files: every `config-*` check, validation, sides, git.

The files are a feature-flag manifest (YAML, and JSON for one case) under the schema below.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from ballast.compiler.diff.findings import CHECKS
from tests.support import run_cli

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Feature flags",
    "type": "object",
    "required": ["service", "flags"],
    "properties": {
        "service": {"type": "string"},
        "owner": {"type": "string"},
        "stage": {"type": "string", "enum": ["alpha", "beta", "ga"]},
        "max_rps": {"type": "integer", "minimum": 1, "title": "Rate limit"},
        "timeout_ms": {"type": "integer", "default": 500},
        "retries": {"type": ["integer", "string"]},
        "regions": {"type": "array", "items": {"type": "string"}},
        "flags": {"type": "array", "items": {"$ref": "#/$defs/flag"}},
    },
    "additionalProperties": False,
    "$defs": {
        "flag": {
            "type": "object",
            "required": ["name", "enabled"],
            "properties": {
                "name": {"type": "string"},
                "enabled": {"type": "boolean", "title": "Enabled"},
                "rollout": {"type": "number", "minimum": 0, "maximum": 100, "default": 100},
            },
            "additionalProperties": False,
        }
    },
}

BASE = """\
service: checkout
owner: payments
max_rps: 200
retries: 3
regions: [eu-west, us-east]
flags:
  - {name: new-checkout, enabled: false, rollout: 10}
  - {name: dark-mode, enabled: true}
"""

# (check, edits, subject, marker in the base or None, marker in the head or None)
CASES = [
    ("config-key-removed", [("owner: payments\n", "")], "owner", "owner:", "service:"),
    ("config-key-added", [("max_rps: 200", "max_rps: 200\nstage: beta")], "stage", "service:", "stage:"),
    ("config-value-changed", [("max_rps: 200", "max_rps: 150")], "max_rps", "max_rps:", "max_rps:"),
    ("config-value-changed", [("service: checkout", "service: cart")], "service", "service:", "service:"),
    ("config-value-changed", [("max_rps: 200", "max_rps: 200\ntimeout_ms: 800")], "timeout_ms", "service:", "timeout_ms:"),
    ("config-flag-toggled", [("enabled: false", "enabled: true")], "flags[name=new-checkout].enabled", "enabled: false", "enabled: true"),
    ("config-type-changed", [("retries: 3", "retries: three")], "retries", "retries:", "retries:"),
    ("config-item-added", [("  - {name: dark", "  - {name: beta, enabled: true}\n  - {name: dark")], "flags[name=beta]", "flags:", "{name: beta"),
    ("config-item-removed", [("  - {name: dark-mode, enabled: true}\n", "")], "flags[name=dark-mode]", "{name: dark-mode", "flags:"),
    ("config-items-reordered", [("  - {name: new-checkout, enabled: false, rollout: 10}\n", ""), ("enabled: true}", "enabled: true}\n  - {name: new-checkout, enabled: false, rollout: 10}")], "flags", "flags:", "flags:"),
    ("config-list-changed", [("us-east", "ap-south")], "regions", "us-east", "ap-south"),
]  # fmt: skip


def edited(edits: list[tuple[str, str]]) -> str:
    text = BASE
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def marker_position(text: str, marker: str) -> tuple[int, int]:
    for number, line in enumerate(text.splitlines(), start=1):
        if marker in line:
            return number, line.index(marker) + 1
    raise AssertionError(f"no line holds {marker!r}")


def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str, str]:
    (tmp_path / "flags.schema.json").write_text(json.dumps(SCHEMA, indent=2), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return run_cli("diff", "--schema", "flags.schema.json", *args)


def diff(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, base: str, head: str, *args: str) -> tuple[int, dict, str]:
    (tmp_path / "base.yaml").write_text(base, encoding="utf-8")
    (tmp_path / "head.yaml").write_text(head, encoding="utf-8")
    code, out, err = run(tmp_path, monkeypatch, "base.yaml", "head.yaml", "--format", "json", *args)
    return code, json.loads(out) if out else {}, err


@pytest.mark.parametrize(
    ("check", "edits", "subject", "base_at", "head_at"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_each_config_check(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    check: str,
    edits: list[tuple[str, str]],
    subject: str,
    base_at: str | None,
    head_at: str | None,
) -> None:
    head = edited(edits)
    code, report, err = diff(tmp_path, monkeypatch, BASE, head)
    assert err == ""
    found = [f for f in report["findings"] if f["id"] == check and f["subject"] == subject]
    assert len(found) == 1, [(f["id"], f["subject"], f["message"]) for f in report["findings"]]
    finding = found[0]
    assert finding["level"] == CHECKS[check].level
    assert (finding["kind"], finding["document"], finding["tags"]) == ("config", "head.yaml", [])
    for side, text, marker, file in (("base", BASE, base_at, "base.yaml"), ("head", head, head_at, "head.yaml")):
        if marker is None:
            assert finding[side] is None
        else:
            line, column = marker_position(text, marker)
            assert finding[side] == {"file": file, "line": line, "column": column}, finding["message"]
    assert code == (1 if report["summary"]["breaking"] else 0)


def test_the_cases_cover_every_config_check() -> None:
    covered = {c[0] for c in CASES} | {"config-removed", "config-added"}  # those two: a folder side
    assert covered == {c for c in CHECKS if c.startswith("config-")}


def test_messages_say_which_way_and_use_the_schema_titles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    head = edited([("max_rps: 200", "max_rps: 150\ntimeout_ms: 800"), ("enabled: false", "enabled: true")])
    _, report, _ = diff(tmp_path, monkeypatch, BASE, head)
    messages = {f["subject"]: f["message"] for f in report["findings"]}
    assert messages["max_rps"] == "'max_rps' (Rate limit) 200 → 150 (down)"
    assert messages["timeout_ms"] == "'timeout_ms' 500 → 800 (up) (was the schema's default)"
    assert messages["flags[name=new-checkout].enabled"] == (
        "'flags[name=new-checkout].enabled' (Enabled) enabled (false → true)"
    )


def test_a_default_written_out_or_dropped_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    head = edited([("max_rps: 200", "max_rps: 200\ntimeout_ms: 500"), ("{name: dark-mode, enabled: true}", "{name: dark-mode, enabled: true, rollout: 100}")])  # fmt: skip
    code, report, _ = diff(tmp_path, monkeypatch, BASE, head)
    assert (code, report["findings"]) == (0, [])
    # …and dropping a value that is not the default is a change to the default
    code, report, _ = diff(tmp_path, monkeypatch, BASE, BASE.replace(", rollout: 10}", "}"))
    [finding] = report["findings"]
    assert (finding["id"], finding["subject"]) == ("config-value-changed", "flags[name=new-checkout].rollout")
    assert finding["message"].endswith("10 → 100 (up) (removed: the schema's default applies)")


def test_json_files_have_positions_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = {"service": "checkout", "flags": [{"name": "a", "enabled": False}]}
    head = {"service": "checkout", "flags": [{"name": "a", "enabled": True}]}
    (tmp_path / "base.json").write_text(json.dumps(base, indent=2), encoding="utf-8")
    (tmp_path / "head.json").write_text(json.dumps(head, indent=2), encoding="utf-8")
    code, out, _ = run(tmp_path, monkeypatch, "base.json", "head.json", "--format", "json")
    assert code == 0
    [finding] = json.loads(out)["findings"]
    assert finding["id"] == "config-flag-toggled"
    assert finding["head"] == {"file": "head.json", "line": 6, "column": 7}  # "enabled": true


def test_an_invalid_side_exits_2_with_the_json_path_and_the_position(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    head = edited([("max_rps: 200", "max_rps: 0"), ("enabled: false", 'enabled: "yes"')])
    code, report, err = diff(tmp_path, monkeypatch, BASE, head)
    assert code == 2 and report == {}
    assert err.splitlines()[0] == "ballast diff: the head side (head.yaml) has errors:"
    assert "head.yaml:3:10: error[config]: 0 is less than the minimum of 1 at $.max_rps" in err
    assert "head.yaml:7:35: error[config]: 'yes' is not of type 'boolean' at $.flags[0].enabled" in err
    assert "hint: Rate limit (schema flags.schema.json#/properties/max_rps/minimum)" in err


def test_a_file_that_is_not_yaml_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = diff(tmp_path, monkeypatch, BASE, "service: [checkout\n")
    assert code == 2 and "head.yaml:2:1: error[yaml]: invalid YAML" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--config", "*.yaml", "a", "b"], None),  # checked below with --schema missing
        (["base", "head"], "with --schema, a folder side needs --config GLOB"),
        (["--config", "nothing/*.yaml", "base", "head"], "--config nothing/*.yaml: no file of either side matches it"),
    ],
)
def test_usage_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str | None) -> None:
    for side in ("base", "head"):
        (tmp_path / side).mkdir()
        (tmp_path / side / "flags.yaml").write_text(BASE, encoding="utf-8")
    if message is None:
        monkeypatch.chdir(tmp_path)
        code, _, err = run_cli("diff", *args)
        assert code == 2 and "--config GLOB names configuration files to check against --schema FILE" in err
        return
    code, _, err = run(tmp_path, monkeypatch, *args)
    assert code == 2 and message in err, err


def test_a_bad_schema_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "bad.schema.json").write_text('{"type": "objekt"}', encoding="utf-8")
    (tmp_path / "a.yaml").write_text(BASE, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli("diff", "--schema", "bad.schema.json", "a.yaml", "a.yaml")
    assert code == 2 and "bad.schema.json: not a valid JSON Schema" in err


def write_tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


POLICY = """\
policy shop.p version "1.0.0" {
  input ev { pool: string, load: float in [0, 1] }
  rule hot {
    when load > 0.8
    then scale(targets: pool)
  }
}
"""
SCENARIO = """\
scenario: shop.surge
duration: 1h
pools:
  - {name: web}
hypothesis:
  - {probe: sla, metric: sla_adherence_pct, min: 99}
"""


def side_files(version: int, *, policy_change: bool = True) -> dict[str, str]:
    """A folder with a policy, a scenario and flag files; version 2 changes each of them."""
    files = {"policies/p.bal": POLICY, "scenarios/surge.scenario.yaml": SCENARIO, "flags/checkout.yaml": BASE}
    files["flags/old.yaml"] = BASE
    if version == 2:
        if policy_change:
            files["policies/p.bal"] = POLICY.replace("0.8", "0.9")
        files["scenarios/surge.scenario.yaml"] = SCENARIO.replace("min: 99", "min: 95")
        files["flags/checkout.yaml"] = BASE.replace("enabled: false", "enabled: true")
        files["flags/new.yaml"] = files.pop("flags/old.yaml")
    return files


EXPECTED_IDS = [  # the most severe first, then by kind, document, subject
    ("config-removed", "flags/old.yaml"),
    ("config-flag-toggled", "flags/checkout.yaml"),
    ("config-added", "flags/new.yaml"),
    ("rule-condition-narrowed", "shop.p"),
    ("scenario-probe-changed", "shop.surge"),
]


def test_a_folder_side_holds_policies_scenarios_and_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_tree(tmp_path / "base", side_files(1))
    write_tree(tmp_path / "head", side_files(2))
    code, out, err = run(tmp_path, monkeypatch, "--config", "flags/*.yaml", "base", "head", "--format", "json")
    assert err == ""
    report = json.loads(out)
    assert [(f["id"], f["document"]) for f in report["findings"]] == EXPECTED_IDS
    assert report["base"]["documents"] == 4  # a policy, a scenario, two flag files
    removed = report["findings"][0]
    assert removed["level"] == "breaking" and removed["base"] == {"file": "base/flags/old.yaml", "line": 1, "column": 1}
    assert code == 1


def test_a_file_removed_or_added_is_located_past_its_leading_comments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_tree(tmp_path / "base", {"flags/checkout.yaml": BASE, "flags/old.yaml": "# retired\n\n" + BASE})
    write_tree(tmp_path / "head", {"flags/checkout.yaml": BASE, "flags/new.yaml": "# new\n" + BASE})
    _, out, _ = run(tmp_path, monkeypatch, "--config", "flags/*.yaml", "base", "head", "--format", "json")
    at = {f["id"]: f["base"] or f["head"] for f in json.loads(out)["findings"]}
    assert at["config-removed"] == {"file": "base/flags/old.yaml", "line": 3, "column": 1}  # service: checkout
    assert at["config-added"] == {"file": "head/flags/new.yaml", "line": 2, "column": 1}


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def test_a_git_side_reads_scenarios_and_configuration_from_the_revision(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    write_tree(repo / "site", side_files(1))
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    for name in ("flags/old.yaml",):
        (repo / "site" / name).unlink()
    write_tree(repo / "site", side_files(2))
    (repo / "flags.schema.json").write_text(json.dumps(SCHEMA), encoding="utf-8")
    monkeypatch.chdir(repo)
    code, out, err = run_cli(
        "diff", "--schema", "flags.schema.json", "--config", "flags/*.yaml", "HEAD:site", "site", "--format", "json"
    )
    assert err == ""
    report = json.loads(out)
    assert [(f["id"], f["document"]) for f in report["findings"]] == EXPECTED_IDS
    probe = report["findings"][-1]
    assert probe["base"] == {"file": "HEAD:site/scenarios/surge.scenario.yaml", "line": 6, "column": 5}
    assert probe["head"] == {"file": "site/scenarios/surge.scenario.yaml", "line": 6, "column": 5}
    toggled = report["findings"][1]
    assert toggled["base"]["file"] == "HEAD:site/flags/checkout.yaml"
    assert code == 1
    # the work tree is left alone
    assert (repo / "site" / "flags" / "new.yaml").exists() and not (repo / "site" / "flags" / "old.yaml").exists()


def test_two_runs_give_the_same_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the policy is left alone: a condition's finding carries the solver's time (details.solver_ms)
    write_tree(tmp_path / "base", side_files(1))
    write_tree(tmp_path / "head", side_files(2, policy_change=False))
    for fmt in ("text", "json", "md", "github", "junit", "sarif"):
        first = run(tmp_path, monkeypatch, "--config", "flags/*.yaml", "base", "head", "--format", fmt)
        second = run(tmp_path, monkeypatch, "--config", "flags/*.yaml", "base", "head", "--format", fmt)
        assert first == second


def test_the_json_report_with_documents_follows_the_published_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import jsonschema

    repo_root = Path(__file__).resolve().parents[2]
    schema = json.loads((repo_root / "docs" / "schemas" / "diff-report.schema.json").read_text(encoding="utf-8"))
    write_tree(tmp_path / "base", side_files(1))
    write_tree(tmp_path / "head", side_files(2))
    _, out, _ = run(tmp_path, monkeypatch, "--config", "flags/*.yaml", "base", "head", "--format", "json")
    jsonschema.validate(json.loads(out), schema)
