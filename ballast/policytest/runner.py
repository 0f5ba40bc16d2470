"""Running one policy test: the timeline of steps, then every expectation checked against it.

The timing rules (docs/testing.md has them with examples):

* Step `i` is at `start + i·interval`, for i = 0 … the later of the last sample and the last `at`.
* At a step, every series with a sample there sends one event, series in order of their key
  (then input) so that runs are reproducible; a field whose sample is `_` is left out of the
  event, and a series with `_` in all its fields sends nothing. An event is `defaults` (the
  fields its input declares), then the key, then the samples, then the stream's time field set
  to the step's time (and `seq`/`id` fields when the test asks for them).
* After the step's events, the engine's clock is advanced to the step's time
  (`Engine.advance`), as a host's timer would, so `for`, `keep` and `absent()` complete on the
  step grid whether or not that key sent an event.
* What a step produced is every directive, engine event and error of its events and of that
  advance. `at: T` checks the step at T; `never:` checks every step.
"""

from __future__ import annotations

import json
import math
import re
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from ballast.policytest.spec import Expectation, Matcher, Series, TestCase
from ballast.policytest.target import Target
from ballast.runtime.engine import Engine
from ballast.runtime.errors import Span
from ballast.runtime.policy import Directive, Problem, Result
from ballast.runtime.values import format_duration, parse_duration


@dataclass
class Step:
    """What one step of a test produced."""

    index: int
    offset: float  # seconds since the start
    time: float
    events_sent: int = 0
    directives: list[Directive] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    errors: list[tuple[Problem, str]] = field(default_factory=list)  # with the series that caused it
    threats: dict[str, tuple[str, float]] = field(default_factory=dict)  # name → (mode, index) after the step
    states: dict[tuple[str, str, str], str] | None = None  # (policy, rule, key) → state, when asked

    def add(self, result: Result, series: str = "") -> None:
        self.directives.extend(result.directives)
        self.events.extend(e.to_dict() for e in result.events)  # plain dicts: expectations compare and print them
        self.errors.extend((p, series) for p in result.errors)


@dataclass
class Failure:
    """An expectation that did not hold, or an error no expectation asked for."""

    span: Span
    message: str
    details: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.span.file,
            "line": self.span.line,
            "column": self.span.column,
            "message": self.message,
            "details": self.details,
        }


@dataclass
class CaseResult:
    name: str
    span: Span
    failures: list[Failure]
    steps: int
    events: int
    directives: int

    @property
    def passed(self) -> bool:
        return not self.failures

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "file": self.span.file,
            "line": self.span.line,
            "status": "pass" if self.passed else "fail",
            "steps": self.steps,
            "events": self.events,
            "directives": self.directives,
            "failures": [f.to_json() for f in self.failures],
        }


class Observer:
    """What watches a run (coverage): attached to each test's engine, told each step."""

    def attach(self, engine: Engine, target: Target) -> AbstractContextManager[Any]:
        return nullcontext()

    def step(self, step: Step) -> None:
        return None


def run_case(case: TestCase, target: Target, observer: Observer | None = None) -> CaseResult:
    """Run one test against a compiled set and check its expectations."""
    observer = observer or Observer()
    steps = _Run(case, target).timeline(observer)
    checker = _Expectations(case, target, steps)
    failures = checker.check()
    return CaseResult(
        case.name,
        case.span,
        failures,
        len(steps),
        sum(s.events_sent for s in steps),
        sum(len(s.directives) for s in steps),
    )


# ---- the timeline ----


