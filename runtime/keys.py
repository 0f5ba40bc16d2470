"""Keys: what an Engine remembers per `group by` value, and how conditions read it.

A policy's rules with time clauses are grouped by their `group by` fields (a *grouping*); each
grouping keeps one `Key` per distinct value of those fields. A key holds the history (a `Series`
per field some aggregate of the grouping reads), its last event, and the state of each of the
grouping's rules (`RuleStatus`). `Context` is what a condition sees: the key's last event plus
its aggregates, computed on first read.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Mapping
from typing import Any

from ballast.runtime.ir import IR, field_path
from ballast.runtime.windows import Series, slot_reader

Grouping = tuple[str, ...]
# A field some aggregate reads: (index in `Key.series`, path, top-level name or None, retention).
Field = tuple[int, tuple[str, ...], str | None, float]
# How `Context` computes a slot: a function of (the key's series by field index, now).
Read = Callable[[list[Series | None], float], Any]


class RuleStatus:
    """Where one rule stands for one key: inactive → pending → firing → resolved.

    `active`: the condition holds (with hysteresis: entered and not yet exited). `since`: when it
    began to hold (None when it does not). `firing`: the rule fired and has not resolved.
    `clear_at`: when the condition stopped holding while firing (a `keep` counts from here).
    `issued`: when a `repeat` rule last issued its directives.
    """

    __slots__ = ("active", "clear_at", "firing", "issued", "since")

    def __init__(self) -> None:
        self.active = False
        self.since: float | None = None
        self.firing = False
        self.clear_at: float | None = None
        self.issued: float | None = None

    def to_json(self) -> list[Any]:
        """`[active, since, firing, clear_at]`, and `issued` only when set: snapshots of policies
        without `repeat` keep their old shape."""
        plain = [self.active, self.since, self.firing, self.clear_at]
        return plain if self.issued is None else [*plain, self.issued]

    @classmethod
    def from_json(cls, data: list[Any]) -> RuleStatus:
        """The status `to_json` wrote (four or five items)."""
        state = cls()
        state.active, state.since, state.firing, state.clear_at = data[:4]
        state.issued = data[4] if len(data) > 4 else None
        return state

    @property
    def initial(self) -> bool:
        """Whether this is the state of a rule that has never held (what a step starts from)."""
        return (
            not self.active and not self.firing and self.since is None and self.clear_at is None and self.issued is None
        )

    def reset(self) -> None:
        """Back to inactive, forgetting every time."""
        self.active, self.since, self.firing, self.clear_at, self.issued = False, None, False, None, None


class Key:
    """One key's history and rule states within one grouping."""

    __slots__ = ("event", "last_seen", "rules", "series", "stale")

    def __init__(self, fields: int) -> None:
        self.series: list[Series | None] = [None] * fields  # by the grouping's field index
        self.rules: dict[int, RuleStatus] = {}  # by rule index in the policy
        self.event: dict[str, Any] = {}
        self.last_seen = -math.inf
        self.stale = False  # reported stale; its next event makes it fresh again


