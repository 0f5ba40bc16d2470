"""From the mesh's state to the events each input of a policy set declares.

The simulator knows a fixed vocabulary of signals (below). An input that names a pool (a field
`pool`, `service` or `agent`) gets one event per pool per telemetry tick; any other input gets
one fleet-wide event per tick. Each event holds exactly the fields its input declares: a
required field outside the vocabulary is an error naming the input and the field, found before
the run starts, never an event the runtime would reject at every tick.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ballast.runtime.batch import Column, TrustedEvents
from ballast.runtime.errors import UsageError
from ballast.runtime.policy import PolicySet
from ballast.simulator.model import COLUMNS

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
    readers: dict[str, str] = {}
    documents = [(p.name, p.input_name, p.fields) for p in policies.policies]
    documents += [(t["name"], t["input"]["name"], t["input"]["fields"]) for t in policies.threats]
    for document, input_name, field_list in documents:
        fields = {f["name"]: f for f in field_list}
        if input_name in declared and set(declared[input_name]) != set(fields):
            # one event per input and tick: it cannot match two schemas, and a policy whose
            # every event is rejected would silently never fire
            raise UsageError(
                f"{readers[input_name]} and {document} both read the input {input_name!r} but declare different "
                f"fields ({', '.join(sorted(set(declared[input_name]) ^ set(fields)))} differ); the simulator sends "
                "one event per input: give both the same fields, or give one input another name"
            )
        declared[input_name] = fields
        readers.setdefault(input_name, document)
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


def pool_constants(names: list[str], classes: list[str], regions: list[str]) -> dict[str, list[str]]:
    """The per-pool constant signals ("@name", "@class", …), each a list in pool order."""
    return {
        "@name": names,
        "@class": classes,
        "@region": regions,
        "@agent": [f"{n}-agent" for n in names],
        "@source": [f"sim-{n}" for n in names],
    }


def event_builder(
    plan: InputPlan, names: list[str], classes: list[str], regions: list[str]
) -> Callable[..., TrustedEvents]:
    """A function (columns, fleet, time, seq) → this tick's events of the input.

    The events are a `TrustedEvents` batch: the simulator built them itself, and says what each
    field holds (a numpy column's dtype and range, the pool names), so the Engine checks the
    schema once per tick instead of once per event (and event by event whenever a value is out
    of range, NaN or of another type).

    A per-pool input's events are the same dicts at every call, refilled in place: a batch holds
    until the next call, and whatever must outlive it keeps a copy (the Engine freezes the events
    its keys and directives keep; the simulator copies the event of each directive it records).
    """
    constants = pool_constants(names, classes, regions)
    fields = plan.fields
    producer = f"the simulator (input {plan.name})"

    if not plan.per_pool:

        def fleet_events(columns: Mapping[str, list[Any]], fleet: dict[str, Any], time: float, seq: int) -> TrustedEvents:
            specials = {"@time": time, "@seq": seq, "@source": "sim-fleet"}
            event = {f: specials[s] if s in specials else fleet[s] for f, s in fields}
            return TrustedEvents([event], {f: Column.of([v]) for f, v in event.items()}, producer=producer)

        return fleet_events

    # A field reads a per-pool list (a constant or a column of the tick) or one value for every
    # pool (the time, the sequence number, a fleet-wide signal).
    listed = [s for _, s in fields if s in COLUMNS]
    shared = [s for _, s in fields if s not in constants and s not in COLUMNS]
    fill = _filler(plan.name, [(f, s in COLUMNS) for f, s in fields if s not in constants])
    constant_columns = {s: Column.of(values) for s, values in constants.items()}
    # One dict per pool for the whole run, its constants set once, in the event's field order
    # (None until the first tick fills in the rest): refilling them in place each tick costs half
    # of building and freeing a thousand fresh dicts.
    events = [{f: constants[s][i] if s in constants else None for f, s in fields} for i in range(len(names))]

    def pool_events(
        columns: Mapping[str, list[Any]], fleet: dict[str, Any], time: float, seq: int, rows: Any = None
    ) -> TrustedEvents:
        specials = {"@time": time, "@seq": seq}
        values = [specials[s] if s in specials else fleet[s] for s in shared]
        if rows is not None:  # only these pools' events (`screen.TickScreen`: the others are quiet)
            arrays = getattr(columns, "arrays", None)
            lists = [arrays[s][rows].tolist() if arrays is not None else [columns[s][i] for i in rows] for s in listed]
            chosen = [events[i] for i in rows]
            return TrustedEvents(fill(chosen, *lists, *values), summaries(columns, fleet, specials), producer=producer)
        lists = [columns[s] for s in listed]
        return TrustedEvents(fill(events, *lists, *values), summaries(columns, fleet, specials), producer=producer)

    def summaries(
        columns: Mapping[str, list[Any]], fleet: dict[str, Any], specials: dict[str, Any]
    ) -> dict[str, Column | None]:
        # what every pool's value holds: true of a subset of the pools too
        return {
            f: constant_columns[s]
            if s in constants
            else _column(columns, s)
            if s in COLUMNS
            else Column.of([specials[s] if s in specials else fleet[s]])
            for f, s in fields
        }

    return pool_events


def _column(columns: Mapping[str, list[Any]], signal: str) -> Column | None:
    """What every pool's value of a column is: proven by the numpy array's dtype (its `tolist()`
    gives Python floats or ints) and its minimum and maximum (NaN when a value is NaN)."""
    arrays = getattr(columns, "arrays", None)
    if arrays is None:
        return Column.of(columns[signal])
    array = arrays[signal]
    if not array.size:
        return None
    if array.dtype.kind == "f":
        return Column(float, float(array.min()), float(array.max()))
    if array.dtype.kind in "iu":
        return Column(int, int(array.min()), int(array.max()))
    return Column.of(columns[signal])


def _filler(input_name: str, fields: list[tuple[str, bool]]) -> Callable[..., list[dict[str, Any]]]:
    """A function (the pools' events, the per-pool lists, then the shared values, in field order)
    that sets `fields` in every pool's event, in place, and returns the events.

    It is generated so that each field is one subscript store (`event['load'] = p0`) in a loop
    over the pools: a day of 1,000 pools at 10 s is 8.64 M events.
    """
    lists = [f"p{k}" for k, (_, per_pool) in enumerate(fields) if per_pool]
    values = [f"s{k}" for k, (_, per_pool) in enumerate(fields) if not per_pool]
    stores = [f"        event[{name!r}] = {'p' if per_pool else 's'}{k}\n" for k, (name, per_pool) in enumerate(fields)]
    loop = ", ".join(["events", *lists, "strict=True"])
    source = (
        f"def fill({', '.join(['events', *lists, *values])}):\n"
        f"    for ({''.join(f'{p}, ' for p in ['event', *lists])}) in zip({loop}):\n"
        + ("".join(stores) or "        pass\n")
        + "    return events\n"
    )
    namespace: dict[str, Any] = {}  # its own: the code sees nothing but builtins (field names are repr()'d)
    exec(compile(source, f"<events of input {input_name}>", "exec"), namespace)
    fill: Callable[..., list[dict[str, Any]]] = namespace["fill"]
    return fill
