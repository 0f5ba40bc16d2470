"""Batches of events from a trusted producer: the schema is checked once per batch, not per event.

A host that builds its events itself, from columns whose types and ranges it knows (the
simulator builds one event per pool per tick from numpy columns), can hand an Engine a
`TrustedEvents` batch: the events plus, for each field, a `Column` that says what every event
holds there (the type of every value, the lowest and highest number, the distinct strings).
`Engine.process_many` checks those column summaries against each policy's input schema once
for the batch, and then evaluates the events without the per-event schema check. Anything the
summaries cannot prove (a value out of range, a NaN, an int in a float field, a missing or
unknown field, a type with no summary such as a list or a record) sends the whole batch through
the ordinary per-event check, which reports each bad event as it always does: a trusted batch
changes how fast valid events are evaluated, never what any event decides.

Never wrap events read from outside the process (files, sockets, a message bus) in a
`TrustedEvents`: their summaries would be computed from the very values that need checking.
`ballast eval`, `ballast replay` and `Engine.process`/`process_many` on plain lists always check
every event.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ballast.runtime.values import EARLIEST_TIME, LATEST_TIME

_PROVABLE = {"float": float, "int": int, "string": str, "bool": bool, "timestamp": float}


@dataclass(frozen=True, slots=True)
class Column:
    """What every event of a batch holds in one field.

    `type` is the exact Python type of every value (float, int, str or bool); `low` and `high`
    bound the numbers (NaN when some value is NaN: nothing is then proven); `values` holds the
    distinct strings of a str column (what an enum field is checked against).
    """

    type: type
    low: Any = None
    high: Any = None
    values: frozenset[str] | None = None

    @classmethod
    def of(cls, values: Sequence[Any]) -> Column | None:
        """The summary of a list of values, computed from them; None when they do not share one
        of the types a summary describes (then the batch is checked event by event)."""
        kinds = set(map(type, values))
        if len(kinds) != 1:
            return None
        kind = kinds.pop()
        if kind is str:
            return cls(str, values=frozenset(values))
        if kind is bool:
            return cls(bool)
        if kind is float:
            total = sum(values)  # finite only if every value is: an inf or a NaN makes it inf or NaN
            if not -math.inf < total < math.inf:
                return cls(float, math.nan, math.nan)
            return cls(float, min(values), max(values))
        if kind is int:
            return cls(int, min(values), max(values))
        return None


class TrustedEvents(Sequence[dict[str, Any]]):
    """A batch of events built by the host itself, with what every event holds in each field.

    `events` must all have exactly the fields of `columns`, each value described by its field's
    `Column` (None: no summary, the batch is checked event by event): the producer vouches for
    that (it built both from the same data), and the Engine checks the columns against the
    schema once per batch. `producer` names who built the batch,
    for the reader of a traceback or a profile. The events must not change once wrapped.
    """

    __slots__ = ("_events", "_proofs", "columns", "producer")

    def __init__(self, events: list[dict[str, Any]], columns: Mapping[str, Column | None], *, producer: str) -> None:
        self._events = events
        self.columns = dict(columns)
        self.producer = producer
        self._proofs: dict[int, bool] = {}  # id(checker) → whether the columns satisfy its schema

    def __len__(self) -> int:
        return len(self._events)

    def __getitem__(self, index: Any) -> Any:
        return self._events[index]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._events)

    def __repr__(self) -> str:
        return f"TrustedEvents({len(self._events)} events from {self.producer}, fields {', '.join(self.columns)})"

    @property
    def events(self) -> list[dict[str, Any]]:
        """The events, as built by the producer."""
        return self._events

    def satisfies(self, fields: list[dict[str, Any]], check: Any) -> bool:
        """Whether every event of the batch passes the schema `fields` unchanged, as proven by the
        columns and by `check` (the schema's per-event check) on the first event; remembered per
        schema, so a batch fed to several policies of one input is checked once for each."""
        proof = self._proofs.get(id(check))
        if proof is None:
            proof = self._proofs[id(check)] = (
                bool(self._events) and check(self._events[0]) and _proves(self.columns, fields)
            )
        return proof


def _proves(columns: Mapping[str, Column | None], fields: list[dict[str, Any]]) -> bool:
    """Whether values described by `columns` are exactly what `validate` accepts unchanged."""
    declared = {f["name"] for f in fields}
    if not declared.issuperset(columns) or None in columns.values():  # unknown fields, or no summary
        return False
    for f in fields:
        column = columns.get(f["name"])
        if column is None:  # the events do not have the field
            if not f.get("optional"):
                return False
            continue
        if not _column_fits(column, f):
            return False
    return True


def _column_fits(column: Column, f: dict[str, Any]) -> bool:
    t = f["type"]
    if isinstance(t, dict):
        # an enum of strings: every distinct value is one of its members
        return "enum" in t and column.type is str and column.values is not None and column.values <= set(t["enum"])
    if _PROVABLE.get(t) is not column.type:
        return False
    if column.type is float:
        low, high = column.low, column.high
        if not -math.inf < low <= high < math.inf:  # NaN fails every comparison
            return False
        if t == "timestamp":
            # what the per-event check accepts: epoch seconds in range, and no declared bounds
            return f.get("min") is None and f.get("max") is None and low >= EARLIEST_TIME and high <= LATEST_TIME
    elif column.type is int:
        low, high = column.low, column.high
    else:
        return f.get("min") is None and f.get("max") is None
    below, above = f.get("min"), f.get("max")
    return (below is None or below <= low) and (above is None or high <= above)


__all__ = ["Column", "TrustedEvents"]
