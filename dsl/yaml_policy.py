"""A loaded YAML policy or module document as an `ast.Document`, declarations in written order.

Each top-level key becomes its declarations (`imports`, `input`, `types`, `const`, `let`,
`actions`, `rules`, `stream`); values of the wrong kind are skipped, since the schema has
already reported them, so one file yields every problem at once.
"""

from __future__ import annotations

from typing import Any

from ballast.dsl import ast
from ballast.dsl.parser import parse_expression, parse_type
from ballast.dsl.yaml_file import YamlFile
from ballast.dsl.yaml_rules import read_rule
from ballast.dsl.yaml_values import (
    FIELD_NAME,
    duration,
    expression,
    fields,
    is_name,
    labels,
    string_value,
    text_of,
    type_expr,
)


def read_document(yaml_file: YamlFile, data: Any) -> ast.Document | None:
    """The document, or None when the data names neither a policy nor a module."""
    if not isinstance(data, dict):
        return None
    kind = next((k for k in ("policy", "module") if isinstance(data.get(k), str)), None)
    if kind is None:
        return None
    version = None
    if kind == "policy" and isinstance(data.get("version"), str):
        version = string_value(yaml_file, data, "version")
    items: list[ast.Item] = []
    for key, value in data.items():
        if key == "imports" and isinstance(value, list):
            for i, path in enumerate(value):
                if isinstance(path, str):
                    items.append(ast.Import(string_value(yaml_file, value, i), yaml_file.node_span(value, i)))
        elif key == "input" and isinstance(value, dict):
            for name, record in value.items():
                if is_name(name) and isinstance(record, dict):
                    items.append(ast.Input(name, fields(yaml_file, record), yaml_file.key_span(value, name)))
        elif key == "types" and isinstance(value, dict):
            for name in value:
                type_ = type_expr(yaml_file, value, name) if is_name(name) else None
                if type_ is not None:
                    items.append(ast.TypeAlias(name, type_, yaml_file.key_span(value, name)))
        elif key == "const" and isinstance(value, dict):
            items.extend(c for name in value if (c := _constant(yaml_file, value, name)) is not None)
        elif key == "let" and isinstance(value, dict):
            for name in value:
                expr = expression(yaml_file, value, name) if is_name(name) else None
                if expr is not None:
                    items.append(ast.Let(name, expr, yaml_file.key_span(value, name)))
        elif key == "actions" and isinstance(value, dict):
            for name, params in value.items():
                if is_name(name) and isinstance(params, dict):
                    declared = tuple(p for p in (_param(yaml_file, params, p) for p in params) if p is not None)
                    items.append(ast.ActionDecl(name, declared, yaml_file.key_span(value, name)))
        elif key == "rules" and isinstance(value, list):
            items.extend(r for i in range(len(value)) if (r := read_rule(yaml_file, value, i)) is not None)
        elif key == "stream" and isinstance(value, dict):
            items.append(_stream(yaml_file, data, value))
    return ast.Document(
        kind=kind,
        name=data[kind],
        span=yaml_file.node_span(data, kind),
        file=yaml_file.file,
        version=version,
        owner=text_of(data, "owner"),
        description=text_of(data, "description"),
        labels=labels(yaml_file, data.get("labels")),
        items=tuple(items),
    )


def _constant(yaml_file: YamlFile, mapping: Any, name: object) -> ast.Const | None:
    if not is_name(name):
        return None
    value = mapping[name]
    if isinstance(value, dict):  # {type: T, value: V}
        if "type" not in value or "value" not in value:
            return None
        type_, expr = type_expr(yaml_file, value, "type"), expression(yaml_file, value, "value")
        if type_ is None or expr is None:
            return None
        return ast.Const(name, type_, expr, yaml_file.key_span(mapping, name))
    expr = expression(yaml_file, mapping, name)
    return ast.Const(name, None, expr, yaml_file.key_span(mapping, name)) if expr is not None else None


def _param(yaml_file: YamlFile, mapping: Any, key: object) -> ast.Param | None:
    """An action parameter: `name: type`, `name: type = default`, or `name: {record fields}`."""
    if not isinstance(key, str) or not FIELD_NAME.fullmatch(key):
        return None
    name, optional, span = key.rstrip("?"), key.endswith("?"), yaml_file.key_span(mapping, key)
    value = mapping[key]
    if isinstance(value, dict):
        return ast.Param(
            name, ast.RecordType(fields(yaml_file, value), yaml_file.node_span(mapping, key)), optional, None, span
        )
    if not isinstance(value, str):
        return None
    embedded = yaml_file.embedded(mapping, key)
    equals = _top_level_equals(value)
    type_ = embedded.parse(parse_type, yaml_file.problems, 0, equals)
    default = None
    if equals is not None and not value[equals + 1 :].strip():
        yaml_file.error(
            "syntax",
            f"parameter '{name}' has '=' but no default value",
            embedded.span(equals, equals + 1),
            f"write `{key}: {value[:equals].strip()} = <default>`, or drop the '='",
        )
        return None
    if equals is not None:
        default = embedded.parse(parse_expression, yaml_file.problems, equals + 1)
        if default is None:
            return None
    return ast.Param(name, type_, optional, default, span) if type_ is not None else None


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


def _stream(yaml_file: YamlFile, data: Any, value: Any) -> ast.Stream:
    """The `stream:` block: how the policy reads time from its events."""
    sequence = value.get("sequence") if isinstance(value.get("sequence"), dict) else {}
    names = {k: value[k] for k in ("time", "id") if isinstance(value.get(k), str)}
    return ast.Stream(
        span=yaml_file.key_span(data, "stream"),
        time=names.get("time", ""),
        time_span=yaml_file.node_span(value, "time") if "time" in names else None,
        id=names.get("id", ""),
        id_span=yaml_file.node_span(value, "id") if "id" in names else None,
        lateness=duration(yaml_file, value, "lateness"),
        sequence=sequence.get("field", "") if isinstance(sequence.get("field"), str) else "",
        sequence_by=sequence.get("by", "") if isinstance(sequence.get("by"), str) else "",
        sequence_span=yaml_file.node_span(value, "sequence") if sequence else None,
        idle=duration(yaml_file, value, "idle"),
        stale=duration(yaml_file, value, "stale_after"),
    )
