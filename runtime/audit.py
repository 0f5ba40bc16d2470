"""The audit trail: one JSON line per decision, in one envelope, with a 5W1H narrative.

Every `DirectiveIssued`, `ThreatIndexUpdated`, `ModeChanged` and `TelemetryGap` becomes

    {"kind", "action_id", "subject", "actor", "scope", "outcome", "reason", "latency_ms",
     "narrative": {"who", "what", "when", "where", "why": [...], "how"}}

(MOTB FR-Gov1, the Layer-2 5W1H clarity log). `action_id` is a content hash, so the same
decision always has the same id. `latency_ms` is the only measured (wall-clock) field: the time
from the start of processing the event that completed the breach to the directive; it is null
in replays that ask for determinism (`AuditLog(..., measure=False)`).

`AuditLog` writes to any object with a `write(str)` method (a file, `sys.stdout`, a socket
wrapper) or to a callable taking the entry dict.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

Entry = dict[str, Any]


def _action_id(kind: str, material: Any) -> str:
    raw = json.dumps([kind, material], sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return kind[:3].lower() + "-" + hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16]


def directive_entry(directive: Any, when: str | None, latency_ms: float | None = None) -> Entry:
    """`DirectiveIssued` for one directive, its rationale as the why."""
    why = [
        f"{c['check']} was {json.dumps(c['value'])} ({', '.join(f'{k}={v}' for k, v in c['inputs'].items())})"
        for c in directive.rationale
    ]
    return {
        "kind": "DirectiveIssued",
        "action_id": directive.directive_id,
        "subject": ",".join(directive.targets),
        "actor": f"{directive.policy}/{directive.rule}",
        "scope": directive.policy,
        "outcome": directive.action,
        "reason": directive.reason,
        "latency_ms": latency_ms,
        "narrative": {
            "who": f"policy {directive.policy}, rule {directive.rule}",
            "what": f"{directive.action} {', '.join(directive.targets)} {json.dumps(directive.params, sort_keys=True)}",
            "when": when,
            "where": ", ".join(directive.targets),
            "why": [directive.reason, *why],
            "how": f"rule condition held (impact {directive.impact}, priority {directive.priority})",
        },
    }


def event_entry(event: Mapping[str, Any]) -> Entry | None:
    """An audit entry for an Engine or ThreatEngine event record; None for kinds not audited."""
    kind = event.get("type")
    if kind == "TelemetryGap":
        reason = f"source {event['source']} skipped {event['missing']} sequence number(s) after {event['after']}"
        return _entry(
            "TelemetryGap",
            event,
            str(event["source"]),
            "ballast-engine",
            event["policy"],
            "gap-detected",
            reason,
            event["time"],
            "sequence numbers per source",
        )
    if kind == "ThreatIndexUpdated":
        parts = [
            f"{c['source']}: value {c['value']}, weight {c['weight']}, contribution {c['contribution']}"
            for c in event.get("rationale", [])
        ]
        reason = f"ThreatIndex {event['index']} ({event['mode']})"
        return _entry(
            "ThreatIndexUpdated",
            event,
            "ThreatIndex",
            event.get("threat", "gtbe"),
            event.get("threat", "gtbe"),
            str(event["index"]),
            reason,
            event["time"],
            "weighted fusion of normalised sources, EWMA-smoothed",
            why=parts,
        )
    if kind == "ModeChanged":
        reason = f"mode {event['previous_mode']} → {event['mode']} at ThreatIndex {event['index']}"
        return _entry(
            "ModeChanged",
            event,
            "ResponseMode",
            event.get("threat", "gtbe"),
            event.get("threat", "gtbe"),
            event["mode"],
            reason,
            event["time"],
            "Fear-Paralysis Governor: hysteresis, dwell, flip limit, floor",
        )
    return None


def _entry(
    kind: str,
    event: Mapping[str, Any],
    subject: str,
    actor: str,
    scope: str,
    outcome: str,
    reason: str,
    when: str,
    how: str,
    why: list[str] | None = None,
) -> Entry:
    return {
        "kind": kind,
        "action_id": _action_id(kind, dict(event)),
        "subject": subject,
        "actor": actor,
        "scope": scope,
        "outcome": outcome,
        "reason": reason,
        "latency_ms": None,
        "narrative": {
            "who": actor,
            "what": f"{kind}: {outcome}",
            "when": when,
            "where": scope,
            "why": [reason, *(why or [])],
            "how": how,
        },
    }


class AuditLog:
    """Writes audit entries as JSON lines (sorted keys) to a writable sink or a callable."""

    def __init__(self, sink: Any, *, measure: bool = True) -> None:
        if not (callable(sink) or hasattr(sink, "write")):
            from ballast.runtime.errors import UsageError

            raise UsageError(f"an audit sink needs a write(str) method or must be callable, got {type(sink).__name__}")
        self._sink = sink
        self.measure = measure
        self.written = 0

    def write(self, entry: Entry) -> None:
        if not self.measure:
            entry = {**entry, "latency_ms": None}
        if callable(self._sink) and not hasattr(self._sink, "write"):
            self._sink(entry)
        else:
            self._sink.write(json.dumps(entry, sort_keys=True, ensure_ascii=False) + "\n")
        self.written += 1

    def record(self, result: Any, when: str | None, latency_ms: Callable[[Any], float | None] | None = None) -> None:
        """Every directive and audited event of an Engine `Result`, in order."""
        for directive in result.directives:
            self.write(directive_entry(directive, when, latency_ms(directive) if latency_ms else None))
        for event in _events(result):
            entry = event_entry(event)
            if entry is not None:
                self.write(entry)


def _events(result: Any) -> Iterable[Mapping[str, Any]]:
    return getattr(result, "events", ())
