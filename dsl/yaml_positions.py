"""Positions in a YAML file: line/col ↔ flat index ↔ `Span`, and `.bal` source embedded in strings.

`Source` says where a node's text starts and ends in the file; `Embedded` is a string value that
holds `.bal` source (an expression, a type or an action call).

An expression, type or call is parsed from the string's value and every span is mapped back to
the YAML source character by character: a plain value starts at its first character, a quoted
one a column after its quote, a `|`/`>` block on the line after its header. The map follows the
source through escapes (`\\"`, `''`) and across line breaks (multi-line plain, quoted and block
scalars are exact on every line, since whitespace is insignificant in expressions). Only a
value the map cannot follow (escapes such as `\\n` or `\\u0041` that change the text) falls back
to the simple rule: its first line is exact, later lines keep the value's own columns.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import fields, is_dataclass, replace
from typing import Any, TypeVar

from ballast.dsl.parser import SyntaxProblem
from ballast.runtime.errors import Diagnostic, Span

N = TypeVar("N")

_PLAIN_TOKEN = re.compile(r"[^\s,\[\]{}#]+")
_BLOCK_HEADER = re.compile(r"[-+0-9]*")


class Source:
    """The YAML text with 0-based (line, col) ↔ flat index ↔ 1-based span conversions."""

    def __init__(self, text: str, file: str) -> None:
        self.text = text
        self.file = file
        self.lines = text.split("\n")
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line) + 1)

    def index(self, line0: int, col0: int) -> int:
        line0 = max(0, min(line0, len(self.lines) - 1))
        return min(self.starts[line0] + max(col0, 0), len(self.text))

    def position(self, index: int) -> tuple[int, int]:
        line0 = min(max(0, bisect_right(self.starts, index) - 1), len(self.lines) - 1)
        return line0 + 1, index - self.starts[line0] + 1

    def span(self, start: int, end: int) -> Span:
        line, col = self.position(start)
        end_line, end_col = self.position(max(end, start + 1))
        return Span(self.file, line, col, end_line, end_col)

    def plain_token(self, line0: int, col0: int) -> str | None:
        """The unquoted scalar written at (line0, col0), as far as a separator or comment."""
        match = _PLAIN_TOKEN.match(self.lines[line0][col0:])
        return match.group() if match else None

    def extent(self, line0: int, col0: int, value: object) -> Span:
        """The span of the YAML node that starts at (line0, col0) (a key, a scalar, a collection)."""
        start = self.index(line0, col0)
        first = self.text[start : start + 1]
        if first in ('"', "'"):
            end = self.quoted_end(start)
        elif first in ("[", "{"):
            end = self.flow_end(start)
        elif first in ("|", ">"):
            match = _BLOCK_HEADER.match(self.text, start + 1)
            end = match.end() if match else start + 1
        else:
            rest = self.lines[min(line0, len(self.lines) - 1)][col0:]
            if isinstance(value, str) and value:
                end = start + len(rest[: _common_prefix(rest, value)].rstrip())
            else:
                match = _PLAIN_TOKEN.match(rest)
                end = start + (len(match.group()) if match else 1)
        return self.span(start, end)

    def quoted_end(self, start: int) -> int:
        quote, text, j = self.text[start], self.text, start + 1
        while j < len(text):
            if quote == '"' and text[j] == "\\":
                j += 2
                continue
            if text[j] == quote:
                if quote == "'" and text.startswith("'", j + 1):
                    j += 2
                    continue
                return j + 1
            j += 1
        return len(text)

    def flow_end(self, start: int) -> int:
        text, depth, j = self.text, 0, start
        while j < len(text):
            c = text[j]
            if c in "\"'":
                j = self.quoted_end(j)
                continue
            if c in "[{":
                depth += 1
            elif c in "]}":
                depth -= 1
                if depth == 0:
                    return j + 1
            j += 1
        return start + 1


class Embedded:
    """A YAML string value holding `.bal` source, with the map from its characters to the file."""

    def __init__(self, source: Source, value: str, line0: int, col0: int) -> None:
        self.source = source
        self.value = value
        start = source.index(line0, col0)
        style = source.text[start : start + 1]
        escapes = ""
        if style in ('"', "'"):
            start += 1
            escapes = "\\" if style == '"' else "'"
        elif style in ("|", ">"):
            start = source.starts[line0 + 1] if line0 + 1 < len(source.lines) else len(source.text)
        self.start = start
        self.map = _align(value, source.text, start, escapes)
        self.first = start  # fallback: where the value's first character sits
        if style in ("|", ">"):
            while self.first < len(source.text) and source.text[self.first] in " \t\n":
                self.first += 1

    def span(self, a: int, b: int) -> Span:
        """The source span of the value's characters [a, b)."""
        n = len(self.value)
        if self.map is not None:

            def at(i: int) -> int:
                if i < n:
                    return self.map[i]
                return self.map[n - 1] + 1 + (i - n) if n else self.start

            s = at(a)
            e = at(b - 1) + 1 if b > a else s + 1
            return self.source.span(s, e)
        starts = _line_starts(self.value)

        def local(i: int) -> tuple[int, int]:
            k = max(0, bisect_right(starts, i) - 1)
            return k + 1, i - starts[k] + 1

        (l1, c1), (l2, c2) = local(a), local(max(b, a + 1))
        line, col = self.source.position(self.first)
        return Span(self.source.file, l1, c1, l2, c2).shifted(line, col)

    def parse(self, parse: Callable[[str, str], N], problems: list[Diagnostic], a: int = 0, b: int | None = None):
        """Parse value[a:b] with a `.bal` parser; spans and syntax errors point into the YAML file."""
        text = self.value[a:b]
        starts = _line_starts(text)

        def offset(line: int, col: int) -> int:
            return a + starts[min(max(line, 1), len(starts)) - 1] + col - 1

        def remap(span: Span) -> Span:
            return self.span(offset(span.line, span.column), offset(span.end_line, span.end_column))

        try:
            node = parse(text, self.source.file)
        except SyntaxProblem as problem:
            problems.extend(replace(d, span=remap(d.span)) for d in problem.diagnostics)
            return None
        return _respan(node, remap)


def _align(value: str, text: str, start: int, escapes: str) -> list[int] | None:
    """The source index of each character of a scalar's value, or None if it cannot be followed.

    Source characters the value lacks are skipped when they are whitespace (indentation, folded
    line breaks) or escape characters of the scalar's style; any other difference gives up.
    """
    out: list[int] = []
    p = start
    for ch in value:
        while True:
            if p >= len(text):
                if not ch.isspace():
                    return None
                out.append(len(text))
                break
            c = text[p]
            if c == ch or (ch.isspace() and c.isspace()):
                out.append(p)
                p += 1
                break
            if c.isspace() or c in escapes:
                p += 1
                continue
            return None
    return out


def _common_prefix(a: str, b: str) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def _line_starts(text: str) -> list[int]:
    starts = [0]
    for line in text.split("\n")[:-1]:
        starts.append(starts[-1] + len(line) + 1)
    return starts


def _respan(node: Any, remap: Callable[[Span], Span]) -> Any:
    """The node with every span in it (nested nodes included) replaced by remap(span)."""
    if isinstance(node, Span):
        return remap(node)
    if isinstance(node, tuple):
        return tuple(_respan(item, remap) for item in node)
    if is_dataclass(node) and not isinstance(node, type):
        return replace(node, **{f.name: _respan(getattr(node, f.name), remap) for f in fields(node)})
    return node
