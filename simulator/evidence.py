"""Evidence for a semantic diff: both sides run in the simulator or over recorded telemetry.

The solver says *where* two versions of a rule decide differently; evidence says *how often that
matters*: `ballast diff --shadow SCENARIO` runs both sides on the same simulated worlds (the
`ballast shadow` path, common random numbers) and `--replay TELEMETRY` replays a recording
through both (the `ballast replay` path). Each finding about a rule gets the rule's decision
counts on both sides and the first divergence; the report gets the KPI differences. A finding
the solver could not decide, whose rule did decide differently in a run, becomes `sampled`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ballast.compiler.diff.findings import Finding

EVIDENCE_LEVELS = ("behavioral", "breaking")


def shadow_evidence(scenario_path: str, base: Sequence[str], head: Sequence[str], seeds: int) -> dict[str, Any]:
    """The `ballast shadow` report of the two sides (paths of files on disk) over `seeds` seeds."""
    from ballast.simulator.scenario import load_scenario
    from ballast.simulator.shadow import Side, shadow

    scenario = load_scenario(scenario_path)
    return shadow(scenario, Side(tuple(base)), Side(tuple(head)), seeds=seeds)


def replay_evidence(
    telemetry: str, base: Sequence[str], head: Sequence[str], input: str | None = None, *, engine: str = "auto"
) -> dict[str, Any]:
    """The `ballast replay` report of a recording through the two sides, on `engine` ("auto",
    "row" or "columnar", as `simulator.replay.replay` takes it)."""
    import ballast
    from ballast.paths import expand_policies
    from ballast.simulator.replay import replay

    return replay(
        telemetry,
        ballast.compile(expand_policies(list(base))),
        ballast.compile(expand_policies(list(head))),
        input=input,
        engine=engine,
    )


def attach(findings: list[Finding], reports: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Add each run's decision counts to the findings about rules; return the report's summary
    of the runs (KPI differences for a shadow run, counts for a replay)."""
    summary: dict[str, Any] = {}
    for source, report in reports.items():
        rules = {(r["policy"], r["rule"]): r for r in report["rules"]}
        for f in findings:
            if f.kind != "policy" or not f.subject or f.level not in EVIDENCE_LEVELS:
                continue
            names = (
                {f.subject, f.details.get("before"), f.details.get("after")} if f.id == "rule-renamed" else {f.subject}
            )
            entries = [rules[(f.document, n)] for n in sorted(n for n in names if n) if (f.document, n) in rules]
            if not entries:
                continue
            evidence = [_rule_evidence(e) for e in entries]
            f.details = {**f.details, "evidence": {**f.details.get("evidence", {}), source: evidence}}
            if f.confidence == "structural" and any(e["change"] not in ("same",) for e in evidence):
                f.confidence = "sampled"
        summary[source] = _run_summary(source, report)
    return summary


def _rule_evidence(entry: dict[str, Any]) -> dict[str, Any]:
    out = {"rule": entry["rule"], "base": entry["baseline"], "head": entry["candidate"], "change": entry["change"]}
    divergence = entry.get("first_divergence")
    if divergence:
        first = {k: divergence[k] for k in ("seed", "time", "event") if k in divergence}
        first["base"], first["head"] = divergence.get("baseline"), divergence.get("candidate")
        out["first_divergence"] = first
    return out


def _run_summary(source: str, report: dict[str, Any]) -> dict[str, Any]:
    if source == "shadow":
        return {
            "scenario": report["scenario"]["name"],
            "seeds": len(report["seeds"]),
            "passed": report["outcome"]["passed"],
            "kpis": [
                {
                    "kpi": k["kpi"],
                    "base": k["baseline_mean"],
                    "head": k["candidate_mean"],
                    "difference": k["difference"],
                    "ci95": k["ci95"],
                }
                for k in report["kpis"]
            ],
            "rules_changed": sum(1 for r in report["rules"] if r["change"] != "same"),
        }
    telemetry = report["telemetry"]
    return {
        "telemetry": telemetry["file"],
        "evaluated": telemetry["evaluated"],
        "rejected": telemetry["rejected"],
        "differing_events": report["decisions"]["differing_events"],
        "rules_changed": sum(1 for r in report["rules"] if r["change"] != "same"),
        "failure": report.get("failure"),
    }
