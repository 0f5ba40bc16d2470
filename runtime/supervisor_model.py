"""A compiled supervisor document (issue 14 §3) as the runtime reads it, and its fixed vocabulary:
directive types, impact levels and approval routes.

The document (compiled by `ballast.compiler.kinds.supervisor`) chooses a route for each impact
level — the approval matrix is data — but what each route does is fixed here:

==================  =====================================================================
route               what the supervisor does with a directive routed there
==================  =====================================================================
auto                applies it
auto_notify         applies it and lists it under "notify" in the cycle's summary
approval_in_prod    in the `prod` environment holds it for approval; elsewhere as auto_notify
approval            holds it for approval (`Supervisor.approve`)
block_review        blocks it and asks for a review: it is never applied
==================  =====================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ballast.runtime.errors import UsageError
from ballast.runtime.supervisor_kpis import Goal

SUPERVISOR_FORMAT = 1
IMPACTS = ("minimal", "low", "moderate", "high", "critical")
ROUTES = ("auto", "auto_notify", "approval_in_prod", "approval", "block_review")
PROD = "prod"
DIRECTIVE_TYPES = (
    "adjust_threshold",
    "enable_playbook",
    "disable_playbook",
    "adjust_confidence",
    "schedule_experiment",
    "request_review",
    "enable_probe",
    "rollback_change",
)
ROLLBACK = "rollback_change"
CONDITION_RECORDS = ("gap", "kpi")  # what a meta-policy condition reads: `gap.X`, `kpi.X`
DEFAULT_MIN_SAMPLES = 20
DEFAULT_CONFIDENCE = 0.7  # the seed's default confidence gate


@dataclass(frozen=True, slots=True)
class MetaPolicy:
    """When a condition on the goal gaps holds, issue a directive of `type` with `params`."""

    name: str
    when: Mapping[str, Any]  # the condition's IR
    text: str  # the condition as written, for summaries
    reads: tuple[str, ...]  # the KPIs the condition reads
    type: str
    params: Mapping[str, Any]
    impact: str
    confidence: float  # the minimum confidence, a fraction
    metric: str  # the KPI verification checks improved
    verify_after: float  # seconds


@dataclass(frozen=True, slots=True)
class SupervisorDocument:
    """A compiled supervisor document."""

    name: str
    window_seconds: float
    environment: str
    goals: tuple[Goal, ...]
    policies: tuple[MetaPolicy, ...]
    approvals: Mapping[str, str]  # impact level → route
    alert_failures: int
    alert_gap_cycles: int
    rollback_impact: str

    @classmethod
    def from_ir(cls, ir: Mapping[str, Any]) -> SupervisorDocument:
        if ir.get("format") != SUPERVISOR_FORMAT:
            raise UsageError(f"supervisor IR format {ir.get('format')!r} is not {SUPERVISOR_FORMAT}: recompile it")
        verify = ir["verify"]
        return cls(
            name=ir["name"],
            window_seconds=float(ir["window_seconds"]),
            environment=ir["environment"],
            goals=tuple(Goal(g["kpi"], g["target"], g["tolerance"], g["min_samples"]) for g in ir["goals"]),
            policies=tuple(
                MetaPolicy(
                    p["name"],
                    p["when"],
                    p["text"],
                    tuple(p["reads"]),
                    p["directive"]["type"],
                    dict(p["directive"]["params"]),
                    p["impact"],
                    p["confidence"],
                    p["metric"],
                    p["verify_after"],
                )
                for p in ir["policies"]
            ),
            approvals=dict(ir["approvals"]),
            alert_failures=verify["alert_failures"],
            alert_gap_cycles=verify["alert_gap_cycles"],
            rollback_impact=verify["rollback_impact"],
        )

    def goal(self, kpi: str) -> Goal | None:
        return next((g for g in self.goals if g.kpi == kpi), None)

    def min_samples(self, kpi: str) -> int:
        goal = self.goal(kpi)
        return goal.min_samples if goal is not None else DEFAULT_MIN_SAMPLES


def condition_reads(node: Any) -> tuple[str, ...]:
    """The KPIs a condition's IR reads (`gap.X`, `kpi.X`), in order of first appearance."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, Mapping):
            path = value.get("path")
            read = value.get("k") in ("field", "has") and isinstance(path, list) and len(path) >= 2
            if read and path[0] in CONDITION_RECORDS and path[1] not in found:
                found.append(path[1])
            for child in value.values():
                walk(child)
        elif isinstance(value, list):
            for child in value:
                walk(child)

    walk(node)
    return tuple(found)
