"""Turn a report dict (`ballast.simulation/1`, `ballast.shadow/1`, `ballast.replay/1`) into a `Document`.

A rollout rehearsal (`ballast-rehearsal/1`) has its own module, `rehearsal`, registered here.

Reports are read as the schema in docs/reports.md describes them; a report of another format is
a `UsageError`, so a renderer never guesses at a shape it does not know.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ballast.runtime.errors import UsageError
from ballast.simulator.render.document import BAD, GOOD, MIXED, NEUTRAL, Code, Details, Document, Item, Table
from ballast.simulator.render.numbers import (
    MISSING,
    clock,
    duration,
    kpi_difference,
    kpi_interval,
    kpi_label,
    kpi_value,
    kpi_values_apart,
    number,
    plural,
)
from ballast.simulator.render.rehearsal import REHEARSAL, summarize_rehearsal
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


def _tolerance_and_worst(metric: str, tolerance: Mapping[str, float], worst: float | None) -> tuple[str, str]:
    """The tolerance and the worst value, with the digits that keep the worst on its side of each bound."""
    low, high = tolerance.get("min"), tolerance.get("max")
    bounds = [b for b in (low, high) if b is not None]
    text, shown = kpi_values_apart(metric, worst, bounds)
    if low is not None and high is not None:
        return f"{shown[0]} to {shown[1]}", text
    if low is not None:
        return f"≥ {shown[0]}", text
    if high is not None:
        return f"≤ {shown[0]}", text
    return "any", text


def _probe_result(probe: Mapping[str, Any]) -> tuple[str, str]:
    """The Result cell and tone of a probe; reports older than `result` have only `held`."""
    result = str(probe.get("result") or ("held" if probe.get("held") else "failed"))
    if result == "no data":
        return ("no data (allowed)", MIXED) if probe.get("held") else ("no data", BAD)
    return result, GOOD if probe.get("held") else BAD


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
            *_tolerance_and_worst(str(p.get("metric")), p.get("tolerance") or {}, p.get("worst")),
            clock(p.get("worst_t_s")),
            number(p.get("samples")),
            _probe_result(p)[0],
        )
        for p in probes
    )
    return Table(
        "probes",
        "Hypothesis probes",
        ("Probe", "Metric", "Pool", "Phase", "Tolerance", "Worst", "At", "Samples", "Result"),
        rows,
        numeric=frozenset({5, 6, 7}),
        tones=tuple(_probe_result(p)[1] for p in probes),
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


def _supervisor(supervisor: Mapping[str, Any]) -> Table:
    """The meta-loop supervisor's cycles that did something: directives, verifications, alerts."""
    rows = []
    for cycle in supervisor.get("cycles", ()):
        kpis = ", ".join(f"{k} {number(v) if v is not None else 'no data'}" for k, v in cycle.get("kpis", {}).items())
        done = [
            ("verified" if v["passed"] else "verification failed") + f": {'; '.join(v['reasons'])}"
            for v in cycle.get("verifications", ())
        ]
        done += [
            f"{d['what']}: {d['status']}" + (f" ({d['note']})" if d.get("note") else "")
            for d in cycle.get("directives", ())
        ]
        done += [f"alert: {a}" for a in cycle.get("alerts", ())]
        if done:
            rows.append((clock(cycle.get("t_s")), kpis, "; ".join(done)))
    note = (
        f"{plural(supervisor.get('directives', 0), 'directive')}, {plural(supervisor.get('rollbacks', 0), 'rollback')}, "
        f"{number(supervisor.get('verified', 0))} verified, {number(supervisor.get('failed_verifications', 0))} failed "
        f"verification, {plural(supervisor.get('alerts', 0), 'alert')} over {plural(len(supervisor.get('cycles', ())), 'cycle')}"
    )
    return Table(
        "supervisor",
        f"Supervisor {supervisor.get('name', MISSING)}",
        ("At", "Goal KPIs", "What it did"),
        tuple(rows),
        numeric=frozenset({0}),
        note=note,
        empty="The supervisor issued no directive.",
    )


