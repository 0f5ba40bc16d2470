"""The values of a loaded YAML document as AST nodes: expressions, types, fields, labels, durations.

Wherever an expression is expected, a YAML string is `.bal` source (parsed by the same grammar,
its spans mapped back into the YAML file), numbers, booleans and null are those literals, and a
list is a list literal whose items follow the same rule. Readers return None for a value of the
wrong kind: the schema has already reported it.
"""

from __future__ import annotations

import math
import re
from typing import Any

from ballast.dsl import ast
from ballast.dsl.parser import parse_expression, parse_type
from ballast.dsl.yaml_file import YamlFile
from ballast.dsl.yaml_positions import Embedded
from ballast.runtime.errors import Span

FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\??")  # a trailing `?` marks the field optional
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DSL_NUMBER = re.compile(r"-?(\d+\.\d*([eE][+-]?\d+)?|\d+[eE][+-]?\d+|\d+)")


def is_name(name: object) -> bool:
    return isinstance(name, str) and _NAME.fullmatch(name) is not None


def text_of(mapping: Any, key: str) -> str:
    """mapping[key] if it is a string, else "" (free text such as `description`)."""
    value = mapping.get(key)
    return value if isinstance(value, str) else ""


def string_value(yaml_file: YamlFile, parent: Any, step: object) -> ast.StringValue:
    value = parent[step]
    return ast.StringValue(value, yaml_file.embedded(parent, step).span(0, len(value)))


def labels(yaml_file: YamlFile, mapping: Any) -> tuple[ast.Label, ...]:
    if not isinstance(mapping, dict):
        return ()
    return tuple(
        ast.Label(key, value, yaml_file.key_span(mapping, key))
        for key, value in mapping.items()
        if is_name(key) and isinstance(value, str)
    )


def fields(yaml_file: YamlFile, mapping: Any) -> tuple[ast.Field, ...]:
    out = []
    for key in mapping:
        if not isinstance(key, str) or not FIELD_NAME.fullmatch(key):
            continue
        type_ = type_expr(yaml_file, mapping, key)
        if type_ is not None:
            out.append(ast.Field(key.rstrip("?"), type_, key.endswith("?"), yaml_file.key_span(mapping, key)))
    return tuple(out)


def type_expr(yaml_file: YamlFile, parent: Any, step: object) -> ast.TypeExpr | None:
    """A type slot: a string is `.bal` type source, a mapping a record of fields."""
    value = parent[step]
    if isinstance(value, str):
        return yaml_file.embedded(parent, step).parse(parse_type, yaml_file.problems)
    if isinstance(value, dict):
        return ast.RecordType(fields(yaml_file, value), yaml_file.node_span(parent, step))
    return None


def expression(yaml_file: YamlFile, parent: Any, step: object) -> ast.Expr | None:
    """An expression slot: strings are source, scalars literals, lists list literals."""
    value = parent[step]
    if isinstance(value, str):
        return yaml_file.embedded(parent, step).parse(parse_expression, yaml_file.problems)
    span = yaml_file.node_span(parent, step)
    if isinstance(value, bool):
        return ast.Literal("bool", value, span, "true" if value else "false")
    if value is None:
        return ast.Literal("null", None, span, "null")
    if isinstance(value, int | float):
        return _number(yaml_file, parent, step, value, span)
    if isinstance(value, list):
        items = [expression(yaml_file, value, i) for i in range(len(value))]
        if any(item is None for item in items):
            return None
        return ast.ListLiteral(tuple(items), span)  # type: ignore[arg-type]
    return None  # a mapping, a date...: reported by the schema


def _number(yaml_file: YamlFile, parent: Any, step: object, value: float, span: Span) -> ast.Expr | None:
    """A YAML number: read from its source text when the DSL spells it the same way."""
    line, col = yaml_file.value_start(parent, step)
    token = yaml_file.source.plain_token(line, col)
    if token and _DSL_NUMBER.fullmatch(token):
        return Embedded(yaml_file.source, token, line, col).parse(parse_expression, yaml_file.problems)
    if isinstance(value, float) and not math.isfinite(value):
        written = token if token else str(value)
        yaml_file.error(
            "yaml-kind", f"'{written}' is not a finite number", span, "policies compute with finite numbers"
        )
        return None
    if isinstance(value, float):
        return ast.Literal("float", float(value), span, repr(float(value)))
    return ast.Literal("int", int(value), span, str(int(value)))


def duration(yaml_file: YamlFile, mapping: Any, key: str) -> ast.Duration | None:
    """A duration value (`30s`); the schema has checked its spelling."""
    from ballast.runtime.values import parse_duration

    text = mapping.get(key)
    seconds = parse_duration(text) if isinstance(text, str) else None
    if seconds is None:
        return None
    return ast.Duration(seconds, text, yaml_file.node_span(mapping, key))
