"""The positioned YAML reader: typed access to a YAML document, every problem at its line and column.

Every document kind written in YAML (policies and modules, scenarios, test files, the next ones)
is read through this module, never through ruamel.yaml directly, so loading, positions and "did
you mean" work the same for every kind::

    reader = YamlReader(text, "s.yaml", code="scenario")
    root = reader.root()                      # a Node; a bad file leaves reader.problems non-empty
    root.keys(("scenario", "duration", "slo"), "a scenario")     # unknown keys, with a suggestion
    name = root.string("scenario")            # required: a missing key is a problem
    slo = root.mapping("slo", "slo")          # a Node again
    limit = slo.number("latency_ms", 1e-3, default=250.0)
    reader.raise_if_problems()                # CompileError with every problem of the file

An accessor that finds a problem records it (a `Diagnostic` with the document's `code`, the span of
the offending key or value and its source line) and raises `Skip`, which abandons the value being
read; `Node.each` and `Node.attempt` catch it so the rest of the file is still read and every
problem is reported at once. Loading is `YamlFile`'s (the one place ruamel's exceptions are
translated): invalid YAML and repeated keys are diagnostics too, with code `yaml`.

Where a problem sits (`Node.span`): a scalar value's own span (quotes included); a key's span
when the value is a block collection or empty, or when the problem is about the key itself; an
item's start for a collection in a list; the node's start when there is no better place.

A kind whose file a JSON Schema validates first (policies: `yaml_schema`) reads the checked data
with the accessors that report nothing (`Node.has`, `value`, `child`), takes the positions of
what it builds from `key_span`, `value_span` and `start_span` (a value's extent as written, a flow
collection's included), and parses the `.bal` source inside a string with `Node.parse`, whose
spans point into the YAML file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from types import UnionType
from typing import Any, TypeVar

from ballast.dsl.parser import SyntaxProblem
from ballast.dsl.yaml_file import YamlFile
from ballast.dsl.yaml_positions import Embedded, Source
from ballast.runtime.errors import CompileError, Diagnostic, Span
from ballast.runtime.suggest import did_you_mean
from ballast.runtime.values import describe, parse_duration, parse_timestamp

__all__ = ["MISSING", "Node", "Skip", "YamlReader", "describe"]

T = TypeVar("T")
MISSING: Any = object()  # the default of a required key


class Skip(Exception):
    """Raised by an accessor to abandon a value whose problem is already recorded."""


class YamlReader:
    """One YAML document: its data, positions, and the problems found while reading it.

    Loading never raises: a file that is not YAML leaves `root()` empty and the reason in
    `problems`. `code` is the error code of the problems the accessors find (`scenario`, ...).
    """

    def __init__(self, text: str, file: str, *, code: str) -> None:
        self.file = file
        self.code = code
        self.yaml = YamlFile(text, file)
        self.lines = text.split("\n")
        self.loaded = True
        try:
            self.data: Any = self.yaml.load()
        except SyntaxProblem as problem:
            self.yaml.problems = list(problem.diagnostics)
            self.data, self.loaded = None, False

    @property
    def problems(self) -> list[Diagnostic]:
        """Every problem found so far, in the order found (`YamlFile.problems`)."""
        return self.yaml.problems

    def root(self) -> Node:
        """The document's top node (whatever it is: check it with `Node.is_mapping`)."""
        return Node(self, self.data)

    def diagnostics(self) -> list[Diagnostic]:
        """The problems, each with the source line under it (for the caret)."""
        return [d if d.source_line else replace(d, source_line=self.source_line(d.span)) for d in self.problems]

    def raise_if_problems(self) -> None:
        """Raise CompileError with every problem of the file, if there is one."""
        if self.problems:
            raise CompileError(self.diagnostics())

    # ---- problems ----
    def report(self, message: str, span: Span, hint: str = "", *, code: str | None = None) -> None:
        """Record a problem at `span`, with this document's code unless `code` is given."""
        self.problems.append(Diagnostic("error", code or self.code, message, span, hint, self.source_line(span)))

    def error(self, parent: Any, step: object, message: str, hint: str = "", *, key: bool = False) -> None:
        """Record a problem at parent[step] (at its key with key=True), with this document's code."""
        self.report(message, self.span(parent, step, key=key), hint)

    def unknown_keys(self, mapping: Any, allowed: Iterable[str], what: str) -> Iterator[tuple[Span, str, str]]:
        """(span of the key, message, hint) for each key of `mapping` not in `allowed`.

        The one wording of an unknown key, for every kind: "unknown key 'x' in <what>", with the
        closest allowed key as the hint, or else the list of them. `Node.keys` records them; a kind
        that keeps its own list of problems (test files) records them itself.
        """
        allowed = list(allowed)
        for k in mapping:
            if k not in allowed:
                hint = did_you_mean(k, allowed) or f"the keys of {what} are: {', '.join(allowed)}"
                yield self.key_span(mapping, k), f"unknown key '{k}' in {what}", hint

    # ---- positions ----
    @property
    def source(self) -> Source:
        """The text, with line/col ↔ index ↔ span conversions."""
        return self.yaml.source

    def source_line(self, span: Span) -> str:
        return self.lines[span.line - 1] if 0 < span.line <= len(self.lines) else ""

    def span(self, parent: Any, step: object = None, *, key: bool = False) -> Span:
        """Where a problem with parent[step] sits (see the module docstring); `key`: at the key."""
        try:
            if isinstance(parent, dict):
                if step not in parent:
                    return self.start_span(parent)
                value = parent[step]
                if key or value is None or isinstance(value, dict | list):
                    return self.key_span(parent, step)
                line, col = parent.lc.value(step)
                return self.source.extent(line, col, value)
            if isinstance(parent, list):
                line, col = parent.lc.item(step)
                if isinstance(parent[step], dict | list):
                    start = self.source.index(line, col)
                    return self.source.span(start, start + 1)
                return self.source.extent(line, col, parent[step])
        except (AttributeError, KeyError, IndexError, TypeError):
            pass
        return self.start_span(parent)

    def key_span(self, mapping: Any, key: object) -> Span:
        """The span of a key as written (the mapping's start if it has no such key)."""
        try:
            line, col = mapping.lc.key(key)
        except (AttributeError, KeyError, TypeError):
            return self.start_span(mapping)
        return self.source.extent(line, col, key)

    def value_span(self, parent: Any, step: object) -> Span:
        """The span of parent[step]: a scalar or flow collection as written, or a block one's key."""
        value = parent[step]
        try:
            line, col = self.value_start(parent, step)
        except (AttributeError, KeyError, IndexError, TypeError):
            return self.start_span(parent)
        block = isinstance(value, dict | list) and self.source.text[self.source.index(line, col)] not in "[{"
        if isinstance(parent, dict) and (value is None or block):
            return self.key_span(parent, step)
        if block:
            start = self.source.index(line, col)
            return self.source.span(start, start + 1)
        return self.source.extent(line, col, value)

    def start_span(self, node: Any) -> Span:
        """The first character of a node."""
        lc = getattr(node, "lc", None)
        line, col = (lc.line, lc.col) if lc is not None and lc.line is not None else (0, 0)
        start = self.source.index(line, col)
        return self.source.span(start, start + 1)

    def value_start(self, parent: Any, step: object) -> tuple[int, int]:
        """The 0-based (line, col) where parent[step] is written."""
        return parent.lc.value(step) if isinstance(parent, dict) else parent.lc.item(step)

    def embedded(self, parent: Any, step: object, text: str | None = None) -> Embedded:
        """parent[step], a string, with the map from its characters to the file (`Embedded.span`).

        `text`: other text written where the value starts (its plain token, say) instead.
        """
        line, col = self.value_start(parent, step)
        return Embedded(self.source, parent[step] if text is None else text, line, col)