class KeyTable:
    """Every key of one policy, with the layout of their histories per grouping.

    `aggregates` maps each grouping to the aggregate nodes its rules read, by slot; `lateness`
    is the stream's, which every series keeps on top of its window so late events land right.
    """

    def __init__(self, aggregates: Mapping[Grouping, Mapping[str, IR]], lateness: float) -> None:
        self.groupings: list[Grouping] = list(aggregates)
        # Per grouping, the fields some aggregate reads: a key keeps the history of field i in
        # `series[i]`. And per slot, what `Context` computes it with.
        self.fields: dict[Grouping, list[Field]] = {}
        self.reads: dict[Grouping, dict[str, Read]] = {}
        self.presence: dict[Grouping, frozenset[int]] = {}
        for g, aggs in aggregates.items():
            retention: dict[tuple[str, ...], float] = {}
            for node in aggs.values():
                path = field_path(node)
                retention[path] = max(retention.get(path, 0.0), node.get("window", 0.0) + lateness)
            paths = list(retention)
            self.fields[g] = [(i, p, p[0] if len(p) == 1 else None, retention[p]) for i, p in enumerate(paths)]
            # Fields only `absent()` reads: any value is a sample (its presence is what counts),
            # where a number field takes only numbers. `absent()` is the one aggregate allowed
            # on string and bool fields.
            self.presence[g] = frozenset(
                i for i, p in enumerate(paths) if all(n["fn"] == "absent" for n in aggs.values() if field_path(n) == p)
            )
            self.reads[g] = {slot: slot_reader(n, paths.index(tuple(n["path"]))) for slot, n in aggs.items()}
        self.keys: dict[tuple[int, tuple[Any, ...]], Key] = {}  # by (grouping index, values)
        # No key was last seen before this: an idle sweep with an older horizon finds nothing,
        # so it can skip visiting every key.
        self.seen_floor = math.inf

    def get(self, g_index: int, grouping: Grouping, data: Mapping[str, Any]) -> Key:
        """The event's key in a grouping, created empty on its first event."""
        values = tuple(map(data.__getitem__, grouping))  # no Python frame, unlike a comprehension
        key = self.keys.get((g_index, values))
        if key is None:
            key = self.keys[(g_index, values)] = Key(len(self.fields[grouping]))
        return key

    def record(self, grouping: Grouping, key: Key, data: Mapping[str, Any], t: float, newest: float) -> None:
        """Add the event's values at time `t` to the key's histories (`newest`: the stream's now)."""
        history = key.series
        for index, path, name, retention in self.fields[grouping]:
            # most fields are top-level: one dict lookup, no walk through records
            value = data.get(name) if name is not None else lookup(data, path)
            if value is None:
                continue
            kind = type(value)
            if kind is not float and kind is not int:
                if index in self.presence[grouping]:
                    value = 0.0  # present: that is all `absent()` reads
                elif kind is bool:
                    continue  # not a number sample (a number of another type, float() takes)
            series = history[index]
            if series is None:
                series = history[index] = Series(retention)
            times = series.times
            if series.ewma or (times and t < times[-1]):  # a late sample, or an ewma to update
                series.add(t, float(value), newest)
                continue
            # Series.add inlined for a sample in time order: this runs for every field of every event
            values = series.values
            times.append(t)
            values.append(float(value))
            horizon = newest - retention
            if times[0] < horizon:
                cut = bisect_left(times, horizon)
                del times[:cut]
                del values[:cut]
                if series.moments is not None:
                    series.shift(cut)

    def seen(self, key: Key, event: dict[str, Any], t: float) -> None:
        """`event` (a copy the host cannot change) is the key's newest, seen at `t`."""
        key.event, key.last_seen, key.stale = event, t, False
        if t < self.seen_floor:  # a new key: a key's last_seen only grows
            self.seen_floor = t

    def expire(self, horizon: float) -> int:
        """Forget the keys last seen before `horizon` that fire no rule; how many were forgotten."""
        if self.seen_floor >= horizon:
            return 0
        idle = [
            k
            for k, key in self.keys.items()
            if key.last_seen < horizon and not any(s.firing for s in key.rules.values())
        ]
        for k in idle:
            del self.keys[k]
        self.seen_floor = min((key.last_seen for key in self.keys.values()), default=math.inf)
        return len(idle)


class Context(dict):  # type: ignore[type-arg]
    """The event plus its key's aggregates, each computed the first time a condition reads it:
    a rule whose condition short-circuits, or an exit condition not yet due, costs nothing.

    An aggregate with no data (None) is not kept: every read of it comes back here and sets
    `read_no_data`, so that the rule machine, which clears the flag before each condition,
    knows whether *that* condition read an empty window (another rule's read of the same slot
    must not turn this rule's own fault into "no data")."""

    __slots__ = ("_now", "_reads", "_series", "read_no_data")

    def __init__(
        self,
        event: Mapping[str, Any],
        reads: Mapping[str, Read],
        series: list[Series | None],
        now: float,
    ) -> None:
        super().__init__(event)
        self["@now"] = now
        self._reads = reads
        self._series = series
        self._now = now
        self.read_no_data = False

    def __missing__(self, slot: str) -> Any:
        read = self._reads.get(slot)
        if read is None:
            raise KeyError(slot)
        value = read(self._series, self._now)
        if value is None:
            self.read_no_data = True
        else:
            self[slot] = value
        return value

    def frozen(self, slots: Mapping[str, IR]) -> dict[str, Any]:
        """A plain copy of the event with `@now` and exactly these aggregate slots."""
        out = {k: v for k, v in self.items() if not k.startswith("@") or k == "@now"}
        for slot in slots:
            out[slot] = self[slot]
        return out


def lookup(data: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    """The value at a path of nested records, or None where a step is missing or not a record."""
    value: Any = data
    for part in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value
