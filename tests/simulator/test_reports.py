"""Report renderers: Markdown for pull requests, a self-contained HTML page, and its SVG charts."""

from __future__ import annotations

import doctest
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from support import chromium, png_pixels, require_chromium

import ballast.simulator.render
from ballast.runtime.errors import UsageError
from ballast.simulator.render import charts, numbers, rehearsal_charts, render_html, render_markdown, svg

EVIL = "<script>alert('x')</script> & | pipes"

# --- sample reports, shaped as docs/reports.md describes ------------------------------------------


def scenario(duration_s: float = 600.0) -> dict[str, Any]:
    return {
        "name": "pool-a meltdown",
        "description": "pool-a loses half its workers",
        "file": "scenarios/meltdown.yaml",
        "seed": 7,
        "start": "2024-05-01T00:00:00Z",
        "duration_s": duration_s,
        "telemetry_every_s": 10.0,
        "slo_latency_ms": 250.0,
        "pools": 3,
    }


def timeline(ticks: int = 61, *, threat: bool = True, step: float = 10.0, lift: float = 0.0) -> dict[str, Any]:
    t = [i * step for i in range(ticks)]
    index = [min(100.0, max(0.0, 5.0 + 1.5 * i + lift)) if threat else None for i in range(ticks)]
    if threat and ticks > 12:
        index[10] = None  # a gap: the threat feed was silent for one tick
    return {
        "t_s": t,
        "threat_index": index,
        "mode": ["normal" if (v or 0) < 40 else "heightened" if (v or 0) < 75 else "lockdown" for v in index],
        "sla_adherence_pct": [99.5 - (3.0 if 20 <= i < 35 else 0.0) for i in range(ticks)],
        "latency_p95_ms": [120.0 + (200.0 if 20 <= i < 35 else 0.0) + lift for i in range(ticks)],
        "load": [0.4 + 0.01 * i for i in range(ticks)],
        "workers": [10 + i // 10 for i in range(ticks)],
        "queue": [float((i * 7) % 23) for i in range(ticks)],
    }


MODES = [
    {"mode": "normal", "from_s": 0.0, "to_s": 240.0},
    {"mode": "heightened", "from_s": 240.0, "to_s": 480.0},
    {"mode": "lockdown", "from_s": 480.0, "to_s": 600.0},
]
FAULTS = [{"name": "pool-a-crash", "kind": "crash", "from_s": 200.0, "to_s": 350.0, "targets": ["pool-a"]}]


def directive(
    t_s: float, action: str, rule: str = "scale_on_load", reason: str = "load 0.91 above 0.8", actuated: bool = True
) -> dict[str, Any]:
    return {
        "t_s": t_s,
        "policy": "motb.orchestration",
        "rule": rule,
        "action": action,
        "targets": ["pool-a"],
        "reason": reason,
        "actuated": actuated,
    }


def simulation_report(
    *,
    directives: bool = True,
    threat: bool = True,
    ticks: int = 61,
    held: bool = True,
    reason: str = "load 0.91 above 0.8",
) -> dict[str, Any]:
    return {
        "format": "ballast.simulation/1",
        "scenario": scenario(),
        "policies": [{"name": "motb.orchestration", "version": "1.2.0", "kind": "policy"}]
        + ([{"name": "motb.gtbe", "version": "1.0.0", "kind": "threat"}] if threat else []),
        "outcome": {
            "hypothesis_held": held,
            "stopped": None if held else {"t_s": 330.0, "condition": "sla_adherence_pct < 90", "value": 88.25},
        },
        "kpis": {
            "sla_adherence_pct": 98.7654,
            "requests": 123456,
            "served": 121000,
            "dropped": 2456,
            "error_rate": 0.0123,
            "time_to_mitigate_s": {"count": 2, "mean": 45.5, "p50": 45.5, "max": 61.0},
            "directive_latency_ms": {"count": 40, "p50": 0.42, "p95": 1.3, "p99": 2.75},
            "directives": 4 if directives else 0,
            "directives_by_action": {"scale": 2, "pause": 1, "page": 1} if directives else {},
            "unactuated_directives": 1 if directives else 0,
            "lockdowns": 1,
            "false_lockdowns": 0,
            "mode_changes": 2,
            "worker_hours": 1.83,
            "max_threat_index": 95.0 if threat else None,
            "max_policy_depth": 3,
        },
        "hypothesis": [
            {
                "probe": "sla-holds",
                "metric": "sla_adherence_pct",
                "pool": None,
                "phase": "continuous",
                "tolerance": {"min": 95.0},
                "held": True,
                "worst": 96.5,
                "worst_t_s": 210.0,
                "samples": ticks,
            },
            {
                "probe": "queue-drains",
                "metric": "queue",
                "pool": "pool-a",
                "phase": "after",
                "tolerance": {"max": 5.0},
                "held": held,
                "worst": 3.0 if held else 22.0,
                "worst_t_s": 590.0,
                "samples": 10,
            },
        ],
        "timeline": timeline(ticks, threat=threat),
        "modes": MODES if threat else [],
        "faults": FAULTS,
        "directives": [
            directive(205.0, "scale", reason=reason),
            directive(207.0, "scale"),
            directive(260.0, "pause", rule="pause_batch", actuated=False),
            directive(480.0, "page", rule="page_oncall"),
        ]
        if directives
        else [],
        "breaches": [
            {"pool": "pool-a", "from_s": 200.0, "to_s": 350.0, "first_directive_s": 205.0},
            {"pool": "pool-b", "from_s": 500.0, "to_s": None, "first_directive_s": None},
        ],
    }


def rule(
    name: str, baseline: int, candidate: int, change: str, *, divergence: bool = False, reason: str = "load above limit"
) -> dict[str, Any]:
    first = None
    if divergence:
        first = {
            "seed": 3,
            "t_s": 205.0,
            "time": "2024-05-01T00:03:25Z",
            "event": {"pool": "pool-a", "load": 0.91, "note": reason},
            "baseline": [],
            "candidate": [{"action": "scale", "targets": ["pool-a"]}],
        }
    return {
        "policy": "motb.orchestration",
        "rule": name,
        "baseline": baseline,
        "candidate": candidate,
        "change": change,
        "first_divergence": first,
    }


RULES = [
    rule("scale_on_load", 4, 9, "more", divergence=True, reason=EVIL),
    rule("pause_batch", 3, 3, "same"),
    rule("page_oncall", 2, 2, "retimed", divergence=True),
    rule("downgrade_<b>risky</b>", 0, 5, "added"),
    rule("reroute_old", 6, 0, "removed"),
    rule("unchanged_two", 1, 1, "same"),
]


def shadow_report(*, seeds: int = 4, example: bool = True, threat: bool = True) -> dict[str, Any]:
    report: dict[str, Any] = {
        "format": "ballast.shadow/1",
        "scenario": scenario(),
        "seeds": list(range(1, seeds + 1)),
        "baseline": {"policies": [{"name": "motb.orchestration", "version": "1.2.0", "kind": "policy"}]},
        "candidate": {"policies": [{"name": "motb.orchestration", "version": "1.3.0", "kind": "policy"}]},
        "kpis": [
            {
                "kpi": "sla_adherence_pct",
                "better": "higher",
                "baseline_mean": 97.1,
                "candidate_mean": 98.35,
                "difference": 1.25,
                "ci95": [0.4, 2.1],
                "verdict": "better",
                "reason": "interval above zero",
                "more_seeds": None,
            },
            {
                "kpi": "time_to_mitigate_s.mean",
                "better": "lower",
                "baseline_mean": 40.0,
                "candidate_mean": 52.5,
                "difference": 12.5,
                "ci95": [3.0, 22.0],
                "verdict": "worse",
                "reason": "interval above zero",
                "more_seeds": None,
            },
            {
                "kpi": "worker_hours",
                "better": "lower",
                "baseline_mean": 1.8,
                "candidate_mean": 1.79,
                "difference": -0.01,
                "ci95": [-0.05, 0.03],
                "verdict": "inconclusive",
                "reason": EVIL,
                "more_seeds": 24,
            },
            {
                "kpi": "false_lockdowns",
                "better": "lower",
                "baseline_mean": 0.5,
                "candidate_mean": 0.25,
                "difference": -0.25,
                "ci95": None,
                "verdict": "inconclusive",
                "reason": "1 seed is too few",
                "more_seeds": None,
            },
        ],
        "rules": RULES,
        "example": None,
    }
    if example:
        report["example"] = {
            "seed": 1,
            "baseline": timeline(threat=threat),
            "candidate": timeline(threat=threat, lift=-12.0),
            "baseline_modes": MODES if threat else [],
            "candidate_modes": MODES[:2] if threat else [],
            "baseline_directives": [directive(205.0, "scale"), directive(480.0, "page", rule="page_oncall")],
            "candidate_directives": [directive(203.0, "scale"), directive(240.0, "downgrade", rule="downgrade_risky")],
            "faults": FAULTS,
        }
    return report


def replay_report(rules: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "format": "ballast.replay/1",
        "telemetry": {
            "file": "catalog/events.jsonl",
            "events": 1500,
            "from": "2024-05-01T00:00:00Z",
            "to": "2024-05-01T01:00:00Z",
            "inputs": {"telemetry": 1400, "signals": 100},
        },
        "baseline": {"policies": [{"name": "motb.orchestration", "version": "1.2.0", "kind": "policy"}]},
        "candidate": {"policies": [{"name": "motb.orchestration", "version": "1.3.0", "kind": "policy"}]},
        "decisions": {"baseline": 120, "candidate": 131, "differing_events": 17},
        "problems": {"baseline": 2, "candidate": 2, "examples": [{"line": 1499, "error": "load: expected float"}]},
        "rules": RULES if rules is None else rules,
    }


def rehearsal_run(seed: int, outcome: str = "rolled_back") -> dict[str, Any]:
    return {
        "seed": seed,
        "outcome": outcome,
        "reason": "wave global: gate health failed" if outcome != "succeeded" else "",
        "time_to_promote": None if outcome != "succeeded" else 6120.0,
        "time_to_detect": 1920.0 if outcome != "succeeded" else None,
        "time_to_roll_back": 1920.0 if outcome == "rolled_back" else None,
        "exposed": 1 if outcome != "succeeded" else 0,
        "false_abort": False,
        "missed": outcome == "succeeded",
        "waves": [
            {"wave": "canary", "start": 0.0, "end": 4080.0},
            {"wave": "regional", "start": 780.0, "end": 4080.0},
            {"wave": "global", "start": 2160.0, "end": 4080.0},
            {"wave": EVIL, "start": None, "end": None},
        ],
        "events": [
            {"t": 4080.0, "kind": "failed", "wave": "global", "detail": "wave global: gate health failed"},
            {"t": 4080.0, "kind": "rolled_back", "wave": "global", "detail": "rolled back: 1 cluster"},
        ]
        if outcome != "succeeded"
        else [{"t": 6120.0, "kind": "succeeded", "wave": "global", "detail": "every target runs the bundle"}],
    }


def rehearsal_summary(factor: float | None = None, exposed: float = 1.0, false_aborts: float = 0.0) -> dict[str, Any]:
    return {
        **({"factor": factor} if factor is not None else {}),
        "runs": 3,
        "succeeded": 0,
        "paused": 0,
        "false_abort_rate": false_aborts,
        "missed_rate": 0.0,
        "time_to_promote_mean": None,
        "time_to_detect_mean": 1920.0,
        "time_to_roll_back_mean": 1920.0,
        "exposed_mean": exposed,
        "exposed_max": 1,
    }


def rehearsal_report() -> dict[str, Any]:
    return {
        "format": "ballast-rehearsal/1",
        "plan": "mesh.policy_2026_12",
        "fleet": "mesh.edge",
        "clusters": 12,
        "targets": 9,
        "scenario": {"name": "bad-bundle-late", "description": "the last region burns", "faulty": True},
        "seeds": [0, 1, 2],
        "summary": rehearsal_summary(),
        "runs": [rehearsal_run(0), rehearsal_run(1), rehearsal_run(2)],
        "sweep": [
            rehearsal_summary(0.5, exposed=0.0, false_aborts=0.25),
            rehearsal_summary(1.0),
            rehearsal_summary(2.0, exposed=2.0),
        ],
    }


ALL_REPORTS = {
    "simulation": simulation_report,
    "shadow": shadow_report,
    "replay": replay_report,
    "rehearsal": rehearsal_report,
}
EXPECTED_CHARTS = {
    "simulation": {"threat-index", "directives", "latency", "fleet-kpis"},
    "shadow": {"threat-index", "directives", "latency", "fleet-kpis", "kpi-diff", "rule-diff"},
    "replay": {"rule-diff"},
    "rehearsal": {"waves", "threshold-sweep"},
}


def chart_names(html: str) -> set[str]:
    return set(re.findall(r'<svg[^>]*\bdata-chart="([^"]+)"', html))


# --- numbers ------------------------------------------------------------------------------------


def test_doctests_of_the_render_package_pass():
    for module in (numbers, ballast.simulator.render):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted > 0, module.__name__


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0"),
        (0.0, "0"),
        (1.0, "1"),
        (0.5, "0.5"),
        (98.7654, "98.8"),
        (123456, "123,456"),
        (1234.56, "1,235"),
        (-0.25, "−0.25"),
        (None, "—"),
        (1e-7, "0.0000001"),
    ],
)
def test_numbers_have_three_significant_digits_and_exact_integers(value, text):
    assert numbers.number(value) == text


