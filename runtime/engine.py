"""The Engine: stateful rules driven by event time.

`engine.process(event)` checks the event, files it under the policy's stream rules (event time,
duplicates, lateness, sequence gaps), updates the history of its key, and steps every rule:
stateless rules fire as in `PolicySet.evaluate`; rules with time clauses move through
inactive → pending → firing → resolved. `engine.advance(t)` does what time alone does: a `for`
that completes, a `keep` that runs out, an `absent()` that becomes true.

Time is the events' own (`stream { time ts }`), never the wall clock, so the same stream gives
the same decisions live, in replay, in a test and in the simulator; `snapshot()` / `restore()`
carry the state across processes as JSON.

Semantics, precisely:

* **Lateness.** The watermark is the newest event time seen minus the policy's `lateness`. An
  event older than the watermark is rejected (`late-event`, counted). An event out of order but
  within the lateness updates its key's history in time order (so windows are right); the rules
  are stepped at the newest time, never re-run in the past.
* **Duplicates** (`stream { id … }`): an id seen within the lateness horizon is ignored, counted.
* **Gaps** (`stream { sequence seq by source }`): a jump in a source's sequence emits a
  `TelemetryGap` event naming the missing range.
* **Edge rules** (with `for`, `keep`, `enter`/`exit` or `repeat`) emit their directives on
  entering `firing` (and, with `repeat every D`, again every D while the condition holds), and
  report `pending`/`firing`/`resolved` as events. **Level rules** (window aggregates,
  `group by`, `cooldown` or `at most` only) emit on every event whose condition holds.
* **Staleness** (`stream { stale after D }`, default 5m): a key whose last event is more than D
  older than now is stale. It reports one `Stale` event, its edge rules (except those reading
  `absent()`) resolve with the reason `stale`, and its last event no longer satisfies their
  conditions until the key sends again.
* **No data.** A window aggregate over an empty window is null; a condition reading it cannot
  hold (counted as `no_data`), so a breach needs evidence.
* **Cooldown** is per (rule, action, targets); **at most N per W** is per rule. What they hold
  back is counted and reported as `suppressed` events, never dropped silently.
"""

from __future__ import annotations

import contextlib
import gc
import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from ballast.runtime.audit import AuditLog
from ballast.runtime.codegen import compile_expression_function
from ballast.runtime.errors import EvaluationError, UsageError
from ballast.runtime.flow import DirectiveQueue
from ballast.runtime.interpret import describe_fault
from ballast.runtime.ir import IR, slot_key, unparse, walk
from ballast.runtime.policy import CompiledPolicy, PolicySet, Problem, Result, _snapshot
from ballast.runtime.threat import ThreatEngine
from ballast.runtime.windows import Series, reader

SNAPSHOT_FORMAT = "ballast-engine-state/1"
_IDLE_CHECK_EVERY = 1024  # events between sweeps for idle keys
DEFAULT_STALE_AFTER = 300.0  # `stale after` when the stream block does not say: Prometheus' lookback


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


class _RuleState:
    __slots__ = ("active", "clear_at", "firing", "issued", "since")

    def __init__(self) -> None:
        self.active = False
        self.since: float | None = None
        self.firing = False
        self.clear_at: float | None = None
        self.issued: float | None = None  # when a `repeat` rule last issued its directives

    def to_json(self) -> list[Any]:
        # `issued` only when set: snapshots of policies without `repeat` keep their old shape
        plain = [self.active, self.since, self.firing, self.clear_at]
        return plain if self.issued is None else [*plain, self.issued]

    @classmethod
    def from_json(cls, data: list[Any]) -> _RuleState:
        state = cls()
        state.active, state.since, state.firing, state.clear_at = data[:4]
        state.issued = data[4] if len(data) > 4 else None
        return state

    def reset(self) -> None:
        self.active, self.since, self.firing, self.clear_at, self.issued = False, None, False, None, None


class _Key:
    """One key's history and rule states within one grouping."""

    __slots__ = ("event", "last_seen", "rules", "series", "stale")

    def __init__(self, fields: int) -> None:
        self.series: list[Series | None] = [None] * fields  # by the grouping's field index
        self.rules: dict[int, _RuleState] = {}
        self.event: dict[str, Any] = {}
        self.last_seen = -math.inf
        self.stale = False  # reported stale; its next event makes it fresh again


