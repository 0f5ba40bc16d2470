"""`ballast fmt` for the declarations of safety catalogs: classes and the approvals clause.

Called from `ballast.dsl.format`; returns `ballast.dsl.format_base.Line`s. Canonical forms:

    approvals expire after 1h
    class mass_delete {
      description "…"
      when operation == "delete" and volume >= 1000
      risk high
      require dual_control, justification, hold 10m
      enforce soft
      mode warn
      reason "…"
      justification "…"
    }

A class's controls are written in one `require` clause, in the order they were written;
`enforce` and `mode` appear only when written.
"""

from __future__ import annotations

from ballast.dsl import ast
from ballast.dsl.format_base import Line, format_expr, quote


def safety_item(item: ast.Item) -> list[Line]:
    """The formatted lines of a SafetyClass or Approvals clause."""
    match item:
        case ast.Approvals(expire=expire):
            return [(0, f"approvals expire after {expire.text}", item.span.line)]
        case ast.SafetyClass():
            return _class(item)
    raise TypeError(item)


def control_text(control: ast.Control) -> str:
    """One control as written: `hold 10m`, `approvers role "dba" count 2`."""
    if control.kind == "hold" and control.hold is not None:
        return f"hold {control.hold.text}"
    if control.kind == "approvers" and control.role is not None:
        return f"approvers role {quote(control.role.value)} count {control.count}"
    return control.kind


def _class(cls: ast.SafetyClass) -> list[Line]:
    clauses = [
        f"description {quote(cls.description)}" if cls.description else None,
        f"when {format_expr(cls.when)}" if cls.when is not None else None,
        f"risk {cls.risk}" if cls.risk else None,
        "require " + ", ".join(control_text(c) for c in cls.controls) if cls.controls else None,
        f"enforce {cls.enforce}" if cls.enforce else None,
        f"mode {cls.mode}" if cls.mode else None,
        f"reason {quote(cls.reason.value)}" if cls.reason is not None else None,
        f"justification {quote(cls.justification)}" if cls.justification else None,
    ]
    lines: list[Line] = [(0, f"class {cls.name} {{", cls.span.line)]
    lines.extend((1, text, None) for text in clauses if text is not None)
    lines.append((0, "}", cls.span.end_line))
    return lines
