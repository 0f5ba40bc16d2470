"""The records of the meta-loop supervisor (issue 14 §3): a directive, a verification, a policy
that issued nothing, a cycle, and the state carried between cycles (JSON round-trip for
`ballast supervise --state`). `ballast.runtime.supervisor` says what a cycle does with them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ballast.runtime.errors import UsageError
from ballast.runtime.supervisor_kpis import Snapshot, rounded
from ballast.runtime.values import iso, parse_timestamp

APPLIED = "applied"
AWAITING = "awaiting_approval"
BLOCKED = "blocked"
REFUSED = "refused"
FAILED = "failed"
ROLLED_BACK = "rolled_back"
VERIFIED = "verified"
NOTIFYING_ROUTES = ("auto_notify", "approval_in_prod")
ACTOR = "meta-loop-supervisor"
STATE_FORMAT = 1


@dataclass
class Directive:
    """One directive: what it does, why, how it was routed and where it stands."""

    id: str
    policy: str
    type: str
    params: dict[str, Any]
    impact: str
    route: str
    status: str
    at: float
    confidence: float
    justification: str
    metric: str = ""
    verify_at: float | None = None
    pre: dict[str, float | None] = field(default_factory=dict)  # the KPIs when it was applied
    note: str = ""
    notify: bool = False

    def describe(self) -> str:
        """`adjust_threshold retry.min_confidence step +0.05` (its type and parameters)."""
        parts = []
        for name, value in self.params.items():
            shown = f"{value:+g}" if name == "step" and isinstance(value, float) else _shown(value)
            parts.append(f"{name} {shown}" if name != "parameter" else str(value))
        return " ".join([self.type, *parts])

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "policy": self.policy,
            "type": self.type,
            "params": self.params,
            "impact": self.impact,
            "route": self.route,
            "status": self.status,
            "at": iso(self.at),
            "confidence": rounded(self.confidence),
            "justification": self.justification,
            "metric": self.metric,
            "verify_at": iso(self.verify_at) if self.verify_at is not None else None,
            "pre": {k: rounded(v) for k, v in self.pre.items()},
            "note": self.note,
            "notify": self.notify,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Directive:
        """Read a saved directive; `ValueError` (or `KeyError`, `TypeError`) when it is not one."""
        verify_at = data.get("verify_at")
        return cls(
            data["id"],
            data["policy"],
            data["type"],
            dict(data["params"]),
            data["impact"],
            data["route"],
            data["status"],
            _time(data["at"]),
            float(data["confidence"]),
            data["justification"],
            data.get("metric", ""),
            _time(verify_at) if verify_at is not None else None,
            dict(data.get("pre", {})),
            data.get("note", ""),
            bool(data.get("notify", False)),
        )


def _time(value: Any) -> float:
    moment = parse_timestamp(value)
    if moment is None:
        raise ValueError(f"{value!r} is not a time")
    return moment


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


@dataclass(frozen=True, slots=True)
class Verification:
    """Whether an applied directive did what it was for."""

    directive: str
    policy: str
    metric: str
    before: float | None
    after: float | None
    passed: bool
    reasons: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "directive": self.directive,
            "policy": self.policy,
            "metric": self.metric,
            "before": rounded(self.before),
            "after": rounded(self.after),
            "passed": self.passed,
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True, slots=True)
class Skip:
    """A meta-policy that issued nothing this cycle, and why."""

    policy: str
    reason: str


@dataclass
class Cycle:
    """What one cycle saw and did."""

    supervisor: str
    number: int
    at: float
    snapshot: Snapshot
    verifications: list[Verification] = field(default_factory=list)
    directives: list[Directive] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "supervisor": self.supervisor,
            "cycle": self.number,
            "at": iso(self.at),
            "snapshot": self.snapshot.to_json(),
            "verifications": [v.to_json() for v in self.verifications],
            "directives": [d.to_json() for d in self.directives],
            "skipped": [{"policy": s.policy, "reason": s.reason} for s in self.skipped],
            "alerts": list(self.alerts),
        }


@dataclass
class SupervisorState:
    """What carries from one cycle to the next: the cycle count, each goal's open streak, the
    verification failures in a row, and the directives not settled yet (applied and waiting
    for verification, or waiting for approval)."""

    cycles: int = 0
    streaks: dict[str, int] = field(default_factory=dict)
    failures_in_row: int = 0
    open: list[Directive] = field(default_factory=list)
    last: dict[str, float | None] = field(default_factory=dict)  # the KPIs of the last snapshot

    def to_json(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "cycles": self.cycles,
            "streaks": dict(sorted(self.streaks.items())),
            "failures_in_row": self.failures_in_row,
            "open": [d.to_json() for d in self.open],
            "last": {k: rounded(v) for k, v in sorted(self.last.items())},
        }

    @classmethod
    def from_json(cls, data: Any) -> SupervisorState:
        """Read a saved state; `UsageError` naming the problem when it is not one."""
        if not isinstance(data, Mapping) or data.get("format") != STATE_FORMAT:
            raise UsageError(f"not a supervisor state (format {STATE_FORMAT}): start without it to begin afresh")
        try:
            return cls(
                int(data["cycles"]),
                {str(k): int(v) for k, v in data["streaks"].items()},
                int(data["failures_in_row"]),
                [Directive.from_json(d) for d in data["open"]],
                dict(data.get("last", {})),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise UsageError(f"the supervisor state is damaged ({exc!r}): start without it to begin afresh") from None
