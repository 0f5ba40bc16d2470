"""The meta-loop supervisor's KPIs and snapshots (issue 14 §3): what each KPI reads in the audit
stream, and the goal gaps of a window.

A snapshot covers the window `(at - window, at]` of a trail: the entries whose `narrative.when`
falls in it (an entry without a readable time cannot be placed and is counted as `untimed`,
never guessed). Each KPI of `KPIS` is measured over the entries of the kinds it reads:

=========================  ===========  ==============================================================
KPI                        better       measured as
=========================  ===========  ==============================================================
overall_success_rate       higher       `ActionOutcome` entries whose outcome is `succeeded`, as a share
mean_recovery_seconds      lower        the mean `result.recovery_seconds` of succeeded `ActionOutcome`s
autonomy_rate              higher       the share of decisions taken without a human: every
                                        `DirectiveIssued`, and `IntentRouted` approved in tier 1 or 2,
                                        among all `DirectiveIssued` and `IntentRouted`
human_intervention_rate    lower        `ActionOutcome` entries with `result.overridden` true, as a share
compliance_score           higher       100 × issued / (issued + held): `DirectiveIssued` against
                                        `DirectiveHeld` (what a warn or dry-run rule stopped)
=========================  ===========  ==============================================================

A KPI with no sample in the window has no value (`None`, printed "no data"), never 0 or 1: a
window where nothing happened says nothing about the success rate. A goal's gap is how far the
observed value is short of the target, in the KPI's unit: `target - observed` for a KPI where
higher is better, `observed - target` where lower is better, so a positive gap is a shortfall
and a negative one a margin, whatever the direction. (The seed wrote `target - observed` for
both, which made a recovery time *above* target a negative gap.)

`outcome_entry` writes the `ActionOutcome` entries: whoever executes directives (the simulator,
an executor) appends one per executed action.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ballast.runtime.audit import Entry, audit_entry
from ballast.runtime.values import iso, parse_timestamp

HIGHER = "higher"
LOWER = "lower"
OUTCOME_KIND = "ActionOutcome"
_ROUTED_TIER = re.compile(r": tier (\d)$")  # the reason IntentRouted entries carry: "deploy_model: tier 2"
AUTONOMOUS_TIERS = ("1", "2")

Measure = Callable[[Sequence[Entry]], tuple[float | None, int]]


@dataclass(frozen=True, slots=True)
class Kpi:
    """One KPI: its name, which way is better, its unit, the entry kinds it reads, how it is measured."""

    name: str
    better: str  # HIGHER or LOWER
    unit: str  # "share" (0..1), "seconds" or "score" (0..100)
    reads: tuple[str, ...]
    description: str
    measure: Measure


def _share(entries: Sequence[Entry], hit: Callable[[Entry], bool]) -> tuple[float | None, int]:
    if not entries:
        return None, 0
    return sum(1 for e in entries if hit(e)) / len(entries), len(entries)


def _of(entries: Sequence[Entry], *kinds: str) -> list[Entry]:
    return [e for e in entries if e.get("kind") in kinds]


def _result(entry: Entry, name: str) -> Any:
    result = entry.get("result")
    return result.get(name) if isinstance(result, Mapping) else None


def _success_rate(entries: Sequence[Entry]) -> tuple[float | None, int]:
    return _share(_of(entries, OUTCOME_KIND), lambda e: e.get("outcome") == "succeeded")


def _mean_recovery(entries: Sequence[Entry]) -> tuple[float | None, int]:
    times = [
        float(t)
        for e in _of(entries, OUTCOME_KIND)
        if e.get("outcome") == "succeeded"
        and isinstance(t := _result(e, "recovery_seconds"), int | float)
        and not isinstance(t, bool)
    ]
    return (sum(times) / len(times), len(times)) if times else (None, 0)


def _autonomous(entry: Entry) -> bool:
    if entry.get("kind") == "DirectiveIssued":
        return True
    tier = _ROUTED_TIER.search(str(entry.get("reason", "")))
    return entry.get("outcome") == "approved" and tier is not None and tier.group(1) in AUTONOMOUS_TIERS


def _autonomy_rate(entries: Sequence[Entry]) -> tuple[float | None, int]:
    return _share(_of(entries, "DirectiveIssued", "IntentRouted"), _autonomous)


def _intervention_rate(entries: Sequence[Entry]) -> tuple[float | None, int]:
    return _share(_of(entries, OUTCOME_KIND), lambda e: _result(e, "overridden") is True)


def _compliance(entries: Sequence[Entry]) -> tuple[float | None, int]:
    share, samples = _share(_of(entries, "DirectiveIssued", "DirectiveHeld"), lambda e: e["kind"] == "DirectiveIssued")
    return (None if share is None else 100 * share), samples


KPIS: dict[str, Kpi] = {
    k.name: k
    for k in (
        Kpi("overall_success_rate", HIGHER, "share", (OUTCOME_KIND,), "executed actions that succeeded", _success_rate),
        Kpi("mean_recovery_seconds", LOWER, "seconds", (OUTCOME_KIND,), "mean time to recover", _mean_recovery),
        Kpi(
            "autonomy_rate",
            HIGHER,
            "share",
            ("DirectiveIssued", "IntentRouted"),
            "decisions taken without a human",
            _autonomy_rate,
        ),
        Kpi("human_intervention_rate", LOWER, "share", (OUTCOME_KIND,), "actions a human overrode", _intervention_rate),
        Kpi("compliance_score", HIGHER, "score", ("DirectiveIssued", "DirectiveHeld"), "0-100 rating", _compliance),
    )
}


@dataclass(frozen=True, slots=True)
class Goal:
    """A declared target for a KPI; `tolerance` bounds how much it may degrade while a directive
    aimed at another KPI is verified (None: not checked); `min_samples` is the sample count at
    which a decision reading it reaches full confidence."""

    kpi: str
    target: float
    tolerance: float | None = None
    min_samples: int = 20

    @property
    def better(self) -> str:
        return KPIS[self.kpi].better


@dataclass(frozen=True, slots=True)
class Reading:
    """One KPI in a snapshot: its value (None: no data) and how many samples it has."""

    value: float | None
    samples: int


@dataclass(frozen=True, slots=True)
class Gap:
    """One goal in a snapshot: target, observed value, and the gap (None when there is no data)."""

    kpi: str
    target: float
    better: str
    observed: float | None
    samples: int

    @property
    def gap(self) -> float | None:
        return shortfall(self.better, self.target, self.observed)

    @property
    def open(self) -> bool:
        """The goal is not shown to be met: short of target, or no data to say it is."""
        gap = self.gap
        return gap is None or gap > 0

    def to_json(self) -> dict[str, Any]:
        return {
            "kpi": self.kpi,
            "target": self.target,
            "better": self.better,
            "observed": rounded(self.observed),
            "gap": rounded(self.gap),
            "samples": self.samples,
        }


def shortfall(better: str, target: float, observed: float | None) -> float | None:
    """How far `observed` is short of `target` (positive: short; negative: a margin; None: no data)."""
    if observed is None:
        return None
    return target - observed if better == HIGHER else observed - target


def improved(better: str, before: float | None, after: float | None) -> bool | None:
    """Whether a KPI moved the better way (None when either side has no data)."""
    if before is None or after is None:
        return None
    return after > before if better == HIGHER else after < before


def degradation(better: str, before: float | None, after: float | None) -> float | None:
    """How much a KPI got worse, in its unit (0 or less: it did not)."""
    if before is None or after is None:
        return None
    return before - after if better == HIGHER else after - before


def rounded(value: float | None) -> float | None:
    """Values as reports print them: 6 decimals, so float noise never changes a report."""
    return None if value is None else round(value, 6)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The KPIs and goal gaps of the window `(at - window_seconds, at]`."""

    at: float
    window_seconds: float
    readings: Mapping[str, Reading]
    gaps: tuple[Gap, ...]
    entries: int  # entries in the window
    untimed: int  # entries of the trail with no readable time

    def value(self, kpi: str) -> float | None:
        reading = self.readings.get(kpi)
        return reading.value if reading is not None else None

    def gap(self, kpi: str) -> Gap | None:
        return next((g for g in self.gaps if g.kpi == kpi), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "at": iso(self.at),
            "window_seconds": self.window_seconds,
            "entries": self.entries,
            "untimed": self.untimed,
            "kpis": {
                name: {"value": rounded(r.value), "samples": r.samples} for name, r in sorted(self.readings.items())
            },
            "gaps": [g.to_json() for g in self.gaps],
        }


