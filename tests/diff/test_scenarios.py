"""`ballast diff` on simulator scenarios: every `scenario-*` check with its level, tags and positions.

Each case edits one small scenario (BASE below) and diffs the two files; the finding's position
is checked against the line and column of a marker in each text (the key or list item it points
at).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ballast.compiler.diff.findings import CHECKS, GUARD_LOOSENED, GUARD_TIGHTENED
from tests.support import run_cli

BASE = """\
scenario: t.small
description: a small world
seed: 1
duration: 1h
telemetry: 15s
pools:
  - {name: web, class: critical, workers: 4, max_workers: 8}
  - {name: batch, class: batch, workers: 2}
  - {name: spare, class: standard, workers: 1}
load:
  diurnal: 0.2
  steps:
    - {at: 10m, factor: 1.5}
risk: {trp: 30}
actuation: {scale_delay: 1m}
slo: {latency_ms: 250, error_rate: 0.01}
faults:
  - name: spike
    kind: load-spike
    at: 20m
    duration: 10m
    factor: 2
  - kind: latency
    at: 30m
    duration: 5m
hypothesis:
  - {probe: sla, metric: sla_adherence_pct, min: 99}
  - {probe: drains, metric: queue, pool: batch, max: 500, phase: after}
stop:
  - {metric: error_rate, above: 0.5, for: 2m}
gates:
  sla: better-or-same
  error_rate: within:5%
"""

L, T = (GUARD_LOOSENED,), (GUARD_TIGHTENED,)

# (check, edits to BASE, subject, tags, marker in the base or None, marker in the head or None)
CASES = [
    ("scenario-metadata-changed", [("a small world", "a tiny world")], "description", (), "description:", "description:"),
    ("scenario-run-changed", [("seed: 1", "seed: 2")], "seed", (), "seed:", "seed:"),
    ("scenario-run-changed", [("duration: 1h", "duration: 50m")], "duration", (), "duration:", "duration:"),
    ("scenario-run-changed", [("telemetry: 15s", "telemetry: 30s")], "telemetry", (), "telemetry:", "telemetry:"),
    ("scenario-policies-changed", [("seed: 1", "seed: 1\npolicies: [../p.bal]")], "policies", (), "scenario:", "policies:"),
    ("scenario-slo-changed", [("latency_ms: 250", "latency_ms: 400")], "slo.latency_ms", L, "latency_ms", "latency_ms"),
    ("scenario-slo-changed", [("error_rate: 0.01", "error_rate: 0.005")], "slo.error_rate", T, "error_rate: 0.01", "error_rate: 0.005"),
    ("scenario-pool-added", [("  - {name: spare", "  - {name: extra, workers: 3}\n  - {name: spare")], "pool.extra", (), None, "{name: extra"),
    ("scenario-pool-removed", [("  - {name: spare, class: standard, workers: 1}\n", "")], "pool.spare", (), "{name: spare", None),
    ("scenario-pool-changed", [("max_workers: 8", "max_workers: 16")], "pool.web", (), "{name: web", "{name: web"),
    ("scenario-load-changed", [("diurnal: 0.2", "diurnal: 0.4")], "load.diurnal", (), "diurnal:", "diurnal:"),
    ("scenario-load-changed", [("factor: 1.5}", "factor: 1.8}")], "load.steps[1]", (), "{at: 10m", "{at: 10m"),
    ("scenario-risk-changed", [("trp: 30", "trp: 45")], "risk.trp", (), "trp:", "trp:"),
    ("scenario-actuation-changed", [("scale_delay: 1m", "scale_delay: 2m")], "actuation.scale_delay", (), "scale_delay", "scale_delay"),
    ("scenario-supervisor-changed", [("risk: {trp: 30}", "risk: {trp: 30}\nsupervisor: {every: 5m}")], "supervisor", (), "scenario:", "supervisor:"),
    ("scenario-fault-added", [("hypothesis:", "  - {kind: cve, at: 40m}\nhypothesis:")], "fault.cve@2400s", T, None, "{kind: cve"),
    ("scenario-fault-removed", [("  - kind: latency\n    at: 30m\n    duration: 5m\n", "")], "fault.latency@1800s", L, "kind: latency", None),
    ("scenario-fault-changed", [("factor: 2", "factor: 1.5")], "fault.spike", L, "name: spike", "name: spike"),
    ("scenario-fault-changed", [("duration: 10m", "duration: 20m")], "fault.spike", T, "name: spike", "name: spike"),
    ("scenario-fault-changed", [("at: 30m", "at: 35m")], "fault.latency@2100s", (), "kind: latency", "kind: latency"),
    ("scenario-probe-added", [("stop:", "  - {probe: calm, metric: error_rate, max: 0.1}\nstop:")], "probe.calm", T, None, "{probe: calm"),
    ("scenario-probe-removed", [("  - {probe: drains, metric: queue, pool: batch, max: 500, phase: after}\n", "")], "probe.drains", L, "{probe: drains", None),
    ("scenario-probe-changed", [("min: 99}", "min: 98}")], "probe.sla", L, "{probe: sla", "{probe: sla"),
    ("scenario-probe-changed", [("max: 500", "max: 200")], "probe.drains", T, "{probe: drains", "{probe: drains"),
    ("scenario-probe-changed", [("min: 99}", "min: 99, phase: during}")], "probe.sla", L, "{probe: sla", "{probe: sla"),
    ("scenario-probe-changed", [("max: 500, phase: after", "max: 500, phase: before")], "probe.drains", (), "{probe: drains", "{probe: drains"),
    ("scenario-probe-changed", [("min: 99}", "min: 99, allow_empty: true}")], "probe.sla", L, "{probe: sla", "{probe: sla"),
    ("scenario-probe-renamed", [("probe: sla,", "probe: sla-holds,")], "probe.sla-holds", (), "{probe: sla", "{probe: sla"),
    ("scenario-stop-changed", [("above: 0.5", "above: 0.8")], "stop.error_rate>", (), "{metric: error_rate", "{metric: error_rate"),
    ("scenario-gate-added", [("within:5%", "within:5%\n  dropped: not-worse")], "gate.dropped", T, "gates:", "dropped:"),
    ("scenario-gate-removed", [("  error_rate: within:5%\n", "")], "gate.error_rate", L, "error_rate: within", "gates:"),
    ("scenario-gate-changed", [("sla: better-or-same", "sla: not-worse")], "gate.sla_adherence_pct", L, "sla:", "sla:"),
    ("scenario-gate-changed", [("within:5%", "within:10%")], "gate.error_rate", L, "error_rate: within", "error_rate: within"),
    ("scenario-gate-changed", [("sla: better-or-same", "sla: better")], "gate.sla_adherence_pct", T, "sla:", "sla:"),
    ("scenario-gate-changed", [("within:5%", "not-worse")], "gate.error_rate", (), "error_rate: within", "error_rate: not"),
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


def diff(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, base: str, head: str, *args: str) -> tuple[int, dict, str]:
    (tmp_path / "base.scenario.yaml").write_text(base, encoding="utf-8")
    (tmp_path / "head.scenario.yaml").write_text(head, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli("diff", "base.scenario.yaml", "head.scenario.yaml", "--format", "json", *args)
    return code, json.loads(out) if out else {}, err


@pytest.mark.parametrize(
    ("check", "edits", "subject", "tags", "base_at", "head_at"),
    CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)],
)
def test_each_scenario_check(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    check: str,
    edits: list[tuple[str, str]],
    subject: str,
    tags: tuple[str, ...],
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
    assert finding["kind"] == "scenario" and finding["document"] == "t.small"
    assert tuple(finding["tags"]) == tags, finding["message"]
    for side, text, marker, file in (
        ("base", BASE, base_at, "base.scenario.yaml"),
        ("head", head, head_at, "head.scenario.yaml"),
    ):
        if marker is None:
            assert finding[side] is None
        else:
            line, column = marker_position(text, marker)
            assert finding[side] == {"file": file, "line": line, "column": column}, finding["message"]
    assert code == (1 if report["summary"]["breaking"] else 0)


def test_the_cases_cover_every_scenario_check() -> None:
    covered = {c[0] for c in CASES} | {"scenario-removed", "scenario-added"}  # those two: a folder side
    assert covered == {c for c in CHECKS if c.startswith("scenario-")}


def test_an_unchanged_scenario_has_no_finding_and_comments_do_not_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    head = "# reformatted\n" + BASE.replace("duration: 1h", "duration: 60m  # the same").replace("seed: 1", "seed: 1\n")
    code, report, _ = diff(tmp_path, monkeypatch, BASE, head)
    assert (code, report["findings"]) == (0, [])


def test_declaring_gates_replaces_the_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without `gates:` every KPI but directives must be not worse; declaring one drops the others."""
    base = BASE[: BASE.index("gates:")]
    code, report, _ = diff(tmp_path, monkeypatch, base, BASE)
    by_id: dict[str, list[str]] = {}
    for f in report["findings"]:
        by_id.setdefault(f["id"], []).append(f["subject"])
    assert "gate.dropped" in by_id["scenario-gate-removed"]  # a default gate no longer in force
    changed = {f["subject"]: f for f in report["findings"] if f["id"] == "scenario-gate-changed"}
    assert changed["gate.sla_adherence_pct"]["tags"] == [GUARD_TIGHTENED]  # not-worse (default) → better-or-same
    assert changed["gate.error_rate"]["tags"] == []  # not-worse → within:5%: neither
    assert "(default)" in changed["gate.sla_adherence_pct"]["message"]
    assert code == 0


