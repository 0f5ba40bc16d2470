"""Gates: one telemetry sample judged, and the samples counted as Argo Rollouts counts them.

A sample *passes* when the gate's `pass when` holds, *fails* when its `fail when` holds; with
both written, a sample for which neither holds is *inconclusive*; with only one written, a sample
it does not decide is the other outcome. A sample the conditions cannot be evaluated on — a
metric missing, a cluster that sent nothing in the interval — is an *error*, never a pass.

`Tally` counts them (Argo's AnalysisRun rules): the gate fails once more than `failure_limit`
samples failed, or more than `consecutive_error_limit` errors came in a row; it is inconclusive
(the run pauses for a person) once more than `inconclusive_limit` samples were inconclusive; it
passes after `count` measured samples, or earlier after `consecutive_success_limit` passes in a
row when that limit is set. Errors are not measurements: they do not count toward `count`.
The same code judges a real rollout (`ballast.fleet.engine`) and a rehearsal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ballast.runtime.errors import EvaluationError
from ballast.runtime.fleet import GateSpec
from ballast.runtime.interpret import evaluate_condition

PASSED, FAILED, INCONCLUSIVE, ERROR = "passed", "failed", "inconclusive", "error"
RUNNING = "running"


def measure(gate: GateSpec, sample: Mapping[str, Any] | None) -> str:
    """The outcome of one sample: PASSED, FAILED, INCONCLUSIVE or ERROR."""
    if sample is None:
        return ERROR
    try:
        passes = evaluate_condition(dict(gate.passes), sample) if gate.passes is not None else None
        fails = evaluate_condition(dict(gate.fails), sample) if gate.fails is not None else None
    except EvaluationError:
        return ERROR
    if fails:
        return FAILED
    if passes:
        return PASSED
    if passes is None:  # only `fail when`, and it did not hold
        return PASSED
    if fails is None:  # only `pass when`, and it did not hold
        return FAILED
    return INCONCLUSIVE


@dataclass
class Tally:
    """The running count of one gate's samples (kept in the run's state as JSON)."""

    measured: int = 0
    failed: int = 0
    inconclusive: int = 0
    consecutive_errors: int = 0
    consecutive_passes: int = 0
    errors: int = 0

    def add(self, gate: GateSpec, outcome: str) -> str:
        """Count one outcome; the gate's verdict: RUNNING, PASSED, FAILED or INCONCLUSIVE."""
        if outcome == ERROR:
            self.errors += 1
            self.consecutive_errors += 1
        else:
            self.measured += 1
            self.consecutive_errors = 0
            self.consecutive_passes = self.consecutive_passes + 1 if outcome == PASSED else 0
            self.failed += outcome == FAILED
            self.inconclusive += outcome == INCONCLUSIVE
        return self.verdict(gate)

    def verdict(self, gate: GateSpec) -> str:
        if self.failed > gate.failure_limit or self.consecutive_errors > gate.consecutive_error_limit:
            return FAILED
        if self.inconclusive > gate.inconclusive_limit:
            return INCONCLUSIVE
        if gate.consecutive_success_limit and self.consecutive_passes >= gate.consecutive_success_limit:
            return PASSED
        return PASSED if self.measured >= gate.count else RUNNING

    def to_json(self) -> dict[str, int]:
        return asdict(self)


def combine(verdicts: Sequence[str]) -> str:
    """The verdict of a batch's gates together: any failure fails it, then any inconclusive."""
    for verdict in (FAILED, INCONCLUSIVE, RUNNING):
        if verdict in verdicts:
            return verdict
    return PASSED


def aggregate(samples: Sequence[Mapping[str, Any] | None]) -> dict[str, Any] | None:
    """One sample for a set of clusters: the worst burn, latency and error rate, the summed rates,
    faults and requests. None (an error) when any cluster sent nothing: a silent cluster must not
    let the others' good numbers pass it."""
    if not samples or any(s is None for s in samples):
        return None
    present = [s for s in samples if s is not None]
    out: dict[str, Any] = {}
    for name in ("error_budget_burn", "p95_latency_ms", "error_rate"):
        values = [s[name] for s in present if name in s]
        if len(values) == len(present):
            out[name] = float(max(values))
    for name, cast in (("directive_rate", float), ("rule_faults", int), ("requests", int)):
        values = [s[name] for s in present if name in s]
        if len(values) == len(present):
            out[name] = cast(sum(values))
    return out
