"""From the mesh's state to the events each input of a policy set declares.

The simulator knows a fixed vocabulary of signals (below). An input that names a pool (a field
`pool`, `service` or `agent`) gets one event per pool per telemetry tick; any other input gets
one fleet-wide event per tick. Each event holds exactly the fields its input declares: a
required field outside the vocabulary is an error naming the input and the field, found before
the run starts, never an event the runtime would reject at every tick.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ballast.runtime.errors import UsageError
from ballast.runtime.policy import PolicySet

# Per-pool signals: the name an input may declare → the column it reads (model.Mesh.columns),
# or a per-pool constant ("@name", "@class", "@region", "@agent", "@source").
POOL_SIGNALS: dict[str, str] = {
    "pool": "@name",
    "service": "@name",
    "agent": "@agent",
    "region": "@region",
    "tier": "@class",
    "class": "@class",
    "source": "@source",
    "load": "load",
    "risk": "trp_risk",
    "trp_risk": "trp_risk",
    "cve_score": "cve_score",
    "latency_p95_ms": "latency_p95_ms",
    "latency_ms": "latency_ms",
    "error_rate": "error_rate",
    "sla_adherence": "sla_adherence",
    "htm_queue_depth": "htm_queue_depth",
    "queue": "htm_queue_depth",
    "workers": "workers",
    "subscriptions": "subscriptions",
    "dispatch_rate": "dispatch_rate",
    "tasks_dispatched": "tasks_dispatched",
    "policy_depth": "policy_depth",
}
# Fleet-wide signals (also readable by per-pool inputs, where they are the same for every pool).
FLEET_SIGNALS = ("trp_risk", "cve_score", "load", "error_rate", "sla_adherence", "latency_p95_ms")
TIME_FIELDS = ("ts", "time", "timestamp")
SEQUENCE_FIELDS = ("seq", "sequence")
POOL_KEYS = ("pool", "service", "agent")


@dataclass(frozen=True)
class InputPlan:
    """How to build the events of one input."""

    name: str
    per_pool: bool
    fields: tuple[tuple[str, str], ...]  # (event field, signal)


def plan_inputs(policies: PolicySet) -> list[InputPlan]:
    """One plan per input of the set; UsageError when an input needs a signal the mesh lacks."""
    declared: dict[str, dict[str, dict[str, Any]]] = {}
    for policy in policies.policies:
        fields = declared.setdefault(policy.input_name, {})
        fields.update({f["name"]: f for f in policy.fields})
    for threat in policies.threats:
        fields = declared.setdefault(threat["input"]["name"], {})
        fields.update({f["name"]: f for f in threat["input"]["fields"]})
    plans = []
    for name in sorted(declared):
        fields = declared[name]
        per_pool = any(k in fields for k in POOL_KEYS)
        chosen: list[tuple[str, str]] = []
        missing: list[str] = []
        for field_name, spec in fields.items():
            signal = _signal(field_name, per_pool)
            if signal is None:
                if not spec.get("optional"):
                    missing.append(field_name)
                continue
            chosen.append((field_name, signal))
        if missing:
            known = sorted(set(POOL_SIGNALS) | set(TIME_FIELDS) | set(SEQUENCE_FIELDS))
            raise UsageError(
                f"input {name!r} requires {', '.join(repr(m) for m in missing)}, which the simulated mesh does not "
                f"produce; the signals it produces are: {', '.join(known)} (make the field optional with `?`, or rename it)"
            )
        plans.append(InputPlan(name, per_pool, tuple(chosen)))
    return plans


def _signal(field_name: str, per_pool: bool) -> str | None:
    if field_name in TIME_FIELDS:
        return "@time"
    if field_name in SEQUENCE_FIELDS:
        return "@seq"
    if per_pool:
        return POOL_SIGNALS.get(field_name)
    if field_name == "source":
        return "@source"
    return field_name if field_name in FLEET_SIGNALS else None


def event_builder(plan: InputPlan, names: list[str], classes: list[str], regions: list[str]) -> Callable[..., list[dict[str, Any]]]:
    """A function (columns, fleet, time, seq) → this tick's events of the input."""
    constants = {
        "@name": names,
        "@class": classes,
        "@region": regions,
        "@agent": [f"{n}-agent" for n in names],
        "@source": [f"sim-{n}" for n in names],
    }
    fields = plan.fields

    if not plan.per_pool:

        def fleet_events(columns: dict[str, list[Any]], fleet: dict[str, Any], time: float, seq: int) -> list[dict[str, Any]]:
            specials = {"@time": time, "@seq": seq, "@source": "sim-fleet"}
            return [{f: specials[s] if s in specials else fleet[s] for f, s in fields}]

        return fleet_events

    def pool_events(columns: dict[str, list[Any]], fleet: dict[str, Any], time: float, seq: int) -> list[dict[str, Any]]:
        count = len(names)
        lists = []
        for f, s in fields:
            if s == "@time":
                lists.append((f, [time] * count))
            elif s == "@seq":
                lists.append((f, [seq] * count))
            elif s in constants:
                lists.append((f, constants[s]))
            elif s in columns:
                lists.append((f, columns[s]))
            else:
                lists.append((f, [fleet[s]] * count))
        keys = [f for f, _ in lists]
        return [dict(zip(keys, row, strict=True)) for row in zip(*(v for _, v in lists), strict=True)]

    return pool_events