class _TimedRule:
    """A rule with time clauses or window aggregates, compiled for the Engine."""

    def __init__(self, policy: CompiledPolicy, ir: IR) -> None:
        self.index: int = ir["index"]
        self.rule = policy.rules[self.index]
        state = ir["state"]
        self.group_by: tuple[str, ...] = tuple(state.get("group_by", ()))
        self.hold: float = state.get("for", 0.0)
        self.keep: float = state.get("keep", 0.0)
        self.cooldown: float = state.get("cooldown", 0.0)
        self.repeat: float = state.get("repeat", 0.0)
        self.limit: tuple[int, float] | None = tuple(state["limit"]) if "limit" in state else None  # type: ignore[assignment]
        self.hysteresis = "exit" in state
        self.edge = bool(self.hold or self.keep or self.hysteresis or self.repeat)
        file = policy.file
        self.enter = compile_expression_function(ir["when"], file, unparse(ir["when"]))
        self.exit = (
            compile_expression_function(state["exit"], file, unparse(state["exit"])) if self.hysteresis else None
        )
        roots = [
            ir["when"],
            *([state["exit"]] if self.hysteresis else []),
            *(a for c in ir["then"] for a in c["args"].values()),
            *(part["e"] for part in ir.get("reason", []) if isinstance(part, dict)),  # `{p95}` of a `let`
        ]
        self.aggregates = {slot_key(n): n for root in roots for n in walk(root) if n["k"] == "agg"}
        self.enter_slots = [
            slot_key(n) for n in walk(ir["when"]) if n["k"] == "agg" and n["fn"] not in ("count", "absent")
        ]
        self.exit_slots = (
            [slot_key(n) for n in walk(state["exit"]) if n["k"] == "agg" and n["fn"] not in ("count", "absent")]
            if self.hysteresis
            else []
        )
        self.uses_absent = any(n["fn"] == "absent" for n in self.aggregates.values())