def entry_time(entry: Entry) -> float | None:
    """When an entry happened: its `narrative.when`; None when it has none or it cannot be read."""
    narrative = entry.get("narrative")
    return parse_timestamp(narrative.get("when")) if isinstance(narrative, Mapping) else None


def build_snapshot(entries: Iterable[Entry], goals: Sequence[Goal], *, at: float, window_seconds: float) -> Snapshot:
    """The snapshot of `entries` over `(at - window_seconds, at]`, every KPI of `KPIS` measured."""
    inside: list[Entry] = []
    untimed = 0
    for entry in entries:
        when = entry_time(entry)
        if when is None:
            untimed += 1
        elif at - window_seconds < when <= at:
            inside.append(entry)
    readings = {}
    for name, kpi in KPIS.items():
        value, samples = kpi.measure(inside)
        readings[name] = Reading(value, samples)
    gaps = tuple(Gap(g.kpi, g.target, g.better, readings[g.kpi].value, readings[g.kpi].samples) for g in goals)
    return Snapshot(at, window_seconds, readings, gaps, len(inside), untimed)


def outcome_entry(
    action_id: str,
    *,
    succeeded: bool,
    when: float,
    actor: str,
    recovery_seconds: float | None = None,
    overridden: bool = False,
    scope: str = "",
) -> Entry:
    """An `ActionOutcome` entry: how one executed action (`action_id`, a directive's id) turned out."""
    outcome = "succeeded" if succeeded else "failed"
    result: dict[str, Any] = {"overridden": overridden}
    if recovery_seconds is not None:
        result["recovery_seconds"] = recovery_seconds
    entry = audit_entry(
        OUTCOME_KIND,
        {"action": action_id, "outcome": outcome, "at": when, **result},
        action_id,
        actor,
        scope,
        outcome,
        f"{action_id} {outcome}" + (f" after {recovery_seconds:g}s" if recovery_seconds is not None else ""),
        iso(when),
        "reported by the executor of the action",
    )
    entry["result"] = result
    return entry
