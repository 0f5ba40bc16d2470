"""Shadow gates: the KPI comparisons that decide whether a candidate may replace its baseline.

A gate names a KPI and a criterion on the paired difference candidate − baseline over the seeds,
in the spirit of Kayenta's metric classification and Argo Rollouts' analysis templates: the
verdict of a shadow run is the conjunction of its gates, never "some KPI moved". Criteria:

- `better`: the 95 % interval of the difference lies wholly on the better side of zero.
- `better-or-same`: no worse (below), and the mean difference is zero or on the better side.
- `not-worse`: the interval does not lie wholly on the worse side of zero (no detected regression).
- `within:X%`: the worse-side bound of the interval is within X % of the baseline mean
  (a non-inferiority margin; a baseline mean of zero leaves no margin).

Every criterion needs an interval, so a KPI with fewer than two seeds giving it a value fails its
gate: a gate that evaluated nothing must not pass. The default gates (no `--gate`, no `gates:`)
skip a KPI that neither side measured on any seed (no breach anywhere, so no time to mitigate),
and a shadow run passes only when at least one gate was judged and none failed.

    >>> [g.describe() for g in parse_gates("sla:better-or-same,error_rate:within:5%")]
    ['sla_adherence_pct:better-or-same', 'error_rate:within:5%']
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ballast.runtime.suggest import closest

# The KPIs a shadow run compares, in report order, and which direction is better.
KPI_BETTER: dict[str, str] = {
    "sla_adherence_pct": "higher",
    "error_rate": "lower",
    "dropped": "lower",
    "time_to_mitigate_s": "lower",
    "directive_latency_p95_ms": "lower",
    "false_lockdowns": "lower",
    "lockdowns": "lower",
    "mode_changes": "lower",
    "directives": "lower",
    "worker_hours": "lower",
    "hypothesis_held_share": "higher",
}
ALIASES = {"sla": "sla_adherence_pct"}
CRITERIA = ("better", "better-or-same", "not-worse", "within:X%")
# Without declared gates every KPI must be not worse, except the count of directives: a
# candidate that acts more often is not worse for it (its effects show in the other KPIs).
INFORMATIONAL = frozenset({"directives"})

_WITHIN = re.compile(r"within:(\d+(?:\.\d+)?)%")


@dataclass(frozen=True)
class Gate:
    """One KPI's criterion; `margin` is the percentage of a `within` criterion.

    A gate that is not `required` (a default one) is skipped when neither side measured its KPI.
    """

    kpi: str
    criterion: str
    margin: float | None = None
    required: bool = True

    def describe(self) -> str:
        return f"{self.kpi}:{self.criterion}" + (f":{self.margin:g}%" if self.margin is not None else "")


class GateError(ValueError):
    """A gate that cannot be read; `hint` says how to write it."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


def kpi_name(name: str) -> str:
    """The KPI a gate names (an alias such as `sla` resolved); raises GateError with the closest name."""
    name = ALIASES.get(name, name)
    if name in KPI_BETTER:
        return name
    close = closest(name, [*KPI_BETTER, *ALIASES])
    hint = f"did you mean '{close}'?" if close else f"the KPIs are: {', '.join(KPI_BETTER)}"
    raise GateError(f"unknown KPI '{name}'", hint)


def criterion(kpi: str, text: str) -> Gate:
    """The gate `kpi` with criterion `text` (`better`, `not-worse`, `within:5%`, …); raises GateError."""
    text = text.strip()
    within = _WITHIN.fullmatch(text)
    if within:
        return Gate(kpi, "within", float(within[1]))
    if text in CRITERIA[:3]:
        return Gate(kpi, text)
    close = closest(text, list(CRITERIA))
    hint = f"did you mean '{close}'?" if close and close != "within:X%" else f"one of: {', '.join(CRITERIA)}"
    raise GateError(f"unknown criterion '{text}' for {kpi}", hint)


def parse_gates(text: str) -> tuple[Gate, ...]:
    """Gates written `kpi:criterion,kpi:criterion` (the `--gate` option); raises GateError."""
    gates = []
    for part in (p.strip() for p in text.split(",")):
        kpi, sep, rest = part.partition(":")
        if not sep or not kpi.strip() or not rest.strip():
            raise GateError(f"cannot read the gate {part!r}", "write KPI:CRITERION, e.g. sla:better-or-same")
        gates.append(criterion(kpi_name(kpi.strip()), rest))
    return tuple(gates)


def default_gates() -> tuple[Gate, ...]:
    return tuple(Gate(k, "not-worse", required=False) for k in KPI_BETTER if k not in INFORMATIONAL)


def passed(verdicts: list[dict[str, Any]]) -> bool:
    """No gate failed and at least one was judged (`passed` None: skipped)."""
    return all(v["passed"] is not False for v in verdicts) and any(v["passed"] for v in verdicts)


def evaluate(gate: Gate, comparison: Mapping[str, Any], *, measured: bool = True) -> dict[str, Any]:
    """Whether one KPI comparison (`stats.compare`'s result) passes `gate`, and why.

    `measured`: whether either side gave the KPI a value on some seed; `passed` is None when a
    gate that is not required is skipped for it.
    """
    out: dict[str, Any] = {"kpi": gate.kpi, "criterion": gate.describe().partition(":")[2], "passed": False}
    out["reason"] = ""
    if not measured and not gate.required:
        out["passed"] = None
        out["reason"] = "skipped: neither side measured it on any seed"
        return out
    interval = comparison.get("ci95")
    if interval is None:
        out["reason"] = f"no interval: {comparison.get('reason') or 'too few seeds'}"
        return out
    sign = 1.0 if comparison["better"] == "higher" else -1.0
    low, high = sorted(sign * bound for bound in interval)  # as gains: above zero is better
    gain = sign * float(comparison["difference"])
    if gate.criterion == "better":
        out["passed"] = low > 0
        out["reason"] = "the interval lies on the better side" if low > 0 else "the interval reaches zero or below"
    elif gate.criterion == "not-worse":
        out["passed"] = high >= 0
        out["reason"] = "no regression detected" if high >= 0 else "the interval lies on the worse side"
    elif gate.criterion == "better-or-same":
        out["passed"] = high >= 0 and gain >= 0
        out["reason"] = (
            "the interval lies on the worse side" if high < 0
            else "the mean is on the worse side" if gain < 0
            else "the mean is the same or better, no regression detected"
        )  # fmt: skip
    else:
        base = comparison.get("baseline_mean") or 0.0
        allowed = abs(float(base)) * float(gate.margin or 0.0) / 100.0
        out["passed"] = -low <= allowed
        if low >= 0:
            out["reason"] = "the interval has no worse side"
        else:
            verdict = "within" if out["passed"] else "beyond"
            out["reason"] = f"the worse bound is {verdict} {gate.margin:g} % of the baseline mean"
    return out