class _PolicyEngine:
    """The state of one policy: stream bookkeeping, keys, cooldowns, limits, counters."""

    def __init__(self, policy: CompiledPolicy, ir: IR) -> None:
        self.policy = policy
        stream = ir.get("stream") or {}
        self.time_field: str = stream.get("time", "")
        self.id_field: str = stream.get("id", "")
        self.lateness: float = stream.get("lateness", 0.0)
        self.sequence: tuple[str, str] | None = tuple(stream["sequence"]) if "sequence" in stream else None  # type: ignore[assignment]
        self.idle: float = stream.get("idle", 0.0)
        self.stale_after: float = stream.get("stale", DEFAULT_STALE_AFTER)
        self.timed = [_TimedRule(policy, r) for r in ir["rules"] if "state" in r]
        self.groupings: list[tuple[str, ...]] = sorted({r.group_by for r in self.timed})
        self.by_grouping = {g: [r for r in self.timed if r.group_by == g] for g in self.groupings}
        self.aggregates = {
            g: {k: v for r in self.by_grouping[g] for k, v in r.aggregates.items()} for g in self.groupings
        }
        # Per grouping, the fields some aggregate reads, as (index, path, top-level name or None,
        # retention): a key keeps the history of field i in `series[i]`. And per slot, what
        # `_Context` computes it with: the index of its field and the aggregate as a function.
        self.fields: dict[tuple[str, ...], list[tuple[int, tuple[str, ...], str | None, float]]] = {}
        self.reads: dict[tuple[str, ...], dict[str, tuple[int, Callable[[Series | None, float], Any]]]] = {}
        for g, aggs in self.aggregates.items():
            retention: dict[tuple[str, ...], float] = {}
            for node in aggs.values():
                path = tuple(node["path"])
                retention[path] = max(retention.get(path, 0.0), node.get("window", 0.0) + self.lateness)
            paths = list(retention)
            self.fields[g] = [(i, p, p[0] if len(p) == 1 else None, retention[p]) for i, p in enumerate(paths)]
            self.reads[g] = {slot: (paths.index(tuple(n["path"])), reader(n)) for slot, n in aggs.items()}
        # a policy whose rules all have time clauses has nothing for `decide` (the stateless matcher)
        self.stateless = len(self.timed) < len(policy.rules)
        self.newest = -math.inf
        # No key was last seen before this: an idle sweep with an older horizon finds nothing,
        # so it can skip visiting every key.
        self.seen_floor = math.inf
        self.seen: dict[Any, float] = {}
        self.sequences: dict[str, int] = {}
        self.keys: dict[tuple[int, tuple[Any, ...]], _Key] = {}
        self.cooldowns: dict[tuple[int, int, tuple[str, ...]], float] = {}
        self.emitted: dict[int, deque[float]] = {}
        self.deferred: list[tuple[_TimedRule, _Key, str]] = []  # state changes made by `restore`
        self.counters: dict[str, int] = dict.fromkeys(
            (
                "events",
                "late",
                "duplicates",
                "gaps",
                "no_data",
                "suppressed_cooldown",
                "suppressed_limit",
                "expired_keys",
            ),
            0,
        )

    # ---- events ----
    def process(self, event: Any, result: Result) -> None:
        if self.deferred:
            self._flush_deferred(result)
        policy = self.policy
        data = policy.prepare(event, result)
        if data is None:
            return
        self.counters["events"] += 1
        if not self.time_field:
            policy.decide(data, result)
            return
        t = data[self.time_field]
        if t < self.newest - self.lateness:
            self.counters["late"] += 1
            result.errors.append(
                Problem(
                    "late-event",
                    policy.name,
                    f"event time {iso(t)} is {self.newest - t:g}s behind the newest ({iso(self.newest)}), beyond the allowed lateness of {self.lateness:g}s",
                    field=self.time_field,
                    hint="the event was not evaluated; raise `lateness` in the stream block if such delays are normal",
                )
            )
            return
        if self.id_field:
            event_id = data[self.id_field]
            if event_id in self.seen:
                self.counters["duplicates"] += 1
                return
            self.seen[event_id] = t
        if self.sequence is not None:
            self._check_sequence(data, t, result)
        self.newest = max(self.newest, t)
        if self.stateless:
            policy.decide(data, result)
        frozen: dict[str, Any] | None = None  # keys keep a copy: the host may reuse or change its dict
        for g_index, g in enumerate(self.groupings):
            key = self._key(g_index, g, data)
            self._check_stale(g, key, self.newest, result)  # silent since before this event?
            history, newest = key.series, self.newest
            for index, path, name, retention in self.fields[g]:
                # most fields are top-level: one dict lookup, no walk through records
                value = data.get(name) if name is not None else _lookup(data, path)
                if value is None or type(value) is bool:
                    continue
                series = history[index]
                if series is None:
                    series = history[index] = Series(retention)
                series.add(t, float(value), newest)
            if t >= key.last_seen:
                if frozen is None:
                    frozen = _snapshot(data) if policy._nested else dict(data)
                key.event, key.last_seen, key.stale = frozen, t, False
                if t < self.seen_floor:  # a new key: a key's last_seen only grows
                    self.seen_floor = t
            self._step(g, key, self.newest, result, from_event=True)
        if self.counters["events"] % _IDLE_CHECK_EVERY == 0:
            self._expire()
        if self.id_field and len(self.seen) > 4 * _IDLE_CHECK_EVERY:
            horizon = self.newest - self.lateness
            self.seen = {k: v for k, v in self.seen.items() if v >= horizon}
        if len(self.cooldowns) > 4 * _IDLE_CHECK_EVERY:  # a cooldown that has run out holds nothing back
            self.cooldowns = {k: v for k, v in self.cooldowns.items() if v > self.newest}

    def advance(self, now: float, result: Result) -> None:
        if self.deferred:
            self._flush_deferred(result)
        if not self.time_field or now < self.newest:
            return
        self.newest = now
        for (g_index, _), key in list(self.keys.items()):
            grouping = self.groupings[g_index]
            self._check_stale(grouping, key, now, result)
            self._step(grouping, key, now, result, from_event=False)
        self._expire()

    def _key(self, g_index: int, grouping: tuple[str, ...], data: Mapping[str, Any]) -> _Key:
        values = tuple([data[f] for f in grouping])
        key = self.keys.get((g_index, values))
        if key is None:
            key = self.keys[(g_index, values)] = _Key(len(self.fields[grouping]))
        return key

    def _check_sequence(self, data: Mapping[str, Any], t: float, result: Result) -> None:
        field, by = self.sequence  # type: ignore[misc]
        source, number = data[by], data[field]
        last = self.sequences.get(source)
        if last is not None and number > last + 1:
            self.counters["gaps"] += 1
            result.events.append(
                {
                    "type": "TelemetryGap",
                    "policy": self.policy.name,
                    "source": source,
                    "time": iso(t),
                    "after": last,
                    "next": number,
                    "missing": number - last - 1,
                }
            )
        if last is None or number > last:
            self.sequences[source] = number

    def _expire(self) -> None:
        if not self.idle:
            return
        horizon = self.newest - self.idle
        if self.seen_floor >= horizon:
            return
        stale = [
            k
            for k, key in self.keys.items()
            if key.last_seen < horizon and not any(s.firing for s in key.rules.values())
        ]
        for k in stale:
            del self.keys[k]
        self.counters["expired_keys"] += len(stale)
        self.seen_floor = min((key.last_seen for key in self.keys.values()), default=math.inf)

    def _check_stale(self, grouping: tuple[str, ...], key: _Key, now: float, result: Result) -> None:
        """Mark the key stale once its last event is more than `stale after` older than now: report
        it, resolve its firing rules with the reason `stale` and forget their pending ones."""
        if key.stale or now - key.last_seen <= self.stale_after or key.last_seen == -math.inf:
            return
        key.stale = True
        result.events.append(
            {
                "type": "Stale",
                "policy": self.policy.name,
                "key": {f: key.event.get(f) for f in grouping},
                "last_seen": iso(key.last_seen),
                "time": iso(now),
            }
        )
        for rule in self.by_grouping[grouping]:
            state = key.rules.get(rule.index)
            if state is None or rule.uses_absent:  # absent() is about the silence itself: it goes on
                continue
            if state.firing:
                self._state_event(rule, key.event, "resolved", now, result, reason="stale")
            state.reset()

    # ---- rules ----
    def _step(self, grouping: tuple[str, ...], key: _Key, now: float, result: Result, *, from_event: bool) -> None:
        rules = self.by_grouping[grouping]
        if not from_event and not any(r.edge or r.uses_absent for r in rules):
            return
        aug = _Context(key.event, self.reads[grouping], key.series, now)
        for rule in rules:
            if not from_event and not (rule.edge or rule.uses_absent):
                continue
            if key.stale and not rule.uses_absent:  # its last event no longer counts
                continue
            state = key.rules.get(rule.index)
            if state is None:
                state = key.rules[rule.index] = _RuleState()
            try:
                active = self._active(rule, state, aug)
            except EvaluationError as exc:
                self.policy._fault(result, rule.index, exc, "the rule's state did not change for this event")
                continue
            if not rule.edge:
                if active:
                    self._emit(rule, aug, now, result)
            elif active or state.firing or state.since is not None:  # else inactive and idle: nothing moves
                self._transition(rule, state, active, aug, now, result)

    def _active(self, rule: _TimedRule, state: _RuleState, aug: _Context) -> bool:
        entering = not state.active or not rule.hysteresis
        condition = rule.enter if entering else rule.exit
        try:
            holds = condition(aug) is True  # type: ignore[misc]
        except EvaluationError:
            # An aggregate the condition read had no samples: no evidence either way.
            if not aug.read_no_data:
                raise
            self.counters["no_data"] += 1
            return False if not rule.hysteresis else state.active
        state.active = holds if entering else not holds
        return state.active

    def _transition(
        self, rule: _TimedRule, state: _RuleState, active: bool, aug: dict[str, Any], now: float, result: Result
    ) -> None:
        if active:
            state.clear_at = None
            if state.since is None:
                state.since = now
                if rule.hold and not state.firing:
                    self._state_event(rule, aug, "pending", now, result)
            if not state.firing and now - state.since >= rule.hold:
                state.firing = True
                self._state_event(rule, aug, "firing", now, result)
                self._emit(rule, aug, now, result)
                if rule.repeat:
                    state.issued = now
            elif state.firing and rule.repeat and now - (state.issued or now) >= rule.repeat:
                state.issued = now  # due again: the cooldown and `at most` still decide what goes out
                self._emit(rule, aug, now, result)
            return
        state.since = None
        if not state.firing:
            return
        if rule.keep:
            if state.clear_at is None:
                state.clear_at = now
            if now - state.clear_at < rule.keep:
                return
        state.firing = False
        state.clear_at = None
        state.issued = None
        self._state_event(rule, aug, "resolved", now, result)

    def _state_event(
        self, rule: _TimedRule, aug: Mapping[str, Any], state: str, now: float, result: Result, reason: str = ""
    ) -> None:
        event = {
            "type": "RuleState",
            "policy": self.policy.name,
            "rule": rule.rule.name,
            "key": {f: aug[f] for f in rule.group_by},
            "state": state,
            "time": iso(now),
        }
        if reason:  # only the unusual transitions say why: `stale`, `restore`
            event["reason"] = reason
        result.events.append(event)

    def _emit(self, rule: _TimedRule, aug: _Context, now: float, result: Result) -> None:
        built: list[Any] = []
        try:
            # Directives keep a plain copy with exactly this rule's aggregates: their reasons,
            # rationales and ids are read later and must not depend on what else was computed.
            rule.rule.emit(aug.frozen(rule.aggregates), built)
        except Exception as exc:  # an argument faulted: the rule does not fire
            self.policy._fault(
                result,
                rule.index,
                exc,
                "an action argument could not be computed or is outside its range; the rule did not fire",
            )
            return
        for directive in built:
            held = self._hold_back(rule, directive, now)
            if held:
                result.events.append(
                    {
                        "type": "Suppressed",
                        "policy": self.policy.name,
                        "rule": rule.rule.name,
                        "action": directive.action,
                        "targets": directive.targets,
                        "by": held,
                        "time": iso(now),
                    }
                )
                continue
            result.directives.append(directive)

    def _hold_back(self, rule: _TimedRule, directive: Any, now: float) -> str:
        """Why a directive is held back ("cooldown", "limit"), or "" to let it through."""
        if rule.cooldown:
            key = (rule.index, directive.action_index, tuple(directive.targets))
            if now < self.cooldowns.get(key, -math.inf):
                self.counters["suppressed_cooldown"] += 1
                return "cooldown"
        if rule.limit is not None:
            count, window = rule.limit
            times = self.emitted.setdefault(rule.index, deque())
            while times and times[0] <= now - window:
                times.popleft()
            if len(times) >= count:
                self.counters["suppressed_limit"] += 1
                return "limit"
            times.append(now)
        if rule.cooldown:
            self.cooldowns[(rule.index, directive.action_index, tuple(directive.targets))] = now + rule.cooldown
        return ""

    # ---- snapshot ----
    def snapshot(self) -> dict[str, Any]:
        return {
            "policy": self.policy.name,
            "newest": self.newest if math.isfinite(self.newest) else None,
            "seen": [[k, v] for k, v in self.seen.items()],
            "sequences": [[k, v] for k, v in self.sequences.items()],
            "keys": [
                {
                    "grouping": g,
                    "key": list(values),
                    "last_seen": key.last_seen if math.isfinite(key.last_seen) else None,
                    "event": key.event,
                    "series": [
                        [list(path), s.to_json()]
                        for (_, path, _, _), s in zip(self.fields[self.groupings[g]], key.series, strict=True)
                        if s is not None
                    ],
                    "rules": [[i, st.to_json()] for i, st in sorted(key.rules.items())],
                    **({"stale": True} if key.stale else {}),
                }
                for (g, values), key in self.keys.items()
            ],
            "cooldowns": [[r, a, list(t), until] for (r, a, t), until in self.cooldowns.items()],
            "emitted": [[r, list(times)] for r, times in sorted(self.emitted.items())],
            "counters": dict(self.counters),
            # what the indices above refer to: a restore into another version maps them by name
            "groupings": [list(g) for g in self.groupings],
            "rule_names": [rule.name for rule in self.policy.rules],
        }

    def restore(self, data: Mapping[str, Any]) -> None:
        self.newest = data["newest"] if data["newest"] is not None else -math.inf
        self.seen = {_hashable(k): v for k, v in data["seen"]}
        self.sequences = {k: v for k, v in data["sequences"]}
        self.keys = {}
        self.seen_floor = -math.inf  # the next idle sweep visits every key, and sets it
        fields = [self.fields[g] for g in self.groupings]
        where = [{path: (i, keep) for i, path, _, keep in f} for f in fields]  # path → (index, retention)
        # The snapshot may come from another version of the policy: its groupings and rules are
        # found again by their fields and names (older snapshots name neither: same layout).
        old_groupings = [tuple(g) for g in data.get("groupings", [list(g) for g in self.groupings])]
        names = {rule.name: i for i, rule in enumerate(self.policy.rules)}
        old_names = data.get("rule_names", [rule.name for rule in self.policy.rules])
        rule_at = {old: names[name] for old, name in enumerate(old_names) if name in names}
        for item in data["keys"]:
            grouping = old_groupings[item["grouping"]]
            if grouping not in self.groupings:  # no rule of this version keys by these fields
                continue
            g = self.groupings.index(grouping)
            key = _Key(len(fields[g]))
            key.last_seen = item["last_seen"] if item["last_seen"] is not None else -math.inf
            key.event = item["event"]
            key.stale = item.get("stale", False)
            for path, samples in item["series"]:
                # a field no aggregate of this policy reads has no history to continue
                if tuple(path) in where[g]:
                    i, keep = where[g][tuple(path)]
                    key.series[i] = Series.from_json(samples, keep)
            key.rules = {rule_at[int(i)]: _RuleState.from_json(st) for i, st in item["rules"] if int(i) in rule_at}
            self.keys[(g, tuple(item["key"]))] = key
        self.cooldowns = {(rule_at[r], a, tuple(t)): until for r, a, t, until in data["cooldowns"] if r in rule_at}
        self.emitted = {rule_at[r]: deque(times) for r, times in data["emitted"] if r in rule_at}
        self.counters.update(data["counters"])
        self._reconcile()

    def _reconcile(self) -> None:
        """Re-derive the restored rule states under this version's time clauses, as Prometheus
        does on a reload: a firing rule whose condition has not yet held for the (new) `for`
        is pending again, a pending one fires at its next step once it has; `keep` and `repeat`
        count from the restored times with the new durations."""
        timed = {rule.index: rule for rule in self.timed}
        for (g, _), key in self.keys.items():
            for index, state in list(key.rules.items()):
                rule = timed.get(index)
                if rule is None or rule.group_by != self.groupings[g]:
                    del key.rules[index]  # no longer a rule of this key: nothing to carry
                    continue
                if not rule.edge:  # now a level rule: it fires per event, a firing state would pin the key
                    state.firing, state.since, state.clear_at, state.issued = False, None, None, None
                    continue
                if state.firing and state.since is not None and self.newest - state.since < rule.hold:
                    state.firing, state.issued = False, None
                    self.deferred.append((rule, key, "pending"))
                if not rule.repeat:
                    state.issued = None
                elif state.firing and state.issued is None:
                    state.issued = self.newest  # newly repeating: the first repeat is one period on

    def _flush_deferred(self, result: Result) -> None:
        """Report the state changes `restore` made (it has no result of its own to put them in)."""
        for rule, key, state in self.deferred:
            self._state_event(rule, key.event, state, self.newest, result, reason="restore")
        self.deferred = []