def test_kpi_units_follow_the_name_suffix():
    assert numbers.kpi_value("sla_adherence_pct", 98.7654) == "98.8 %"
    assert numbers.kpi_value("error_rate", 0.0123) == "1.23 %"
    assert numbers.kpi_value("time_to_mitigate_s.mean", 45.5) == "45.5 s"
    assert numbers.kpi_value("time_to_mitigate_s.mean", 600) == "10 min"
    assert numbers.kpi_value("directive_latency_ms.p99", 0.42) == "0.42 ms"
    assert numbers.kpi_difference("sla_adherence_pct", -1.25) == "−1.25 pp"
    assert numbers.kpi_interval("sla_adherence_pct", [0.4, 2.1]) == "[+0.4, +2.1] pp"
    assert numbers.kpi_interval("time_to_mitigate_s", [-3, 22]) == "[−3 s, +22 s]"


# --- markdown -----------------------------------------------------------------------------------


def test_simulation_markdown_has_verdict_kpis_and_probes():
    text = render_markdown(simulation_report())
    assert "**✅ Hypothesis held: 2 of 2 probes within tolerance**" in text
    assert "| SLA adherence | 98.8 % |" in text
    assert "| Directive latency | p50 0.42 ms · p95 1.3 ms · p99 2.75 ms (40 directives) |" in text
    assert "#### Hypothesis probes" in text
    assert "| queue-drains | queue | pool-a | after | ≤ 5 | 3 | 9m50s | 10 | ✅ held |" in text
    assert "0.4, 0.41" not in text, "no raw time series in a comment"


