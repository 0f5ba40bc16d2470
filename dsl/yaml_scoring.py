"""The YAML form of scoring documents, read into the same AST as their `.bal` form.

    scoring: tenants.maturity
    version: "2026.12"
    signals:
      training_completion: {metric: training.completion_ratio, stale_after: 90d, decay: 30d}
      incident_history: {metric: incidents.sev12_last_90d, low: 0, high: 10, better: lower, stale_after: 1d}
    profiles:
      regulator:
        weights: {training_completion: 1, incident_history: 2}
        missing: block
        justification: "…"
        badges:
          gold: {enter: 85, exit: 80}

Each block's settings become the `ast.Setting`s the `.bal` form gives (`yaml_fleet` reads them),
so the scoring kind checks names, forms, ranges and the bias guard alike for both forms, at the
YAML `line:col`. Keys are checked here. `dsl/scoring.schema.json` is the same contract for editors.
"""

from __future__ import annotations

from ballast.dsl import ast
from ballast.dsl.yaml_fleet import read_setting
from ballast.dsl.yaml_reader import Node
from ballast.dsl.yaml_values import headed_document, string_value

SCORING_KEYS = ("scoring", "version", "owner", "description", "labels", "signals", "profiles")


def is_scoring(root: Node) -> bool:
    """Whether the document's first key is `scoring:`."""
    return root.is_mapping and root.has("scoring", str) and next(iter(root), None) == "scoring"


def read_scoring(root: Node) -> ast.Document:
    """The document; every problem goes to the reader."""
    root.keys(SCORING_KEYS, "a scoring document")
    if not root.has("version", str):
        root.reader.report(
            f"scoring '{root['scoring']}' has no version (a string)", root.key_span("scoring"), 'add `version: "1"`'
        )
    items: list[ast.Item] = []
    for section, keyword in (("signals", "signal"), ("profiles", "profile")):
        if section not in root:
            continue
        if not root.has(section, dict):
            root.error(section, f"`{section}:` must be a mapping of names to blocks", f"{section}: {{NAME: {{…}}}}")
            continue
        blocks = root.child(section)
        for label in blocks:
            block = _block(blocks, label, keyword)
            if block is not None:
                items.append(block)
    return headed_document(root, "scoring", items)


def _block(parent: Node, key: object, keyword: str) -> ast.ScoringBlock | None:
    if not parent.has(key, dict):
        parent.error(key, f"{keyword} '{key}' must be a mapping of settings", "metric: training.completion_ratio")
        return None
    body = parent.child(key)
    settings: list[ast.Setting] = []
    badges: list[ast.ScoringBlock] = []
    justifications: list[ast.Justification] = []
    for name in body:
        if keyword == "profile" and name == "badges":
            if not body.has("badges", dict):
                body.error(
                    "badges", "`badges:` must be a mapping of names to levels", "badges: {gold: {enter: 80, exit: 75}}"
                )
                continue
            levels = body.child("badges")
            badges += [b for label in levels if (b := _block(levels, label, "badge")) is not None]
        elif keyword == "profile" and name == "justification":
            if not body.has("justification", str):
                body.error(
                    "justification", "`justification:` must be a string", 'justification: "why one signal may decide"'
                )
                continue
            justifications.append(
                ast.Justification(string_value(body, "justification"), body.key_span("justification"))
            )
        elif (setting := read_setting(body, name)) is not None:
            settings.append(setting)
    span = parent.key_span(key)
    return ast.ScoringBlock(keyword, str(key), span, span, tuple(settings), tuple(badges), tuple(justifications))
