"""A rollout rehearsal (`ballast-rehearsal/1`, `ballast fleet rehearse`) as a `Document`.

The figures over the seeds, the threshold sweep and one row per seed, in the words and number
formats of the other reports, so the HTML page reads like theirs. The charts are in
`rehearsal_charts`; this module only says what the numbers are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ballast.simulator.render.document import BAD, GOOD, MIXED, Document, Table
from ballast.simulator.render.numbers import MISSING, duration, kpi_value, number, plural

REHEARSAL = "ballast-rehearsal/1"
OUTCOME_TONES = {"succeeded": GOOD, "paused": MIXED, "failed": BAD, "rolled_back": BAD}


def rate(value: float | None) -> str:
    """A share of the runs (0..1) as a percentage."""
    return kpi_value("share_rate", value)


def _verdict(report: Mapping[str, Any]) -> tuple[str, str]:
    s = report.get("summary") or {}
    runs = int(s.get("runs") or 0)
    if runs == 0:  # a rehearsal of nothing proves nothing
        return "No seed was rehearsed", BAD
    if (report.get("scenario") or {}).get("faulty"):
        missed = round(float(s.get("missed_rate") or 0) * runs)
        caught = runs - missed - int(s.get("paused") or 0)
        verdict = (
            f"Bad bundle stopped on {caught} of {plural(runs, 'seed')}, promoted on {missed}; "
            f"at most {plural(int(s.get('exposed_max') or 0), 'cluster')} exposed"
        )
        return verdict, BAD if missed else GOOD if caught == runs else MIXED
    false_aborts = float(s.get("false_abort_rate") or 0)
    succeeded = int(s.get("succeeded") or 0)
    verdict = f"Promoted on {succeeded} of {plural(runs, 'seed')}, false-abort rate {rate(false_aborts)}"
    return verdict, BAD if false_aborts else GOOD if succeeded == runs else MIXED


def _figures(summary: Mapping[str, Any]) -> Table:
    rows = (
        ("Succeeded", f"{number(summary.get('succeeded'))} of {number(summary.get('runs'))}"),
        ("Paused for a person", number(summary.get("paused"))),
        ("False-abort rate", rate(summary.get("false_abort_rate"))),
        ("Bad bundle promoted (missed)", rate(summary.get("missed_rate"))),
        ("Time to promote (mean)", duration(summary.get("time_to_promote_mean"))),
        ("Time to detect (mean)", duration(summary.get("time_to_detect_mean"))),
        ("Time to roll back (mean)", duration(summary.get("time_to_roll_back_mean"))),
        (
            "Clusters exposed to the bad bundle (mean / max)",
            f"{number(summary.get('exposed_mean'))} / {number(summary.get('exposed_max'))}",
        ),
    )
    return Table("figures", "Figures over the seeds", ("Figure", "Value"), rows, numeric=frozenset({1}))


def _sweep(sweep: Sequence[Mapping[str, Any]]) -> Table:
    columns = ("Factor", "Succeeded", "Paused", "False aborts", "Missed", "Promote", "Detect", "Exposed (mean)")
    rows = tuple(
        (
            f"×{number(row.get('factor'))}",
            number(row.get("succeeded")),
            number(row.get("paused")),
            rate(row.get("false_abort_rate")),
            rate(row.get("missed_rate")),
            duration(row.get("time_to_promote_mean")),
            duration(row.get("time_to_detect_mean")),
            number(row.get("exposed_mean")),
        )
        for row in sweep
    )
    return Table(
        "sweep",
        "Threshold sweep",
        columns,
        rows,
        numeric=frozenset(range(1, len(columns))),
        note="Every float threshold of the gates scaled by the factor, on the same seeds.",
        empty="No sweep: no factor was given.",
    )


def _runs(runs: Sequence[Mapping[str, Any]]) -> Table:
    rows = tuple(
        (
            number(r.get("seed")),
            str(r.get("outcome", MISSING)).replace("_", " "),
            duration(r.get("time_to_promote")),
            duration(r.get("time_to_detect")),
            duration(r.get("time_to_roll_back")),
            number(r.get("exposed")),
            str(r.get("reason") or MISSING),
        )
        for r in runs
    )
    return Table(
        "runs",
        "Runs, one per seed",
        ("Seed", "Outcome", "Promote", "Detect", "Roll back", "Exposed", "Reason"),
        rows,
        numeric=frozenset({0, 2, 3, 4, 5}),
        tones=tuple(OUTCOME_TONES.get(str(r.get("outcome"))) for r in runs),
    )


def summarize_rehearsal(report: Mapping[str, Any]) -> Document:
    """The `Document` for a `ballast-rehearsal/1` report."""
    scenario = report.get("scenario") or {}
    seeds = report.get("seeds") or []
    verdict, tone = _verdict(report)
    facts = (
        ("Scenario", str(scenario.get("name", MISSING))),
        ("What goes wrong", str(scenario.get("description") or MISSING)),
        ("Targets", f"{number(report.get('targets'))} of {plural(int(report.get('clusters') or 0), 'cluster')}"),
        ("Seeds", f"{number(seeds[0])}–{number(seeds[-1])}" if seeds else MISSING),
    )
    return Document(
        REHEARSAL,
        f"Rehearsal of {report.get('plan', MISSING)} on {report.get('fleet', MISSING)}",
        verdict,
        tone,
        facts,
        (_figures(report.get("summary") or {}), _sweep(report.get("sweep") or []), _runs(report.get("runs") or [])),
    )


__all__ = ["REHEARSAL", "rate", "summarize_rehearsal"]