def test_simulation_markdown_says_when_the_run_stopped_early():
    text = render_markdown(simulation_report(held=False))
    assert "**❌ Stopped early at 5m30s: sla_adherence_pct < 90 (value 88.2)**" in text  # `_` and `<` stay readable
    assert "❌ failed |" in text
    assert "| pool-b | 8m20s | ongoing | — | ❌ no directive |" in text


def test_shadow_markdown_counts_verdicts_and_lists_only_changed_rules():
    text = render_markdown(shadow_report())
    assert "1 KPI better, 1 worse, 2 inconclusive; 4 rules changed" in text
    assert (
        "| SLA adherence | higher | 97.1 % | 98.3 % | +1.25 pp | [+0.4, +2.1] pp | ✅ better: interval above zero |"
        in text
    )
    assert "more seeds needed (about 24 in all)" in text
    assert "| False lockdowns | lower | 0.5 | 0.25 | −0.25 | — |" in text
    rules = [line for line in text.splitlines() if line.startswith("| motb.orchestration/")]
    assert [line.split(" | ")[0] for line in rules] == [
        "| motb.orchestration/scale_on_load",
        "| motb.orchestration/page_oncall",
        "| motb.orchestration/downgrade_&lt;b>risky&lt;/b>",
        "| motb.orchestration/reroute_old",
    ]
    assert "pause_batch" not in text and "2 rules unchanged." in text
    assert "| motb.orchestration/reroute_old | 6 | 0 | −6 | ❌ removed: baseline only |" in text


