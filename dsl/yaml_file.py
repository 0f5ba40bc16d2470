"""A YAML file being loaded with ruamel.yaml: its data, or the problems that stopped it.

This is the one place ruamel.yaml's exceptions are translated: a file that cannot be loaded
raises `SyntaxProblem`, and repeated keys (which ruamel reports one at a time) are all collected
in `YamlFile.problems`. Every YAML document kind (policies, scenarios, test files) is read through
`ballast.dsl.yaml_reader`, which loads with this class and knows the positions of the loaded nodes.
"""

from __future__ import annotations

import re
import sys
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

from ballast.dsl.parser import SyntaxProblem
from ballast.dsl.yaml_positions import Source
from ballast.runtime.errors import Diagnostic, Span

_YAML_HINTS = (
    (
        "mapping values are not allowed",
        "quote the value: a plain YAML value cannot contain ': ' (action calls and reason templates usually need quotes)",
    ),
    ("found character '\\t'", "indent with spaces: YAML does not allow tabs"),
    ("cannot start any token", "quote the value: YAML reserves this character at the start of a plain value"),
    ("expected ',' or ']'", "close the list with ']', or quote an item that contains ',', ':' or brackets"),
    ("expected ',' or '}'", "close the mapping with '}', or quote a value that contains ',', ':' or brackets"),
    ("while scanning a quoted scalar", "close the quoted string on the same value"),
    ("expected <block end>", "check the indentation of this line against the lines above"),
    ("could not find expected ':'", "a key needs ':' after it; check the indentation and the quotes above"),
    ("expected a single document", "a file holds one document: remove the second '---'"),
    ("found undefined alias", "define the anchor (&name) before using the alias (*name)"),
)


def _long_number(text: str) -> tuple[int, int] | None:
    """Start and end index of the first number int() would refuse for its length, if any."""
    match = re.search(rf"\d{{{sys.get_int_max_str_digits() + 1},}}", text)
    return match.span() if match else None


def _yaml(allow_duplicate_keys: bool) -> YAML:
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = allow_duplicate_keys
    return yaml


class YamlFile:
    """One YAML file: its source and the problems found while loading it."""

    def __init__(self, text: str, file: str) -> None:
        self.source = Source(text, file)
        self.problems: list[Diagnostic] = []

    def error(self, message: str, span: Span, hint: str = "") -> None:
        self.problems.append(Diagnostic("error", "yaml", message, span, hint))

    # ---- loading ----
    def load(self) -> Any:
        """The file's data (ruamel's round-trip nodes, which remember positions).

        Raises SyntaxProblem when the file is not YAML; repeated keys are only recorded in
        `problems`, and the data keeps the first value of each (ruamel's choice).
        """
        text = self.source.text
        try:
            try:
                return _yaml(False).load(text)
            except DuplicateKeyError as exc:
                self._duplicates(exc)
                return _yaml(True).load(text)
        except YAMLError as exc:
            raise SyntaxProblem(*self.problems, self._yaml_problem(exc)) from None
        except (ValueError, TypeError, OverflowError) as exc:  # a value ruamel cannot construct
            long = _long_number(text) if isinstance(exc, ValueError) else None
            if long is not None:  # int() refuses more than sys.get_int_max_str_digits() digits
                self.error("a number has too many digits", self.source.span(*long))
            else:
                where = self._unconstructable() or self.source.span(0, 1)
                self.error(f"invalid YAML value: {exc}", where, "quote the value")
            raise SyntaxProblem(*self.problems) from None
        except RecursionError:  # ruamel builds nested blocks recursively
            self.error("the YAML is nested too deeply", self.source.span(0, 1))
            raise SyntaxProblem(*self.problems) from None

    def _unconstructable(self) -> Span | None:
        """The span of the first value ruamel cannot construct (a date such as 2099-13-01)."""
        yaml = _yaml(True)
        try:
            stack = [yaml.compose(self.source.text)]
        except (YAMLError, RecursionError):
            return None
        while stack:
            node = stack.pop()
            if isinstance(node, MappingNode):
                stack.extend(part for pair in reversed(node.value) for part in reversed(pair))
            elif isinstance(node, SequenceNode):
                stack.extend(reversed(node.value))
            elif isinstance(node, ScalarNode):
                try:
                    yaml.constructor.construct_object(node, deep=True)
                except (ValueError, TypeError, OverflowError):
                    start = self.source.index(node.start_mark.line, node.start_mark.column)
                    end = self.source.index(node.end_mark.line, node.end_mark.column)
                    return self.source.span(start, max(end, start + 1))
        return None

    def _yaml_problem(self, exc: YAMLError) -> Diagnostic:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        if mark is not None:
            start = self.source.index(mark.line, mark.column)
        else:
            start = min(getattr(exc, "position", 0) or 0, len(self.source.text))
        problem = getattr(exc, "problem", None) or str(exc).strip().splitlines()[0]
        context = getattr(exc, "context", None) or ""
        hint = ""
        for needle, text in _YAML_HINTS:
            if needle in problem or needle in context:
                hint = text
                break
        context_mark = getattr(exc, "context_mark", None)
        if context.startswith("while ") and context_mark is not None:
            where = f"{context.removeprefix('while ')} that starts at line {context_mark.line + 1}, column {context_mark.column + 1}"
            hint = f"{hint} ({where})" if hint else where
        return Diagnostic("error", "yaml", f"invalid YAML: {problem}", self.source.span(start, start + 1), hint)

    def _duplicates(self, exc: DuplicateKeyError) -> None:
        """Every repeated key of the file (ruamel stops at the first)."""
        before = len(self.problems)
        try:
            root = _yaml(True).compose(self.source.text)
        except YAMLError:
            root = None
        stack, visited = [root], set()
        while stack:
            node = stack.pop()
            if id(node) in visited:
                continue
            visited.add(id(node))
            if isinstance(node, SequenceNode):
                stack.extend(node.value)
            if not isinstance(node, MappingNode):
                continue
            seen: dict[tuple[str, str], ScalarNode] = {}
            for key, value in node.value:
                stack.append(value)
                if not isinstance(key, ScalarNode):
                    continue
                ident = (str(key.tag), str(key.value))
                if ident not in seen:
                    seen[ident] = key
                    continue
                first = seen[ident]
                start = self.source.index(key.start_mark.line, key.start_mark.column)
                end = self.source.index(key.end_mark.line, key.end_mark.column)
                self.error(
                    f"duplicate key '{key.value}'",
                    self.source.span(start, end),
                    f"'{key.value}' is first given at line {first.start_mark.line + 1}; a mapping holds each key once",
                )
        if len(self.problems) == before:
            self.problems.append(self._yaml_problem(exc))
