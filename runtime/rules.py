"""The rule state machine: how a key's rules with time clauses move, and what they emit.

* **Edge rules** (with `for`, `keep`, `enter`/`exit` or `repeat`) go inactive → pending →
  firing → resolved. They emit their directives on entering `firing` (and, with `repeat every
  D`, again every D while the condition holds), and report each change as a `RuleState` event:
  `pending` when the condition starts to hold under a `for`, `firing` once it has held for the
  `for`, `resolved` once it has stopped holding for the `keep`. With `exit when`, a firing rule
  resolves when the exit condition holds, not when the entry condition stops (hysteresis).
* **Level rules** (window aggregates, `group by`, `cooldown` or `at most` only) emit on every
  event whose condition holds.
* **No data.** A condition reading an aggregate over an empty window cannot hold (counted as
  `no_data`); with hysteresis, the rule stays where it is.
* **Staleness.** A stale key's edge rules (except those reading `absent()`) resolve with the
  reason `stale`, and its last event no longer satisfies their conditions.
* Whatever a rule emits passes its cooldown and `at most` (`ballast.runtime.limits`) first; what
  they hold back is reported as `Suppressed`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ballast.runtime.codegen import compile_expression_function
from ballast.runtime.errors import EvaluationError
from ballast.runtime.events import RuleState, Suppressed
from ballast.runtime.ir import IR, slot_key, unparse, walk
from ballast.runtime.keys import Context, Grouping, Key, Read, RuleStatus
from ballast.runtime.limits import Limits
from ballast.runtime.policy import CompiledPolicy, Result


class TimedRule:
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


class RuleMachine:
    """Steps one policy's timed rules for a key; `counters` is the policy's (this counts `no_data`)."""

    def __init__(
        self, policy: CompiledPolicy, timed: list[TimedRule], limits: Limits, counters: dict[str, int]
    ) -> None:
        self.policy = policy
        self.timed = timed
        self.groupings: list[Grouping] = sorted({r.group_by for r in timed})
        self.by_grouping = {g: [r for r in timed if r.group_by == g] for g in self.groupings}
        self.limits = limits
        self.counters = counters
        # Called with (rule, context) before each evaluation of a rule's condition (`Engine.observing`).
        self.watch: Callable[[TimedRule, Context], None] | None = None

    def aggregates(self) -> dict[Grouping, dict[str, IR]]:
        """Per grouping (sorted), the aggregates its rules read, by slot."""
        return {g: {k: v for r in self.by_grouping[g] for k, v in r.aggregates.items()} for g in self.groupings}

    def step(
        self,
        grouping: Grouping,
        key: Key,
        reads: Mapping[str, Read],
        now: float,
        result: Result,
        *,
        from_event: bool,
        rules: list[TimedRule] | None = None,
    ) -> None:
        """Step the grouping's rules for `key` at `now`: after its event (`from_event`), or as
        time passes (then only edge rules and those reading `absent()` can move). `rules`: only
        these of the grouping's rules (`unquiet`), the others being proven not to hold."""
        if rules is None:
            rules = self.by_grouping[grouping]
        if not from_event and not any(r.edge or r.uses_absent for r in rules):
            return
        aug = Context(key.event, reads, key.series, now)
        states, stale, watch = key.rules, key.stale, self.watch
        for rule in rules:
            if not from_event and not (rule.edge or rule.uses_absent):
                continue
            if stale and not rule.uses_absent:  # its last event no longer counts
                continue
            state = states.get(rule.index)
            if state is None:
                state = states[rule.index] = RuleStatus()
            if watch is not None:
                watch(rule, aug)
            aug.read_no_data = False  # set again if this condition reads an empty window
            # Whether the condition holds (with hysteresis: entered and not yet exited). Inlined:
            # this runs for every rule of every event.
            entering = not state.active or not rule.hysteresis
            try:
                holds = (rule.enter if entering else rule.exit)(aug) is True  # type: ignore[misc]
            except EvaluationError as exc:
                if not aug.read_no_data:
                    self.policy.report_fault(result, rule.index, exc, "the rule's state did not change for this event")
                    continue
                # An aggregate the condition read had no samples: no evidence either way.
                self.counters["no_data"] += 1
                active = False if not rule.hysteresis else state.active
            else:
                active = state.active = holds if entering else not holds
            if not rule.edge:
                if active:
                    self.emit(rule, aug, now, result)
            elif active or state.firing or state.since is not None:  # else inactive and idle: nothing moves
                self._transition(rule, state, active, aug, now, result)

    def unquiet(self, grouping: Grouping, key: Key, quiet: frozenset[int]) -> list[TimedRule]:
        """The grouping's rules to step for `key` after an event on which the rules `quiet` (by
        index) are proven to have a false condition, without a fault or a read of no data.

        A level rule's step would then only leave it inactive (what is done here). An edge rule
        (`for`, `keep`, `repeat`, or `enter`/`exit`, whose `quiet` is about its entry condition)
        is skipped only where its state is idle (never held, or resolved): there a false entry
        condition moves nothing. Wherever it is pending, firing, keeping or entered, it is
        stepped: how far its clock ran, and its exit condition, are the Engine's to say. A rule
        reading `absent()` is skipped the same way (a false condition moves it as it moves any
        rule); the silence it waits for is stepped by `advance`, which `quiet` does not touch."""
        states = key.rules
        out = []
        for rule in self.by_grouping[grouping]:
            if rule.index not in quiet:
                out.append(rule)
                continue
            state = states.get(rule.index)
            if not rule.edge:
                if state is None:
                    state = states[rule.index] = RuleStatus()
                state.active = False
            elif state is not None and not state.initial:
                out.append(rule)
        return out

    def _transition(
        self, rule: TimedRule, state: RuleStatus, active: bool, aug: Context, now: float, result: Result
    ) -> None:
        if active:
            state.clear_at = None
            if state.since is None:
                state.since = now
                if rule.hold and not state.firing:
                    self.report(rule, aug, "pending", now, result)
            if not state.firing and now - state.since >= rule.hold:
                state.firing = True
                self.report(rule, aug, "firing", now, result)
                self.emit(rule, aug, now, result)
                if rule.repeat:
                    state.issued = now
            elif state.firing and rule.repeat and now - (state.issued or now) >= rule.repeat:
                state.issued = now  # due again: the cooldown and `at most` still decide what goes out
                self.emit(rule, aug, now, result)
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
        self.report(rule, aug, "resolved", now, result)

    def report(
        self, rule: TimedRule, event: Mapping[str, Any], state: str, now: float, result: Result, reason: str = ""
    ) -> None:
        """A `RuleState` event for the key whose event (or context) is `event`; only the unusual
        transitions say why (`stale`, `restore`)."""
        key = {f: event[f] for f in rule.group_by}
        result.events.append(RuleState(self.policy.name, rule.rule.name, key, state, now, reason))

    def emit(self, rule: TimedRule, aug: Context, now: float, result: Result) -> None:
        """The rule's directives for this context, less what its limits hold back."""
        built: list[Any] = []
        try:
            # Directives keep a plain copy with exactly this rule's aggregates: their reasons,
            # rationales and ids are read later and must not depend on what else was computed.
            rule.rule.emit(aug.frozen(rule.aggregates), built)
        except Exception as exc:  # an argument faulted: the rule does not fire
            self.policy.report_fault(
                result,
                rule.index,
                exc,
                "an action argument could not be computed or is outside its range; the rule did not fire",
            )
            return
        for directive in built:
            held = self.limits.hold_back(rule, directive, now)
            if held:
                result.events.append(
                    Suppressed(self.policy.name, rule.rule.name, directive.action, directive.targets, held, now)
                )
                continue
            result.directives.append(directive)

    def resolve_stale(self, grouping: Grouping, key: Key, now: float, result: Result) -> None:
        """The key went stale: its firing rules resolve with the reason `stale`, its pending ones
        are forgotten; rules reading `absent()` go on (the silence is what they are about)."""
        for rule in self.by_grouping[grouping]:
            state = key.rules.get(rule.index)
            if state is None or rule.uses_absent:
                continue
            if state.firing:
                self.report(rule, key.event, "resolved", now, result, reason="stale")
            state.reset()

    def reconcile(self, keys: Mapping[tuple[int, Any], Key], newest: float) -> list[tuple[TimedRule, Key, str]]:
        """Re-derive restored rule states under this version's time clauses, as Prometheus does on
        a reload: a firing rule whose condition has not yet held for the (new) `for` is pending
        again, a pending one fires at its next step once it has; `keep` and `repeat` count from
        the restored times with the new durations. Returns the state changes to report."""
        timed = {rule.index: rule for rule in self.timed}
        changes: list[tuple[TimedRule, Key, str]] = []
        for (g, _), key in keys.items():
            for index, state in list(key.rules.items()):
                rule = timed.get(index)
                if rule is None or rule.group_by != self.groupings[g]:
                    del key.rules[index]  # no longer a rule of this key: nothing to carry
                    continue
                if not rule.edge:  # now a level rule: it fires per event, a firing state would pin the key
                    state.firing, state.since, state.clear_at, state.issued = False, None, None, None
                    continue
                if state.firing and state.since is not None and newest - state.since < rule.hold:
                    state.firing, state.issued = False, None
                    changes.append((rule, key, "pending"))
                if not rule.repeat:
                    state.issued = None
                elif state.firing and state.issued is None:
                    state.issued = newest  # newly repeating: the first repeat is one period on
        return changes