def test_markdown_escapes_user_text_and_keeps_tables_intact():
    text = render_markdown(shadow_report())
    prose = re.sub(r"```json\n.*?\n```", "", text, flags=re.S)  # code blocks show text literally
    assert "<script>" not in prose and "&lt;script>" in prose
    assert "\\| pipes" in text  # a pipe in a reason would otherwise split the table cell
    kpi_rows = [line for line in text.splitlines() if line.startswith("| Worker hours")]
    assert len(kpi_rows) == 1 and kpi_rows[0].replace("\\|", "").count("|") == 8


def test_first_divergences_are_folded_in_a_details_block():
    text = render_markdown(replay_report())
    block = text[text.index("<details><summary>First divergence") :]
    block = block[: block.index("</details>")]
    assert "First divergence of 2 changed rules" in block
    assert "**motb.orchestration/scale_on_load: seed 3, at 3m25s (2024-05-01T00:03:25Z)**" in block
    assert "- baseline: nothing" in block and "- candidate: scale → pool-a" in block
    assert '```json\n{\n  "event"' not in block and '"load": 0.91' in block


def test_replay_markdown_headline_and_decisions():
    text = render_markdown(replay_report())
    assert "Replay of 1,500 events: 4 rules changed, 17 events decided differently" in text
    assert "| baseline | 120 | 2 |" in text
    same = replay_report([rule("a", 1, 1, "same")])
    same["decisions"]["differing_events"] = 0
    unchanged = render_markdown(same)
    assert "✅ Replay of 1,500 events: 0 rules changed" in unchanged
    assert "No rule changed its decisions." in unchanged and "1 rule unchanged." in unchanged