class _Run:
    def __init__(self, case: TestCase, target: Target) -> None:
        self.case = case
        self.target = target
        self.engine = Engine(target.program)
        self.sequences: dict[tuple[str, Any], int] = {}
        self.ids = 0
        self.series = sorted(case.series, key=lambda s: (_canonical(s.key), s.input or ""))
        self.state_steps = {round(e.at / case.interval) for e in case.expect if e.kind == "state" and e.at is not None}

    def timeline(self, observer: Observer) -> list[Step]:
        case = self.case
        steps: list[Step] = []
        with observer.attach(self.engine, self.target):
            for i in range(case.steps):
                offset = i * case.interval
                step = Step(i, offset, case.start + offset)
                for s in self.series:
                    event = self.event(s, i, step.time)
                    if event is not None:
                        step.events_sent += 1
                        self.deliver(s, event, step)
                if self.target.timed:
                    step.add(self.engine.advance(step.time))
                step.threats = {name: (t.mode, t.index) for name, t in self.engine.threats.items()}
                if i in self.state_steps:
                    step.states = self.states()
                observer.step(step)
                steps.append(step)
        return steps

    def event(self, s: Series, i: int, time: float) -> dict[str, Any] | None:
        samples = {f: v[i] for f, v in s.values.items() if i < len(v) and v[i] is not None}
        if not samples:
            return None
        source = self.target.inputs[s.input or next(iter(self.target.inputs))]
        event = {k: v for k, v in self.case.defaults.items() if k in source.fields}
        event.update(s.key)
        event.update(samples)
        for name, kind in source.time_fields.items():
            event[name] = int(time) if kind == "int" and time == int(time) else time
        if self.case.sequence:
            for name, by in source.sequences:
                if name not in event:
                    counter = (name, json.dumps(event.get(by), sort_keys=True))
                    self.sequences[counter] = self.sequences.get(counter, 0) + 1
                    event[name] = self.sequences[counter]
        if self.case.ids:
            for name, kind in source.ids:
                if name not in event:
                    self.ids += 1
                    event[name] = self.ids if kind == "int" else f"e{self.ids}"
        return event

    def deliver(self, s: Series, event: dict[str, Any], step: Step) -> None:
        """The event to the policies and threats that read its input (the Engine routes it)."""
        source = s.input or next(iter(self.target.inputs))
        step.add(self.engine.process(event, input=source), _flow(s.key) if s.key else "")

    def states(self) -> dict[tuple[str, str, str], str]:
        """Each (policy, rule, key) with a state other than inactive, from the engine's snapshot."""
        out: dict[tuple[str, str, str], str] = {}
        snapshot = self.engine.snapshot()
        for policy, stored in zip(self.target.program.policies, snapshot["policies"], strict=True):
            rules = policy.timing_ir["rules"]
            groupings = sorted({tuple(r["state"].get("group_by", ())) for r in rules})
            for item in stored["keys"]:
                fields = groupings[item["grouping"]]
                key = _canonical(dict(zip(fields, item["key"], strict=True)))
                for index, (_active, since, firing, _clear_at, *_) in item.get("rules", ()):  # initial ones: omitted
                    state = "firing" if firing else "pending" if since is not None else "inactive"
                    out[(policy.name, policy.rules[index].name, key)] = state
        return out


# ---- the expectations ----


