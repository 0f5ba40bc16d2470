"""The YAML front-end: the YAML form of a policy document, read into the same AST as `.bal`.

Every `.bal` construct has one YAML spelling; expressions, types and action calls stay strings in
the `.bal` syntax, parsed by the same grammar, so the two forms compile to the same IR. The file
is validated against `policy.schema.json` (JSON Schema 2020-12, usable by editors too) and every
problem of the file is reported at once, each at the `line:col` of the offending node.

Keys
----
A document is a mapping. Its top-level keys become declarations in the order they are written::

    policy: motb.orchestration      # or `module: motb.thresholds` (importable, no version)
    version: "1.2.0"                # policies only; a string, so quote it
    owner: sre-core
    description: ...
    labels: {tier: platform}        # name → string
    imports: [lib/thresholds.bal]   # paths relative to this file, `.bal` or `.yaml` modules
    input:
      telemetry:                    # the input's name → its fields
        load: float in [0, 1]       # field → type string (the `.bal` type syntax)
        canary?: bool               # a trailing `?` on the key marks the field optional
        resources: {cpu: float}     # a mapping is a nested record type
    types:
      Percent: float in [0, 100]    # name → type string or mapping (record)
    const:
      load_limit: 0.8               # name → value (see "Values" below)
      floor: {type: float, value: 1}  # a typed constant: `const floor: float = 1`
    let:
      overloaded: load > load_limit # name → condition (an expression string)
    actions:
      notify:                       # name → its parameters, in order
        targets: selector           # parameter → type string (or a mapping: record type)
        severity: int = 1           # "type = default"
        note?: string               # optional parameter
    rules:                          # a list; each rule is a mapping
      - name: downgrade_on_load     # required
        description: ...
        when: overloaded            # required: a condition
        then: "downgrade(targets: pool, level: 1)"   # required: one call, or a list of calls
        priority: 100               # an integer
        impact: low                 # minimal | low | moderate | high | critical
        reason: "load {load:.2f}"   # the reason template, as in `.bal`
        labels: {seed: MOTB}

Values
------
Wherever an expression is expected (`const` values, list items, `let`, `when`): a YAML string is
expression source (so durations `5m`, names and operators work as in `.bal`, and a string
constant keeps its inner quotes: `'"standby"'`); YAML numbers, booleans and null are those
literals; a YAML list is a list literal whose items follow the same rule — so `["a", "b"]` in
YAML is a list of the *names* a and b, and the strings are written `['"a"', '"b"']`.

YAML rules worth knowing: a plain (unquoted) value cannot contain ``": "`` or ``" #"`` and cannot
start with ``[ { " ' ! & * | > % @ ` ``; action calls (`scale(targets: pool)`), ternaries and most
reason templates therefore need quotes; in a flow collection (`{a: ...}` / `[...]`) a plain value
also cannot contain `,` — quote `enum("a", "b")` there.

Positions
---------
An expression, type or call is parsed from the string's value and every span is mapped back to
the YAML source character by character: a plain value starts at its first character, a quoted
one a column after its quote, a `|`/`>` block on the line after its header. The map follows the
source through escapes (`\\"`, `''`) and across line breaks (multi-line plain, quoted and block
scalars are exact on every line, since whitespace is insignificant in expressions). Only a
value the map cannot follow (escapes such as `\\n` or `\\u0041` that change the text) falls back
to the simple rule: its first line is exact, later lines keep the value's own columns.

ruamel.yaml and jsonschema exceptions are translated here and never leave this module; the
front-end raises `SyntaxProblem` carrying every diagnostic.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import fields, is_dataclass, replace
from functools import cache
from importlib import resources
from typing import Any, TypeVar

import jsonschema
from ruamel.yaml import YAML
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

from ballast.dsl import ast
from ballast.dsl.parser import SyntaxProblem, parse_action_call, parse_expression, parse_type
from ballast.runtime.errors import Diagnostic, Span, sort_diagnostics

N = TypeVar("N")

_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\??")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DSL_NUMBER = re.compile(r"-?(\d+\.\d*([eE][+-]?\d+)?|\d+[eE][+-]?\d+|\d+)")
_PLAIN_TOKEN = re.compile(r"[^\s,\[\]{}#]+")
_BLOCK_HEADER = re.compile(r"[-+0-9]*")

_CLAUSES = (
    "description", "when", "then", "priority", "impact", "reason", "labels",
    "group_by", "enter_when", "exit_when", "for", "keep", "cooldown", "at_most",
)
# YAML key → the clause name the .bal parser records in Rule.clause_lines
_CLAUSE_NAMES = {"group_by": "group", "enter_when": "enter", "exit_when": "exit", "at_most": "limit"}

_KINDS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "null": "empty",
    "array": "a list",
    "object": "a mapping",
}

_TYPE_HINTS = {
    "version": 'quote it: version: "1.2.0"',
    "priority": "write a whole number; higher fires first",
    "when": 'write the condition as a string: when: "load > 0.8"',
    "then": 'write the action calls as strings: then: ["scale(targets: pool, by: 1)"]',
    "imports": "list the module paths: imports: [lib/thresholds.bal]",
    "input": "name the input, then its fields: input: {telemetry: {load: float}}",
    "rules": "write the rules as a list: rules: [{name: ..., when: ..., then: ...}]",
}

_REQUIRED_HINTS = {
    "when": ("has no 'when' condition", "add `when: <condition>`, e.g. `when: load > 0.8`"),
    "then": ("has no 'then' action", 'add `then: ["scale(targets: pool, by: 1)"]` or another action'),
    "name": ("has no 'name'", "add `name: <rule_name>`: rule names identify directives"),
    "version": ("has no 'version'", 'add `version: "1.0.0"` (modules are not versioned: write `module:`)'),
    "type": ("has no 'type'", "a typed constant is written {type: float, value: 0.8}"),
    "value": ("has no 'value'", "a typed constant is written {type: float, value: 0.8}"),
}

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


def parse_yaml_document(text: str, file: str) -> ast.Document:
    """Parse the YAML form of a document; raises SyntaxProblem with every problem of the file."""
    front = _Front(text, file)
    data = front.load()
    front.validate(data)
    document = front.document(data)
    if front.problems or document is None:
        if not front.problems:  # validation should have said why; never fail silently
            front.error("yaml", "this is not a policy document", front.source.span(0, 1), "")
        raise SyntaxProblem(*sort_diagnostics(front.problems))
    return document


@cache
def policy_schema() -> dict[str, Any]:
    """The JSON Schema of the YAML form (shipped as `ballast/dsl/policy.schema.json`)."""
    return json.loads(resources.files("ballast.dsl").joinpath("policy.schema.json").read_text("utf-8"))


@cache
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(policy_schema())


def _yaml(allow_duplicate_keys: bool) -> YAML:
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = allow_duplicate_keys
    return yaml


# ---- the source text and positions ----


class _Source:
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


class _Embedded:
    """A YAML string value holding `.bal` source, with the map from its characters to the file."""

    def __init__(self, source: _Source, value: str, line0: int, col0: int) -> None:
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


def _respan(node: Any, remap: Callable[[Span], Span]) -> Any:
    """The node with every span in it (nested nodes included) replaced by remap(span)."""
    if isinstance(node, Span):
        return remap(node)
    if isinstance(node, tuple):
        return tuple(_respan(item, remap) for item in node)
    if is_dataclass(node) and not isinstance(node, type):
        return replace(node, **{f.name: _respan(getattr(node, f.name), remap) for f in fields(node)})
    return node


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "empty"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if hasattr(value, "tag") and hasattr(value, "value"):
        return "a tagged value"  # `!custom x`: ruamel keeps unknown tags
    return f"a {type(value).__name__.lower()}"  # dates, times


def _expected(kinds: object) -> str:
    names = [_KINDS.get(k, k) for k in (kinds if isinstance(kinds, list) else [kinds])]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _suggest(name: object, candidates: list[str]) -> str:
    close = difflib.get_close_matches(str(name), candidates, n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else ""


# ---- the front-end ----


class _Front:
    def __init__(self, text: str, file: str) -> None:
        self.source = _Source(text, file)
        self.file = file
        self.problems: list[Diagnostic] = []

    def error(self, code: str, message: str, span: Span, hint: str = "") -> None:
        self.problems.append(Diagnostic("error", code, message, span, hint))

    # ---- loading ----
    def load(self) -> Any:
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
            self.error("yaml", f"invalid YAML value: {exc}", self.source.span(0, 1), "quote the value")
            raise SyntaxProblem(*self.problems) from None

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
                    "yaml",
                    f"duplicate key '{key.value}'",
                    self.source.span(start, end),
                    f"'{key.value}' is first given at line {first.start_mark.line + 1}; a mapping holds each key once",
                )
        if len(self.problems) == before:
            self.problems.append(self._yaml_problem(exc))

    # ---- positions of nodes ----
    def key_span(self, mapping: Any, key: object) -> Span:
        try:
            line, col = mapping.lc.key(key)
        except (AttributeError, KeyError, TypeError):
            return self.start_span(mapping)
        return self.source.extent(line, col, key)

    def start_span(self, node: Any) -> Span:
        lc = getattr(node, "lc", None)
        line, col = (lc.line, lc.col) if lc is not None and lc.line is not None else (0, 0)
        start = self.source.index(line, col)
        return self.source.span(start, start + 1)

    def node_span(self, parent: Any, step: object) -> Span:
        """The span of parent[step]: a scalar, a flow collection, or the key of a block one."""
        value = parent[step]
        try:
            line, col = parent.lc.value(step) if isinstance(parent, dict) else parent.lc.item(step)
        except (AttributeError, KeyError, IndexError, TypeError):
            return self.start_span(parent)
        block = isinstance(value, dict | list) and self.source.text[self.source.index(line, col)] not in "[{"
        if isinstance(parent, dict) and (value is None or block):
            return self.key_span(parent, step)
        if block:
            start = self.source.index(line, col)
            return self.source.span(start, start + 1)
        return self.source.extent(line, col, value)

    def embedded(self, parent: Any, step: object) -> _Embedded:
        value = parent[step]
        line, col = parent.lc.value(step) if isinstance(parent, dict) else parent.lc.item(step)
        return _Embedded(self.source, value, line, col)

    def mapping_span(self, mapping: Any) -> Span:
        """Where to report a problem with a whole mapping: its name if it has one, else its start."""
        for key in ("name", "policy", "module"):
            if isinstance(mapping.get(key), str):
                return self.node_span(mapping, key)
        return self.start_span(mapping)

    # ---- schema validation ----
    def validate(self, data: Any) -> None:
        if data is None:
            self.error(
                "yaml",
                "the document is empty",
                self.source.span(0, 1),
                "start with `policy: <name>` or `module: <name>`",
            )
            return
        try:
            errors = list(_validator().iter_errors(data))
        except Exception as exc:  # jsonschema must not escape: report it where it can be seen
            self.error("internal", f"the YAML form could not be validated: {exc!r}", self.source.span(0, 1), "")
            return
        for error in errors:
            self._schema_error(error, data)
        unique: dict[tuple[Span, str], Diagnostic] = {}
        for d in self.problems:
            unique.setdefault((d.span, d.message), d)
        self.problems = list(unique.values())

    def _schema_error(self, error: jsonschema.ValidationError, data: Any) -> None:
        path = list(error.absolute_path)
        schema_path = list(error.absolute_schema_path)
        parent, step = self._locate(data, path)
        node = data if parent is None else parent[step]
        where = self._describe(path, data)
        validator = error.validator
        if not isinstance(data, dict) and (path or validator != "type"):
            return  # `required` and friends hold vacuously for a non-mapping: only its kind matters
        if "propertyNames" in schema_path:
            key = error.instance
            span = self.key_span(node, key)
            if validator == "type":
                self.error("yaml-key", f"the keys of {where} must be names, not {_kind(key)}", span, "")
                return
            hint = "a name is letters, digits and '_', not starting with a digit"
            if str(error.validator_value).endswith("\\??$"):  # a field or parameter name
                hint += "; a trailing '?' marks it optional"
            self.error("yaml-key", f"'{key}' is not a valid name in {where}", span, hint)
            return
        span = self.start_span(data) if parent is None else self.node_span(parent, step)
        if validator == "additionalProperties":
            allowed = list(error.schema.get("properties", {}))
            for key in node:
                if key not in allowed:
                    hint = _suggest(key, allowed) or "the keys here are " + ", ".join(allowed)
                    self.error("yaml-key", f"unknown key '{key}' in {where}", self.key_span(node, key), hint)
        elif validator == "required":
            unknown = [str(k) for k in node if k not in self._allowed(error, path)]
            for key in error.validator_value:
                if key in node or difflib.get_close_matches(key, unknown, n=1, cutoff=0.6):
                    continue  # a misspelled key already says "did you mean ..."
                message, hint = _REQUIRED_HINTS.get(key, (f"has no '{key}'", f"add `{key}: ...`"))
                owner = f"constant '{path[1]}'" if path[:1] == ["const"] else where
                if not path:
                    owner = f"policy '{node.get('policy')}'"
                self.error("yaml-missing", f"{owner} {message}", self.mapping_span(node), hint)
        elif validator == "anyOf" and not path:
            unknown = [str(k) for k in node if k not in self._allowed(error, path)]
            if not difflib.get_close_matches("policy", unknown, cutoff=0.6) and not difflib.get_close_matches(
                "module", unknown, cutoff=0.6
            ):
                self.error(
                    "yaml-missing",
                    "the document has no 'policy' (or 'module') key",
                    self.start_span(node),
                    "start the file with `policy: <name>`, or `module: <name>` for shared declarations",
                )
        elif validator == "not" and not path:
            if "dependentSchemas" in schema_path:
                if "policy" in node:
                    return  # "a policy or a module, not both" says it
                self.error(
                    "yaml-key",
                    "a module has no version",
                    self.key_span(node, "version"),
                    "only policies are versioned: remove 'version', or write `policy:` instead of `module:`",
                )
            else:
                self.error(
                    "yaml-key",
                    "a document is a policy or a module, not both",
                    self.key_span(node, "module"),
                    "`policy:` for rules over an input, `module:` for declarations that policies import",
                )
        elif validator == "type":
            if not path:
                self.error(
                    "yaml-kind",
                    f"a policy document is a mapping of keys, not {_kind(node)}",
                    span,
                    "start the file with `policy: <name>`",
                )
                return
            hint = _TYPE_HINTS.get(str(path[-1]), "")
            if not hint and path[0] in ("input", "types", "actions") and len(path) > 2:
                hint = "write a type as a string (`float in [0, 1]`) or a mapping of fields (a record)"
            if not hint and "string" in error.validator_value and isinstance(node, int | float):
                hint = "quote it to make it a string"
            self.error(
                "yaml-kind", f"{where} must be {_expected(error.validator_value)}, not {_kind(node)}", span, hint
            )
        elif validator == "enum":
            allowed = [str(v) for v in error.validator_value]
            hint = _suggest(node, allowed) or "it is one of " + ", ".join(allowed)
            self.error("yaml-kind", f"unknown {path[-1]} '{node}'", span, hint)
        elif validator == "pattern":
            what = {"policy": "policy name", "module": "module name", "name": "rule name"}.get(str(path[-1]), "name")
            hint = (
                "a dotted name: letters, digits and '_' separated by '.', e.g. motb.orchestration"
                if what != "rule name"
                else "a name is letters, digits and '_', not starting with a digit"
            )
            self.error("yaml-kind", f"'{node}' is not a valid {what}", span, hint)
        elif validator == "minItems":
            self.error("yaml-kind", f"{where} is an empty list", span, "give at least one action call")
        elif validator == "minLength":
            self.error("yaml-kind", f"{where} is empty", span, "")
        else:
            self.error("yaml-kind", f"{where}: {error.message}", span, "")

    @staticmethod
    def _allowed(error: jsonschema.ValidationError, path: list[Any]) -> list[str]:
        if not path:
            return list(policy_schema()["properties"])
        if "properties" not in error.schema and path[0] == "rules":
            # the conditional `when`-unless-`enter_when` requirement sits in a subschema of the rule
            return list(policy_schema()["$defs"]["rule"]["properties"])
        return list(error.schema.get("properties", {}))

    @staticmethod
    def _locate(data: Any, path: list[Any]) -> tuple[Any, Any]:
        """(parent, key or index) of the node at `path`; (None, None) for the root."""
        parent, step, node = None, None, data
        for part in path:
            parent, step, node = node, part, node[part]
        return parent, step

    @staticmethod
    def _describe(path: list[Any], data: Any) -> str:
        """`rule 'x'`, `'priority' of rule 'x'`, `field 'a' of input 'telemetry'`, ..."""
        if not path:
            return "the document"
        head = path[0]
        if head == "rules" and len(path) >= 2:
            rule = data["rules"][path[1]]
            name = rule.get("name") if isinstance(rule, dict) else None
            what = f"rule '{name}'" if isinstance(name, str) else f"rule #{path[1] + 1}"
            rest = path[2:]
            if not rest:
                return what
            if rest[0] == "then" and len(rest) == 2:
                return f"action call #{rest[1] + 1} of {what}"
            if rest[0] == "labels" and len(rest) == 2:
                return f"label '{rest[1]}' of {what}"
            return f"'{rest[0]}' of {what}"
        singular = {
            "input": "input",
            "const": "constant",
            "let": "condition",
            "types": "type",
            "actions": "action",
            "labels": "label",
        }
        if head in singular and len(path) >= 2:
            what = f"{singular[head]} '{path[1]}'"
            rest = [str(p) for p in path[2:]]
            if not rest:
                return what
            part = {"input": "field", "types": "field", "actions": "parameter"}.get(head, "")
            return f"{part} '{'.'.join(rest)}' of {what}" if part else f"'{rest[0]}' of {what}"
        if head == "imports" and len(path) == 2:
            return f"import #{path[1] + 1}"
        return "'" + ".".join(str(p) for p in path) + "'"

    # ---- the AST ----
    def document(self, data: Any) -> ast.Document | None:
        if not isinstance(data, dict):
            return None
        kind = next((k for k in ("policy", "module") if isinstance(data.get(k), str)), None)
        if kind is None:
            return None
        version = None
        if kind == "policy" and isinstance(data.get("version"), str):
            version = self.string_value(data, "version")
        items: list[ast.Item] = []
        for key, value in data.items():
            if key == "imports" and isinstance(value, list):
                for i, path in enumerate(value):
                    if isinstance(path, str):
                        items.append(ast.Import(self.string_value(value, i), self.node_span(value, i)))
            elif key == "input" and isinstance(value, dict):
                for name, record in value.items():
                    if self._is_name(name) and isinstance(record, dict):
                        items.append(ast.Input(name, self.fields(record), self.key_span(value, name)))
            elif key == "types" and isinstance(value, dict):
                for name in value:
                    type_ = self.type_(value, name) if self._is_name(name) else None
                    if type_ is not None:
                        items.append(ast.TypeAlias(name, type_, self.key_span(value, name)))
            elif key == "const" and isinstance(value, dict):
                items.extend(c for name in value if (c := self.constant(value, name)) is not None)
            elif key == "let" and isinstance(value, dict):
                for name in value:
                    expr = self.expr(value, name) if self._is_name(name) else None
                    if expr is not None:
                        items.append(ast.Let(name, expr, self.key_span(value, name)))
            elif key == "actions" and isinstance(value, dict):
                for name, params in value.items():
                    if self._is_name(name) and isinstance(params, dict):
                        declared = tuple(p for p in (self.param(params, p) for p in params) if p is not None)
                        items.append(ast.ActionDecl(name, declared, self.key_span(value, name)))
            elif key == "rules" and isinstance(value, list):
                items.extend(r for i in range(len(value)) if (r := self.rule(value, i)) is not None)
            elif key == "stream" and isinstance(value, dict):
                items.append(self.stream(data, value))
        return ast.Document(
            kind=kind,
            name=data[kind],
            span=self.node_span(data, kind),
            file=self.file,
            version=version,
            owner=self._text(data, "owner"),
            description=self._text(data, "description"),
            labels=self.labels(data.get("labels")),
            items=tuple(items),
        )

    @staticmethod
    def _is_name(name: object) -> bool:
        return isinstance(name, str) and _NAME.fullmatch(name) is not None

    @staticmethod
    def _text(mapping: Any, key: str) -> str:
        value = mapping.get(key)
        return value if isinstance(value, str) else ""

    def string_value(self, parent: Any, step: object) -> ast.StringValue:
        value = parent[step]
        return ast.StringValue(value, self.embedded(parent, step).span(0, len(value)))

    def labels(self, mapping: Any) -> tuple[ast.Label, ...]:
        if not isinstance(mapping, dict):
            return ()
        return tuple(
            ast.Label(key, value, self.key_span(mapping, key))
            for key, value in mapping.items()
            if self._is_name(key) and isinstance(value, str)
        )

    def fields(self, mapping: Any) -> tuple[ast.Field, ...]:
        out = []
        for key in mapping:
            if not isinstance(key, str) or not _FIELD_NAME.fullmatch(key):
                continue
            type_ = self.type_(mapping, key)
            if type_ is not None:
                out.append(ast.Field(key.rstrip("?"), type_, key.endswith("?"), self.key_span(mapping, key)))
        return tuple(out)

    def type_(self, parent: Any, step: object) -> ast.TypeExpr | None:
        value = parent[step]
        if isinstance(value, str):
            return self.embedded(parent, step).parse(parse_type, self.problems)
        if isinstance(value, dict):
            return ast.RecordType(self.fields(value), self.node_span(parent, step))
        return None

    def constant(self, mapping: Any, name: object) -> ast.Const | None:
        if not self._is_name(name):
            return None
        value = mapping[name]
        if isinstance(value, dict):  # {type: T, value: V}
            if "type" not in value or "value" not in value:
                return None
            type_, expr = self.type_(value, "type"), self.expr(value, "value")
            if type_ is None or expr is None:
                return None
            return ast.Const(name, type_, expr, self.key_span(mapping, name))
        expr = self.expr(mapping, name)
        return ast.Const(name, None, expr, self.key_span(mapping, name)) if expr is not None else None

    def param(self, mapping: Any, key: object) -> ast.Param | None:
        if not isinstance(key, str) or not _FIELD_NAME.fullmatch(key):
            return None
        name, optional, span = key.rstrip("?"), key.endswith("?"), self.key_span(mapping, key)
        value = mapping[key]
        if isinstance(value, dict):
            return ast.Param(
                name, ast.RecordType(self.fields(value), self.node_span(mapping, key)), optional, None, span
            )
        if not isinstance(value, str):
            return None
        embedded = self.embedded(mapping, key)
        equals = _top_level_equals(value)
        type_ = embedded.parse(parse_type, self.problems, 0, equals)
        default = None
        if equals is not None and not value[equals + 1 :].strip():
            self.error(
                "syntax",
                f"parameter '{name}' has '=' but no default value",
                embedded.span(equals, equals + 1),
                f"write `{key}: {value[:equals].strip()} = <default>`, or drop the '='",
            )
            return None
        if equals is not None:
            default = embedded.parse(parse_expression, self.problems, equals + 1)
            if default is None:
                return None
        return ast.Param(name, type_, optional, default, span) if type_ is not None else None

    def expr(self, parent: Any, step: object) -> ast.Expr | None:
        """An expression slot: strings are source, scalars literals, lists list literals."""
        value = parent[step]
        if isinstance(value, str):
            return self.embedded(parent, step).parse(parse_expression, self.problems)
        span = self.node_span(parent, step)
        if isinstance(value, bool):
            return ast.Literal("bool", value, span, "true" if value else "false")
        if value is None:
            return ast.Literal("null", None, span, "null")
        if isinstance(value, int | float):
            return self.number(parent, step, value, span)
        if isinstance(value, list):
            items = [self.expr(value, i) for i in range(len(value))]
            if any(item is None for item in items):
                return None
            return ast.ListLiteral(tuple(items), span)  # type: ignore[arg-type]
        return None  # a mapping, a date...: reported by the schema

    def number(self, parent: Any, step: object, value: float, span: Span) -> ast.Expr | None:
        """A YAML number: read from its source text when the DSL spells it the same way."""
        line, col = parent.lc.value(step) if isinstance(parent, dict) else parent.lc.item(step)
        rest = self.source.lines[line][col:]
        token = _PLAIN_TOKEN.match(rest)
        if token and _DSL_NUMBER.fullmatch(token.group()):
            return _Embedded(self.source, token.group(), line, col).parse(parse_expression, self.problems)
        if isinstance(value, float) and not math.isfinite(value):
            written = token.group() if token else str(value)
            self.error("yaml-kind", f"'{written}' is not a finite number", span, "policies compute with finite numbers")
            return None
        if isinstance(value, float):
            return ast.Literal("float", float(value), span, repr(float(value)))
        return ast.Literal("int", int(value), span, str(int(value)))

    def rule(self, rules: Any, index: int) -> ast.Rule | None:
        rule = rules[index]
        if not isinstance(rule, dict) or not self._is_name(rule.get("name")):
            return None
        when = self.expr(rule, "when") if isinstance(rule.get("when"), str | bool) else None
        enter = self.expr(rule, "enter_when") if isinstance(rule.get("enter_when"), str | bool) else None
        exit_ = self.expr(rule, "exit_when") if isinstance(rule.get("exit_when"), str | bool) else None
        group = rule.get("group_by")
        group_by = tuple(g for g in group if isinstance(g, str)) if isinstance(group, list) else ()
        limit = None
        at_most = rule.get("at_most")
        if isinstance(at_most, dict) and isinstance(at_most.get("count"), int) and (per := self.duration(at_most, "per")):
            limit = (at_most["count"], per)
        then: list[ast.ActionCall | None] = []
        calls = rule.get("then")
        if isinstance(calls, str):
            then.append(self.embedded(rule, "then").parse(parse_action_call, self.problems))
        elif isinstance(calls, list):
            for i, call in enumerate(calls):
                if isinstance(call, str):
                    then.append(self.embedded(calls, i).parse(parse_action_call, self.problems))
        priority = rule.get("priority")
        if isinstance(priority, bool) or not isinstance(priority, int | float):
            priority = None
        elif isinstance(priority, float):
            priority = int(priority) if priority.is_integer() else None
        else:
            priority = int(priority)
        impact = rule.get("impact") if isinstance(rule.get("impact"), str) else None
        reason = self.string_value(rule, "reason") if isinstance(rule.get("reason"), str) else None
        return ast.Rule(
            name=rule["name"],
            span=self.node_span(rule, "name"),
            when=when,
            then=tuple(c for c in then if c is not None),
            priority=priority,
            priority_span=self.node_span(rule, "priority") if priority is not None else None,
            impact=impact,
            impact_span=self.node_span(rule, "impact") if impact is not None else None,
            reason=reason,
            labels=self.labels(rule.get("labels")),
            description=self._text(rule, "description"),
            clause_lines=tuple(self.clause_lines(rule)),
            group_by=group_by,
            group_span=self.node_span(rule, "group_by") if group_by else None,
            enter=enter,
            exit=exit_,
            hold=self.duration(rule, "for"),
            keep=self.duration(rule, "keep"),
            cooldown=self.duration(rule, "cooldown"),
            limit=limit,
            limit_span=self.node_span(rule, "at_most") if limit else None,
        )

    def duration(self, mapping: Any, key: str) -> ast.Duration | None:
        """A duration value (`30s`); the schema has checked its spelling."""
        from ballast.runtime.values import parse_duration

        text = mapping.get(key)
        seconds = parse_duration(text) if isinstance(text, str) else None
        if seconds is None:
            return None
        return ast.Duration(seconds, text, self.node_span(mapping, key))

    def stream(self, data: Any, value: Any) -> ast.Stream:
        sequence = value.get("sequence") if isinstance(value.get("sequence"), dict) else {}
        names = {k: value[k] for k in ("time", "id") if isinstance(value.get(k), str)}
        return ast.Stream(
            span=self.key_span(data, "stream"),
            time=names.get("time", ""),
            time_span=self.node_span(value, "time") if "time" in names else None,
            id=names.get("id", ""),
            id_span=self.node_span(value, "id") if "id" in names else None,
            lateness=self.duration(value, "lateness"),
            sequence=sequence.get("field", "") if isinstance(sequence.get("field"), str) else "",
            sequence_by=sequence.get("by", "") if isinstance(sequence.get("by"), str) else "",
            sequence_span=self.node_span(value, "sequence") if sequence else None,
            idle=self.duration(value, "idle"),
        )

    def clause_lines(self, rule: Any) -> list[tuple[str, int, int]]:
        """(clause, first line, last line) of each clause as written, as the `.bal` parser keeps them."""
        out = []
        for key in rule:
            if key in _CLAUSES:
                value, last = rule[key], self.node_span(rule, key).end_line
                if isinstance(value, list) and value:  # a block list ends with its last item
                    last = max(last, self.node_span(value, len(value) - 1).end_line)
                out.append((_CLAUSE_NAMES.get(key, key), self.key_span(rule, key).line, last))
        return out


def _top_level_equals(text: str) -> int | None:
    """The index of the `=` that starts a parameter's default (`int = 1`), outside string literals."""
    quote = None
    i = 0
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\":
                i += 2
                continue
            if c == quote:
                quote = None
        elif c in "\"'":
            quote = c
        elif c == "=":
            return i
        i += 1
    return None
