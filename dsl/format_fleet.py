"""`ballast fmt` for the declarations of fleet and rollout documents.

Called from `ballast.dsl.format`; returns `ballast.dsl.format_base.Line`s, so comments stay
beside the settings they annotate. Canonical forms:

    cluster "eu-west-1" {
      region "eu-west"
      capabilities ["wasm", "ratelimit"]
      slo { availability: 99.9, p95_ms: 250 }
      owner "team-eu"
      labels { canary: "true" }
    }
    select env == "prod"
    wave canary {
      select region == "eu-west"
      max_update 1
    }
    gate health {
      pass when error_budget_burn < 1
      fail when error_budget_burn > 2
      interval 1m
    }
    justification "CHG-1234: …"

Settings keep their written order; a block has one setting per line. Numbers are written in their
shortest exact form, list items as strings.
"""

from __future__ import annotations

from ballast.dsl import ast
from ballast.dsl.format_base import Line, format_expr, quote
from ballast.dsl.format_threat import number


def fleet_item(item: ast.Item) -> list[Line]:
    """The formatted lines of a Cluster, Select, Gate, Wave, Setting, Justification, GovernanceBlock or
    ScoringBlock."""
    line = item.span.line
    match item:
        case ast.Setting():
            return [(0, setting(item), line)]
        case ast.Select(condition=condition):
            return [(0, f"select {format_expr(condition)}", line)]
        case ast.Justification(text=text):
            return [(0, f"justification {quote(text.value)}", line)]
        case ast.Cluster():
            inner = [(setting(s), s.span.line) for s in item.settings]
            if item.owner:
                inner.append((f"owner {quote(item.owner)}", item.owner_span.line if item.owner_span else None))
            if item.labels:
                inner.append(("labels " + _pairs(item.labels), item.labels[0].span.line))
            return _block(f"cluster {quote(item.id)}", inner, item.span)
        case ast.Wave():
            inner = [(f"select {format_expr(item.select.condition)}", item.select.span.line)] if item.select else []
            inner += [(setting(s), s.span.line) for s in item.settings]
            return _block(f"wave {item.name}", inner, item.span)
        case ast.Gate():
            inner = []
            if item.passes is not None:
                inner.append((f"pass when {format_expr(item.passes)}", item.passes.span.line))
            if item.fails is not None:
                inner.append((f"fail when {format_expr(item.fails)}", item.fails.span.line))
            inner += [(setting(s), s.span.line) for s in item.settings]
            return _block(f"gate {item.name}", inner, item.span)
        case ast.GovernanceBlock():
            inner = [(setting(s), s.span.line) for s in item.settings]
            return _block(f"{item.keyword} {item.label}".rstrip(), inner, item.span)
        case ast.ScoringBlock():
            inner = [(setting(s), s.span.line) for s in item.settings]
            inner += [(f"justification {quote(j.text.value)}", j.span.line) for j in item.justifications]
            # a badge is two levels: one line reads better than a block
            inner += [
                (f"badge {b.label} {{ {' '.join(setting(s) for s in b.settings)} }}", b.span.line) for b in item.badges
            ]
            return _block(f"{item.keyword} {item.label}", inner, item.span)
    raise TypeError(item)


def setting(item: ast.Setting) -> str:
    """`name value` in canonical form."""
    return f"{item.name} {setting_value(item)}"


def setting_value(item: ast.Setting) -> str:
    """A setting's value as written canonically (`"eu-west"`, `10m`, `25%`, `["a", "b"]`)."""
    value = item.value
    match item.kind:
        case "string":
            return quote(str(value))
        case "number":
            return number(float(value))  # type: ignore[arg-type]  # kind "number" holds a float
        case "duration" | "percent":
            return value.text  # type: ignore[union-attr]  # both keep the text as written
        case "list":
            return "[" + ", ".join(quote(word) for word in value) + "]"  # type: ignore[union-attr]
        case "map":
            return _pairs(value)  # type: ignore[arg-type]
    raise TypeError(item.kind)


def _pairs(pairs: tuple[ast.Label, ...]) -> str:
    return "{ " + ", ".join(f"{p.key}: {_pair_value(p.value)}" for p in pairs) + " }"


def _pair_value(text: str) -> str:
    """A map value: numbers stay bare (`p95_ms: 250`), anything else is quoted."""
    try:
        float(text)
    except ValueError:
        return quote(text)
    return text


def _block(head: str, settings: list[tuple[str, int | None]], span) -> list[Line]:
    return [(0, f"{head} {{", span.line), *((1, text, src) for text, src in settings), (0, "}", span.end_line)]