class _Expectations:
    def __init__(self, case: TestCase, target: Target, steps: list[Step]) -> None:
        self.case = case
        self.target = target
        self.steps = steps
        self.expected_errors: set[tuple[int, int]] = set()  # (step, index of the error)
        self.many_policies = len(target.policies) > 1

    def check(self) -> list[Failure]:
        # errors first: an `error` expectation marks the errors it accounts for
        ordered = sorted(self.case.expect, key=lambda e: e.kind != "error")
        results = {id(e): self.one(e) for e in ordered}
        failures = [f for e in self.case.expect if (f := results[id(e)]) is not None]
        failures.extend(self.unexpected_errors())
        return failures

    def one(self, e: Expectation) -> Failure | None:
        if e.at is None:
            return self.never(e)
        step = self.steps[round(e.at / self.case.interval)]
        return getattr(self, "check_" + e.kind)(e, step)

    def at(self, step: Step) -> str:
        return format_duration(step.offset)

    # ---- directives ----
    def show(self, d: Directive) -> str:
        return show_directive(d, self.many_policies)

    def check_directive(self, e: Expectation, step: Step) -> Failure | None:
        m = e.matchers[0]
        matching = [d for d in step.directives if not directive_diff(m.values, d)]
        if e.count is None and matching:
            return None
        if e.count is not None and len(matching) == e.count:
            return None
        wanted = f"{e.count} × " if e.count is not None else ""
        message = f"at {self.at(step)}: expected {wanted}directive {_flow(m.values)}"
        if e.count is not None:
            message += f", got {len(matching)}"
        return Failure(e.span, message, self.directive_details(m, step))

    def check_no_directive(self, e: Expectation, step: Step) -> Failure | None:
        m = e.matchers[0]
        matching = [d for d in step.directives if not directive_diff(m.values, d)]
        if not matching:
            return None
        what = f"directive {_flow(m.values)}" if m.values else "directive"
        details = [f"  {self.show(d)}" for d in matching]
        return Failure(e.span, f"at {self.at(step)}: expected no {what}, got {len(matching)}:", details)

    def check_directives(self, e: Expectation, step: Step) -> Failure | None:
        pairs = _assign(e.matchers, step.directives)
        if pairs is not None:
            return None
        expected = "[" + ", ".join(_flow(m.values) for m in e.matchers) + "]"
        details = [f"directives at {self.at(step)} ({len(step.directives)}):"]
        details += [f"  {self.show(d)}" for d in step.directives] or ["  (none)"]
        unmatched = [m for m in e.matchers if not any(not directive_diff(m.values, d) for d in step.directives)]
        for m in unmatched:
            details.append(f"missing: {_flow(m.values)}")
            details.extend(self.closest(m, step))
        extra = [d for d in step.directives if not any(not directive_diff(m.values, d) for m in e.matchers)]
        for d in extra:
            details.append(f"unexpected: {self.show(d)}")
        return Failure(e.span, f"at {self.at(step)}: expected exactly the directives {expected}", details)

    def directive_details(self, m: Matcher, step: Step) -> list[str]:
        details = [f"directives at {self.at(step)} ({len(step.directives)}):"]
        details += [f"  {self.show(d)}" for d in step.directives] or ["  (none)"]
        details.extend(self.closest(m, step))
        elsewhere = [
            s for s in self.steps if s is not step and any(not directive_diff(m.values, d) for d in s.directives)
        ]
        if elsewhere:
            times = ", ".join(self.at(s) for s in elsewhere[:5]) + (", …" if len(elsewhere) > 5 else "")
            details.append(f"a matching directive is produced at {times}")
        else:
            details.append("no step produces a matching directive")
        errors = [(p, s) for p, s in step.errors]
        if errors:
            details.append(f"errors at {self.at(step)}: " + "; ".join(_problem(p, s) for p, s in errors[:3]))
        return details

    def closest(self, m: Matcher, step: Step) -> list[str]:
        """The directive of the step that differs from the matcher in the fewest keys, as a diff."""
        if not step.directives:
            return []
        closest = min(step.directives, key=lambda d: len(directive_diff(m.values, d)))
        diff = directive_diff(m.values, closest)
        if not diff:
            return []
        lines = [f"closest: {self.show(closest)}"]
        for key, want, got in diff:
            lines.append(f"  - {key}: {_flow(want)}")
            lines.append(f"  + {key}: {_flow(got)}")
        return lines

    # ---- states, events, errors, threats ----
    def check_state(self, e: Expectation, step: Step) -> Failure | None:
        m = e.matchers[0]
        name = m.values["rule"]
        policy = m.values.get("policy") or next(p for p, _ in self.target.rules[name])
        key = _canonical(m.values.get("key") or {})
        got = (step.states or {}).get((policy, name, key), "inactive")
        if got == m.values["is"]:
            return None
        label = f"{name} {_flow(m.values.get('key'))}" if m.values.get("key") else name
        history = [
            f"{ev['state']} at {self.at(s)}"
            for s in self.steps
            for ev in s.events
            if ev.get("type") == "RuleState" and ev.get("rule") == name and _canonical(ev.get("key") or {}) == key
        ]
        details = ["its state changes: " + ", ".join(history) if history else "its state never changes during the test"]
        return Failure(e.span, f"at {self.at(step)}: expected {label} to be {m.values['is']}, it is {got}", details)

    def check_event(self, e: Expectation, step: Step) -> Failure | None:
        m = e.matchers[0]
        if any(_subset(m.values, ev) for ev in step.events):
            return None
        details = [f"engine events at {self.at(step)} ({len(step.events)}):"]
        details += [f"  {_flow(ev)}" for ev in step.events] or ["  (none)"]
        return Failure(e.span, f"at {self.at(step)}: expected event {_flow(m.values)}", details)

    def check_no_event(self, e: Expectation, step: Step) -> Failure | None:
        m = e.matchers[0]
        found = [ev for ev in step.events if _subset(m.values, ev)]
        if not found:
            return None
        return Failure(
            e.span, f"at {self.at(step)}: expected no event {_flow(m.values)}, got:", [f"  {_flow(ev)}" for ev in found]
        )

    def check_error(self, e: Expectation, step: Step) -> Failure | None:
        m = e.matchers[0]
        found = [i for i, (p, _) in enumerate(step.errors) if _problem_matches(m.values, p)]
        for i in found:
            self.expected_errors.add((step.index, i))
        if found:
            return None
        details = [f"errors at {self.at(step)} ({len(step.errors)}):"]
        details += [f"  {_problem(p, s)}" for p, s in step.errors] or ["  (none)"]
        return Failure(e.span, f"at {self.at(step)}: expected error {_flow(m.values)}", details)

    def check_threat(self, e: Expectation, step: Step) -> Failure | None:
        m = e.matchers[0]
        name = m.values.get("name") or next(iter(step.threats))
        mode, index = step.threats[name]
        wrong = _threat_mismatch(m.values, mode, index)
        if not wrong:
            return None
        trail = [
            f"{self.at(s)} {s.threats[name][1]:g} {s.threats[name][0]}"
            for s in self.steps[max(0, step.index - 5) : step.index + 1]
        ]
        changes = [
            f"{s.threats[name][0]} at {self.at(s)}"
            for prev, s in zip(self.steps, self.steps[1:], strict=False)
            if s.threats[name][0] != prev.threats[name][0]
        ]
        details = ["index and mode by step: " + ", ".join(trail)]
        details.append("mode changes: " + (", ".join(changes) if changes else "none"))
        return Failure(e.span, f"at {self.at(step)}: expected threat {_flow(m.values)}, but {wrong}", details)

    # ---- everywhere ----
    def never(self, e: Expectation) -> Failure | None:
        m = e.matchers[0]
        hits: list[tuple[Step, str]] = []
        for s in self.steps:
            if e.kind == "directive":
                hits += [(s, self.show(d)) for d in s.directives if not directive_diff(m.values, d)]
            elif e.kind == "event":
                hits += [(s, _flow(ev)) for ev in s.events if _subset(m.values, ev)]
            elif e.kind == "error":
                hits += [(s, _problem(p, label)) for p, label in s.errors if _problem_matches(m.values, p)]
            elif e.kind == "threat":
                for name, (mode, index) in s.threats.items():
                    if m.values.get("name", name) == name and not _threat_mismatch(m.values, mode, index):
                        hits.append((s, f"{name}: mode {mode}, index {index:g}"))
        if not hits:
            return None
        details = [f"at {self.at(s)}: {text}" for s, text in hits[:5]]
        if len(hits) > 5:
            details.append(f"… and {len(hits) - 5} more")
        first = self.at(hits[0][0])
        return Failure(
            e.span, f"expected never {e.kind} {_flow(m.values)}, first seen at {first} ({len(hits)} in all)", details
        )

    def unexpected_errors(self) -> list[Failure]:
        """Errors no `error` expectation accounts for, one failure per distinct message."""
        groups: dict[str, list[Step]] = {}
        text: dict[str, str] = {}
        for s in self.steps:
            for i, (p, label) in enumerate(s.errors):
                if (s.index, i) in self.expected_errors:
                    continue
                line = _problem(p, label)
                groups.setdefault(line, []).append(s)
                text[line] = line
        out = []
        for line, where in groups.items():
            more = f" (and {len(where) - 1} more step{'s' if len(where) > 2 else ''})" if len(where) > 1 else ""
            out.append(
                Failure(
                    self.case.span,
                    f"unexpected error at {self.at(where[0])}{more}: {line}",
                    ["expect it with `error: {kind: ...}` at that time if it is intended"],
                )
            )
        return out


