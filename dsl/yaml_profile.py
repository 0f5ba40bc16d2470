"""The YAML form of profile documents, read into the same AST as their `.bal` form.

    profile: regulated
    version: "2"
    extends: baseline
    settings:
      log_retention: {type: int, unit: days, order: higher is safer, value: 2555}
      mfa: {type: enum, order: [required, optional, "off"], value: required}
      data_residency: {type: enum, order: {eu: [any], us: [any]}, value: eu}
      export_limit: {type: int, unit: rows, order: lower is safer, value: 10000, after: [encryption_at_rest]}
    windows:
      regulated: {days: [sun], start: "01:00", end: "03:00"}
    changes:
      - {version: "2", date: "2026-12-01", text: "Retention raised.", justification: "…"}

`order` is `higher is safer`, `lower is safer`, `true is safer`, `false is safer`, `exact`, a
list (a chain, safest first) or a mapping (a partial order: each value to those it is safer
than). Keys are checked here, unknown ones with did-you-mean; the profile kind checks types,
orders and values alike for both forms, at the YAML `line:col`. `profile.schema.json` is the same
contract for editors.
"""

from __future__ import annotations

import itertools

from ballast.dsl import ast
from ballast.dsl.yaml_fleet import read_setting
from ballast.dsl.yaml_reader import Node
from ballast.dsl.yaml_values import check_version, headed_by, headed_document, string_value, text_of
from ballast.runtime.values import parse_duration

PROFILE_KEYS = ("profile", "version", "extends", "owner", "description", "labels", "settings", "windows", "changes")
SETTING_KEYS = ("type", "unit", "order", "value", "after", "remediation", "description")
CHANGE_KEYS = ("version", "date", "text", "justification")
ORDER_HINTS = {
    "int": "order: higher is safer",
    "duration": "order: lower is safer",
    "bool": "order: true is safer",
    "string": "order: exact",
}
WORDED_ORDERS = {f"{w} is safer": w for w in ("higher", "lower", "true", "false")} | {"exact": "exact"}


def is_profile(root: Node) -> bool:
    """Whether the document's first key is `profile:`."""
    return headed_by(root, "profile")


def read_profile(root: Node) -> ast.Document:
    """The document; every problem goes to the reader."""
    root.keys(PROFILE_KEYS, "a profile")
    check_version(root, "profile")
    items: list[ast.Item] = []
    if "extends" in root:
        if root.has("extends", str):
            span = root.value_span("extends")
            items.append(ast.Extends(root["extends"], span, span))
        else:
            root.error("extends", "`extends:` names one profile", "extends: baseline")
    for name, read in (("settings", _setting), ("windows", _window)):
        if name not in root:
            continue
        if not root.has(name, dict):
            root.error(name, f"`{name}:` must be a mapping", f"{name}: {{…}}")
            continue
        body = root.child(name)
        items.extend(item for key in body if (item := read(body, key)) is not None)
    if "changes" in root:
        if root.has("changes", list):
            changes = root.child("changes")
            items.extend(c for i in range(len(changes)) if (c := _change(changes, i)) is not None)
        else:
            root.error("changes", "`changes:` must be a list", '- {version: "1", date: "2026-12-01", text: "…"}')
    return headed_document(root, "profile", items)


