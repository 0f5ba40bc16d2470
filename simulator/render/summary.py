"""Turn a report dict (`ballast.simulation/1`, `ballast.shadow/1`, `ballast.replay/1`) into a `Document`.

Reports are read as the schema in docs/reports.md describes them; a report of another format is
a `UsageError`, so a renderer never guesses at a shape it does not know.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ballast.runtime.errors import UsageError
from ballast.simulator.render.document import BAD, GOOD, MIXED, NEUTRAL, Details, Document, Item, Table
from ballast.simulator.render.numbers import (
    MISSING,
    clock,
    duration,
    kpi_difference,
    kpi_interval,
    kpi_label,
    kpi_value,
    number,
    plural,
)
from ballast.simulator.render.rules import changed, divergence_details, rule_table

SIMULATION, SHADOW, REPLAY = "ballast.simulation/1", "ballast.shadow/1", "ballast.replay/1"
MAX_BREACH_ROWS = 20
MAX_PROBLEM_EXAMPLES = 10
KNOWN_KPIS = frozenset({
    "sla_adherence_pct", "requests", "served", "dropped", "error_rate", "time_to_mitigate_s", "directive_latency_ms",
    "directives", "directives_by_action", "unactuated_directives", "lockdowns", "false_lockdowns", "mode_changes",
    "worker_hours", "max_threat_index", "max_policy_depth",
})  # fmt: skip


def summarize(report: Mapping[str, Any]) -> Document:
    """The `Document` for a report, chosen by its `format`.

    Raises `UsageError` when the report is not a dict of a known format.
    """
    fmt = report.get("format") if isinstance(report, Mapping) else None
    builder = BUILDERS.get(str(fmt))
    if builder is None:
        known = ", ".join(sorted(BUILDERS))
        raise UsageError(f"cannot render a report of format {fmt!r}: expected one of {known}")
    return builder(report)


def _policies(policies: Sequence[Mapping[str, Any]]) -> str:
    if not policies:
        return "none"
    return ", ".join(
        f"{p.get('name')} {p.get('version', '')}".rstrip() + (" (threat)" if p.get("kind") == "threat" else "")
        for p in policies
    )


def _scenario_facts(scenario: Mapping[str, Any]) -> list[tuple[str, str]]:
    facts = [("Scenario", str(scenario.get("name", MISSING)))]
    if scenario.get("description"):
        facts.append(("Description", str(scenario["description"])))
    facts.append(("Duration", duration(scenario.get("duration_s"))))
    facts.append(("Pools", number(scenario.get("pools"))))
    facts.append(("Telemetry every", duration(scenario.get("telemetry_every_s"))))
    if scenario.get("file"):
        facts.append(("File", str(scenario["file"])))
    return facts


# --- simulation -------------------------------------------------------------------------------


def _tolerance(metric: str, tolerance: Mapping[str, float]) -> str:
    low, high = tolerance.get("min"), tolerance.get("max")
    if low is not None and high is not None:
        return f"{kpi_value(metric, low)} to {kpi_value(metric, high)}"
    if low is not None:
        return f"≥ {kpi_value(metric, low)}"
    if high is not None:
        return f"≤ {kpi_value(metric, high)}"
    return "any"


def _spread(stats: Mapping[str, Any], keys: Sequence[str], scale: float, what: str, whats: str) -> str:
    if not stats.get("count"):
        return f"{MISSING} (no {whats})"
    parts = " · ".join(f"{key} {duration(None if stats.get(key) is None else stats[key] * scale)}" for key in keys)
    return f"{parts} ({plural(int(stats['count']), what, whats)})"


def _simulation_kpis(kpis: Mapping[str, Any]) -> Table:
    by_action = kpis.get("directives_by_action") or {}
    actions = ", ".join(f"{action} {number(count)}" for action, count in sorted(by_action.items()))
    rows = [
        ("SLA adherence", kpi_value("sla_adherence_pct", kpis.get("sla_adherence_pct"))),
        ("Requests", number(kpis.get("requests"))),
        ("Served", number(kpis.get("served"))),
        ("Dropped", number(kpis.get("dropped"))),
        ("Error rate", kpi_value("error_rate", kpis.get("error_rate"))),
        (
            "Time to mitigate",
            _spread(kpis.get("time_to_mitigate_s") or {}, ("mean", "p50", "max"), 1, "breach", "breaches"),
        ),
        (
            "Directive latency",
            _spread(kpis.get("directive_latency_ms") or {}, ("p50", "p95", "p99"), 1e-3, "directive", "directives"),
        ),
        ("Directives", number(kpis.get("directives")) + (f" ({actions})" if actions else "")),
        ("Unactuated directives", number(kpis.get("unactuated_directives"))),
        ("Lockdowns", f"{number(kpis.get('lockdowns'))} ({number(kpis.get('false_lockdowns'))} false)"),
        ("Mode changes", number(kpis.get("mode_changes"))),
        ("Worker hours", kpi_value("worker_hours", kpis.get("worker_hours"))),
        ("Max ThreatIndex", number(kpis.get("max_threat_index"))),
        ("Max policy depth", number(kpis.get("max_policy_depth"))),
    ]
    # KPIs a newer simulator adds still show, named from their keys, until they get a row above.
    rows += [
        (kpi_label(key), kpi_value(key, value))
        for key, value in sorted(kpis.items())
        if key not in KNOWN_KPIS and isinstance(value, int | float) and not isinstance(value, bool)
    ]
    return Table("kpis", "KPIs", ("KPI", "Value"), tuple(rows), numeric=frozenset({1}))


def _probes(probes: Sequence[Mapping[str, Any]]) -> Table:
    rows = tuple(
        (
            str(p.get("probe")),
            str(p.get("metric")),
            str(p.get("pool") or "fleet"),
            str(p.get("phase")),
            _tolerance(str(p.get("metric")), p.get("tolerance") or {}),
            kpi_value(str(p.get("metric")), p.get("worst")),
            clock(p.get("worst_t_s")),
            number(p.get("samples")),
            "held" if p.get("held") else "failed",
        )
        for p in probes
    )
    return Table(
        "probes",
        "Hypothesis probes",
        ("Probe", "Metric", "Pool", "Phase", "Tolerance", "Worst", "At", "Samples", "Result"),
        rows,
        numeric=frozenset({5, 6, 7}),
        tones=tuple(GOOD if p.get("held") else BAD for p in probes),
        empty="The scenario states no hypothesis.",
    )


def _breaches(breaches: Sequence[Mapping[str, Any]]) -> Table:
    shown = breaches[:MAX_BREACH_ROWS]
    rows = []
    for b in shown:
        first = b.get("first_directive_s")
        reaction = "no directive" if first is None else duration(float(first) - float(b["from_s"]))
        rows.append(
            (
                str(b.get("pool")),
                clock(b.get("from_s")),
                "ongoing" if b.get("to_s") is None else clock(b["to_s"]),
                clock(first),
                reaction,
            )
        )
    note = (
        f"… and {plural(len(breaches) - len(shown), 'more breach', 'more breaches')} in the JSON report."
        if len(breaches) > len(shown)
        else None
    )
    return Table(
        "breaches",
        "SLA breaches",
        ("Pool", "From", "To", "First directive", "Reaction"),
        tuple(rows),
        numeric=frozenset({1, 2, 3, 4}),
        tones=tuple(BAD if b.get("first_directive_s") is None else None for b in shown),
        note=note,
        empty="No pool breached its SLA.",
    )


def _faults(faults: Sequence[Mapping[str, Any]]) -> Table:
    rows = tuple(
        (
            str(f.get("name")),
            str(f.get("kind")),
            clock(f.get("from_s")),
            clock(f.get("to_s")),
            ", ".join(str(t) for t in f.get("targets", ())) or "fleet",
        )
        for f in faults
    )
    return Table(
        "faults",
        "Injected faults",
        ("Fault", "Kind", "From", "To", "Targets"),
        rows,
        numeric=frozenset({2, 3}),
        empty="No faults were injected.",
    )


def _simulation_verdict(report: Mapping[str, Any]) -> tuple[str, str]:
    outcome = report.get("outcome") or {}
    probes = report.get("hypothesis") or []
    failed = sum(1 for p in probes if not p.get("held"))
    stopped = outcome.get("stopped")
    if stopped:
        return (
            f"Stopped early at {clock(stopped.get('t_s'))}: {stopped.get('condition')} "
            f"(value {number(stopped.get('value'))})",
            BAD,
        )
    if outcome.get("hypothesis_held"):
        return (
            f"Hypothesis held: {number(len(probes) - failed)} of {plural(len(probes), 'probe')} within tolerance",
            GOOD,
        )
    return f"Hypothesis failed: {number(failed)} of {plural(len(probes), 'probe')} out of tolerance", BAD


def _simulation(report: Mapping[str, Any]) -> Document:
    scenario = report.get("scenario") or {}
    verdict, tone = _simulation_verdict(report)
    facts = _scenario_facts(scenario)
    facts[1:1] = [("Seed", str(scenario.get("seed", MISSING))), ("Start", str(scenario.get("start", MISSING)))]
    facts.append(("Policies", _policies(report.get("policies") or [])))
    tables = (
        _simulation_kpis(report.get("kpis") or {}),
        _probes(report.get("hypothesis") or []),
        _breaches(report.get("breaches") or []),
        _faults(report.get("faults") or []),
    )
    return Document(SIMULATION, f"Simulation: {scenario.get('name', MISSING)}", verdict, tone, tuple(facts), tables)


# --- shadow -----------------------------------------------------------------------------------


def _kpi_verdict(kpi: Mapping[str, Any]) -> str:
    verdict = str(kpi.get("verdict"))
    parts = [verdict]
    if kpi.get("reason"):
        parts.append(str(kpi["reason"]))
    if kpi.get("more_seeds"):
        parts.append(f"more seeds needed (about {number(kpi['more_seeds'])} in all)")
    return f"{parts[0]}: {'; '.join(parts[1:])}" if len(parts) > 1 else parts[0]


def _shadow_kpis(kpis: Sequence[Mapping[str, Any]]) -> Table:
    rows = tuple(
        (
            kpi_label(str(k["kpi"])),
            str(k.get("better")),
            kpi_value(str(k["kpi"]), k.get("baseline_mean")),
            kpi_value(str(k["kpi"]), k.get("candidate_mean")),
            kpi_difference(str(k["kpi"]), k.get("difference")),
            kpi_interval(str(k["kpi"]), k.get("ci95")),
            _kpi_verdict(k),
        )
        for k in kpis
    )
    tones = {"better": GOOD, "worse": BAD, "inconclusive": MIXED}
    return Table(
        "kpis",
        "KPIs, mean over seeds",
        ("KPI", "Better", "Baseline", "Candidate", "Difference", "95% CI", "Verdict"),
        rows,
        numeric=frozenset({2, 3, 4, 5}),
        tones=tuple(tones.get(str(k.get("verdict"))) for k in kpis),
        empty="No KPIs were compared.",
    )


def _seeds(seeds: Sequence[int]) -> str:
    if not seeds:
        return "none"
    listed = ", ".join(str(s) for s in seeds[:12]) + (", …" if len(seeds) > 12 else "")
    return f"{len(seeds)} ({listed})"


def _shadow(report: Mapping[str, Any]) -> Document:
    kpis = report.get("kpis") or []
    counts = {v: sum(1 for k in kpis if k.get("verdict") == v) for v in ("better", "worse", "inconclusive")}
    rules = report.get("rules") or []
    verdict = (
        f"Candidate against baseline over {plural(len(report.get('seeds') or []), 'seed')}: "
        f"{plural(counts['better'], 'KPI')} better, {number(counts['worse'])} worse, "
        f"{number(counts['inconclusive'])} inconclusive; {plural(len(changed(rules)), 'rule')} changed"
    )
    tone = BAD if counts["worse"] else GOOD if counts["better"] else NEUTRAL
    scenario = report.get("scenario") or {}
    facts = _scenario_facts(scenario)
    facts[1:1] = [("Seeds", _seeds(report.get("seeds") or []))]
    facts += [
        ("Baseline", _policies((report.get("baseline") or {}).get("policies") or [])),
        ("Candidate", _policies((report.get("candidate") or {}).get("policies") or [])),
    ]
    details = tuple(d for d in (divergence_details(rules),) if d is not None)
    return Document(
        SHADOW,
        f"Shadow: {scenario.get('name', MISSING)}",
        verdict,
        tone,
        tuple(facts),
        (_shadow_kpis(kpis), rule_table(rules)),
        details,
    )


# --- replay -----------------------------------------------------------------------------------


def _problems(problems: Mapping[str, Any]) -> Details | None:
    examples = (problems.get("examples") or [])[:MAX_PROBLEM_EXAMPLES]
    if not examples:
        return None
    items = tuple(
        Item(f"Problem {i}", (), json.dumps(p, sort_keys=True, indent=2, ensure_ascii=False))
        for i, p in enumerate(examples, 1)
    )
    return Details("problems", f"{plural(len(examples), 'problem example')}", items)


def _replay(report: Mapping[str, Any]) -> Document:
    telemetry = report.get("telemetry") or {}
    decisions = report.get("decisions") or {}
    problems = report.get("problems") or {}
    rules = report.get("rules") or []
    moved = len(changed(rules))
    differing = int(decisions.get("differing_events") or 0)
    verdict = (
        f"Replay of {plural(int(telemetry.get('events') or 0), 'event')}: {plural(moved, 'rule')} changed, "
        f"{plural(differing, 'event')} decided differently"
    )
    tone = NEUTRAL if moved or differing else GOOD
    inputs = telemetry.get("inputs") or {}
    facts = (
        ("Telemetry", str(telemetry.get("file", MISSING))),
        ("Events", number(telemetry.get("events"))),
        ("From", str(telemetry.get("from") or MISSING)),
        ("To", str(telemetry.get("to") or MISSING)),
        ("Inputs", ", ".join(f"{name} {number(n)}" for name, n in sorted(inputs.items())) or "none"),
        ("Baseline", _policies((report.get("baseline") or {}).get("policies") or [])),
        ("Candidate", _policies((report.get("candidate") or {}).get("policies") or [])),
    )
    sides = Table(
        "decisions",
        "Decisions",
        ("Side", "Decisions", "Problems"),
        tuple((side, number(decisions.get(side)), number(problems.get(side))) for side in ("baseline", "candidate")),
        numeric=frozenset({1, 2}),
        note=f"{plural(differing, 'event')} decided differently.",
    )
    details = tuple(d for d in (divergence_details(rules), _problems(problems)) if d is not None)
    return Document(
        REPLAY, f"Replay: {telemetry.get('file', MISSING)}", verdict, tone, facts, (sides, rule_table(rules)), details
    )


BUILDERS: dict[str, Callable[[Mapping[str, Any]], Document]] = {
    SIMULATION: _simulation,
    SHADOW: _shadow,
    REPLAY: _replay,
}
