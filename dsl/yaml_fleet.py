"""The YAML form of fleet and rollout documents, read into the same AST as their `.bal` form.

    fleet: mesh.edge                  rollout: mesh.policy_2026_12
    version: "2026.12"                version: "1.0.0"
    owner: sre-platform               fleet: mesh.edge
    clusters:                         profile: prod
      eu-west-1:                      select: env == "prod"
        region: eu-west               allow: [eu-west-1]
        env: prod                     ceiling: 50%        # or a count: 2
        control_plane: "1.8.2"        rollback: on-deviation
        capabilities: [wasm]          justification: "CHG-1234: …"
        slo: {p95_ms: 250}            gates:
        owner: team-eu                  health:
        labels: {tier: canary}            pass: error_budget_burn < 1.0
                                          fail: error_budget_burn > 2.0
                                          interval: 1m
                                          count: 5
                                      waves:
                                        - name: canary
                                          select: labels["tier"] == "canary"
                                          max_update: 1
                                          bake: 10m
                                          gates: [health]

A setting's value becomes the `ast.Setting` the `.bal` form would give: a string that spells a
duration (`10m`) is a duration, one that ends in `%` a percentage, a YAML number a number, a list
a list, a mapping a map; the fleet and rollout kinds then check names, forms and ranges alike for
both forms, at the YAML `line:col`. Keys are checked here (unknown ones with did-you-mean);
`fleet.schema.json` is the same contract for editors. Conditions are strings of `.bal` source.
"""

from __future__ import annotations

import re

from ballast.dsl import ast
from ballast.dsl.parser import parse_expression
from ballast.dsl.yaml_reader import Node
from ballast.dsl.yaml_values import headed_document, labels, string_value, text_of
from ballast.runtime.errors import Span
from ballast.runtime.values import parse_duration

KINDS = ("fleet", "rollout")
_HEAD = ("version", "owner", "description", "labels")
FLEET_KEYS = ("fleet", *_HEAD, "clusters")
CLUSTER_KEYS = ("region", "env", "group", "control_plane", "capabilities", "slo", "owner", "labels")
ROLLOUT_KEYS = (
    "rollout",
    *_HEAD,
    "fleet",
    "profile",
    "select",
    "allow",
    "ceiling",
    "rollback",
    "justification",
    "gates",
    "waves",
)
GATE_KEYS = (
    "pass",
    "fail",
    "interval",
    "count",
    "failure_limit",
    "consecutive_error_limit",
    "consecutive_success_limit",
    "inconclusive_limit",
)
WAVE_KEYS = ("name", "select", "max_update", "max_unavailable", "bake", "gates")
_PERCENT = re.compile(r"\d+(\.\d+)?%")


def fleet_kind_of(root: Node) -> str | None:
    """`fleet` or `rollout` when the document's first keys say so, else None."""
    if not root.is_mapping:
        return None
    return next((k for k in KINDS if root.has(k, str) and next(iter(root), None) == k), None)


def read_fleet_document(root: Node, kind: str) -> ast.Document:
    """The document; every problem goes to the reader."""
    root.keys(FLEET_KEYS if kind == "fleet" else ROLLOUT_KEYS, f"a {kind} document")
    if not root.has("version", str):
        root.reader.report(
            f"{kind} '{root[kind]}' has no version (a string)", root.key_span(kind), 'add `version: "1.0.0"`'
        )
    items = _fleet_items(root) if kind == "fleet" else _rollout_items(root)
    return headed_document(root, kind, items)


def _fleet_items(root: Node) -> list[ast.Item]:
    if not root.has("clusters", dict):
        root.reader.report("a fleet needs `clusters:`, a mapping of cluster ids", root.key_span("fleet"), "")
        return []
    clusters = root.child("clusters")
    out: list[ast.Item] = []
    for cid in clusters:
        if not clusters.has(cid, dict):
            clusters.error(cid, f"cluster '{cid}' must be a mapping of settings", "region: eu-west, env: prod, …")
            continue
        body = clusters.child(cid)
        body.keys(CLUSTER_KEYS, f"cluster '{cid}'")
        settings = tuple(s for key in body if key not in ("owner", "labels") if (s := read_setting(body, key)))
        out.append(
            ast.Cluster(
                str(cid),
                clusters.key_span(cid),
                clusters.key_span(cid),
                settings,
                text_of(body, "owner"),
                body.value_span("owner") if body.has("owner", str) else None,
                labels(body, "labels"),
            )
        )
    return out