def test_unknown_formats_are_usage_errors():
    with pytest.raises(UsageError, match=r"ballast\.nope/1"):
        render_markdown({"format": "ballast.nope/1"})
    with pytest.raises(UsageError):
        render_html({})


# --- html ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(ALL_REPORTS))
def test_html_is_self_contained_and_has_its_charts(kind):
    html = render_html(ALL_REPORTS[kind]())
    assert html.startswith("<!DOCTYPE html>")
    for forbidden in ("http://", "https://", "src=", "<script", "@import", "url(", "<link"):
        assert forbidden not in html.lower(), forbidden
    assert chart_names(html) == EXPECTED_CHARTS[kind]
    assert html.count("<svg") == html.count("</svg>") == len(EXPECTED_CHARTS[kind])


@pytest.mark.parametrize("kind", sorted(ALL_REPORTS))
def test_html_has_the_markdown_tables(kind):
    report = ALL_REPORTS[kind]()
    html = render_html(report)
    for heading in re.findall(r"^#### (.+)$", render_markdown(report), flags=re.M):
        assert f"<h3>{heading}</h3>" in html


@pytest.mark.parametrize("kind", sorted(ALL_REPORTS))
def test_html_is_byte_identical_across_renders(kind):
    assert render_html(ALL_REPORTS[kind]()) == render_html(ALL_REPORTS[kind]())


