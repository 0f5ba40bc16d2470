"""Typed reading of a YAML document with every problem reported at its line and column.

Scenario files are small, hand-written and read once, so they are checked by hand-written
readers (clearer messages than a JSON Schema's) that collect every problem of the file before
raising one `CompileError`, like the compiler does for policies.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from ballast.runtime.errors import CompileError, Diagnostic, Span
from ballast.runtime.suggest import closest
from ballast.runtime.values import parse_duration, parse_timestamp

T = TypeVar("T")
_MISSING = object()


class Problems(Exception):
    """Raised inside a reader to abandon a value whose problem is already recorded."""


class Doc:
    """One YAML file: its parsed data and the diagnostics found while reading it."""

    def __init__(self, text: str, file: str) -> None:
        self.text = text
        self.file = file
        self.lines = text.split("\n")
        self.problems: list[Diagnostic] = []
        yaml = YAML(typ="rt")
        try:
            self.root: Any = yaml.load(text)
        except YAMLError as exc:
            mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
            line, col = (mark.line, mark.column) if mark is not None else (0, 0)
            problem = getattr(exc, "problem", None) or str(exc).strip().splitlines()[0]
            self.problems.append(self._diagnostic("yaml", f"invalid YAML: {problem}", line, col, 1, ""))
            self.raise_if_problems()
        except RecursionError:  # ruamel builds nested blocks recursively
            self.problems.append(self._diagnostic("yaml", "the YAML is nested too deeply", 0, 0, 1, ""))
            self.raise_if_problems()
        except ValueError:  # int() refused a number of more than 4,300 digits
            line, col, width = _long_number(text)
            self.problems.append(self._diagnostic("yaml", "a number has too many digits", line, col, width, ""))
            self.raise_if_problems()

    # ---- positions ----
    def _diagnostic(self, code: str, message: str, line0: int, col0: int, width: int, hint: str) -> Diagnostic:
        span = Span(self.file, line0 + 1, col0 + 1, line0 + 1, col0 + 1 + max(1, width))
        source = self.lines[line0] if 0 <= line0 < len(self.lines) else ""
        return Diagnostic("error", code, message, span, hint, source)

    def error(self, parent: Any, step: object, message: str, hint: str = "", *, key: bool = False) -> None:
        """Record a problem at parent[step] (its key with key=True, or when the value is a block)."""
        line, col, width = 0, 0, 1
        lc = getattr(parent, "lc", None)
        try:
            if isinstance(parent, dict):
                value = parent.get(step)
                if key or isinstance(value, dict | list) or value is None:
                    line, col = lc.key(step)
                    width = len(str(step))
                else:
                    line, col = lc.value(step)
                    width = len(str(value))
            elif isinstance(parent, list):
                line, col = lc.item(step)
                width = len(str(parent[step])) if not isinstance(parent[step], dict | list) else 1
            elif lc is not None:
                line, col = lc.line, lc.col
        except (AttributeError, KeyError, IndexError, TypeError):
            if lc is not None and lc.line is not None:
                line, col = lc.line, lc.col
        self.problems.append(self._diagnostic("scenario", message, line, col, width, hint))

    def where(self, parent: Any, step: object) -> tuple[Span, str]:
        """The span and source line of parent[step], for a check made after reading (a probe's metric)."""
        before = len(self.problems)
        self.error(parent, step, "")
        found = self.problems.pop()
        assert len(self.problems) == before
        return found.span, found.source_line

    def raise_if_problems(self) -> None:
        if self.problems:
            raise CompileError(self.problems)

    # ---- typed access ----
    def mapping(self, parent: Any, step: object, what: str) -> Any:
        value = parent[step]
        if not isinstance(value, dict):
            self.error(parent, step, f"{what} must be a mapping, got {_kind(value)}")
            raise Problems
        return value

    def sequence(self, parent: Any, step: object, what: str) -> list[Any]:
        value = parent[step]
        if not isinstance(value, list):
            self.error(parent, step, f"{what} must be a list, got {_kind(value)}")
            raise Problems
        return value

    def keys(self, mapping: Any, allowed: Iterator[str] | list[str] | tuple[str, ...], what: str) -> None:
        allowed = list(allowed)
        for key in mapping:
            if key not in allowed:
                close = closest(str(key), allowed)
                hint = f"did you mean '{close}'?" if close else f"the keys of {what} are: {', '.join(allowed)}"
                self.error(mapping, key, f"unknown key '{key}' in {what}", hint, key=True)

    def get(self, mapping: Any, key: str, read: Callable[[Any, str], T], default: Any = _MISSING) -> T:
        """mapping[key] read by `read(mapping, key)`; a missing required key is a problem."""
        if key not in mapping or mapping[key] is None:
            if default is _MISSING:
                self.error(mapping, None, f"missing required key '{key}'", f"add `{key}:`")
                raise Problems
            return default  # type: ignore[no-any-return]
        return read(mapping, key)

    def each(self, items: list[Any], read: Callable[[Any, int], T]) -> list[T]:
        """Read every item; an item with a problem is skipped (and reported), the rest go on."""
        out = []
        for i in range(len(items)):
            try:
                out.append(read(items, i))
            except Problems:
                continue
        return out

    # ---- scalars ----
    def string(self, parent: Any, step: object) -> str:
        value = parent[step]
        if not isinstance(value, str) or not value:
            self.error(parent, step, f"expected a non-empty string, got {_kind(value)}")
            raise Problems
        return value

    def number(self, parent: Any, step: object, low: float | None = None, high: float | None = None) -> float:
        value = parent[step]
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            self.error(parent, step, f"expected a number, got {_kind(value)}")
            raise Problems
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"[{_g(low)}, {_g(high)}]" if low is not None and high is not None else (
                f">= {_g(low)}" if low is not None else f"<= {_g(high)}"
            )
            self.error(parent, step, f"{value} is out of range: expected {bounds}")
            raise Problems
        return float(value)

    def boolean(self, parent: Any, step: object) -> bool:
        value = parent[step]
        if not isinstance(value, bool):
            self.error(parent, step, f"expected true or false, got {_kind(value)}")
            raise Problems
        return value

    def integer(self, parent: Any, step: object, low: int | None = None, high: int | None = None) -> int:
        value = parent[step]
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(parent, step, f"expected a whole number, got {_kind(value)}")
            raise Problems
        self.number(parent, step, low, high)
        return int(value)

    def duration(self, parent: Any, step: object, *, positive: bool = True) -> float:
        value = parent[step]
        seconds = parse_duration(value) if isinstance(value, str) else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            seconds = float(value)
        if isinstance(value, str) and value.startswith("-") and parse_duration(value[1:]) is not None:
            seconds = -parse_duration(value[1:])  # type: ignore[operator]
        if seconds is None:
            self.error(parent, step, f"expected a duration such as 30s, 5m or 1h30m, got {_kind(value)}")
            raise Problems
        if seconds < 0 or (positive and seconds == 0):
            self.error(parent, step, f"a duration here must be {'positive' if positive else 'zero or more'}, got {value}")
            raise Problems
        return seconds

    def timestamp(self, parent: Any, step: object) -> float:
        value = parent[step]
        if hasattr(value, "timestamp") and not isinstance(value, str):  # ruamel reads bare timestamps as datetimes
            value = value.isoformat()
        moment = parse_timestamp(value)
        if moment is None or isinstance(value, int | float):
            self.error(parent, step, f"expected an RFC 3339 time such as 2025-11-15T10:00:00Z, got {_kind(value)}")
            raise Problems
        return moment

    def choice(self, parent: Any, step: object, options: tuple[str, ...]) -> str:
        value = parent[step]
        if value not in options:
            close = closest(str(value), list(options))
            hint = f"did you mean '{close}'?" if close else f"one of: {', '.join(options)}"
            self.error(parent, step, f"unknown value {value!r}", hint)
            raise Problems
        return str(value)

    def strings(self, parent: Any, step: object) -> list[str]:
        value = parent[step]
        if isinstance(value, str):
            return [value]
        items = self.sequence(parent, step, "this value")
        return self.each(items, self.string)


def _long_number(text: str) -> tuple[int, int, int]:
    """0-based line and column, and width, of the first number int() would refuse."""
    match = re.search(rf"\d{{{sys.get_int_max_str_digits() + 1},}}", text)
    if match is None:
        return 0, 0, 1
    line = text.count("\n", 0, match.start())
    return line, match.start() - (text.rfind("\n", 0, match.start()) + 1), match.end() - match.start()


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _g(value: float | None) -> str:
    return f"{value:g}" if value is not None else ""
