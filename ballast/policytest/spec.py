"""Policy test files (`*.test.yaml`): read, checked for shape, turned into what a test asks.

`load_test_file(path)` returns a `TestFile` whose `diagnostics` say, with the file's positions,
everything wrong with its structure: bad YAML, unknown keys (with a suggestion), values of the
wrong kind, bad series notation, bad durations, an `at` between two steps. The names a test uses
(rules, actions, fields, modes) are checked against the compiled policies by
`ballast.policytest.target`. See docs/testing.md for the format.

The YAML is read by the positioned YAML reader (`ballast.dsl.yaml_reader`), the policies' loader
too, so ruamel.yaml's exceptions are translated in one place and positions are exact, inside quoted
values too. The test-file problems keep their own codes and wording (`yaml-kind`, `yaml-key`, ...).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from ballast.dsl.yaml_reader import YamlReader
from ballast.policytest.notation import NotationError, Sample, expand
from ballast.runtime.errors import Diagnostic, Span
from ballast.runtime.reading import UnreadableInput, read_text
from ballast.runtime.suggest import did_you_mean
from ballast.runtime.values import parse_duration, parse_timestamp

DEFAULT_INTERVAL = 60.0  # as promtool's evaluation interval
DEFAULT_START = 0.0  # 1970-01-01T00:00:00Z, as promtool

TOP_KEYS = ("policies", "defaults", "interval", "start", "tests")
TEST_KEYS = ("name", "interval", "start", "defaults", "sequence", "ids", "series", "expect")
SERIES_KEYS = ("key", "input", "values")
# what an expectation checks, and whether `never` accepts it
KINDS = ("directive", "no_directive", "directives", "state", "event", "no_event", "error", "threat")
NEVER_KINDS = ("directive", "event", "error", "threat")
EXPECT_KEYS = ("at", "never", "count", *KINDS)
MATCHER_KEYS: dict[str, tuple[str, ...] | None] = {
    "directive": ("policy", "rule", "action", "targets", "params", "priority", "impact", "reason", "reason_contains"),
    "state": ("policy", "rule", "key", "is"),
    "event": None,  # any keys: an event matches when it has every key given with that value
    "error": ("kind", "policy", "rule", "field", "message_contains"),
    "threat": ("name", "mode", "index", "index_min", "index_max"),
}
STATES = ("inactive", "pending", "firing")


@dataclass
class Matcher:
    """A mapping of expected values, with the position of each value for later checks."""

    values: dict[str, Any]
    spans: dict[str, Span]
    span: Span

    def where(self, key: str) -> Span:
        return self.spans.get(key, self.span)


@dataclass
class Expectation:
    """One item of `expect`: `kind` at `at` seconds after the start, or everywhere (`never`)."""

    kind: str
    at: float | None  # None: `never`
    matchers: list[Matcher]  # one, except for `directives` (any number)
    span: Span
    count: int | None = None

    @property
    def never(self) -> bool:
        return self.at is None


@dataclass
class Series:
    """One key's event stream: its key fields and, per field, the sample at each step."""

    key: dict[str, Any]
    values: dict[str, list[Sample]]
    span: Span
    spans: dict[str, Span]  # of the key fields and the value fields
    input: str | None = None
    input_span: Span | None = None

    @property
    def length(self) -> int:
        return max((len(v) for v in self.values.values()), default=0)


@dataclass
class TestCase:
    name: str
    span: Span
    interval: float
    start: float
    defaults: dict[str, Any]
    default_spans: dict[str, Span]
    series: list[Series]
    expect: list[Expectation]
    sequence: bool = False
    ids: bool = False
    sequence_span: Span | None = None
    ids_span: Span | None = None

    @property
    def steps(self) -> int:
        """How many steps the test runs: to the last sample or the last `at`, whichever is later."""
        last_sample = max((s.length for s in self.series), default=0)
        last_at = max((round(e.at / self.interval) + 1 for e in self.expect if e.at is not None), default=0)
        return max(last_sample, last_at)


@dataclass
class TestFile:
    path: str
    policies: list[str] = field(default_factory=list)  # paths as the compiler opens them
    policy_spans: list[Span] = field(default_factory=list)
    tests: list[TestCase] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    source: str = ""

    @property
    def ok(self) -> bool:
        return not any(d.severity == "error" for d in self.diagnostics)


