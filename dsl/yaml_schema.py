"""Validation of a loaded YAML document against `policy.schema.json`, each error at its node.

The schema (JSON Schema 2020-12) is the contract editors use too; here each of its errors is
rewritten as a diagnostic that names the node in the user's terms (`'priority' of rule 'x'`),
sits at the node's `line:col` and, where it helps, carries a hint. This is the one place
jsonschema's exceptions are translated.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import jsonschema

from ballast.dsl.yaml_reader import Node, describe
from ballast.runtime.errors import Diagnostic, Span
from ballast.runtime.suggest import closest, did_you_mean

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


@cache
def policy_schema() -> dict[str, Any]:
    """The JSON Schema of the YAML form (shipped as `ballast/dsl/policy.schema.json`)."""
    return json.loads(resources.files("ballast.dsl").joinpath("policy.schema.json").read_text("utf-8"))


@cache
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(policy_schema())


def validate_document(root: Node) -> None:
    """Check the loaded document against the schema; each problem goes to the reader's, once."""
    reader = root.reader
    if root.data is None:
        reader.report(
            "the document is empty",
            reader.source.span(0, 1),
            "start with `policy: <name>` or `module: <name>`",
            code="yaml",
        )
        return
    try:
        errors = list(_validator().iter_errors(root.data))
    except Exception as exc:  # jsonschema must not escape: report it where it can be seen
        reader.report(f"the YAML form could not be validated: {exc!r}", reader.source.span(0, 1), code="internal")
        return
    for error in errors:
        _report(root, error)
    unique: dict[tuple[Span, str], Diagnostic] = {}
    for d in reader.problems:
        unique.setdefault((d.span, d.message), d)
    reader.problems[:] = unique.values()


def _report(root: Node, error: jsonschema.ValidationError) -> None:
    """One schema error as a diagnostic (or none, when another diagnostic already says it)."""
    path = list(error.absolute_path)
    schema_path = list(error.absolute_schema_path)
    parent, step = _locate(root, path)
    node = root if parent is None else parent.child(step)
    data = node.data
    where = _describe(path, root.data)
    validator = error.validator

    def report(code: str, message: str, span: Span, hint: str = "") -> None:
        root.reader.report(message, span, hint, code=code)

    if not root.is_mapping and (path or validator != "type"):
        return  # `required` and friends hold vacuously for a non-mapping: only its kind matters
    if "propertyNames" in schema_path:
        key = error.instance
        span = node.key_span(key)
        if validator == "type":
            report("yaml-key", f"the keys of {where} must be names, got {describe(key)}", span)
            return
        hint = "a name is letters, digits and '_', not starting with a digit"
        if str(error.validator_value).endswith("\\??$"):  # a field or parameter name
            hint += "; a trailing '?' marks it optional"
        report("yaml-key", f"'{key}' is not a valid name in {where}", span, hint)
        return
    span = root.start_span() if parent is None else parent.value_span(step)
    if validator == "additionalProperties":
        node.keys(error.schema.get("properties", {}), where, code="yaml-key")
    elif validator == "required":
        unknown = [str(k) for k in node if k not in _allowed(error, path)]
        for key in error.validator_value:
            if key in node or closest(key, unknown):
                continue  # a misspelled key already says "did you mean ..."
            message, hint = _REQUIRED_HINTS.get(key, (f"has no '{key}'", f"add `{key}: ...`"))
            owner = f"constant '{path[1]}'" if path[:1] == ["const"] else where
            if not path:
                owner = f"policy '{data.get('policy')}'"
            report("yaml-missing", f"{owner} {message}", _mapping_span(node), hint)
    elif validator == "anyOf" and not path:
        unknown = [str(k) for k in node if k not in _allowed(error, path)]
        if not closest("policy", unknown) and not closest("module", unknown):
            report(
                "yaml-missing",
                "the document has no 'policy' (or 'module') key",
                node.start_span(),
                "start the file with `policy: <name>`, or `module: <name>` for shared declarations",
            )
    elif validator == "not" and not path:
        if "dependentSchemas" in schema_path:
            if "policy" in node:
                return  # "a policy or a module, not both" says it
            report(
                "yaml-key",
                "a module has no version",
                node.key_span("version"),
                "only policies are versioned: remove 'version', or write `policy:` instead of `module:`",
            )
        else:
            report(
                "yaml-key",
                "a document is a policy or a module, not both",
                node.key_span("module"),
                "`policy:` for rules over an input, `module:` for declarations that policies import",
            )
    elif validator == "type":
        if not path:
            report(
                "yaml-kind",
                f"a policy document must be a mapping of keys, got {describe(data)}",
                span,
                "start the file with `policy: <name>`",
            )
            return
        hint = _TYPE_HINTS.get(str(path[-1]), "")
        if not hint and path[0] in ("input", "types", "actions") and len(path) > 2:
            hint = "write a type as a string (`float in [0, 1]`) or a mapping of fields (a record)"
        if not hint and "string" in error.validator_value and isinstance(data, int | float):
            hint = "quote it to make it a string"
        report("yaml-kind", f"{where} must be {_expected(error.validator_value)}, got {describe(data)}", span, hint)
    elif validator == "enum":
        allowed = [str(v) for v in error.validator_value]
        hint = did_you_mean(data, allowed) or "it is one of " + ", ".join(allowed)
        report("yaml-kind", f"unknown {path[-1]} '{data}'", span, hint)
    elif validator == "pattern":
        what = {"policy": "policy name", "module": "module name", "name": "rule name"}.get(str(path[-1]), "name")
        hint = (
            "a dotted name: letters, digits and '_' separated by '.', e.g. motb.orchestration"
            if what != "rule name"
            else "a name is letters, digits and '_', not starting with a digit"
        )
        report("yaml-kind", f"'{data}' is not a valid {what}", span, hint)
    elif validator == "minItems":
        report("yaml-kind", f"{where} is an empty list", span, "give at least one action call")
    elif validator == "minLength":
        report("yaml-kind", f"{where} is empty", span)
    else:
        report("yaml-kind", f"{where}: {error.message}", span)


def _mapping_span(mapping: Node) -> Span:
    """Where to report a problem with a whole mapping: its name if it has one, else its start."""
    for key in ("name", "policy", "module"):
        if mapping.has(key, str):
            return mapping.value_span(key)
    return mapping.start_span()


def _allowed(error: jsonschema.ValidationError, path: list[Any]) -> list[str]:
    if not path:
        return list(policy_schema()["properties"])
    if "properties" not in error.schema and path[0] == "rules":
        # the conditional `when`-unless-`enter_when` requirement sits in a subschema of the rule
        return list(policy_schema()["$defs"]["rule"]["properties"])
    return list(error.schema.get("properties", {}))


def _locate(root: Node, path: list[Any]) -> tuple[Node | None, Any]:
    """(parent, key or index) of the node at `path`; (None, None) for the root."""
    parent, step, node = None, None, root
    for part in path:
        parent, step, node = node, part, node.child(part)
    return parent, step


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


def _expected(kinds: object) -> str:
    names = [_KINDS.get(k, k) for k in (kinds if isinstance(kinds, list) else [kinds])]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]

