"""What an Engine reports besides directives, as typed records.

Each kind is a small slotted class whose `to_dict()` is the event's JSON form, keys in a fixed
order (the CLI's output, the audit trail and the reports print exactly these dicts). The classes
also read as that dict (`event["type"]`, `event.get("rule")`, `dict(event)`, `event == {...}`),
so code written against the plain dicts the Engine used to emit keeps working.

Times are event times in epoch seconds (floats); `to_dict()` prints them as RFC 3339 text.

    >>> gap = TelemetryGap("motb", "probe-1", 1700000000.0, after=41, next=44)
    >>> gap.missing, gap["type"]
    (2, 'TelemetryGap')
    >>> gap.to_dict()["time"]
    '2023-11-14T22:13:20Z'
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ballast.runtime.values import iso

if TYPE_CHECKING:
    from ballast.runtime.threat import ThreatUpdate


class EngineEvent(Mapping[str, Any]):
    """The common shape: a `type` name, a `time`, and the JSON form `to_dict()`.

    The Mapping methods read `to_dict()`: they are for compatibility and inspection, not for a
    hot path (read the attributes there).
    """

    __slots__ = ()
    type: ClassVar[str] = ""
    time: float

    def to_dict(self) -> dict[str, Any]:
        """The event as plain JSON values: exactly the dict the CLI prints and the audit reads."""
        raise NotImplementedError

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_dict())

    def __len__(self) -> int:
        return len(self.to_dict())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        return self.to_dict() == dict(other.items())

    __hash__ = None  # type: ignore[assignment]  # compares like its dict, which cannot be hashed


@dataclass(slots=True, eq=False)
class RuleState(EngineEvent):
    """An edge rule changed state for one key: `pending`, `firing` or `resolved`. `reason` is
    set only for the unusual transitions (`stale`, `restore`)."""

    type: ClassVar[str] = "RuleState"
    policy: str
    rule: str
    key: dict[str, Any]  # the rule's `group by` fields and their values
    state: str
    time: float
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = {
            "type": self.type,
            "policy": self.policy,
            "rule": self.rule,
            "key": self.key,
            "state": self.state,
            "time": iso(self.time),
        }
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass(slots=True, eq=False)
class TelemetryGap(EngineEvent):
    """A source's sequence number jumped (`stream { sequence seq by source }`): `missing`
    numbers between `after` and `next` never arrived."""

    type: ClassVar[str] = "TelemetryGap"
    policy: str
    source: Any
    time: float
    after: int
    next: int

    @property
    def missing(self) -> int:
        """How many sequence numbers were skipped."""
        return self.next - self.after - 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "policy": self.policy,
            "source": self.source,
            "time": iso(self.time),
            "after": self.after,
            "next": self.next,
            "missing": self.missing,
        }


@dataclass(slots=True, eq=False)
class Stale(EngineEvent):
    """A key sent nothing for longer than `stale after`: its rules stop reading its last event."""

    type: ClassVar[str] = "Stale"
    policy: str
    key: dict[str, Any]
    last_seen: float
    time: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "policy": self.policy,
            "key": self.key,
            "last_seen": iso(self.last_seen),
            "time": iso(self.time),
        }


@dataclass(slots=True, eq=False)
class HeldBack(EngineEvent):
    """A directive that was not issued, and `by` what: the shape of `Suppressed`, `Coalesced`
    and `Dropped`."""

    policy: str
    rule: str
    action: str
    targets: list[str]
    by: str
    time: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "policy": self.policy,
            "rule": self.rule,
            "action": self.action,
            "targets": self.targets,
            "by": self.by,
            "time": iso(self.time),
        }


@dataclass(slots=True, eq=False)
class Suppressed(HeldBack):
    """A rule's `cooldown` (`by="cooldown"`) or `at most` (`by="limit"`) held a directive back."""

    type: ClassVar[str] = "Suppressed"


@dataclass(slots=True, eq=False)
class Coalesced(HeldBack):
    """The directive queue merged a directive into a similar queued one (`by="queue"`)."""

    type: ClassVar[str] = "Coalesced"


@dataclass(slots=True, eq=False)
class Dropped(HeldBack):
    """The full directive queue dropped its lowest-priority directive (`by="queue"`)."""

    type: ClassVar[str] = "Dropped"


@dataclass(slots=True, eq=False)
class ThreatIndexUpdated(EngineEvent):
    """A threat engine folded an event in: its `update` (index, mode, rationale, …)."""

    type: ClassVar[str] = "ThreatIndexUpdated"
    threat: str
    update: ThreatUpdate

    @property
    def time(self) -> float:  # type: ignore[override]
        return self.update.time

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "threat": self.threat, **self.update.to_dict(), "time": iso(self.update.time)}


@dataclass(slots=True, eq=False)
class ModeChanged(EngineEvent):
    """A threat engine's response mode changed at ThreatIndex `index`."""

    type: ClassVar[str] = "ModeChanged"
    threat: str
    time: float
    index: float
    mode: str
    previous_mode: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "threat": self.threat,
            "time": iso(self.time),
            "index": self.index,
            "mode": self.mode,
            "previous_mode": self.previous_mode,
        }


__all__ = [
    "Coalesced",
    "Dropped",
    "EngineEvent",
    "HeldBack",
    "ModeChanged",
    "RuleState",
    "Stale",
    "Suppressed",
    "TelemetryGap",
    "ThreatIndexUpdated",
]