def test_html_escapes_user_text():
    html = render_html(shadow_report()) + render_html(simulation_report(reason=EVIL))
    assert "<script>alert" not in html and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert "<b>risky</b>" not in html and "downgrade_&lt;b&gt;risky&lt;/b&gt;" in html


@pytest.mark.parametrize(
    "report",
    [
        simulation_report(directives=False),
        simulation_report(threat=False),
        simulation_report(ticks=1),
        simulation_report(ticks=0),
        shadow_report(seeds=1, example=False),
        shadow_report(threat=False),
        replay_report([]),
    ],
    ids=["no-directives", "no-threat", "one-tick", "no-ticks", "one-seed-no-example", "shadow-no-threat", "no-rules"],
)
def test_sparse_reports_render(report):
    html = render_html(report)
    render_markdown(report)
    assert "nan" not in re.findall(r'="([^"]*)"', html)
    assert "inf" not in " ".join(re.findall(r'(?:x|y|width|height)="([^"]*)"', html))


def test_empty_data_says_so_in_the_charts():
    assert "No directives" in render_html(simulation_report(directives=False))
    without_threat = render_html(simulation_report(threat=False))
    assert 'data-chart="threat-index"' not in without_threat  # an empty frame says nothing a line cannot
    assert "No ThreatIndex chart: the policy set runs no threat document." in without_threat
    assert "No rule changed its decisions" in render_html(replay_report([]))


# --- chart geometry -----------------------------------------------------------------------------


def plot_area(chart: str) -> tuple[float, float, float, float]:
    """(left, top, right, bottom) of the first plot frame: its left axis line joined to its bottom one."""
    frame = re.search(
        r'<line x1="([\d.]+)" y1="([\d.]+)" x2="\1" y2="([\d.]+)" stroke="#9aa5b1" stroke-width="1"/>'
        r'<line x1="\1" y1="\3" x2="([\d.]+)" y2="\3"',
        chart,
    )
    left, top, bottom, right = (float(v) for v in frame.groups())
    return left, top, right, bottom


def test_a_point_at_the_maximum_is_at_the_top_of_the_plot():
    line = {"t_s": [0.0, 50.0, 100.0], "threat_index": [0.0, 100.0, 50.0]}
    chart = charts.threat_index_chart([charts.Run("run", "#000000", line)], 100.0)
    left, top, right, bottom = plot_area(chart)
    points = re.search(r'<polyline points="([^"]+)"', chart)[1].split()
    assert points == [
        f"{svg.fmt(left)},{svg.fmt(bottom)}",
        f"{svg.fmt((left + right) / 2)},{svg.fmt(top)}",
        f"{svg.fmt(right)},{svg.fmt((top + bottom) / 2)}",
    ]


def test_null_threat_index_breaks_the_line_and_a_lone_sample_is_a_dot():
    line = {"t_s": [0.0, 10.0, 20.0, 30.0, 40.0], "threat_index": [10.0, 20.0, None, 30.0, None]}
    chart = charts.threat_index_chart([charts.Run("run", "#000000", line)], 40.0)
    assert chart.count("<polyline") == 1 and len(re.search(r'points="([^"]+)"', chart)[1].split()) == 2
    assert chart.count('r="3" fill="#000000"') == 1