def _simulation_verdict(report: Mapping[str, Any]) -> tuple[str, str]:
    outcome = report.get("outcome") or {}
    probes = report.get("hypothesis") or []
    failed = sum(1 for p in probes if not p.get("held"))
    empty = sum(1 for p in probes if not p.get("held") and p.get("result") == "no data")
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
    of = f"of {plural(len(probes), 'probe')}"
    if not empty:
        return f"Hypothesis failed: {number(failed)} {of} out of tolerance", BAD
    if failed == empty:
        return f"Hypothesis failed: {number(empty)} {of} with no data", BAD
    return (
        f"Hypothesis failed: {number(failed)} {of} failed, {number(failed - empty)} out of tolerance "
        f"and {number(empty)} with no data",
        BAD,
    )


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
    if report.get("supervisor"):
        tables += (_supervisor(report["supervisor"]),)
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


GATE_SOURCES = {
    "default": "Default gates: every KPI but directives not worse; declare yours with --gate or a gates: block in the scenario.",
    "scenario": "Gates from the scenario's gates: block.",
    "--gate": "Gates from --gate.",
}


def _gates(gates: Sequence[Mapping[str, Any]], source: str) -> Table:
    rows = tuple(
        (kpi_label(str(g.get("kpi"))), str(g.get("criterion")), _gate_result(g))
        for g in gates
    )
    return Table(
        "gates",
        "Gates",
        ("KPI", "Criterion", "Result"),
        rows,
        tones=tuple(None if g.get("passed") is None else GOOD if g.get("passed") else BAD for g in gates),
        note=GATE_SOURCES.get(source),
        empty="No gates were declared.",
    )


def _gate_result(gate: Mapping[str, Any]) -> str:
    reason = str(gate.get("reason") or "")
    if gate.get("passed") is None:
        return reason  # "skipped: …"
    return f"{'passed' if gate.get('passed') else 'failed'}: {reason}"


def _cut_short(runs: Sequence[Mapping[str, Any]]) -> Table:
    rows = tuple(
        (str(c.get("seed")), str(c.get("side")), clock(c.get("t_s")), str(c.get("condition")), f"0s to {clock(c.get('compared_to_s'))}")
        for c in runs
    )
    return Table(
        "cut-short",
        "Runs cut short by a stop condition",
        ("Seed", "Side", "Stopped at", "Condition", "Both sides compared over"),
        rows,
        numeric=frozenset({2}),
        tones=tuple(BAD if c.get("side") == "candidate" else None for c in runs),
    )


def _shadow_verdict(report: Mapping[str, Any]) -> tuple[str, str]:
    kpis = report.get("kpis") or []
    counts = {v: sum(1 for k in kpis if k.get("verdict") == v) for v in ("better", "worse", "inconclusive")}
    head = f"Candidate against baseline over {plural(len(report.get('seeds') or []), 'seed')}: "
    tail = (
        f"{plural(counts['better'], 'KPI')} better, {number(counts['worse'])} worse, "
        f"{number(counts['inconclusive'])} inconclusive; "
        f"{plural(len(changed(report.get('rules') or [])), 'rule')} changed"
    )
    outcome = report.get("outcome")
    if not isinstance(outcome, Mapping) or "passed" not in outcome:  # a report from before gates
        return head + tail, BAD if counts["worse"] else GOOD if counts["better"] else NEUTRAL
    gates = report.get("gates") or []
    judged = [g for g in gates if g.get("passed") is not None]
    failed = [g for g in judged if not g.get("passed")]
    if failed:
        names = ", ".join(f"{g.get('kpi')} {g.get('criterion')}" for g in failed)
        return f"{head}{number(len(failed))} of {plural(len(judged), 'gate')} failed ({names}); {tail}", BAD
    if not judged:
        return f"{head}no gate could be judged; {tail}", BAD
    return f"{head}{plural(len(judged), 'gate')} passed; {tail}", GOOD


