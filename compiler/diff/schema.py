"""Detectors for typed field lists: a document's input schema and an action's parameters.

Both are lists of `{"name", "type", "optional"?, "min"?, "max"?}` in the IR. A change that makes
an event (or a directive) valid before invalid after is breaking; one that only admits more is
behavioral. Nested records are compared field by field under dotted names.
"""

from __future__ import annotations

from typing import Any

from ballast.compiler.diff.findings import Finding, Position

IR = dict[str, Any]


def diff_input(
    kind: str, document: str, old: IR, new: IR, base: Position | None, head: Position | None
) -> list[Finding]:
    """The findings between two `input` declarations ({"name", "fields"})."""
    out: list[Finding] = []

    def finding(check: str, subject: str, message: str, **details: Any) -> None:
        # a field on one side only has no position on the other
        where_base = None if check.endswith("-added-required") or check.endswith("-added-optional") else base
        where_head = None if check.endswith("-removed") and check.startswith("input-field") else head
        out.append(Finding(check, kind, document, subject, message, where_base, where_head, details=details))

    if old.get("name") != new.get("name"):
        finding("input-renamed", old.get("name", ""), f"input '{old.get('name')}' is now named '{new.get('name')}'")
    compare_fields(_flatten(old["fields"]), _flatten(new["fields"]), "input field", "input-", finding)
    return out


def diff_parameters(
    kind: str, document: str, action: str, old: list[IR], new: list[IR], base: Position | None, head: Position | None
) -> list[Finding]:
    """The findings between two signatures of one action."""
    out: list[Finding] = []

    def finding(check: str, subject: str, message: str, **details: Any) -> None:
        out.append(
            Finding(check, kind, document, action, message, base, head, details={"parameter": subject, **details})
        )

    compare_fields(
        {p["name"]: p for p in old},
        {p["name"]: p for p in new},
        f"parameter of action '{action}'",
        "action-parameter-",
        finding,
    )
    return out


def compare_fields(old: dict[str, IR], new: dict[str, IR], what: str, prefix: str, finding: Any) -> None:
    """Report every field removed, added or changed; `prefix` picks the checks' family."""
    field_prefix = prefix if prefix == "action-parameter-" else prefix + "field-"
    for name in old:
        if name not in new:
            finding(f"{field_prefix}removed", name, f"{what} '{name}' was removed")
    for name in new:
        if name in old:
            continue
        required = not new[name].get("optional")
        finding(
            f"{field_prefix}added-{'required' if required else 'optional'}",
            name,
            f"{'required' if required else 'optional'} {what} '{name}' ({_type(new[name])}) was added",
        )
    for name in old:
        if name in new:
            _compare_field(name, old[name], new[name], what, prefix, field_prefix, finding)


def _compare_field(name: str, a: IR, b: IR, what: str, prefix: str, field_prefix: str, finding: Any) -> None:
    ta, tb = _base_type(a["type"]), _base_type(b["type"])
    if ta != tb:
        widened = ta == "int" and tb == "float"
        check = "input-field-type-widened" if widened and prefix == "input-" else f"{field_prefix}type-changed"
        finding(check, name, f"{what} '{name}' changed type: {_type(a)} → {_type(b)}", before=_type(a), after=_type(b))
    elif ta == "enum":
        removed = [v for v in a["type"]["enum"] if v not in b["type"]["enum"]]
        added = [v for v in b["type"]["enum"] if v not in a["type"]["enum"]]
        enum = "input-enum-value-" if prefix == "input-" else f"{field_prefix}type-changed"
        if removed:
            check = f"{enum}removed" if prefix == "input-" else enum
            finding(
                check,
                name,
                f"{what} '{name}' lost enum value{'s' if len(removed) > 1 else ''} {_quoted(removed)}",
                removed=removed,
            )
        if added:
            check = f"{enum}added" if prefix == "input-" else f"{field_prefix}range-widened"
            finding(
                check,
                name,
                f"{what} '{name}' gained enum value{'s' if len(added) > 1 else ''} {_quoted(added)}",
                added=added,
            )
    _compare_range(name, a, b, what, field_prefix, finding)
    if a.get("optional") and not b.get("optional"):
        finding(f"{field_prefix}made-required", name, f"{what} '{name}' is now required")
    elif b.get("optional") and not a.get("optional"):
        finding(f"{field_prefix}made-optional", name, f"{what} '{name}' is now optional")


def _compare_range(name: str, a: IR, b: IR, what: str, field_prefix: str, finding: Any) -> None:
    low_a, high_a, low_b, high_b = a.get("min"), a.get("max"), b.get("min"), b.get("max")
    if (low_a, high_a) == (low_b, high_b):
        return
    narrowed = _above(low_b, low_a) or _above(high_a, high_b)
    widened = _above(low_a, low_b) or _above(high_b, high_a)
    text = f"{what} '{name}' range {_range(low_a, high_a)} → {_range(low_b, high_b)}"
    details = {"before": [low_a, high_a], "after": [low_b, high_b]}
    if narrowed:
        finding(f"{field_prefix}range-narrowed", name, text, **details)
    elif widened:
        finding(f"{field_prefix}range-widened", name, text, **details)


def _above(x: float | None, y: float | None) -> bool:
    """Whether bound x admits less than bound y would on its side: x is set and y is not, or x > y."""
    if x is None:
        return False
    return y is None or x > y


def _range(low: float | None, high: float | None) -> str:
    if low is None and high is None:
        return "unbounded"
    return f"[{_num(low)}, {_num(high)}]"


def _num(x: float | None) -> str:
    if x is None:
        return "∞"
    return format(x, "g")


def _flatten(fields: list[IR], prefix: str = "") -> dict[str, IR]:
    out: dict[str, IR] = {}
    for f in fields:
        name = prefix + f["name"]
        typ = f["type"]
        if isinstance(typ, dict) and "record" in typ:
            out[name] = {**f, "type": "record"}
            out.update(_flatten(typ["record"], name + "."))
        else:
            out[name] = f
    return out


def _base_type(typ: Any) -> Any:
    if isinstance(typ, str):
        return typ
    if "enum" in typ:
        return "enum"
    if "list" in typ:
        return ("list", _base_type(typ["list"]))
    if "map" in typ:
        return ("map", _base_type(typ["map"]))
    return "record"


def _type(f: IR) -> str:
    typ = f["type"]
    if isinstance(typ, str):
        return typ
    if "enum" in typ:
        return "enum(" + ", ".join(f'"{v}"' for v in typ["enum"]) + ")"
    if "list" in typ:
        return f"list<{_type({'type': typ['list']})}>"
    if "map" in typ:
        return f"map<string, {_type({'type': typ['map']})}>"
    return "record"


def _quoted(values: list[str]) -> str:
    return ", ".join(f'"{v}"' for v in values)
