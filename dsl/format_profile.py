"""`ballast fmt` for the declarations of profile documents.

Called from `ballast.dsl.format`; returns `ballast.dsl.format_base.Line`s, so comments stay
beside the clauses they annotate. Canonical forms:

    extends baseline

    setting retention: int days {
      description "Personal data is kept no longer than this."
      lower is safer
      value 365
      after encryption
      remediation "Shorten the retention."
    }

    change "2" on "2026-12-01" "Retention shortened." justification "DPA-7"

A setting's clauses are written in that order; windows are formatted as the other labelled
blocks of settings (`ballast.dsl.format_fleet`).
"""

from __future__ import annotations

from ballast.dsl import ast
from ballast.dsl.format_base import Line, quote


def profile_item(item: ast.Item) -> list[Line]:
    """The formatted lines of an Extends, ProfileSetting or ChangeEntry."""
    line = item.span.line
    match item:
        case ast.Extends(name=name):
            return [(0, f"extends {name}", line)]
        case ast.ChangeEntry():
            why = f" justification {quote(item.justification)}" if item.justification else ""
            return [
                (0, f"change {quote(item.version.value)} on {quote(item.date.value)} {quote(item.text)}{why}", line)
            ]
        case ast.ProfileSetting():
            return _setting(item)
    raise TypeError(item)


def _setting(item: ast.ProfileSetting) -> list[Line]:
    unit = f" {item.unit}" if item.unit else ""
    inner: list[Line] = []
    if item.description:
        inner.append((1, f"description {quote(item.description)}", None))
    inner += [(1, order_text(order), order.span.line) for order in item.orders]
    inner += [(1, f"value {value.text}", value.span.line) for value in item.values]
    if item.after:
        inner.append((1, "after " + ", ".join(name for name, _ in item.after), item.after[0][1].line))
    if item.remediation:
        inner.append((1, f"remediation {quote(item.remediation)}", None))
    return [(0, f"setting {item.name}: {item.type}{unit} {{", item.span.line), *inner, (0, "}", item.span.end_line)]


def order_text(order: ast.SafetyOrder) -> str:
    """A safety order as written canonically."""
    if order.form in ("higher", "lower", "true", "false"):
        return f"{order.form} is safer"
    if order.form == "exact":
        return "exact"
    if order.form == "chain":
        values = [order.pairs[0][0], *(less for _, less in order.pairs)]
        return "order " + " > ".join(values)
    return "order { " + ", ".join(f"{a} > {b}" for a, b in order.pairs) + " }"
