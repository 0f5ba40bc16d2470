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
from typing import Any

from ballast.runtime.audit import AuditLog
from ballast.runtime.batch import TrustedEvents
from ballast.runtime.enforcement import hold_back
from ballast.runtime.errors import EvaluationError, UsageError
from ballast.runtime.events import Coalesced, Dropped, ModeChanged, Stale, ThreatIndexUpdated
from ballast.runtime.flow import DirectiveQueue
from ballast.runtime.history_codec import HistoryFormatError, pack_histories, unpack_histories
from ballast.runtime.interpret import describe_fault
from ballast.runtime.ir import IR
from ballast.runtime.keys import Context, Grouping, Key, KeyTable, RuleStatus
from ballast.runtime.limits import Limits
from ballast.runtime.policy import CompiledPolicy, PolicySet, Problem, Result
from ballast.runtime.reload import KEPT, ReloadReport, plan_reload
from ballast.runtime.rules import RuleMachine, TimedRule
from ballast.runtime.stream import Stream
from ballast.runtime.threat import ThreatEngine
from ballast.runtime.values import iso
from ballast.runtime.windows import Series

SNAPSHOT_FORMAT = "ballast-engine-state/3"
# Formats `Engine.restore` reads: version 1 kept each sample as a [time, value] pair, version 2
# each series as two lists of numbers (times, values), and every rule state of every key.
_READABLE_FORMATS = ("ballast-engine-state/1", "ballast-engine-state/2", SNAPSHOT_FORMAT)
_IDLE_CHECK_EVERY = 1024  # events between sweeps for idle keys, and between prunings of ids and cooldowns