# ---- matching ----


def directive_diff(want: dict[str, Any], d: Directive) -> list[tuple[str, Any, Any]]:
    """(key, expected, actual) for each key of the matcher the directive does not satisfy."""
    out: list[tuple[str, Any, Any]] = []
    for key, expected in want.items():
        if key == "targets":
            got: Any = d.targets
            ok = got == ([expected] if isinstance(expected, str) else expected)
        elif key == "params":
            got = d.params
            wrong = {k: v for k, v in expected.items() if k not in got or not _equal(v, got[k])}
            if wrong:
                out.append(("params", wrong, {k: got.get(k) for k in wrong}))
            continue
        elif key == "reason_contains":
            got = d.reason
            ok = expected in got
        else:
            got = getattr(d, key)
            ok = _equal(expected, got)
        if not ok:
            out.append((key, expected, got))
    return out


def _equal(want: Any, got: Any) -> bool:
    if isinstance(want, bool) or isinstance(got, bool):
        return want is got
    if isinstance(want, int | float) and isinstance(got, int | float):
        return math.isclose(want, got, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(want, str) and isinstance(got, int | float):  # a duration parameter written `30s`
        seconds = parse_duration(want)
        return seconds is not None and math.isclose(seconds, got, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(want, list) and isinstance(got, list):
        return len(want) == len(got) and all(_equal(a, b) for a, b in zip(want, got, strict=True))
    if isinstance(want, dict) and isinstance(got, dict):
        return want.keys() == got.keys() and all(_equal(v, got[k]) for k, v in want.items())
    return bool(want == got)


def _subset(want: dict[str, Any], got: dict[str, Any]) -> bool:
    return all(k in got and _equal(v, got[k]) for k, v in want.items())


def _problem_matches(want: dict[str, Any], p: Problem) -> bool:
    for key, expected in want.items():
        if key == "message_contains":
            if str(expected) not in p.message:
                return False
        elif getattr(p, key) != expected:
            return False
    return True


def _threat_mismatch(want: dict[str, Any], mode: str, index: float) -> str:
    """Why the threat's state does not satisfy the matcher, or ""."""
    if "mode" in want and want["mode"] != mode:
        return f"the mode is {mode} (index {index:g})"
    if "index" in want and abs(index - want["index"]) > 0.005:
        return f"the index is {index:g}"
    if "index_min" in want and index < want["index_min"]:
        return f"the index is {index:g}, below {want['index_min']:g}"
    if "index_max" in want and index > want["index_max"]:
        return f"the index is {index:g}, above {want['index_max']:g}"
    return ""


def _assign(matchers: list[Matcher], directives: list[Directive]) -> dict[int, int] | None:
    """A one-to-one pairing of matchers and directives (augmenting paths), or None."""
    if len(matchers) != len(directives):
        return None
    fits = [[j for j, d in enumerate(directives) if not directive_diff(m.values, d)] for m in matchers]
    owner: dict[int, int] = {}

    def place(i: int, seen: set[int]) -> bool:
        for j in fits[i]:
            if j in seen:
                continue
            seen.add(j)
            if j not in owner or place(owner[j], seen):
                owner[j] = i
                return True
        return False

    if all(place(i, set()) for i in range(len(matchers))):
        return {i: j for j, i in owner.items()}
    return None


# ---- rendering ----


def show_directive(d: Directive, with_policy: bool = False) -> str:
    """`rule: action(targets: [B], level: 1)`, as the action is called in the policy."""
    args = [f"targets: {_flow(d.targets)}", *(f"{k}: {_flow(v)}" for k, v in d.params.items())]
    owner = f"{d.policy}/{d.rule}" if with_policy else d.rule
    return f"{owner}: {d.action}({', '.join(args)})"


def _problem(p: Problem, series: str) -> str:
    where = "/".join(x for x in (p.policy, p.rule) if x)
    origin = f" [series {series}]" if series else ""
    return f"{p.kind}: {where}: {p.message}{origin}"


_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-/]*")


def _flow(value: Any) -> str:
    """A value as compact YAML flow text: `{rule: x, targets: [B]}`."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}" if float(f"{value:g}") == value else repr(value)
    if isinstance(value, str):
        plain = _PLAIN.fullmatch(value) and value not in ("true", "false", "null", "yes", "no", "on", "off")
        return value if plain else json.dumps(value, ensure_ascii=False)
    return str(value)


flow = _flow


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


__all__ = ["CaseResult", "Failure", "Observer", "Step", "directive_diff", "flow", "run_case", "show_directive"]