def _setting(parent: Node, name: object) -> ast.ProfileSetting | None:
    if not parent.has(name, dict):
        parent.error(name, f"setting '{name}' must be a mapping", "{type: int, order: higher is safer, value: 30}")
        return None
    body = parent.child(name)
    body.keys(SETTING_KEYS, f"setting '{name}'")
    name_span = parent.key_span(name)
    type_ = body.value("type")
    if not isinstance(type_, str):
        parent.error(name, f"setting '{name}' has no type", "add `type: int` (or bool, enum, duration, string)")
        return None
    unit = body.value("unit")
    if unit is not None and not isinstance(unit, str):
        body.error("unit", "`unit:` is a word", "unit: days")
        return None
    orders = (_order(body, type_),) if "order" in body else ()
    values = (_value(body, type_),) if "value" in body else ()
    after: tuple[tuple[str, object], ...] = ()
    if "after" in body:
        written = body.value("after")
        names = [written] if isinstance(written, str) else written
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            body.error("after", "`after:` lists setting names", "after: [encryption_at_rest]")
        else:
            span = body.value_span("after")
            after = tuple((n, span) for n in names)
    return ast.ProfileSetting(
        str(name),
        type_,
        unit or "",
        name_span,
        name_span,
        body.value_span("type"),
        tuple(o for o in orders if o is not None),
        tuple(v for v in values if v is not None),
        after,  # type: ignore[arg-type]
        text_of(body, "remediation"),
        text_of(body, "description"),
    )


def _order(body: Node, type_: str) -> ast.SafetyOrder | None:
    written = body.value("order")
    span = body.value_span("order")
    if isinstance(written, bool):  # `order: true` read as a boolean: the author meant `true is safer`
        written = "true" if written else "false"
    if isinstance(written, str) and written in WORDED_ORDERS:
        return ast.SafetyOrder(WORDED_ORDERS[written], span)
    if isinstance(written, list) and len(written) >= 2 and all(isinstance(v, str) for v in written):
        return ast.SafetyOrder("chain", span, tuple(itertools.pairwise(written)))
    if isinstance(written, dict) and all(
        isinstance(k, str) and isinstance(v, list) and all(isinstance(x, str) for x in v) for k, v in written.items()
    ):
        pairs = tuple((k, less) for k, v in written.items() for less in v)
        if pairs:
            return ast.SafetyOrder("partial", span, pairs)
    body.error(
        "order",
        "`order:` is `higher is safer`, `lower is safer`, `true is safer`, `false is safer`, `exact`, "
        "a list (safest first) or a mapping of each value to those it is safer than",
        ORDER_HINTS.get(type_, 'order: [required, optional, "off"]'),
    )
    return None


def _value(body: Node, type_: str) -> ast.ProfileValue | None:
    value = body.value("value")
    span = body.value_span("value")
    if isinstance(value, bool):
        text = "true" if value else "false"
        return ast.ProfileValue("name", text, text, span)
    if isinstance(value, int | float):
        return ast.ProfileValue("number", float(value), str(value), span)
    if isinstance(value, str) and type_ == "duration" and parse_duration(value) is not None:
        return ast.ProfileValue("duration", ast.Duration(parse_duration(value) or 0.0, value, span), value, span)
    if isinstance(value, str):
        form = "name" if type_ in ("enum", "bool") else "string"
        return ast.ProfileValue(form, value, value if form == "name" else f'"{value}"', span)
    body.error("value", "`value:` is a number, a boolean or a string", "value: 30")
    return None


def _window(parent: Node, name: object) -> ast.GovernanceBlock | None:
    if not parent.has(name, dict):
        parent.error(
            name, f"window '{name}' must be a mapping of settings", '{days: [sat, sun], start: "02:00", end: "06:00"}'
        )
        return None
    body = parent.child(name)
    settings = tuple(s for key in body if (s := read_setting(body, key)))
    span = parent.key_span(name)
    return ast.GovernanceBlock("window", str(name), span, span, settings)


def _change(changes: Node, index: int) -> ast.ChangeEntry | None:
    if not changes.has(index, dict):
        changes.error(index, "a change is a mapping", '{version: "1", date: "2026-12-01", text: "…"}')
        return None
    entry = changes.child(index)
    entry.keys(CHANGE_KEYS, "a change")
    missing = [k for k in ("version", "date", "text") if not entry.has(k, str)]
    if missing:
        changes.error(
            index, f"a change needs {', '.join(missing)} (strings)", '{version: "1", date: "2026-12-01", text: "…"}'
        )
        return None
    return ast.ChangeEntry(
        string_value(entry, "version"),
        string_value(entry, "date"),
        entry["text"],
        entry.start_span(),
        text_of(entry, "justification"),
    )