class _PolicyEngine:
    """One policy in an Engine: its stream, keys, rule machine, limits and counters."""

    def __init__(self, policy: CompiledPolicy, ir: IR) -> None:
        self.policy = policy
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
        self.stream = Stream(ir.get("stream") or {}, policy.name, self.counters)
        self.limits = Limits(self.counters)
        timed = policy.timed_rules
        if timed is None or ir is not policy.timing_ir:
            timed = [TimedRule(policy, r) for r in ir["rules"] if "state" in r]
            if ir is policy.timing_ir:
                policy.timed_rules = timed
        self.machine = RuleMachine(policy, timed, self.limits, self.counters)
        self.table = KeyTable(self.machine.aggregates(), self.stream.lateness)
        self.groupings: list[Grouping] = self.machine.groupings
        self.reads = self.table.reads
        # a policy whose rules all have time clauses has nothing for `decide` (the stateless matcher)
        self.stateless = len(self.machine.timed) < len(policy.rules)
        # the rules `decide` evaluates (those without time clauses), by index
        self.plain = frozenset(range(len(policy.rules))) - {rule.index for rule in self.machine.timed}
        self.deferred: list[tuple[TimedRule, Key, str]] = []  # state changes made by `restore`

    @property
    def newest(self) -> float:
        """The newest event time seen (or advanced to); -inf before the first."""
        return self.stream.newest

    @property
    def keys(self) -> dict[tuple[int, tuple[Any, ...]], Key]:
        """Every key, by (grouping index, values)."""
        return self.table.keys

    # ---- events ----
    def process(self, event: Any, result: Result, checked: bool = False, quiet: frozenset[int] | None = None) -> None:
        """Evaluate one event; `checked`: it is known to pass the schema unchanged (a trusted batch).

        `quiet`: the indices of rules proven to do nothing on this event (`Engine.absorb`): rules
        whose condition is false without a fault or a read of no data (`RuleMachine.unquiet`
        says which it skips), and rules without
        time clauses that neither fire nor fault. They are not evaluated; everything else (the
        stream, the key's histories, its last event, staleness, expiry, counters) is as for any
        event."""
        if self.deferred:
            self._flush_deferred(result)
        policy = self.policy
        data = event if checked else policy.prepare(event, result)
        if data is None:
            return
        self.counters["events"] += 1
        stream = self.stream
        if not stream.time_field:
            if quiet is None or not self.plain <= quiet:
                policy.decide(data, result)
            return
        t = stream.admit(data, result)
        if t is None:
            return
        if self.stateless and (quiet is None or not self.plain <= quiet):
            policy.decide(data, result)
        table, machine, newest = self.table, self.machine, stream.newest
        reads, stale_after = table.reads, stream.stale_after
        frozen: dict[str, Any] | None = None  # keys keep a copy: the host may reuse or change its dict
        for g_index, g in enumerate(self.groupings):
            key = table.get(g_index, g, data)
            # silent since before this event? (the test of _check_stale, here: it runs per event)
            if not key.stale and newest - key.last_seen > stale_after:
                self._check_stale(g, key, newest, result)
            table.record(g, key, data, t, newest)
            if t >= key.last_seen:
                if frozen is None:
                    frozen = policy.freeze(data)
                table.seen(key, frozen, t)
            if quiet is None:
                machine.step(g, key, reads[g], newest, result, from_event=True)
            else:
                rules = machine.unquiet(g, key, quiet)
                if rules:
                    machine.step(g, key, reads[g], newest, result, from_event=True, rules=rules)
        if self.counters["events"] % _IDLE_CHECK_EVERY == 0:
            self._expire()
        # tested here, not in the callees: two calls per event would cost more than the rare pruning
        if stream.id_field and len(stream.seen) > 4 * _IDLE_CHECK_EVERY:
            stream.prune()
        if len(self.limits.cooldowns) > 4 * _IDLE_CHECK_EVERY:
            self.limits.prune(newest)

    def advance(self, now: float, result: Result) -> None:
        if self.deferred:
            self._flush_deferred(result)
        if not self.stream.time_field or now < self.stream.newest:
            return
        self.stream.newest = now
        for (g_index, _), key in list(self.table.keys.items()):
            grouping = self.groupings[g_index]
            self._check_stale(grouping, key, now, result)
            self.machine.step(grouping, key, self.table.reads[grouping], now, result, from_event=False)
        self._expire()

    def _expire(self) -> None:
        if self.stream.idle:
            self.counters["expired_keys"] += self.table.expire(self.stream.newest - self.stream.idle)

    def _check_stale(self, grouping: Grouping, key: Key, now: float, result: Result) -> None:
        """Mark the key stale once its last event is more than `stale after` older than now: report
        it, resolve its firing rules with the reason `stale` and forget their pending ones."""
        if key.stale or now - key.last_seen <= self.stream.stale_after or key.last_seen == -math.inf:
            return
        key.stale = True
        result.events.append(Stale(self.policy.name, {f: key.event.get(f) for f in grouping}, key.last_seen, now))
        self.machine.resolve_stale(grouping, key, now, result)

    # ---- snapshot ----
    def snapshot(self, *, live: bool = False) -> dict[str, Any]:
        """The state as JSON: each key's histories packed into one string (`history_codec`);
        `live` (a hot reload) leaves each history as its Series, which `restore` copies without
        packing."""
        stream, table = self.stream, self.table
        cooldowns, emitted = self.limits.to_json()
        return {
            "policy": self.policy.name,
            "newest": stream.newest if math.isfinite(stream.newest) else None,
            "seen": [[k, v] for k, v in stream.seen.items()],
            "sequences": [[k, v] for k, v in stream.sequences.items()],
            "keys": [self._key_state(g, values, key, live) for (g, values), key in table.keys.items()],
            "cooldowns": cooldowns,
            "emitted": emitted,
            "counters": dict(self.counters),
            # what the indices above refer to: a restore into another version maps them by name
            "groupings": [list(g) for g in self.groupings],
            "fields": [[list(path) for _, path, _, _ in table.fields[g]] for g in self.groupings],
            "rule_names": [rule.name for rule in self.policy.rules],
        }

    def _key_state(self, g: int, values: tuple[Any, ...], key: Key, live: bool) -> dict[str, Any]:
        """One key in a snapshot. A rule still in its initial state is left out: most rules of
        most keys are, and `restore` makes them again on their first step."""
        state: dict[str, Any] = {
            "grouping": g,
            "key": list(values),
            "last_seen": key.last_seen if math.isfinite(key.last_seen) else None,
            "event": key.event,
        }
        series = key.series
        if live:
            paths = self.table.fields[self.groupings[g]]
            state["series"] = [
                [list(path), s] for (_, path, _, _), s in zip(paths, series, strict=True) if s is not None
            ]
        elif any(s is not None for s in series):
            state["histories"] = pack_histories(series)
            ewma = [[i, sorted(s.ewma.items())] for i, s in enumerate(series) if s is not None and s.ewma]
            if ewma:
                state["ewma"] = [[i, [list(pair) for pair in pairs]] for i, pairs in ewma]
        rules = [[i, st.to_json()] for i, st in sorted(key.rules.items()) if not st.initial]
        if rules:
            state["rules"] = rules
        if key.stale:
            state["stale"] = True
        return state

    def restore(self, data: Mapping[str, Any]) -> None:
        stream, table = self.stream, self.table
        stream.newest = data["newest"] if data["newest"] is not None else -math.inf
        stream.seen = {_hashable(k): v for k, v in data["seen"]}
        stream.sequences = {k: v for k, v in data["sequences"]}
        table.keys = {}
        table.seen_floor = -math.inf  # the next idle sweep visits every key, and sets it
        fields = [table.fields[g] for g in self.groupings]
        where = [{path: (i, keep) for i, path, _, keep in f} for f in fields]  # path → (index, retention)
        # The snapshot may come from another version of the policy: its groupings and rules are
        # found again by their fields and names (older snapshots name neither: same layout).
        old_groupings = [tuple(g) for g in data.get("groupings", [list(g) for g in self.groupings])]
        names = {rule.name: i for i, rule in enumerate(self.policy.rules)}
        old_names = data.get("rule_names", [rule.name for rule in self.policy.rules])
        rule_at = {old: names[name] for old, name in enumerate(old_names) if name in names}
        # where each field of the snapshot's groupings is in this version's (None: no aggregate reads it)
        packed = [
            [where[self.groupings.index(og)].get(tuple(p)) if og in self.groupings else None for p in paths]
            for og, paths in zip(old_groupings, data.get("fields", ()), strict=False)
        ]
        for item in data["keys"]:
            grouping = old_groupings[item["grouping"]]
            if grouping not in self.groupings:  # no rule of this version keys by these fields
                continue
            g = self.groupings.index(grouping)
            key = Key(len(fields[g]))
            key.last_seen = item["last_seen"] if item["last_seen"] is not None else -math.inf
            key.event = item["event"]
            key.stale = item.get("stale", False)
            if "histories" in item:
                self._unpack(item, packed[item["grouping"]], key)
            for path, samples in item.get("series", ()):
                # a field no aggregate of this policy reads has no history to continue
                if tuple(path) in where[g]:
                    i, keep = where[g][tuple(path)]
                    carried = isinstance(samples, Series)
                    key.series[i] = samples.carried(keep) if carried else Series.from_json(samples, keep)
            key.rules = {
                rule_at[int(i)]: RuleStatus.from_json(st) for i, st in item.get("rules", ()) if int(i) in rule_at
            }
            table.keys[(g, tuple(item["key"]))] = key
        self.limits.restore(data["cooldowns"], data["emitted"], rule_at)
        self.counters.update(data["counters"])
        self.deferred.extend(self.machine.reconcile(table.keys, stream.newest))

    @staticmethod
    def _unpack(item: Mapping[str, Any], layout: list[tuple[int, float] | None], key: Key) -> None:
        """A version-3 key's packed histories into `key`, each field to where this version keeps
        it (`layout`: per field of the snapshot, (index, retention) here, or None)."""
        try:
            histories = unpack_histories(item["histories"], [0.0] * len(layout))
        except HistoryFormatError as exc:
            raise UsageError(f"not an engine snapshot: {exc}") from None
        ewma = {int(i): {float(a): float(v) for a, v in pairs} for i, pairs in item.get("ewma", ())}
        for old, (series, place) in enumerate(zip(histories, layout, strict=True)):
            if series is None or place is None:
                continue
            i, keep = place
            series.retention = keep
            series.ewma = ewma.get(old) or None
            key.series[i] = series

    def _flush_deferred(self, result: Result) -> None:
        """Report the state changes `restore` made (it has no result of its own to put them in)."""
        for rule, key, state in self.deferred:
            self.machine.report(rule, key.event, state, self.stream.newest, result, reason="restore")
        self.deferred = []


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
        self._observers = 0  # `observing` blocks open: every event must then be evaluated
        self._by_input: dict[str, list[_PolicyEngine]] = {}

    def process(self, event: Any, input: str | None = None) -> Result:
        """Decisions for one event; never raises for a bad, late or duplicate event."""
        started = time.perf_counter()
        result = Result()
        if input is None:  # the usual call: every policy and threat
            self._evaluate(event, self._engines, self._threats, result)
        else:
            self._evaluate(event, self._select(input), self._threats_of(input), result)
        if result.directives or result.events:  # else there is nothing to order or deliver
            _order(result)
            self._deliver(result, (time.perf_counter() - started) * 1000)
        return result

    def absorb(
        self, event: Any, quiet: Mapping[str, frozenset[int]], input: str | None = None, *, checked: bool = False
    ) -> Result:
        """`process(event, input)` for an event on which the rules `quiet[policy]` (by index in
        their policy) are proven to do nothing: the event is checked, admitted and recorded in
        its keys' histories exactly as by `process`, and only those rules are not evaluated. The
        columnar replay proves them over whole columns (`ballast.compiler.columnar.window`); the
        result is then `process`'s. An edge rule (`for`, `keep`, `repeat`, `enter`/`exit`:
        `quiet` then speaks of its entry condition) is skipped only where its state for the
        event's key is idle. `checked`: the
        event is what every policy's schema check makes of it (validated and normalized by the
        caller), so it is not checked again."""
        started = time.perf_counter()
        result = Result()
        engines = self._engines if input is None else self._select(input)
        for engine in engines:
            try:
                engine.process(event, result, checked, quiet.get(engine.policy.name))
            except Exception as exc:  # a Ballast bug must not take its host down: report it
                result.errors.append(_internal_error(engine, exc))
        for threat in self._threats_of(input):
            _update_threat(threat, event, result)
        if result.directives or result.events:
            _order(result)
            self._deliver(result, (time.perf_counter() - started) * 1000)
        return result

    def process_many(self, events: Iterable[Any], input: str | None = None) -> list[tuple[int, Result]]:
        """Decisions for a batch of events, in order: exactly what `process` gives for each, but
        only for the events that produced something (directives, errors or engine events), as
        `(index in the batch, result)`. For hosts that read telemetry in batches (a bus poll, a
        simulator tick): the per-call work is done once per batch.

        Every event is checked against its policy's input schema, unless `events` is a
        `TrustedEvents` batch whose column summaries prove the whole batch valid for that schema
        (`ballast.runtime.batch`): the decisions are the same either way."""
        engines, threats = self._select(input), self._threats_of(input)
        # A trusted batch is checked once per policy schema; what it cannot prove is checked per event.
        checked = (
            [events.satisfies(e.policy.fields, e.policy.check) for e in engines]
            if isinstance(events, TrustedEvents)
            else [False] * len(engines)
        )
        # _evaluate, inlined: a tick of the simulator is a thousand events
        steps = [(engine, engine.process, proven) for engine, proven in zip(engines, checked, strict=True)]
        clock = time.perf_counter
        out: list[tuple[int, Result]] = []
        result = Result()
        for index, event in enumerate(events):
            started = clock()
            for engine, process, proven in steps:
                try:
                    process(event, result, proven)
                except Exception as exc:  # a Ballast bug must not take its host down: report it
                    result.errors.append(_internal_error(engine, exc))
            for threat in threats:
                _update_threat(threat, event, result)
            if result.directives or result.errors or result.events:
                _order(result)
                self._deliver(result, (clock() - started) * 1000)
                out.append((index, result))
                result = Result()
        return out

    def counts_quiet(self, input: str) -> bool:
        """Whether `count_quiet` applies to `input`: no threat reads it, and every policy reading
        it has no event time, no rule with a time clause and no observer (`observing`). For such
        a policy, processing an event on which no rule fires, faults or reports anything only
        counts it."""
        if self._observers or self._threats_of(input):
            return False
        return all(
            not e.stream.time_field and not e.machine.timed and not e.deferred for e in self._select(input)
        )

    def count_quiet(self, count: int, input: str) -> None:
        """`process` of `count` events of `input` that are proven quiet in every policy reading it:
        each passes its policy's schema unchanged, and no rule fires, faults or reports anything
        on it (a columnar screen proves that over whole columns: `ballast.compiler.columnar`).
        What processing them would do is counting them; so does this. Raises UsageError where
        `counts_quiet(input)` is false (processing does more there) or for a negative count."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise UsageError(f"count_quiet() takes a number of events, 0 or more; got {count!r}")
        if not self.counts_quiet(input):
            raise UsageError(
                f"the input {input!r} is read by a threat or by a policy with event time, time clauses or an "
                "observer: each of its events must be processed"
            )
        for engine in self._select(input):
            engine.counters["events"] += count

    @staticmethod
    def _evaluate(event: Any, engines: list[_PolicyEngine], threats: list[ThreatEngine], result: Result) -> None:
        for engine in engines:
            try:
                engine.process(event, result)
            except Exception as exc:  # a Ballast bug must not take its host down: report it
                result.errors.append(_internal_error(engine, exc))
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
        if not result.directives and not result.events and not result.held:
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
                kind = Coalesced if offered.outcome == "coalesced" else Dropped
                result.events.append(kind(held.policy, held.rule, held.action, held.targets, "queue", now))
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

    @contextlib.contextmanager
    def observing(
        self,
        on_decide: Callable[[int, Mapping[str, Any]], None] | None = None,
        on_condition: Callable[[int, int, Mapping[str, Any]], None] | None = None,
    ) -> Iterator[None]:
        """Watch what the rules are evaluated on, for tools such as `ballast test --coverage`.

        Inside the block, `on_decide(policy, event)` is called with every event the stateless
        rules of the `policy`-th policy decide on, and `on_condition(policy, rule, context)` before
        every evaluation of the condition of a timed rule (`rule` indexes the policy's rules;
        `context` is the event with the window values the condition reads). Observers must not
        change what they are given. Leaving the block removes them; decisions are unchanged.
        """
        undo: list[Callable[[], None]] = []
        self._observers += 1
        try:
            for number, engine in enumerate(self._engines):
                if on_decide is not None:
                    undo.append(_observe_decide(engine.policy, number, on_decide))
                if on_condition is not None:
                    undo.append(_observe_conditions(engine.machine, number, on_condition))
            yield
        finally:
            for restore in reversed(undo):
                restore()
            self._observers -= 1

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
        if not isinstance(snapshot, Mapping) or snapshot.get("format") not in _READABLE_FORMATS:
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

    def reload(self, policies: PolicySet, *, commit: Callable[[ReloadReport], None] | None = None) -> ReloadReport:
        """Run `policies` from now on, keeping the state of every timed rule and threat whose
        state shape did not change (runtime/reload.py says what the shape is) and starting the
        others over; returns what happened to each.

        The new state is built first; `commit(report)`, when given, is called before it replaces
        the old, and if it raises the engine is unchanged (PolicyStore writes its ledger entry
        there). Like `process`, not thread-safe: call it between events (PolicyStore holds a lock).
        """
        if not isinstance(policies, PolicySet):
            raise UsageError(f"reload() takes a PolicySet (from ballast.load), got {type(policies).__name__}")
        report = plan_reload(self.policies, policies)
        kept = {(c.policy, c.name) for c in report.carries if c.state == KEPT}
        fresh = Engine(policies)
        before = {e.policy.name: e for e in self._engines}
        with _collector_paused():
            for engine in fresh._engines:
                old = before.get(engine.policy.name)
                if old is not None:  # its stream position, histories and kept rules' states carry over
                    state = old.snapshot(live=True)
                    state["rule_names"] = [n if (engine.policy.name, n) in kept else None for n in state["rule_names"]]
                    engine.restore(state)
        threats = {t.name: t for t in self._threats}
        carried = []
        for ir, threat in zip(policies.threats, fresh._threats, strict=True):
            old_threat = threats.get(threat.name)
            if ("", threat.name) in kept and old_threat is not None:
                threat = ThreatEngine.restore(ir, {**old_threat.snapshot(), "fingerprint": threat.fingerprint})
            carried.append(threat)
        if commit is not None:
            commit(report)
        # the swap: each assignment is atomic, and the caller runs no event meanwhile
        self.policies, self._engines, self._threats, self._by_input = policies, fresh._engines, carried, {}
        return report

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


def _observe_decide(
    policy: CompiledPolicy, number: int, observer: Callable[[int, Mapping[str, Any]], None]
) -> Callable[[], None]:
    # An instance attribute shadows the class's method; deleting it restores the method.
    original = policy.decide

    def decide(data: Any, result: Result) -> None:
        observer(number, data)
        original(data, result)

    policy.decide = decide  # type: ignore[method-assign]
    return lambda: delattr(policy, "decide")


def _observe_conditions(
    machine: RuleMachine, number: int, observer: Callable[[int, int, Mapping[str, Any]], None]
) -> Callable[[], None]:
    def watch(rule: TimedRule, aug: Context) -> None:
        observer(number, rule.index, aug)

    machine.watch = watch

    def restore() -> None:
        machine.watch = None

    return restore


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


def _internal_error(engine: _PolicyEngine, exc: Exception) -> Problem:
    """What an exception from inside a policy's evaluation (a bug in Ballast) becomes."""
    return Problem(
        "internal", engine.policy.name, f"internal error: {exc!r}", hint="please report this event and bundle"
    )


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
    result.events.append(ThreatIndexUpdated(threat.name, update))
    if update.changed:
        result.events.append(ModeChanged(threat.name, update.time, update.index, update.mode, update.previous_mode))


def _order(result: Result) -> None:
    if len(result.directives) > 1:
        result.directives.sort(key=lambda d: -d.priority)
    if result.directives:
        hold_back(result)  # warn and dryrun rules: computed, reported apart, not issued


__all__ = ["SNAPSHOT_FORMAT", "Engine", "describe_fault", "iso"]