def test_mode_bands_span_their_time():
    line = {"t_s": [0.0, 100.0], "threat_index": [0.0, 0.0]}
    chart = charts.threat_index_chart(
        [charts.Run("run", "#000", line, [*MODES[:1], {"mode": "lockdown", "from_s": 50.0, "to_s": 100.0}])], 100.0
    )
    left, _top, right, _bottom = plot_area(chart)
    band = re.search(
        r'<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)" height="[\d.]+" fill="#fee2e2"><title>lockdown', chart
    )
    assert float(band[1]) == pytest.approx((left + right) / 2, abs=0.1)
    assert float(band[2]) == pytest.approx((right - left) / 2, abs=0.1)


def test_directive_marks_sit_in_their_action_lane_with_rule_and_reason():
    run = charts.Run(
        "run",
        "#123456",
        {},
        (),
        [directive(10.0, "scale"), directive(90.0, "page", rule="page_oncall", actuated=False)],
    )
    chart = charts.directives_chart([run], [], 100.0)
    lanes = re.findall(r'text-anchor="end" dominant-baseline="central">(\w+)</text>', chart)
    assert lanes == ["scale", "page"]
    marks = re.findall(r'<circle cx="([\d.]+)" cy="([\d.]+)" r="5" fill="([^"]+)"[^>]*><title>([^<]+)</title>', chart)
    assert len(marks) == 2
    (x1, y1, fill1, title1), (x2, y2, fill2, title2) = marks
    assert float(x1) < float(x2) and float(y1) < float(y2)
    assert fill1 == "#123456" and fill2 == "#ffffff"  # not actuated: hollow
    assert "motb.orchestration/scale_on_load" in title1 and "load 0.91 above 0.8" in title1
    assert "(not actuated)" in title2


def test_kpi_diff_mirrors_lower_is_better_so_right_means_better():
    kpis = shadow_report()["kpis"]
    chart = charts.kpi_diff_chart(kpis)
    zero = float(
        re.search(
            r'<line x1="([\d.]+)" y1="[\d.]+" x2="\1" y2="[\d.]+" stroke="#9aa5b1" stroke-width="1" '
            r"stroke-dasharray",
            chart,
        )[1]
    )
    dots = [float(x) for x in re.findall(r'<circle cx="([\d.]+)" cy="[\d.]+" r="6"', chart)]
    assert dots[0] > zero  # SLA up: better, right
    assert dots[1] < zero  # time to mitigate up: worse, left
    assert dots[2] > zero  # worker hours down: right
    assert f'fill="{charts.VERDICT_COLORS["worse"]}"' in chart


def test_rule_diff_bars_are_proportional_to_counts():
    chart = charts.rule_diff_chart([rule("a", 10, 5, "less"), rule("b", 1, 1, "same")])
    widths = [float(w) for w in re.findall(r'<rect x="[\d.]+" y="[\d.]+" width="([\d.]+)" height="11"', chart)]
    assert len(widths) == 2 and widths[0] == pytest.approx(2 * widths[1], abs=0.2)
    assert ">b<" not in chart  # unchanged rules are not drawn


def test_ticks_and_domains_are_round_and_never_degenerate():
    assert svg.nice_domain(0, 0) == (0.0, 1.0)
    assert svg.nice_domain(5, 5)[0] < 5 < svg.nice_domain(5, 5)[1]
    assert svg.ticks(0, 1, 5) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert svg.time_axis(3600).ticks()[-1] == (3600.0, "60 min")
    assert svg.Scale(3, 3, 0, 100)(3) == 50


# --- in a real browser --------------------------------------------------------------------------