class _Context(dict):  # type: ignore[type-arg]
    """The event plus its key's aggregates, each computed the first time a condition reads it:
    a rule whose condition short-circuits, or an exit condition not yet due, costs nothing."""

    __slots__ = ("_now", "_reads", "_series", "read_no_data")

    def __init__(
        self,
        event: Mapping[str, Any],
        reads: Mapping[str, tuple[int, Callable[[Series | None, float], Any]]],
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
        index, compute = read
        value = compute(self._series[index], self._now)
        if value is None:
            self.read_no_data = True
        self[slot] = value
        return value

    def frozen(self, slots: Mapping[str, IR]) -> dict[str, Any]:
        out = {k: v for k, v in self.items() if not k.startswith("@") or k == "@now"}
        for slot in slots:
            out[slot] = self[slot]
        return out


def _lookup(data: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = data
    for part in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


class Engine:
    """Stateful evaluation of a policy set in event time; see the module docstring."""

    def __init__(
        self, policies: PolicySet, *, queue: DirectiveQueue | None = None, audit: AuditLog | None = None
    ) -> None:
        """`queue`: directives also go through this bounded priority queue (coalesced, back-pressured;
        what it merges or drops is reported as events). `audit`: every directive and audited event
        is written to this log."""
        if not isinstance(policies, PolicySet):
            raise UsageError(
                f"an Engine runs a PolicySet (from ballast.load or ballast.compile), got {type(policies).__name__}"
            )
        self.policies = policies
        self.queue = queue
        self.audit = audit
        self._engines = [_PolicyEngine(p, p.timing_ir) for p in policies.policies]
        self._threats = [ThreatEngine(t) for t in policies.threats]
        self._latencies: deque[float] = deque(maxlen=10_000)
        self._by_input: dict[str, list[_PolicyEngine]] = {}

    def process(self, event: Any, input: str | None = None) -> Result:
        """Decisions for one event; never raises for a bad, late or duplicate event."""
        started = time.perf_counter()
        result = Result()
        self._evaluate(event, self._select(input), self._threats_of(input), result)
        _order(result)
        self._deliver(result, (time.perf_counter() - started) * 1000)
        return result

    def process_many(self, events: Iterable[Any], input: str | None = None) -> list[tuple[int, Result]]:
        """Decisions for a batch of events, in order: exactly what `process` gives for each, but
        only for the events that produced something (directives, errors or engine events), as
        `(index in the batch, result)`. For hosts that read telemetry in batches (a bus poll, a
        simulator tick): the per-call work is done once per batch."""
        engines, threats = self._select(input), self._threats_of(input)
        clock = time.perf_counter
        out: list[tuple[int, Result]] = []
        result = Result()
        for index, event in enumerate(events):
            started = clock()
            self._evaluate(event, engines, threats, result)
            if result.directives or result.errors or result.events:
                _order(result)
                self._deliver(result, (clock() - started) * 1000)
                out.append((index, result))
                result = Result()
        return out

    @staticmethod
    def _evaluate(event: Any, engines: list[_PolicyEngine], threats: list[ThreatEngine], result: Result) -> None:
        for engine in engines:
            try:
                engine.process(event, result)
            except Exception as exc:  # a Ballast bug must not take its host down: report it
                result.errors.append(
                    Problem(
                        "internal",
                        engine.policy.name,
                        f"internal error: {exc!r}",
                        hint="please report this event and bundle",
                    )
                )
        for threat in threats:
            _update_threat(threat, event, result)

    def _threats_of(self, input: str | None) -> list[ThreatEngine]:
        if input is None:
            return self._threats
        return [t for t in self._threats if t.input_name == input]

    @property
    def threats(self) -> dict[str, ThreatEngine]:
        """The threat engines by name: their `index`, `mode` and `allows_pause(cls)`."""
        return {t.name: t for t in self._threats}

    def advance(self, until: float) -> Result:
        """What time alone triggers up to `until` (epoch seconds): completed `for`s, expired `keep`s, `absent()`."""
        if isinstance(until, bool) or not isinstance(until, int | float) or not math.isfinite(until):
            raise UsageError(f"advance() takes an event time in epoch seconds, got {until!r}")
        started = time.perf_counter()
        result = Result()
        for engine in self._engines:
            try:
                engine.advance(float(until), result)
            except Exception as exc:
                result.errors.append(
                    Problem("internal", engine.policy.name, f"internal error: {exc!r}", hint="please report this")
                )
        _order(result)
        self._deliver(result, (time.perf_counter() - started) * 1000)
        return result

    def _deliver(self, result: Result, latency_ms: float) -> None:
        """Record the breach-to-directive latency; feed the queue and the audit log."""
        if not result.directives and not result.events:
            return
        times = [e.newest for e in self._engines if math.isfinite(e.newest)]
        now = max(times) if times else 0.0  # policies without event time: the queue's clock stands still
        self._latencies.extend(latency_ms for _ in result.directives)
        if self.queue is not None:
            for directive in result.directives:
                offered = self.queue.offer(directive, now)
                if offered.outcome == "queued" and offered.dropped is None:
                    continue
                held = offered.dropped if offered.dropped is not None else directive
                result.events.append(
                    {
                        "type": "Coalesced" if offered.outcome == "coalesced" else "Dropped",
                        "policy": held.policy,
                        "rule": held.rule,
                        "action": held.action,
                        "targets": held.targets,
                        "by": "queue",
                        "time": iso(now),
                    }
                )
        if self.audit is not None:
            self.audit.record(result, iso(now) if times else None, lambda d: round(latency_ms, 3))

    @property
    def latency_ms(self) -> dict[str, float]:
        """Breach-to-directive latency (wall clock, ms) over the last 10,000 directives."""
        values = sorted(self._latencies)
        if not values:
            return {}

        def pick(q: float) -> float:
            return values[min(len(values) - 1, int(q * len(values)))]

        return {"count": len(values), "p50": pick(0.50), "p95": pick(0.95), "p99": pick(0.99), "max": values[-1]}

    @property
    def stats(self) -> dict[str, dict[str, int]]:
        """Counters per policy: events, late, duplicates, gaps, no_data, suppressed, expired keys, keys."""
        return {e.policy.name: {**e.counters, "keys": len(e.keys)} for e in self._engines}

    def snapshot(self) -> dict[str, Any]:
        """The whole state as JSON-able data; `Engine.restore` continues exactly from it."""
        with _collector_paused():  # a million small lists would trigger full collections
            return {
                "format": SNAPSHOT_FORMAT,
                "policies": [e.snapshot() for e in self._engines],
                "threats": [t.snapshot() for t in self._threats],
            }

    @classmethod
    def restore(cls, policies: PolicySet, snapshot: Mapping[str, Any]) -> Engine:
        """An engine that makes exactly the decisions the snapshotted one would have made."""
        if not isinstance(snapshot, Mapping) or snapshot.get("format") != SNAPSHOT_FORMAT:
            raise UsageError(f"not an engine snapshot (expected format {SNAPSHOT_FORMAT!r})")
        engine = cls(policies)
        names = [e.policy.name for e in engine._engines]
        stored = {p["policy"]: p for p in snapshot["policies"]}
        if sorted(stored) != sorted(names):
            raise UsageError(f"the snapshot is of policies {sorted(stored)}, this set has {sorted(names)}")
        with _collector_paused():
            for e in engine._engines:
                e.restore(stored[e.policy.name])
        threats = snapshot.get("threats", [])
        if len(threats) != len(engine._threats):
            raise UsageError(
                f"the snapshot holds {len(threats)} threat states, this set has {len(engine._threats)} threats"
            )
        engine._threats = [ThreatEngine.restore(ir, state) for ir, state in zip(policies.threats, threats, strict=True)]
        return engine

    def _select(self, input: str | None) -> list[_PolicyEngine]:
        if input is None:
            return self._engines
        chosen = self._by_input.get(input)  # a host sends millions of events to a few inputs
        if chosen is not None:
            return chosen
        chosen = [e for e in self._engines if e.policy.input_name == input]
        if not chosen and not any(t.input_name == input for t in self._threats):
            raise UsageError(
                f"no policy or threat in this set reads the input {input!r}; inputs are {', '.join(self.policies.inputs)}"
            )
        self._by_input[input] = chosen
        return chosen


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building or reading a large state: the objects
    made are acyclic, and full collections over them cost four times the work itself."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _update_threat(threat: ThreatEngine, event: Any, result: Result) -> None:
    """Fold an event into a threat engine; its update and any mode change become events."""
    try:
        update = threat.update_event(event)
    except EvaluationError as exc:
        result.errors.append(
            Problem("invalid-event", threat.name, str(exc), field=exc.field, hint="the ThreatIndex did not change")
        )
        return
    except UsageError as exc:
        result.errors.append(Problem("late-event", threat.name, str(exc), hint="the ThreatIndex did not change"))
        return
    result.events.append(
        {"type": "ThreatIndexUpdated", "threat": threat.name, **update.to_dict(), "time": iso(update.time)}
    )
    if update.changed:
        result.events.append(
            {
                "type": "ModeChanged",
                "threat": threat.name,
                "time": iso(update.time),
                "index": update.index,
                "mode": update.mode,
                "previous_mode": update.previous_mode,
            }
        )


def _order(result: Result) -> None:
    if len(result.directives) > 1:
        result.directives.sort(key=lambda d: -d.priority)


__all__ = ["Engine", "describe_fault"]
