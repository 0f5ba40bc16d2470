"""Probes that saw nothing, probes on what is not running, shadow gates, runs cut short, report wording."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from test_simulator import GTBE, MOTB, SMALL, run, write  # one small scenario and its helpers for both files

import ballast
from ballast.runtime.errors import CompileError
from ballast.simulator.gates import GateError, evaluate, parse_gates
from ballast.simulator.render import render_html, render_markdown
from ballast.simulator.render.numbers import number
from ballast.simulator.run import Simulation
from ballast.simulator.scenario import parse_scenario
from ballast.simulator.stats import compare

# The fault lasts to the end, so the `after` phase (5 minutes after the last fault) never comes.
NEVER_AFTER = SMALL + "faults:\n  - {kind: latency, at: 15m, add_ms: 10}\nhypothesis:\n"



# ---- 1. a probe with no samples is "no data", and fails unless allowed ----


def test_a_probe_that_took_no_sample_fails_as_no_data(tmp_path: Path) -> None:
    path = write(tmp_path, NEVER_AFTER + "  - {probe: recovered, metric: sla_adherence_pct, phase: after, min: 99}\n")
    code, out, _ = run(["simulate", str(path), "--policy", MOTB, "--format", "json"])
    probe = json.loads(out)["hypothesis"][0]
    assert code == 1
    assert (probe["samples"], probe["result"], probe["held"]) == (0, "no data", False)
    assert json.loads(out)["outcome"]["hypothesis_held"] is False
    code, out, _ = run(["simulate", str(path), "--policy", MOTB])
    assert code == 1 and "Hypothesis failed: 1 of 1 probe with no data" in out
    assert "| ❌ no data |" in out


def test_allow_empty_lets_a_probe_without_samples_hold(tmp_path: Path) -> None:
    line = "  - {probe: recovered, metric: sla_adherence_pct, phase: after, min: 99, allow_empty: true}\n"
    path = write(tmp_path, NEVER_AFTER + line)
    code, out, _ = run(["simulate", str(path), "--policy", MOTB])
    assert code == 0 and "| ⚠️ no data (allowed) |" in out


def test_allow_empty_must_be_a_boolean_at_its_position() -> None:
    text = NEVER_AFTER + "  - {metric: load, max: 2, allow_empty: yes please}\n"
    with pytest.raises(CompileError) as caught:
        parse_scenario(text, "s.yaml")
    first = caught.value.diagnostics[0]
    assert "expected true or false" in first.message
    assert (first.span.line, first.span.column) == (11, 41)


# ---- 2. a probe on something that is not running is an error ----

THREAT_PROBE = SMALL + "hypothesis:\n  - {probe: calm, metric: threat_index, max: 60}\n"


def test_a_threat_probe_without_a_threat_document_is_an_error_at_its_position(tmp_path: Path) -> None:
    path = write(tmp_path, THREAT_PROBE)
    code, out, err = run(["simulate", str(path), "--policy", MOTB])
    assert code == 2 and out == "" and "Traceback" not in err
    assert f"{path}:9:27: error[scenario]: probe 'calm' reads threat_index, but --policy runs no threat document" in err
    assert "hint: add a threat document to --policy (catalog/gtbe.bal is one), or remove the probe" in err
    code, _, err = run(["simulate", str(path), "--policy", MOTB, "--check"])
    assert code == 2 and "reads threat_index" in err
    assert run(["simulate", str(path), "--policy", MOTB, GTBE, "--check"])[0] == 0


def test_shadow_names_the_side_without_the_threat_document(tmp_path: Path) -> None:
    path = write(tmp_path, THREAT_PROBE)
    code, _, err = run(["shadow", "--scenario", str(path), "--baseline", MOTB, "--candidate", MOTB, GTBE])
    assert code == 2 and "but --baseline runs no threat document" in err


def test_the_python_api_refuses_the_run_too(tmp_path: Path) -> None:
    scenario = parse_scenario(SMALL + "stop:\n  - {metric: lockdowns, above: 2}\n", str(tmp_path / "s.yaml"))
    with pytest.raises(CompileError, match="stop condition 'lockdowns > 2' reads lockdowns"):
        Simulation(scenario, ballast.compile([MOTB]))


# ---- 3. shadow gates ----


def paired(base: list[float], cand: list[float], better: str = "higher") -> dict:
    return compare(base, cand, better)


@pytest.mark.parametrize(
    ("gate", "base", "cand", "passes"),
    [
        ("sla:better", [1, 2, 3, 4], [2, 3.1, 3.9, 5], True),
        ("sla:better", [1, 2, 3], [1.5, 1.6, 3.2], False),  # inconclusive is not better
        ("sla:not-worse", [1, 2, 3], [1.5, 1.6, 3.2], True),
        ("sla:not-worse", [2, 3.1, 3.9, 5], [1, 2, 3, 4], False),
        ("sla:better-or-same", [1, 2, 3], [1, 2, 3], True),
        ("sla:better-or-same", [1.5, 1.6, 3.2], [1, 2, 3], False),  # mean on the worse side
        ("sla:within:10%", [100, 100, 100, 100], [99, 98.5, 99.2, 99.1], True),
        ("sla:within:0.5%", [100, 100, 100, 100], [99, 98.5, 99.2, 99.1], False),
    ],
)
def test_gate_criteria(gate: str, base: list[float], cand: list[float], passes: bool) -> None:
    (parsed,) = parse_gates(gate)
    assert evaluate(parsed, paired(base, cand))["passed"] is passes


def test_a_gate_without_an_interval_fails() -> None:
    (gate,) = parse_gates("error_rate:not-worse")
    verdict = evaluate(gate, compare([0.1], [0.1], "lower"))
    assert verdict["passed"] is False and "no interval" in verdict["reason"]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("sl_adherence:better", "unknown KPI 'sl_adherence' (did you mean 'sla_adherence_pct'?)"),
        ("sla:beter", "unknown criterion 'beter' for sla_adherence_pct (did you mean 'better'?)"),
        ("sla", "cannot read the gate 'sla'"),
    ],
)
def test_bad_gates_on_the_command_line(tmp_path: Path, text: str, needle: str) -> None:
    path = write(tmp_path, SMALL)
    code, _, err = run(["shadow", "--scenario", str(path), "--baseline", MOTB, "--candidate", MOTB, "--gate", text])
    assert code == 2 and needle in err
    with pytest.raises(GateError):
        parse_gates(text)


def test_bad_gates_in_the_scenario_are_reported_at_their_position() -> None:
    text = SMALL + "gates:\n  sla_adherance_pct: better\n  error_rate: worse-ish\n"
    with pytest.raises(CompileError) as caught:
        parse_scenario(text, "s.yaml")
    first, second = caught.value.diagnostics
    assert (first.span.line, first.span.column) == (9, 3) and "did you mean 'sla_adherence_pct'?" in first.hint
    assert (second.span.line, second.span.column) == (10, 15) and "unknown criterion 'worse-ish'" in second.message


def pager(tmp_path: Path) -> str:
    path = tmp_path / "pager.bal"
    path.write_text(
        'policy t.pager version "1" {\n  input pager { pool: string, load: float }\n'
        '  action page(targets: selector)\n  rule hot { when load > 0.5 then page(targets: pool) }\n}\n',
        encoding="utf-8",
    )
    return str(path)


SPIKE = SMALL.replace("duration: 20m", "duration: 12m") + "faults:\n  - {kind: load-spike, at: 3m, duration: 5m, factor: 1.6}\n"


def test_more_directives_is_not_worse_by_default(tmp_path: Path) -> None:
    """A candidate that only adds pages changes nothing else: the default gates pass it."""
    path = write(tmp_path, SPIKE)
    argv = ["shadow", "--scenario", str(path), "--baseline", MOTB, "--candidate", MOTB, pager(tmp_path), "--seeds", "3"]
    code, out, _ = run([*argv, "--format", "json"])
    report = json.loads(out)
    kpis = {k["kpi"]: k for k in report["kpis"]}
    assert kpis["directives"]["verdict"] == "worse"
    assert code == 0 and report["outcome"] == {"passed": True, "gates_from": "default"}
    assert "directives" not in {g["kpi"] for g in report["gates"]}
    code, out, _ = run([*argv, "--gate", "directives:not-worse"])
    assert code == 1 and "1 of 1 gate failed (directives not-worse)" in out


def test_declared_gates_come_from_the_option_then_the_scenario(tmp_path: Path) -> None:
    path = write(tmp_path, SPIKE + "gates:\n  sla: better\n")
    argv = ["shadow", "--scenario", str(path), "--baseline", MOTB, "--candidate", MOTB, "--seeds", "2", "--format", "json"]
    code, out, _ = run(argv)
    report = json.loads(out)
    assert code == 1 and report["outcome"]["gates_from"] == "scenario"
    assert report["gates"] == [
        {"kpi": "sla_adherence_pct", "criterion": "better", "passed": False, "reason": "the interval reaches zero or below"}
    ]
    code, out, _ = run([*argv, "--gate", "sla:better-or-same", "--gate", "error_rate:not-worse"])
    assert code == 0 and [g["kpi"] for g in json.loads(out)["gates"]] == ["sla_adherence_pct", "error_rate"]


def test_runs_cut_short_are_compared_over_the_common_window(tmp_path: Path) -> None:
    stop = "stop:\n  - {metric: load, above: 0.0}\n"  # trips at the first telemetry tick
    path = write(tmp_path, SPIKE + stop)
    argv = ["shadow", "--scenario", str(path), "--baseline", MOTB, "--candidate", MOTB, pager(tmp_path)]
    code, out, _ = run([*argv, "--seeds", "2", "--format", "json"])
    report = json.loads(out)
    assert code == 0  # both sides over the same 15 s: pages alone change nothing
    assert {(c["seed"], c["side"], c["compared_to_s"]) for c in report["cut_short"]} == {
        (seed, side, 15.0) for seed in (3, 4) for side in ("baseline", "candidate")
    }
    assert report["example"]["baseline"]["t_s"][-1] <= 15.0
    text = render_markdown(report)
    assert "#### Runs cut short by a stop condition" in text and "| 3 | baseline | 15s | load > 0 | 0s to 15s |" in text


# ---- 4. report wording ----


def simulation(tmp_path: Path, text: str, *policies: str) -> dict:
    scenario = parse_scenario(text, str(tmp_path / "s.yaml"))
    return Simulation(scenario, ballast.compile(list(policies or [MOTB]))).run().report


def test_a_worst_value_is_never_rounded_across_its_threshold(tmp_path: Path) -> None:
    report = simulation(tmp_path, SMALL + "hypothesis:\n  - {probe: p, metric: sla_adherence_pct, min: 99}\n")
    report["hypothesis"][0].update(worst=98.98, held=False, result="failed")
    text = render_markdown(report)
    assert "| ≥ 99 % | 98.98 % |" in text


def test_markdown_keeps_comparison_signs_and_escapes_tags_and_table_pipes(tmp_path: Path) -> None:
    report = simulation(tmp_path, SMALL + "stop:\n  - {metric: load, above: 0.0}\n")
    report["scenario"]["description"] = "a | b <i>x</i> & y"
    text = render_markdown(report)
    assert "Stopped early at 15s: load > 0 (value" in text and "&gt;" not in text
    assert "Description: a | b &lt;i>x&lt;/i> & y ·" in text  # outside a table `|` needs no escape


def test_counts_are_plural_only_when_they_should_be(tmp_path: Path) -> None:
    path = write(tmp_path, SMALL.replace("  - {name: jobs, class: batch, workers: 4, service_ms: 100, rate: 20}\n", "")
                 + "faults:\n  - {kind: latency, at: 5m}\n")  # fmt: skip
    code, _, err = run(["simulate", str(path), "--policy", MOTB, "--check"])
    assert code == 0 and "ok: test.small, 1 pool, 1 fault" in err


def test_the_html_report_has_a_latency_chart_with_the_slo(tmp_path: Path) -> None:
    text = SMALL + "slo: {latency_ms: 180}\nfaults:\n  - {kind: latency, at: 5m, duration: 5m, add_ms: 300}\n"
    report = simulation(tmp_path, text, MOTB, GTBE)
    assert len(report["timeline"]["latency_p95_ms"]) == len(report["timeline"]["t_s"])
    html = render_html(report)
    chart = re.search(r'<svg[^>]*data-chart="latency".*?</svg>', html, re.S)
    assert chart is not None and "SLO 180 ms" in chart[0]
    peak = max(report["timeline"]["latency_p95_ms"])
    assert peak > 180 and f"simulation latency p95, max {number(peak)} ms at" in chart[0]  # the line's tooltip


def test_no_threat_document_means_no_empty_threat_chart(tmp_path: Path) -> None:
    html = render_html(simulation(tmp_path, SMALL))
    assert 'data-chart="threat-index"' not in html
    assert html.count("No ThreatIndex chart: the policy set runs no threat document.") == 1
    assert 'data-chart="threat-index"' in render_html(simulation(tmp_path, SMALL, MOTB, GTBE))


def test_doctests_of_the_gates_and_the_markdown_escape_pass() -> None:
    import doctest

    from ballast.simulator import gates
    from ballast.simulator.render import markdown

    for module in (gates, markdown):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted > 0, module.__name__
