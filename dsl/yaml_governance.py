"""The YAML form of governance documents, read into the same AST as their `.bal` form.

    governance: mesh.router
    version: "2026.12"
    tiers:
      0: {intents: [modify_governance], routed_to: human_review}
      3: {intents: [self_improve, extend_grace], min_alignment: 50%}
    priorities:
      revenue: {weight: 0.8, signal: revenue_impact}
    vote: {voters: [architect, sre-lead, risk-officer], quorum: 2, deadline: 10m, ties: reject}

Each block's settings become the `ast.Setting`s the `.bal` form gives (`yaml_fleet` reads them),
so the governance kind checks names, forms and ranges alike for both forms, at the YAML
`line:col`. Keys are checked here, unknown ones with did-you-mean.
"""

from __future__ import annotations

from ballast.dsl import ast
from ballast.dsl.yaml_fleet import read_setting
from ballast.dsl.yaml_reader import Node
from ballast.dsl.yaml_values import check_version, headed_by, headed_document

GOVERNANCE_KEYS = ("governance", "version", "owner", "description", "labels", "tiers", "priorities", "vote")


def is_governance(root: Node) -> bool:
    """Whether the document's first key is `governance:`."""
    return headed_by(root, "governance")


def read_governance(root: Node) -> ast.Document:
    """The document; every problem goes to the reader."""
    root.keys(GOVERNANCE_KEYS, "a governance document")
    check_version(root, "governance")
    items: list[ast.Item] = []
    for section, keyword in (("tiers", "tier"), ("priorities", "priority")):
        if section not in root:
            continue
        if not root.has(section, dict):
            root.error(section, f"`{section}:` must be a mapping", "tiers: {2: {intents: [query_knowledge]}}")
            continue
        blocks = root.child(section)
        for label in blocks:
            if keyword == "tier" and not str(label).isdigit():
                blocks.error(label, f"tier '{label}' is not a number", "tiers are 0 (human approval) to 4 (emergency)")
                continue
            items.extend(_block(blocks, label, keyword, str(label)))
    if "vote" in root:
        items.extend(_block(root, "vote", "vote", ""))
    return headed_document(root, "governance", items)


def _block(parent: Node, key: object, keyword: str, label: str) -> list[ast.Item]:
    if not parent.has(key, dict):
        parent.error(key, f"{keyword} '{key}' must be a mapping of settings", "intents: [query_knowledge]")
        return []
    body = parent.child(key)
    settings = tuple(s for name in body if (s := read_setting(body, name)))
    span = parent.key_span(key)
    return [ast.GovernanceBlock(keyword, label, span, span, settings)]
