"""A loaded YAML policy or module document as an `ast.Document`, declarations in written order.

Each top-level key becomes its declarations (`imports`, `input`, `types`, `const`, `let`,
`actions`, `rules`, `stream`); values of the wrong kind are skipped, since the schema has
already reported them, so one file yields every problem at once.
"""

from __future__ import annotations

from ballast.dsl import ast
from ballast.dsl.parser import parse_expression, parse_type
from ballast.dsl.yaml_reader import Node
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


def read_document(root: Node) -> ast.Document | None:
    """The document, or None when the root names neither a policy nor a module."""
    if not root.is_mapping:
        return None
    kind = next((k for k in ("policy", "module") if root.has(k, str)), None)
    if kind is None:
        return None
    version = None
    if kind == "policy" and root.has("version", str):
        version = string_value(root, "version")
    items = read_declarations(root, DECLARATION_KEYS)
    return ast.Document(
        kind=kind,
        name=root[kind],
        span=root.value_span(kind),
        file=root.reader.file,
        version=version,
        owner=text_of(root, "owner"),
        description=text_of(root, "description"),
        labels=labels(root, "labels"),
        items=tuple(items),
    )


DECLARATION_KEYS = ("imports", "input", "types", "const", "let", "actions", "rules", "stream")


def read_declarations(root: Node, keys: tuple[str, ...]) -> list[ast.Item]:
    """The declarations under the top-level `keys` of a document, in written order (safety
    catalogs read `input`, `types`, `const` and `let` with it too)."""
    items: list[ast.Item] = []
    for key in root:
        if key not in keys:
            continue
        value = root.child(key)
        if key == "imports" and value.is_sequence:
            items.extend(ast.Import(string_value(value, i), value.value_span(i)) for i in value if value.has(i, str))
        elif key == "input" and value.is_mapping:
            for name in value:
                if is_name(name) and value.has(name, dict):
                    items.append(ast.Input(name, fields(value.child(name)), value.key_span(name)))
        elif key == "types" and value.is_mapping:
            for name in value:
                type_ = type_expr(value, name) if is_name(name) else None
                if type_ is not None:
                    items.append(ast.TypeAlias(name, type_, value.key_span(name)))
        elif key == "const" and value.is_mapping:
            items.extend(c for name in value if (c := _constant(value, name)) is not None)
        elif key == "let" and value.is_mapping:
            for name in value:
                expr = expression(value, name) if is_name(name) else None
                if expr is not None:
                    items.append(ast.Let(name, expr, value.key_span(name)))
        elif key == "actions" and value.is_mapping:
            for name in value:
                if is_name(name) and value.has(name, dict):
                    params = value.child(name)
                    declared = tuple(p for p in (_param(params, p) for p in params) if p is not None)
                    items.append(ast.ActionDecl(name, declared, value.key_span(name)))
        elif key == "rules" and value.is_sequence:
            items.extend(r for i in value if (r := read_rule(value, i)) is not None)
        elif key == "stream" and value.is_mapping:
            items.append(_stream(root))
    return items


def _constant(mapping: Node, name: object) -> ast.Const | None:
    if not is_name(name):
        return None
    if mapping.has(name, dict):  # {type: T, value: V}
        typed = mapping.child(name)
        if "type" not in typed or "value" not in typed:
            return None
        type_, expr = type_expr(typed, "type"), expression(typed, "value")
        if type_ is None or expr is None:
            return None
        return ast.Const(name, type_, expr, mapping.key_span(name))
    expr = expression(mapping, name)
    return ast.Const(name, None, expr, mapping.key_span(name)) if expr is not None else None


def _param(mapping: Node, key: object) -> ast.Param | None:
    """An action parameter: `name: type`, `name: type = default`, or `name: {record fields}`."""
    if not isinstance(key, str) or not FIELD_NAME.fullmatch(key):
        return None
    name, optional, span = key.rstrip("?"), key.endswith("?"), mapping.key_span(key)
    if mapping.has(key, dict):
        record = ast.RecordType(fields(mapping.child(key)), mapping.value_span(key))
        return ast.Param(name, record, optional, None, span)
    if not mapping.has(key, str):
        return None
    value = mapping[key]
    embedded = mapping.embedded(key)
    problems = mapping.reader.problems
    equals = _top_level_equals(value)
    type_ = embedded.parse(parse_type, problems, 0, equals)
    default = None
    if equals is not None and not value[equals + 1 :].strip():
        mapping.reader.report(
            f"parameter '{name}' has '=' but no default value",
            embedded.span(equals, equals + 1),
            f"write `{key}: {value[:equals].strip()} = <default>`, or drop the '='",
            code="syntax",
        )
        return None
    if equals is not None:
        default = embedded.parse(parse_expression, problems, equals + 1)
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


def _stream(root: Node) -> ast.Stream:
    """The `stream:` block: how the policy reads time from its events."""
    value = root.child("stream")
    sequence = value.child("sequence") if value.has("sequence", dict) else None
    names = {k: value[k] for k in ("time", "id") if value.has(k, str)}
    return ast.Stream(
        span=root.key_span("stream"),
        time=names.get("time", ""),
        time_span=value.value_span("time") if "time" in names else None,
        id=names.get("id", ""),
        id_span=value.value_span("id") if "id" in names else None,
        lateness=duration(value, "lateness"),
        sequence=sequence["field"] if sequence is not None and sequence.has("field", str) else "",
        sequence_by=sequence["by"] if sequence is not None and sequence.has("by", str) else "",
        sequence_span=value.value_span("sequence") if sequence is not None and len(sequence) else None,
        idle=duration(value, "idle"),
        stale=duration(value, "stale_after"),
    )