def test_removing_and_adding_scenarios_in_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for side, names in (("base", ("t.small", "t.gone")), ("head", ("t.small", "t.new"))):
        for name in names:
            folder = tmp_path / side / "scenarios"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{name.split('.')[1]}.scenario.yaml").write_text(BASE.replace("t.small", name), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli("diff", "base", "head", "--format", "json")
    assert err == ""
    report = json.loads(out)
    findings = {(f["id"], f["document"]): f for f in report["findings"]}
    assert set(findings) == {("scenario-removed", "t.gone"), ("scenario-added", "t.new")}
    removed = findings[("scenario-removed", "t.gone")]
    assert removed["level"] == "breaking" and removed["tags"] == [GUARD_LOOSENED]
    assert removed["base"] == {"file": "base/scenarios/gone.scenario.yaml", "line": 1, "column": 1}
    added = findings[("scenario-added", "t.new")]
    assert added["level"] == "behavioral" and added["head"]["file"] == "head/scenarios/new.scenario.yaml"
    assert report["base"]["documents"] == 2
    assert code == 1  # a scenario removed is breaking


def test_an_invalid_scenario_stops_the_diff_at_its_position(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    head = BASE.replace("workers: 2}", "workers: -2}")
    code, _, err = diff(tmp_path, monkeypatch, BASE, head)
    assert code == 2
    assert "the head side (head.scenario.yaml) has errors" in err
    assert "head.scenario.yaml:8:42: error[scenario]: -2 is out of range" in err


def test_a_renamed_scenario_is_removed_and_added(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Scenarios are matched by name, and two single files are compared whatever their names."""
    code, report, _ = diff(tmp_path, monkeypatch, BASE, BASE.replace("t.small", "t.renamed"))
    assert sorted(f["id"] for f in report["findings"]) == ["scenario-added", "scenario-removed"]
    assert code == 1
