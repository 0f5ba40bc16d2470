"""`ballast fmt` for the blocks of supervisor documents (issue 14 §3).

Called from `ballast.dsl.format`; canonical forms:

    goal overall_success_rate {
      target 95%
    }
    meta_policy improve_success {
      when gap.overall_success_rate > 0.05
      directive adjust_threshold { parameter "retry.min_confidence" step 0.05 }
      impact low
      confidence 70%
    }
    approval low {
      route "auto_notify"
    }

A directive template stays on one line; settings keep their written order, one per line.
"""

from __future__ import annotations

from ballast.dsl import ast
from ballast.dsl.format_base import Line, format_expr
from ballast.dsl.format_fleet import setting


def supervisor_item(item: ast.SupervisorBlock) -> list[Line]:
    """The formatted lines of a goal, meta-policy, approval or verify block."""
    inner: list[tuple[str, int | None]] = []
    if item.when is not None:
        inner.append((f"when {format_expr(item.when)}", item.when.span.line))
    if item.directive is not None:
        d = item.directive
        body = " ".join(setting(s) for s in d.settings)
        inner.append((f"directive {d.type} {{ {body} }}" if body else f"directive {d.type} {{ }}", d.span.line))
    if item.impact:
        inner.append((f"impact {item.impact}", item.impact_span.line if item.impact_span else None))
    inner += [(setting(s), s.span.line) for s in item.settings]
    head = f"{item.keyword} {item.label}".rstrip()
    return [(0, f"{head} {{", item.span.line), *((1, text, src) for text, src in inner), (0, "}", item.span.end_line)]
