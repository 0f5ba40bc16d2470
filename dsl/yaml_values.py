"""The values of a loaded YAML document as AST nodes: expressions, types, fields, labels, durations.

Wherever an expression is expected, a YAML string is `.bal` source (parsed by the same grammar,
its spans mapped back into the YAML file), numbers, booleans and null are those literals, and a
list is a list literal whose items follow the same rule. Each reader takes the `Node` that holds
the value and the value's key or index; it returns None for a value of the wrong kind: the schema
has already reported it.
"""

from __future__ import annotations

import math
import re

from ballast.dsl import ast
from ballast.dsl.parser import parse_expression, parse_type
from ballast.dsl.yaml_reader import Node
from ballast.runtime.errors import Span

FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\??")  # a trailing `?` marks the field optional
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DSL_NUMBER = re.compile(r"-?(\d+\.\d*([eE][+-]?\d+)?|\d+[eE][+-]?\d+|\d+)")


def is_name(name: object) -> bool:
    return isinstance(name, str) and _NAME.fullmatch(name) is not None


def headed_by(root: Node, key: str) -> bool:
    """Whether the document is a mapping whose first key is `key:`, naming it (`profile: baseline`)."""
    return root.is_mapping and root.has(key, str) and next(iter(root), None) == key


def check_version(root: Node, key: str) -> None:
    """Report a document headed by `key:` that has no `version:` string."""
    if not root.has("version", str):
        root.reader.report(f"{key} '{root[key]}' has no version (a string)", root.key_span(key), 'add `version: "1"`')


def headed_document(root: Node, kind: str, items: list[ast.Item]) -> ast.Document:
    """The document of a reader whose first key, `kind:`, names it: version, owner, description
    and labels read as every kind writes them."""
    return ast.Document(
        kind=kind,
        name=root[kind],
        span=root.value_span(kind),
        file=root.reader.file,
        version=string_value(root, "version") if root.has("version", str) else None,
        owner=text_of(root, "owner"),
        description=text_of(root, "description"),
        labels=labels(root, "labels"),
        items=tuple(items),
    )


def text_of(node: Node, key: str) -> str:
    """node[key] if it is a string, else "" (free text such as `description`)."""
    value = node.value(key)
    return value if isinstance(value, str) else ""


def string_value(parent: Node, step: object) -> ast.StringValue:
    value = parent[step]
    return ast.StringValue(value, parent.embedded(step).span(0, len(value)))


def labels(parent: Node, step: str) -> tuple[ast.Label, ...]:
    """parent[step], a mapping of names to strings, as labels (none if it is not a mapping)."""
    if not parent.has(step, dict):
        return ()
    mapping = parent.child(step)
    return tuple(
        ast.Label(key, mapping[key], mapping.key_span(key)) for key in mapping if is_name(key) and mapping.has(key, str)
    )


def fields(mapping: Node) -> tuple[ast.Field, ...]:
    out = []
    for key in mapping:
        if not isinstance(key, str) or not FIELD_NAME.fullmatch(key):
            continue
        type_ = type_expr(mapping, key)
        if type_ is not None:
            out.append(ast.Field(key.rstrip("?"), type_, key.endswith("?"), mapping.key_span(key)))
    return tuple(out)


def type_expr(parent: Node, step: object) -> ast.TypeExpr | None:
    """A type slot: a string is `.bal` type source, a mapping a record of fields."""
    if parent.has(step, str):
        return parent.parse(step, parse_type)
    if parent.has(step, dict):
        return ast.RecordType(fields(parent.child(step)), parent.value_span(step))
    return None


def expression(parent: Node, step: object) -> ast.Expr | None:
    """An expression slot: strings are source, scalars literals, lists list literals."""
    value = parent[step]
    if isinstance(value, str):
        return parent.parse(step, parse_expression)
    span = parent.value_span(step)
    if isinstance(value, bool):
        return ast.Literal("bool", value, span, "true" if value else "false")
    if value is None:
        return ast.Literal("null", None, span, "null")
    if isinstance(value, int | float):
        return _number(parent, step, value, span)
    if isinstance(value, list):
        items = parent.child(step)
        exprs = [expression(items, i) for i in items]
        if any(expr is None for expr in exprs):
            return None
        return ast.ListLiteral(tuple(exprs), span)  # type: ignore[arg-type]
    return None  # a mapping, a date...: reported by the schema


def _number(parent: Node, step: object, value: float, span: Span) -> ast.Expr | None:
    """A YAML number: read from its source text when the DSL spells it the same way."""
    token = parent.token(step)
    if token and _DSL_NUMBER.fullmatch(token):
        return parent.embedded(step, token).parse(parse_expression, parent.reader.problems)
    if isinstance(value, float) and not math.isfinite(value):
        written = token if token else str(value)
        parent.reader.report(
            f"'{written}' is not a finite number", span, "policies compute with finite numbers", code="yaml-kind"
        )
        return None
    if isinstance(value, float):
        return ast.Literal("float", float(value), span, repr(float(value)))
    return ast.Literal("int", int(value), span, str(int(value)))


def duration(node: Node, key: str) -> ast.Duration | None:
    """A duration value (`30s`); the schema has checked its spelling."""
    from ballast.runtime.values import parse_duration

    text = node.value(key)
    seconds = parse_duration(text) if isinstance(text, str) else None
    if seconds is None:
        return None
    return ast.Duration(seconds, text, node.value_span(key))