def load_test_file(path: str) -> TestFile:
    """Read and check one test file; never raises for a malformed file (see `diagnostics`)."""
    result = TestFile(path)
    try:
        text = read_text(path, "test file")
    except UnreadableInput as exc:
        span = Span(path, exc.line, exc.column, exc.line, exc.column + 1)
        result.diagnostics.append(Diagnostic("error", "io", f"cannot read the test file: {exc.reason}", span, exc.hint))
        return result
    result.source = text
    _Loader(text, path, result).load()
    result.diagnostics = with_source_lines(result.diagnostics, result)
    return result


def with_source_lines(diagnostics: list[Diagnostic], test: TestFile) -> list[Diagnostic]:
    """The diagnostics sorted, each with the test file's line under it (for the caret)."""
    from ballast.compiler.pipeline import attach_source_lines

    return attach_source_lines(diagnostics, {test.path: test.source}) if test.source else diagnostics


suggest = did_you_mean  # the test checks' name for it (`ballast.policytest.target` imports it)


def plain(value: Any) -> Any:
    """A YAML value as plain JSON data (ruamel's scalar and container subclasses undone)."""
    if value is None or isinstance(value, bool):
        return value
    if type(value).__name__ == "ScalarBoolean":
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "empty"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__.lower()}"


class _Loader:
    def __init__(self, text: str, path: str, out: TestFile) -> None:
        self.reader = YamlReader(text, path, code="yaml-kind")
        self.path = path
        self.out = out

    def error(self, code: str, message: str, span: Span, hint: str = "") -> None:
        self.out.diagnostics.append(Diagnostic("error", code, message, span, hint))

    # ---- positions ----
    def at_key(self, mapping: Any, key: str) -> Span:
        return self.reader.key_span(mapping, key)

    def at_value(self, parent: Any, step: object) -> Span:
        return self.reader.value_span(parent, step)

    # ---- shape ----
    def mapping(self, parent: Any, step: object, allowed: tuple[str, ...] | None, what: str) -> dict | None:
        """parent[step] as a mapping whose keys are all allowed; None (and an error) otherwise."""
        value = parent[step]
        if not isinstance(value, dict):
            self.error("yaml-kind", f"{what} must be a mapping, not {kind_of(value)}", self.at_value(parent, step))
            return None
        if allowed is not None:
            self.keys(value, allowed, what)
        return value

    def keys(self, mapping: dict, allowed: tuple[str, ...], what: str) -> None:
        for key, span, hint in self.reader.unknown_keys(mapping, allowed):
            self.error(
                "yaml-key",
                f"unknown key '{key}' in {what}",
                span,
                hint or f"the keys of {what} are {', '.join(allowed)}",
            )

    def required(self, mapping: dict, key: str, what: str, hint: str) -> bool:
        if key in mapping and mapping[key] is not None:
            return True
        span = self.at_key(mapping, key) if key in mapping else self.reader.start_span(mapping)
        self.error("yaml-missing", f"{what} has no '{key}'", span, hint)
        return False

    def duration(self, mapping: dict, key: str, what: str, *, positive: bool = False) -> float | None:
        value = mapping[key]
        seconds: float | None = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            seconds = float(value)
        elif isinstance(value, str):
            seconds = parse_duration(value.strip())
        if seconds is None or not math.isfinite(seconds) or seconds < 0 or (positive and seconds == 0):
            hint = "write a duration such as 10s, 2m or 1h30m (or a number of seconds)"
            if positive:
                hint = "write a positive duration such as 10s, 1m (or a number of seconds)"
            self.error("test-time", f"{what} must be a duration, not {value!r}", self.at_value(mapping, key), hint)
            return None
        return seconds

    def timestamp(self, mapping: dict, key: str) -> float | None:
        value = mapping[key]
        if isinstance(value, datetime):
            moment = value if value.tzinfo else value.replace(tzinfo=UTC)
            return moment.timestamp()
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp()
        seconds = None if isinstance(value, bool) else parse_timestamp(plain(value))
        if seconds is None or not math.isfinite(seconds):
            self.error(
                "test-time",
                f"start must be a timestamp, not {value!r}",
                self.at_value(mapping, key),
                "write an RFC 3339 time such as 2026-01-01T00:00:00Z, or epoch seconds",
            )
            return None
        return seconds

    def flag(self, mapping: dict, key: str) -> bool:
        value = mapping.get(key, False)
        if not isinstance(value, bool):
            self.error("yaml-kind", f"'{key}' must be true or false, not {kind_of(value)}", self.at_value(mapping, key))
            return False
        return value

    def fields(self, parent: Any, step: object, what: str) -> tuple[dict[str, Any], dict[str, Span]]:
        """A mapping of event fields (`defaults`, a series' `key`) as plain values and positions."""
        mapping = self.mapping(parent, step, None, what)
        if mapping is None:
            return {}, {}
        return {str(k): plain(v) for k, v in mapping.items()}, {str(k): self.at_key(mapping, k) for k in mapping}

    # ---- the document ----
    def load(self) -> None:
        # not YAML: why; repeated keys: reported, and the first value read
        self.out.diagnostics.extend(self.reader.problems)
        if not self.reader.loaded:
            return
        data = self.reader.data
        if data is None:
            self.error(
                "yaml-missing",
                "the test file is empty",
                Span(self.path, 1, 1, 1, 2),
                "start with `policies:` and `tests:`",
            )
            return
        if not isinstance(data, dict):
            self.error(
                "yaml-kind",
                f"a test file is a mapping, not {kind_of(data)}",
                self.reader.start_span(data),
                "start with `policies:` and `tests:`",
            )
            return
        top = data
        self.keys(top, TOP_KEYS, "the test file")
        if self.required(top, "policies", "the test file", "name the policy files under test: policies: [../motb.bal]"):
            self.policies(top)
        interval = self.duration(top, "interval", "interval", positive=True) if "interval" in top else DEFAULT_INTERVAL
        start = self.timestamp(top, "start") if "start" in top else DEFAULT_START
        defaults, default_spans = self.fields(top, "defaults", "defaults") if "defaults" in top else ({}, {})
        if not self.required(
            top, "tests", "the test file", "add a list of tests: tests: [{name: ..., series: ..., expect: ...}]"
        ):
            return
        tests = top["tests"]
        if not isinstance(tests, list):
            self.error("yaml-kind", f"tests must be a list, not {kind_of(tests)}", self.at_value(top, "tests"))
            return
        names: dict[str, Span] = {}
        for i in range(len(tests)):
            case = self.test(tests, i, interval, start, defaults, default_spans)
            if case is None:
                continue
            if case.name in names:
                first = names[case.name]
                self.error(
                    "duplicate",
                    f"a second test named '{case.name}'",
                    case.span,
                    f"the first is at line {first.line}; test names identify failures",
                )
            names.setdefault(case.name, case.span)
            self.out.tests.append(case)

    def policies(self, top: dict) -> None:
        value = top["policies"]
        items = value if isinstance(value, list) else [value]
        base = os.path.dirname(self.path)
        for i, item in enumerate(items):
            span = self.at_value(value, i) if isinstance(value, list) else self.at_value(top, "policies")
            if not isinstance(item, str) or not item.strip():
                self.error("yaml-kind", f"a policy path must be a string, not {kind_of(item)}", span)
                continue
            self.out.policies.append(os.path.normpath(os.path.join(base, item)))
            self.out.policy_spans.append(span)
        if not items:
            self.error(
                "yaml-missing", "policies is empty", self.at_value(top, "policies"), "name the policy files under test"
            )

    def test(
        self,
        tests: list,
        index: int,
        interval: float | None,
        start: float | None,
        defaults: dict[str, Any],
        default_spans: dict[str, Span],
    ) -> TestCase | None:
        before = len(self.out.diagnostics)
        t = self.mapping(tests, index, TEST_KEYS, "a test")
        if t is None:
            return None
        span = self.at_value(tests, index)
        name = f"test {index + 1}"
        if self.required(t, "name", "a test", "give the test a name: name: load spike downgrades pool B"):
            if isinstance(t["name"], str | int | float) and not isinstance(t["name"], bool):
                name, span = str(t["name"]), self.at_value(t, "name")
            else:
                self.error(
                    "yaml-kind", f"a test's name must be a string, not {kind_of(t['name'])}", self.at_value(t, "name")
                )
        if "interval" in t:
            interval = self.duration(t, "interval", "interval", positive=True)
        if "start" in t:
            start = self.timestamp(t, "start")
        if "defaults" in t:
            own, own_spans = self.fields(t, "defaults", "defaults")
            defaults, default_spans = {**defaults, **own}, {**default_spans, **own_spans}
        series: list[Series] = []
        if self.required(
            t, "series", f"test '{name}'", "add the events: series: [{key: {pool: B}, values: {load: 0.5x6}}]"
        ):
            if isinstance(t["series"], list):
                series = [s for i in range(len(t["series"])) if (s := self.series(t["series"], i)) is not None]
            else:
                self.error(
                    "yaml-kind", f"series must be a list, not {kind_of(t['series'])}", self.at_value(t, "series")
                )
        keys: dict[str, Series] = {}
        for s in series:
            ident = repr((s.input, sorted(s.key.items(), key=lambda kv: kv[0])))
            if ident in keys:
                self.error(
                    "duplicate",
                    f"two series with the key {s.key}",
                    s.span,
                    f"the first is at line {keys[ident].span.line}; give each key one series with all its fields",
                )
            keys.setdefault(ident, s)
        expect: list[Expectation] = []
        if self.required(
            t, "expect", f"test '{name}'", "add what should happen: expect: [{at: 2m, directive: {rule: ...}}]"
        ):
            if isinstance(t["expect"], list):
                expect = [
                    e for i in range(len(t["expect"])) if (e := self.expectation(t["expect"], i, interval)) is not None
                ]
            else:
                self.error(
                    "yaml-kind", f"expect must be a list, not {kind_of(t['expect'])}", self.at_value(t, "expect")
                )
        if len(self.out.diagnostics) > before or interval is None or start is None:
            return None
        return TestCase(
            name=name,
            span=span,
            interval=interval,
            start=start,
            defaults=defaults,
            default_spans=default_spans,
            series=series,
            expect=expect,
            sequence=self.flag(t, "sequence"),
            ids=self.flag(t, "ids"),
            sequence_span=self.at_key(t, "sequence") if "sequence" in t else None,
            ids_span=self.at_key(t, "ids") if "ids" in t else None,
        )

    def series(self, items: list, index: int) -> Series | None:
        s = self.mapping(items, index, SERIES_KEYS, "a series")
        if s is None:
            return None
        span = self.at_value(items, index)
        key, spans = self.fields(s, "key", "a series key") if "key" in s else ({}, {})
        for name, value in key.items():
            if isinstance(value, dict | list) or value is None:
                self.error(
                    "yaml-kind",
                    f"key field '{name}' must be a string, number or boolean, not {kind_of(value)}",
                    spans[name],
                )
        source: str | None = None
        input_span = None
        if "input" in s:
            input_span = self.at_value(s, "input")
            if isinstance(s["input"], str):
                source = str(s["input"])
            else:
                self.error("yaml-kind", f"input must be the input's name, not {kind_of(s['input'])}", input_span)
        values: dict[str, list[Sample]] = {}
        if self.required(s, "values", "a series", "give each field its samples: values: {load: 0.5x6 0.92x12}"):
            mapping = self.mapping(s, "values", None, "values")
            for name in mapping or {}:
                spans[str(name)] = self.at_key(mapping, name)
                if name in key:
                    self.error(
                        "duplicate",
                        f"'{name}' is both a key field and a value field",
                        spans[str(name)],
                        "a key field keeps its value for the whole series",
                    )
                samples = self.notation(mapping, name)
                if samples is not None:
                    values[str(name)] = samples
        return Series(key=key, values=values, span=span, spans=spans, input=source, input_span=input_span)

    def notation(self, mapping: dict, name: object) -> list[Sample] | None:
        value = mapping[name]
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            self.error(
                "yaml-kind",
                f"the samples of '{name}' must be series notation, not {kind_of(value)}",
                self.at_value(mapping, name),
                "write numbers as in promtool: `0.5x6 0.92x12`; vary strings by series key",
            )
            return None
        try:
            return expand(value)
        except NotationError as exc:
            try:
                span = self.reader.embedded(mapping, name).span(exc.offset, exc.offset + exc.length)
            except (AttributeError, KeyError, TypeError, IndexError):
                span = self.at_value(mapping, name)
            self.error("notation", exc.message, span, exc.hint)
            return None

    def expectation(self, items: list, index: int, interval: float | None) -> Expectation | None:
        before = len(self.out.diagnostics)
        e = self.mapping(items, index, EXPECT_KEYS, "an expectation")
        if e is None or len(self.out.diagnostics) > before:  # an unknown key says enough
            return None
        span = self.at_value(items, index)
        if "never" in e:
            extra = [k for k in e if k != "never"]
            if extra:
                self.error(
                    "yaml-key",
                    f"'{extra[0]}' beside 'never'",
                    self.at_key(e, extra[0]),
                    "write `never: {directive: {...}}` alone: it holds at every step",
                )
                return None
            inner = self.mapping(e, "never", NEVER_KINDS, "never")
            if inner is None:
                return None
            if len(inner) != 1:
                self.error(
                    "yaml-kind", "never takes exactly one of " + ", ".join(NEVER_KINDS), self.at_value(e, "never")
                )
                return None
            kind = next(iter(inner))
            matcher = self.matcher(inner, kind)
            return Expectation(str(kind), None, [matcher], span) if matcher else None
        kinds = [k for k in e if k in KINDS]
        if len(kinds) != 1:
            message = "an expectation checks one thing" if kinds else "an expectation says what to check"
            self.error(
                "yaml-missing" if not kinds else "yaml-key",
                message,
                span if not kinds else self.at_key(e, kinds[1]),
                "write one of " + ", ".join(KINDS) + " (or `never:`)",
            )
            return None
        kind = kinds[0]
        if not self.required(
            e, "at", f"the '{kind}' expectation", "say when: at: 2m (the time since the start), or use `never:`"
        ):
            return None
        at = self.duration(e, "at", "at")
        if at is None:
            return None
        if interval is not None:
            step = at / interval
            if abs(step - round(step)) > 1e-9:
                from ballast.runtime.values import format_duration

                before, after = math.floor(step) * interval, math.ceil(step) * interval
                self.error(
                    "test-time",
                    f"at {format_duration(at)} is between two steps of the {format_duration(interval)} interval",
                    self.at_value(e, "at"),
                    f"the steps nearest are at {format_duration(before)} and {format_duration(after)}",
                )
                return None
        count = None
        if "count" in e:
            if kind != "directive":
                self.error("yaml-key", "'count' goes with a 'directive' expectation", self.at_key(e, "count"))
                return None
            if isinstance(e["count"], bool) or not isinstance(e["count"], int) or e["count"] < 0:
                self.error("yaml-kind", "count must be a whole number >= 0", self.at_value(e, "count"))
                return None
            count = int(e["count"])
        if kind == "directives":
            value = e["directives"]
            if not isinstance(value, list):
                self.error(
                    "yaml-kind",
                    f"directives must be a list of directive mappings, not {kind_of(value)}",
                    self.at_value(e, kind),
                    "write `directives: []` for none",
                )
                return None
            matchers = [self.matcher(value, i, "directive") for i in range(len(value))]
            if any(m is None for m in matchers):
                return None
            return Expectation(kind, at, matchers, span)  # type: ignore[arg-type]
        base = kind.removeprefix("no_")
        if e[kind] is None and base in ("directive", "event"):  # `no_directive:` alone: none at all
            return Expectation(kind, at, [Matcher({}, {}, self.at_value(e, kind))], span, count)
        matcher = self.matcher(e, kind, base)
        return Expectation(kind, at, [matcher], span, count) if matcher else None

    def matcher(self, parent: Any, step: object, kind: str | None = None) -> Matcher | None:
        kind = kind or str(step)
        allowed = MATCHER_KEYS[kind]
        what = f"a {kind} expectation" if kind != "error" else "an error expectation"
        value = self.mapping(parent, step, allowed, what)
        if value is None:
            return None
        spans = {str(k): self.at_value(value, k) for k in value}
        matcher = Matcher({str(k): plain(v) for k, v in value.items()}, spans, self.at_value(parent, step))
        if kind == "state" and not (
            self.required(value, "rule", what, "name the rule: rule: latency_breach")
            and self.required(value, "is", what, "say which state: is: firing (or pending, inactive)")
        ):
            return None
        if kind == "state" and matcher.values["is"] not in STATES:
            hint = suggest(matcher.values["is"], STATES) or "a rule's state is " + ", ".join(STATES)
            self.error("yaml-kind", f"unknown state {matcher.values['is']!r}", matcher.where("is"), hint)
            return None
        return matcher


__all__ = [
    "Expectation",
    "Matcher",
    "Series",
    "TestCase",
    "TestFile",
    "load_test_file",
    "plain",
    "suggest",
    "with_source_lines",
]
