"""The YAML form of supervisor documents, read into the same AST as their `.bal` form.

    supervisor: mesh.meta
    version: "1"
    window: 5m
    environment: prod
    goals:
      overall_success_rate: {target: 95%, tolerance: 2%}
      mean_recovery_seconds: {target: 30, tolerance: 10}
    meta_policies:
      improve_success:
        when: gap.overall_success_rate > 0.05
        directive: {type: adjust_threshold, parameter: retry.min_confidence, step: 0.05, max: 0.95}
        impact: low
        confidence: 70%
    approvals: {minimal: auto, low: auto_notify, moderate: approval_in_prod, high: approval, critical: block_review}
    verify: {alert_failures: 2, alert_gap_cycles: 5, rollback_impact: low}

Settings become the `ast.Setting`s the `.bal` form gives (`yaml_fleet` reads them), so the
supervisor kind checks names, forms and ranges alike for both forms, at the YAML `line:col`;
`when` is Ballast expression source, parsed at its place. Keys are checked here, unknown ones
with did-you-mean.
"""

from __future__ import annotations

from ballast.dsl import ast
from ballast.dsl.yaml_fleet import read_setting
from ballast.dsl.yaml_reader import Node
from ballast.dsl.yaml_values import expression, headed_document
from ballast.runtime.errors import Span

SUPERVISOR_KEYS = (
    "supervisor", "version", "owner", "description", "labels", "window", "environment",
    "goals", "meta_policies", "approvals", "verify",
)  # fmt: skip
POLICY_KEYS = ("when", "directive", "impact", "confidence", "metric", "verify_after")


def is_supervisor(root: Node) -> bool:
    """Whether the document's first key is `supervisor:`."""
    return root.is_mapping and root.has("supervisor", str) and next(iter(root), None) == "supervisor"


def read_supervisor(root: Node) -> ast.Document:
    """The document; every problem goes to the reader."""
    root.keys(SUPERVISOR_KEYS, "a supervisor document")
    if not root.has("version", str):
        root.reader.report(
            f"supervisor '{root['supervisor']}' has no version (a string)",
            root.key_span("supervisor"),
            'add `version: "1"`',
        )
    items: list[ast.Item] = [s for key in ("window", "environment") if key in root if (s := read_setting(root, key))]
    for label, body, span in _blocks(root, "goals", "goal"):
        items.append(ast.SupervisorBlock("goal", label, span, span, _settings(body, list(body))))
    for label, body, span in _blocks(root, "meta_policies", "meta-policy"):
        items.append(_policy(label, body, span))
    if "approvals" in root:
        if root.has("approvals", dict):
            matrix = root.child("approvals")
            for level in matrix:
                route = read_setting(matrix, level)
                if route is not None:  # `low: auto_notify` is `approval low { route "auto_notify" }`
                    setting = ast.Setting(
                        "route", route.kind, route.value, route.span, route.name_span, route.value_span
                    )
                    span = matrix.key_span(level)
                    items.append(ast.SupervisorBlock("approval", str(level), span, span, (setting,)))
        else:
            root.error("approvals", "`approvals:` must map impact levels to routes", "approvals: {low: auto_notify}")
    if "verify" in root:
        if root.has("verify", dict):
            body = root.child("verify")
            span = root.key_span("verify")
            items.append(ast.SupervisorBlock("verify", "", span, span, _settings(body, list(body))))
        else:
            root.error("verify", "`verify:` must be a mapping of settings", "verify: {alert_failures: 2}")
    return headed_document(root, "supervisor", items)


def _blocks(root: Node, section: str, what: str) -> list[tuple[str, Node, Span]]:
    """The blocks of a section: each name, its mapping of settings and the span of its key."""
    if section not in root:
        return []
    if not root.has(section, dict):
        root.error(section, f"`{section}:` must be a mapping of {what} names to their settings", "")
        return []
    blocks = root.child(section)
    out = []
    for label in blocks:
        if not blocks.has(label, dict):
            blocks.error(label, f"{what} '{label}' must be a mapping of settings", "target: 95%")
            continue
        out.append((str(label), blocks.child(label), blocks.key_span(label)))
    return out


def _settings(node: Node, keys: list[object]) -> tuple[ast.Setting, ...]:
    return tuple(s for key in keys if (s := read_setting(node, str(key))))


def _policy(label: str, node: Node, span: Span) -> ast.SupervisorBlock:
    node.keys(POLICY_KEYS, f"meta-policy '{label}'")
    when = expression(node, "when") if "when" in node else None
    directive = None
    if "directive" in node:
        if node.has("directive", dict) and node.child("directive").has("type", str):
            d = node.child("directive")
            kind_span = d.value_span("type")
            directive = ast.DirectiveTemplate(
                d["type"], node.value_span("directive"), kind_span, _settings(d, [k for k in d if k != "type"])
            )
        else:
            node.error(
                "directive",
                "a directive is a mapping with its `type`",
                "directive: {type: enable_playbook, playbook: fast-failover}",
            )
    impact = node["impact"] if node.has("impact", str) else ""
    settings = _settings(node, [k for k in node if k in ("confidence", "metric", "verify_after")])
    return ast.SupervisorBlock(
        "meta_policy",
        label,
        span,
        span,
        settings,
        when,
        directive,
        impact,
        node.value_span("impact") if impact else None,
    )