class Node:
    """A mapping, list or scalar of the document, with typed accessors to its keys or items.

    `step` is a key of a mapping or an index of a list. For a mapping, a scalar accessor's
    `default` is returned when the key is absent or empty (`key:` with no value); without one the
    key is required. `mapping` and `sequence` return the default only for an absent key: an empty
    value is "a list, got nothing". The `check_*` accessors read a value that is there, as it is.
    """

    def __init__(self, reader: YamlReader, data: Any) -> None:
        self.reader = reader
        self.data = data

    # ---- shape ----
    @property
    def is_mapping(self) -> bool:
        return isinstance(self.data, dict)

    @property
    def is_sequence(self) -> bool:
        return isinstance(self.data, list)

    @property
    def line(self) -> int:
        """The 1-based line where the node starts (0 when unknown)."""
        lc = getattr(self.data, "lc", None)
        return lc.line + 1 if lc is not None else 0

    def __contains__(self, step: object) -> bool:
        return step in self.data

    def __iter__(self) -> Iterator[Any]:
        return iter(self.data if isinstance(self.data, dict) else range(len(self.data)))

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, step: object) -> Any:
        return self.data[step]

    # ---- problems ----
    def span(self, step: object = None, *, key: bool = False) -> Span:
        return self.reader.span(self.data, step, key=key)

    def error(self, step: object, message: str, hint: str = "", *, key: bool = False) -> None:
        """Record a problem at this node's `step` (None: the node itself)."""
        self.reader.error(self.data, step, message, hint, key=key)

    def where(self, step: object) -> tuple[Span, str]:
        """The span and source line of `step`, for a check made after reading."""
        span = self.span(step)
        return span, self.reader.source_line(span)

    # ---- positions, for a value read without a problem ----
    def key_span(self, step: object) -> Span:
        """The span of a key as written (the node's start if it has no such key)."""
        return self.reader.key_span(self.data, step)

    def value_span(self, step: object) -> Span:
        """The span of self[step]: a scalar or flow collection as written, or a block one's key."""
        return self.reader.value_span(self.data, step)

    def start_span(self) -> Span:
        """The first character of the node."""
        return self.reader.start_span(self.data)

    def embedded(self, step: object, text: str | None = None) -> Embedded:
        """self[step], a string, with the map from its characters to the file (`Embedded.span`)."""
        return self.reader.embedded(self.data, step, text)

    def parse(self, step: object, parse: Callable[[str, str], T], a: int = 0, b: int | None = None) -> T | None:
        """self[step][a:b], a string of `.bal` source, parsed by `parse`; None on a syntax problem.

        The spans of the result and of its syntax problems (recorded) point into the YAML file.
        """
        return self.embedded(step).parse(parse, self.reader.problems, a, b)  # type: ignore[no-any-return]

    def token(self, step: object) -> str | None:
        """The plain (unquoted) token written where self[step] starts, as far as a separator."""
        return self.reader.source.plain_token(*self.reader.value_start(self.data, step))

    def keys(self, allowed: Iterable[str], what: str, *, code: str | None = None) -> None:
        """Report each key not in `allowed`, with the closest allowed one or the list of them.

        `what` names the mapping ("unknown key 'x' in a pool"); `code`: other than the document's.
        """
        for span, message, hint in self.reader.unknown_keys(self.data, allowed, what):
            self.reader.report(message, span, hint, code=code)

    # ---- reading a document a schema has checked (policies): nothing is reported ----
    def has(self, step: object, kind: type | UnionType | tuple[type, ...]) -> bool:
        """Whether self[step] is there and is a `kind` (a str, a dict, a list, ...)."""
        if isinstance(self.data, dict):
            return isinstance(self.data.get(step), kind)
        if isinstance(self.data, list) and isinstance(step, int):
            return 0 <= step < len(self.data) and isinstance(self.data[step], kind)
        return False

    def value(self, step: object) -> Any:
        """self[step] as loaded; None when absent or when the node is not a mapping."""
        return self.data.get(step) if isinstance(self.data, dict) else None

    def child(self, step: object) -> Node:
        """The node of self[step], whatever it is (check it with `is_mapping`, `is_sequence`)."""
        return Node(self.reader, self.data[step])

    # ---- reading ----
    def get(self, step: object, read: Callable[[Node, Any], T], default: Any = MISSING) -> T:
        """self[step] read by `read(self, step)`; a missing required key is a problem."""
        if isinstance(self.data, dict) and (step not in self.data or self.data[step] is None):
            if default is MISSING:
                self.error(None, f"missing required key '{step}'", f"add `{step}:`")
                raise Skip
            return default  # type: ignore[no-any-return]
        return read(self, step)

    def each(self, read: Callable[[Node, int], T]) -> list[T]:
        """`read(self, i)` for every item; an item with a problem is skipped (and reported)."""
        out = []
        for i in range(len(self.data)):
            try:
                out.append(read(self, i))
            except Skip:
                continue
        return out

    @staticmethod
    def attempt(read: Callable[[], T], fallback: T) -> T:
        """`read()`, or `fallback` when it gave up on a problem it reported."""
        try:
            return read()
        except Skip:
            return fallback

    def mapping(self, step: object, what: str, default: Any = MISSING) -> Node:
        """A mapping (`what` names it in a problem: "a pool must be a mapping, got a list")."""
        return self._collection(step, dict, f"{what} must be a mapping", default)

    def sequence(self, step: object, what: str, default: Any = MISSING) -> Node:
        """A list (`what` names it in a problem: "faults must be a list, got a mapping")."""
        return self._collection(step, list, f"{what} must be a list", default)

    def _collection(self, step: object, kind: type, message: str, default: Any = MISSING) -> Node:
        if isinstance(self.data, dict) and step not in self.data:
            return self.get(step, lambda n, s: n, default)  # the default, or "missing required key"
        value = self.data[step]
        if not isinstance(value, kind):
            self.error(step, f"{message}, got {describe(value)}")
            raise Skip
        return Node(self.reader, value)

    # ---- scalars ----
    def string(self, step: object, default: Any = MISSING) -> str:
        """A non-empty string."""
        return self.get(step, Node.check_string, default)

    def check_string(self, step: object) -> str:
        """self[step] as a non-empty string, present or not (no default, no "missing key")."""
        value = self.data[step]
        if not isinstance(value, str) or not value:
            self.error(step, f"expected a non-empty string, got {describe(value)}")
            raise Skip
        return value

    def strings(self, step: object, default: Any = MISSING) -> list[str]:
        """One string or a list of strings."""
        return self.get(step, Node.check_strings, default)

    def check_strings(self, step: object) -> list[str]:
        """self[step] as one string or a list of strings, present or not."""
        if isinstance(self.data[step], str):
            return [self.data[step]]
        return self._collection(step, list, "this value must be a list").each(Node.check_string)

    def number(self, step: object, low: float | None = None, high: float | None = None, *, default: Any = MISSING) -> float:
        """A number (not a boolean, not NaN) within [low, high] where given."""
        return self.get(step, lambda n, s: n._number(s, low, high), default)

    def _number(self, step: object, low: float | None, high: float | None) -> float:
        value = self.data[step]
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            self.error(step, f"expected a number, got {describe(value)}")
            raise Skip
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"[{_g(low)}, {_g(high)}]" if low is not None and high is not None else (
                f">= {_g(low)}" if low is not None else f"<= {_g(high)}"
            )
            self.error(step, f"{value} is out of range: expected {bounds}")
            raise Skip
        return float(value)

    def integer(self, step: object, low: int | None = None, high: int | None = None, *, default: Any = MISSING) -> int:
        """A whole number within [low, high] where given."""

        def read(n: Node, s: object) -> int:
            value = n.data[s]
            if isinstance(value, bool) or not isinstance(value, int):
                n.error(s, f"expected a whole number, got {describe(value)}")
                raise Skip
            n._number(s, low, high)
            return int(value)

        return self.get(step, read, default)

    def boolean(self, step: object, default: Any = MISSING) -> bool:
        """true or false."""

        def read(n: Node, s: object) -> bool:
            value = n.data[s]
            if not isinstance(value, bool):
                n.error(s, f"expected true or false, got {describe(value)}")
                raise Skip
            return value

        return self.get(step, read, default)

    def duration(self, step: object, *, positive: bool = True, default: Any = MISSING) -> float:
        """Seconds, from `30s`, `1h30m` or a number; positive, or zero or more with positive=False."""

        def read(n: Node, s: object) -> float:
            value = n.data[s]
            seconds = parse_duration(value) if isinstance(value, str) else None
            if isinstance(value, int | float) and not isinstance(value, bool):
                seconds = float(value)
            if isinstance(value, str) and value.startswith("-") and parse_duration(value[1:]) is not None:
                seconds = -parse_duration(value[1:])  # type: ignore[operator]
            if seconds is None:
                n.error(s, f"expected a duration such as 30s, 5m or 1h30m, got {describe(value)}")
                raise Skip
            if seconds < 0 or (positive and seconds == 0):
                n.error(s, f"a duration here must be {'positive' if positive else 'zero or more'}, got {value}")
                raise Skip
            return seconds

        return self.get(step, read, default)

    def timestamp(self, step: object, default: Any = MISSING) -> float:
        """Epoch seconds, from an RFC 3339 time (quoted or not)."""

        def read(n: Node, s: object) -> float:
            value = n.data[s]
            if hasattr(value, "timestamp") and not isinstance(value, str):  # ruamel reads bare timestamps as datetimes
                value = value.isoformat()
            moment = parse_timestamp(value)
            if moment is None or isinstance(value, int | float):
                n.error(s, f"expected an RFC 3339 time such as 2025-11-15T10:00:00Z, got {describe(value)}")
                raise Skip
            return moment

        return self.get(step, read, default)

    def choice(self, step: object, options: tuple[str, ...], default: Any = MISSING) -> str:
        """One of `options`, with the closest one as a hint."""

        def read(n: Node, s: object) -> str:
            value = n.data[s]
            if value not in options:
                n.error(s, f"unknown value {value!r}", did_you_mean(value, options) or f"one of: {', '.join(options)}")
                raise Skip
            return str(value)

        return self.get(step, read, default)


def _g(value: float | None) -> str:
    return f"{value:g}" if value is not None else ""