def _shadow(report: Mapping[str, Any]) -> Document:
    kpis = report.get("kpis") or []
    rules = report.get("rules") or []
    verdict, tone = _shadow_verdict(report)
    scenario = report.get("scenario") or {}
    facts = _scenario_facts(scenario)
    facts[1:1] = [("Seeds", _seeds(report.get("seeds") or []))]
    facts += [
        ("Baseline", _policies((report.get("baseline") or {}).get("policies") or [])),
        ("Candidate", _policies((report.get("candidate") or {}).get("policies") or [])),
    ]
    details = tuple(d for d in (divergence_details(rules),) if d is not None)
    outcome = report.get("outcome") or {}
    tables = (
        _gates(report.get("gates") or [], str(outcome.get("gates_from"))) if "gates" in report else None,
        _cut_short(report["cut_short"]) if report.get("cut_short") else None,
        _shadow_kpis(kpis),
        rule_table(rules),
    )
    return Document(
        SHADOW,
        f"Shadow: {scenario.get('name', MISSING)}",
        verdict,
        tone,
        tuple(facts),
        tuple(t for t in tables if t is not None),
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


FINGERPRINT_SHOWN = 12  # hex digits: enough to tell two sets apart, short enough to read


def _origin(side: Mapping[str, Any]) -> Code:
    """Where a set came from: its paths and short fingerprint (`catalog/ sha256:dcd5b0499473`)."""
    paths = " ".join(str(p) for p in side.get("paths") or ()) or MISSING
    fingerprint = side.get("fingerprint")
    return Code(f"{paths} sha256:{str(fingerprint)[:FINGERPRINT_SHOWN]}" if fingerprint else paths)


def _lines(telemetry: Mapping[str, Any]) -> str:
    if "lines" not in telemetry:  # a report from before lines were counted
        return MISSING
    return (
        f"{number(telemetry.get('lines'))} read, {number(telemetry.get('evaluated'))} evaluated, "
        f"{number(telemetry.get('rejected'))} rejected"
    )


def _replay(report: Mapping[str, Any]) -> Document:
    telemetry = report.get("telemetry") or {}
    decisions = report.get("decisions") or {}
    problems = report.get("problems") or {}
    rules = report.get("rules") or []
    failure = report.get("failure")
    moved = len(changed(rules))
    differing = int(decisions.get("differing_events") or 0)
    verdict = (
        f"Replay of {plural(int(telemetry.get('events') or 0), 'event')}: {plural(moved, 'rule')} changed, "
        f"{plural(differing, 'event')} decided differently"
    )
    tone = NEUTRAL if moved or differing else GOOD
    if failure:  # a replay that evaluated (almost) nothing proves nothing, whatever the rules say
        verdict, tone = f"Replay failed: {failure.get('reason')}", BAD
    inputs = telemetry.get("inputs") or {}
    baseline, candidate = report.get("baseline") or {}, report.get("candidate") or {}
    facts = [
        ("Telemetry", Code(str(telemetry.get("file", MISSING)))),
        ("Lines", _lines(telemetry)),
        ("Events", number(telemetry.get("events"))),
        ("From", str(telemetry.get("from") or MISSING)),
        ("To", str(telemetry.get("to") or MISSING)),
        ("Inputs", ", ".join(f"{name} {number(n)}" for name, n in sorted(inputs.items())) or "none"),
        ("Baseline", _policies(baseline.get("policies") or [])),
        ("Baseline from", _origin(baseline)),
        ("Candidate", _policies(candidate.get("policies") or [])),
        ("Candidate from", _origin(candidate)),
    ]
    if failure:
        facts.insert(0, ("Fix", str(failure.get("hint") or MISSING)))
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
        REPLAY,
        f"Replay: {telemetry.get('file', MISSING)}",
        verdict,
        tone,
        tuple(facts),
        (sides, rule_table(rules)),
        details,
    )


BUILDERS: dict[str, Callable[[Mapping[str, Any]], Document]] = {
    SIMULATION: _simulation,
    SHADOW: _shadow,
    REPLAY: _replay,
    REHEARSAL: summarize_rehearsal,
}