def _rollout_items(root: Node) -> list[ast.Item]:
    out: list[ast.Item] = []
    for key in root:
        if key in ("rollout", *_HEAD):
            continue
        if key == "select":
            select = _select(root, key)
            if select is not None:
                out.append(select)
        elif key == "justification" and root.has(key, str):
            out.append(ast.Justification(string_value(root, key), root.value_span(key)))
        elif key == "gates" and root.has(key, dict):
            gates = root.child(key)
            out.extend(gate for name in gates if (gate := _gate(gates, name)) is not None)
        elif key == "waves" and root.has(key, list):
            waves = root.child(key)
            out.extend(wave for i in waves if (wave := _wave(waves, i)) is not None)
        elif key in ("gates", "waves"):
            shape = "a mapping of gate names" if key == "gates" else "a list of waves"
            root.error(key, f"'{key}' must be {shape}", "see docs/rollouts.md")
        elif key in ROLLOUT_KEYS and (setting := read_setting(root, key)) is not None:
            out.append(setting)
    return out


def _select(node: Node, key: str) -> ast.Select | None:
    if not node.has(key, str):
        node.error(key, "a selector is a condition written as a string", 'select: env == "prod"')
        return None
    condition = node.parse(key, parse_expression)
    return ast.Select(condition, node.value_span(key)) if condition is not None else None


def _gate(gates: Node, name: object) -> ast.Gate | None:
    if not isinstance(name, str) or not gates.has(name, dict):
        gates.error(name, f"gate '{name}' must be a mapping", "pass: …, fail: …, interval: 1m")
        return None
    body = gates.child(name)
    body.keys(GATE_KEYS, f"gate '{name}'")
    conditions = {}
    for word in ("pass", "fail"):
        if word in body:
            if body.has(word, str):
                conditions[word] = body.parse(word, parse_expression)
            else:
                body.error(word, f"'{word}' is a condition written as a string", f"{word}: error_budget_burn < 1.0")
    settings = tuple(s for key in body if key not in ("pass", "fail") if (s := read_setting(body, key)))
    span = gates.key_span(name)
    return ast.Gate(name, span, span, conditions.get("pass"), conditions.get("fail"), settings)


def _wave(waves: Node, i: int) -> ast.Wave | None:
    if not waves.has(i, dict) or not waves.child(i).has("name", str):
        waves.error(i, "a wave is a mapping with a `name`", "- name: canary\n  max_update: 1")
        return None
    body = waves.child(i)
    body.keys(WAVE_KEYS, f"wave '{body['name']}'")
    select = _select(body, "select") if "select" in body else None
    settings = tuple(s for key in body if key not in ("name", "select") if (s := read_setting(body, key)))
    span = body.value_span("name")
    return ast.Wave(body["name"], span, span, select, settings)


def read_setting(node: Node, key: str) -> ast.Setting | None:
    """node[key] as the setting its `.bal` spelling would give; None for a value no setting takes."""
    value = node.value(key)
    name_span, value_span = node.key_span(key), node.value_span(key)
    whole = Span(name_span.file, name_span.line, name_span.column, value_span.end_line, value_span.end_column)
    kind: str
    if isinstance(value, bool) or value is None:
        node.error(key, f"'{key}' has no value of this kind", "write a string, a number, a list or a mapping")
        return None
    if isinstance(value, int | float):
        kind, value = "number", float(value)
    elif isinstance(value, str) and _PERCENT.fullmatch(value):
        kind, value = "percent", ast.Percent(float(value[:-1]), value)
    elif isinstance(value, str) and parse_duration(value) is not None and not value.isdigit():
        kind, value = "duration", ast.Duration(parse_duration(value) or 0.0, value, value_span)
    elif isinstance(value, str):
        kind = "string"
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        kind, value = "list", tuple(value)
    elif isinstance(value, dict):
        kind, value = "map", tuple(ast.Label(str(k), str(v), node.child(key).key_span(k)) for k, v in value.items())
    else:
        node.error(key, f"'{key}' must be a list of strings", '["wasm", "ratelimit"]')
        return None
    return ast.Setting(key, kind, value, whole, name_span, value_span)