def render_in_chromium(tmp_path: Path, kind: str, report: dict[str, Any], colour: str) -> str:
    """Screenshot the page of `report` and check it is drawn (with `colour` in it); return its DOM."""
    browser = require_chromium()
    page = tmp_path / f"{kind}.html"
    page.write_text(render_html(report), encoding="utf-8")
    png = tmp_path / f"{kind}.png"
    shot = chromium(browser, tmp_path / "profile-shot", f"--screenshot={png}", page.as_uri())
    assert png.is_file(), f"no screenshot: {shot.stderr[-2000:]}"
    data = png.read_bytes()
    width, height, colours = png_pixels(data)
    assert (width, height) == (1280, 2400)
    assert len(data) > 20_000, "a screenshot this small is a blank page"
    assert len(colours) > 50, "the screenshot is (almost) one colour"
    assert bytes.fromhex(colour[1:]) in colours, f"{colour} is not drawn"
    dom = chromium(browser, tmp_path / "profile-dom", "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    if os.environ.get("BALLAST_KEEP_SCREENSHOT"):
        shutil.copy(png, os.environ["BALLAST_KEEP_SCREENSHOT"])
    return dom.stdout


@pytest.mark.browser
def test_the_page_renders_in_headless_chromium(tmp_path):
    # the candidate's lines and bars
    dom = render_in_chromium(tmp_path, "shadow", shadow_report(), charts.CANDIDATE_COLOR)
    assert chart_names(dom) == EXPECTED_CHARTS["shadow"]


@pytest.mark.browser
def test_the_rehearsal_page_renders_in_headless_chromium(tmp_path):
    # the waves' bars
    dom = render_in_chromium(tmp_path, "rehearsal", rehearsal_report(), rehearsal_charts.WAVE_COLOR)
    assert chart_names(dom) == EXPECTED_CHARTS["rehearsal"]
    waves = re.search(r'<svg[^>]*data-chart="waves".*?</svg>', dom, flags=re.S)[0]
    assert waves.count("<title>wave ") == 3 and "never started" in waves  # a row per wave, the fourth never ran
    assert "gate failed: abort at 1h08m00s" in waves and "rolled back at 1h08m00s" in waves


def test_faults_over_the_same_window_share_one_span_and_label():
    faults = [
        {"name": "rush", "kind": "load-spike", "from_s": 10.0, "to_s": 50.0, "targets": ["a"]},
        {"name": "risk", "kind": "risk-spike", "from_s": 10.0, "to_s": 50.0, "targets": []},
    ]
    chart = charts.directives_chart([charts.Run("run", "#000", {}, (), [directive(20.0, "scale")])], faults, 100.0)
    assert chart.count(f'fill="{charts.FAULT_COLOR}"') == 1 + 1  # the span and its legend swatch
    assert ">rush + risk</text>" in chart and "risk-spike) on the fleet" in chart


def test_kpis_the_renderer_does_not_know_yet_still_show():
    report = simulation_report()
    report["kpis"]["worker_cost"] = 4.77844
    report["kpis"]["rejected_intents"] = 12
    text = render_markdown(report)
    assert "| Worker cost | 4.78 |" in text and "| Rejected intents | 12 |" in text


def test_a_long_rule_diff_is_capped_for_a_comment():
    rules = [rule(f"r{i:03d}", i, i + 1, "more") for i in range(120)]
    text = render_markdown(replay_report(rules))
    assert text.count("| motb.orchestration/r") == 50
    assert "… and 70 more changed rules in the JSON report. 0 rules unchanged." in text
    assert len(text) < 65536  # GitHub's limit for a comment


def test_the_sweep_chart_draws_each_factor_on_both_panels():
    chart = rehearsal_charts.sweep_chart(rehearsal_report()["sweep"])
    for factor in ("×0.5", "×1", "×2"):
        assert f">{factor}</text>" in chart  # an axis label per factor
        for series in ("clusters exposed (mean)", "false-abort rate", "missed rate"):
            assert chart.count(f"<title>{factor}: {series} ") == 1
    assert "<title>×0.5: false-abort rate 25 %</title>" in chart
    assert "<title>×2: clusters exposed (mean) 2</title>" in chart
    assert rehearsal_charts.sweep_chart([]).count("No sweep") == 1


def test_a_rehearsal_that_promoted_marks_the_promotion_and_no_abort():
    chart = rehearsal_charts.waves_chart(rehearsal_run(0, "succeeded"))
    assert "promoted at 1h42m00s" in chart and "gate failed" not in chart
