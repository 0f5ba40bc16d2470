"""Profile documents (issue 15): typed settings with safety orders, and proof that they only rise.

    profile regulated version "2" {
      extends baseline
      setting retention: int days {
        higher is safer
        value 365
        after encryption
      }
      change "2" on "2026-12-01" "Retention raised to a year."
    }

`resolve` checks one document at its positions: a known type with one safety order of a form the
type takes (`ballast.runtime.profile.ORDER_FORMS`), an enum order without a cycle, one value of
the type (an enum's value among its order's), settings and change-log versions declared once,
the document's own version in its change log, and its change windows (`window CLASS { days
["sat"] start "02:00" end "06:00" }`).

`check_across` proves what needs every profile: the profile a profile `extends` exists (and the
chain has no cycle); a setting it redeclares keeps the parent's type and order, and its value is
at least as safe as the parent's (**monotonicity**: a lowered setting is an error naming the
setting, both values and the order); every `after` names a setting of the profile or of one it
extends, and the `after` graph has no cycle. The settings are then sorted topologically (ties in
declaration order, inherited first), the order `ballast profile remediate` applies them in.

Between two versions of a profile, `diff` reports each setting lowered as `profile-setting-
lowered` (tag `guard-loosened`) and each raised as `profile-setting-raised` (`guard-tightened`);
`ballast diff --require-justification` fails on a lowered setting unless the new version's
change-log entry carries a `justification`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ballast.compiler.diff.profile import diff_profiles
from ballast.compiler.kinds import NotSupportedYet
from ballast.compiler.kinds.data import DataKind, document_header
from ballast.compiler.settings import SettingSpec, head, read_settings, string_of, words_of
from ballast.compiler.spans import at
from ballast.dsl import ast
from ballast.runtime.errors import ErrorList, Span
from ballast.runtime.profile import DAYS, ORDER_FORMS, PROFILE_FORMAT, TYPES, Order, Profile, Setting
from ballast.runtime.suggest import did_you_mean

if TYPE_CHECKING:
    from ballast.compiler.pipeline import Compilation

IR = dict[str, Any]

WINDOW_SETTINGS = {
    "days": SettingSpec(("list",), '["sat", "sun"]'),
    "start": SettingSpec(("string",), '"02:00"'),
    "end": SettingSpec(("string",), '"06:00"'),
}
ORDER_EXAMPLES = {
    "int": "higher is safer",
    "duration": "lower is safer",
    "bool": "true is safer",
    "string": "exact",
    "enum": "order required > optional > off",
}
_HHMM = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


@dataclass
class SettingModel:
    """One declared setting: its source and, when it checked, its runtime form."""

    source: ast.ProfileSetting
    setting: Setting | None


@dataclass
class ProfileModel:
    """A resolved profile document; `effective` is filled by `check_across`."""

    document: ast.Document
    extends: ast.Extends | None = None
    settings: dict[str, SettingModel] = field(default_factory=dict)
    windows: list[IR] = field(default_factory=list)
    changes: list[IR] = field(default_factory=list)
    chain: list[str] = field(default_factory=list)
    effective: list[Setting] = field(default_factory=list)
    effective_windows: list[IR] = field(default_factory=list)


def resolve_profile(compilation: Compilation, document: ast.Document, errors: ErrorList) -> ProfileModel:
    model = ProfileModel(document)
    for other in compilation.resolved.get("profile", []):
        if other.document.name == document.name:
            errors.error(
                "duplicate",
                f"profile '{document.name}' is given twice (also at {head(other.document)})",
                head(document),
                "profile names must be unique in a set",
            )
    windows: dict[str, Span] = {}
    versions: dict[str, Span] = {}
    for item in document.items:
        match item:
            case ast.Extends():
                if model.extends is not None:
                    errors.error("extends", "a profile extends one profile", item.span, "keep one `extends`")
                elif item.name == document.name:
                    errors.error("extends", f"profile '{item.name}' extends itself", item.name_span, "")
                else:
                    model.extends = item
            case ast.ProfileSetting():
                if item.name in model.settings:
                    first = model.settings[item.name].source.name_span
                    errors.error(
                        "duplicate", f"setting '{item.name}' is declared twice (first at {first})", item.name_span, ""
                    )
                    continue
                model.settings[item.name] = SettingModel(item, _setting(item, document.name, errors))
            case ast.ChangeEntry():
                _change(item, versions, model, errors)
            case ast.GovernanceBlock(keyword="window"):
                _window(item, windows, model, errors)
            case _:
                errors.error("profile", "a profile holds settings, change entries and windows", item.span, "")
    if not model.settings and model.extends is None:
        errors.error(
            "missing",
            f"profile '{document.name}' declares no setting and extends no profile",
            head(document),
            "add one: `setting mfa: enum { order required > optional > off value required }`",
        )
    version = document.version.value if document.version else ""
    if version not in versions:
        span = document.version.span if document.version else head(document)
        errors.error(
            "changelog",
            f"profile '{document.name}' is at version {version!r} but its change log has no entry for it",
            span,
            f'add `change "{version}" on "YYYY-MM-DD" "what changed"`',
        )
    return model


def _setting(item: ast.ProfileSetting, profile: str, errors: ErrorList) -> Setting | None:
    what = f"setting '{item.name}'"
    if item.type not in TYPES:
        errors.error(
            "type",
            f"{what} has type '{item.type}', which is not a profile setting type",
            item.type_span,
            did_you_mean(item.type, TYPES) or f"the types are {', '.join(TYPES)}",
        )
        return None
    if item.unit and item.type != "int":
        errors.error("unit", f"{what}: only int settings take a unit (`int days`)", item.type_span, "")
        return None
    if len(item.orders) != 1:
        span = item.orders[1].span if item.orders else item.name_span
        errors.error(
            "order",
            f"{what} needs exactly one safety order, has {len(item.orders)}",
            span,
            f"write `{ORDER_EXAMPLES[item.type]}` in its block",
        )
        return None
    written = item.orders[0]
    if written.form not in ORDER_FORMS[item.type]:
        errors.error(
            "order",
            f"{what} is {_a(item.type)}, which cannot be ordered by `{Order(written.form, written.pairs).text()}`",
            written.span,
            f"write `{ORDER_EXAMPLES[item.type]}`",
        )
        return None
    order = Order(written.form, written.pairs)
    if written.form in ("chain", "partial") and not _acyclic(order, what, written.span, errors):
        return None
    if len(item.values) != 1:
        span = item.values[1].span if item.values else item.name_span
        errors.error("value", f"{what} needs exactly one value, has {len(item.values)}", span, "write `value …`")
        return None
    value = _value(item, order, item.values[0], errors)
    if value is None:
        return None
    return Setting(
        item.name,
        item.type,
        order,
        value,
        item.unit,
        tuple(name for name, _ in item.after),
        item.remediation,
        item.description,
        profile,
    )


def _a(type_: str) -> str:
    return f"an {type_}" if type_[0] in "aeiou" else f"a {type_}"


def _acyclic(order: Order, what: str, span: Span, errors: ErrorList) -> bool:
    for safer, less in order.pairs:
        if safer == less or order.at_least(less, safer):
            errors.error(
                "order",
                f"{what}: the order makes '{safer}' both safer and less safe than '{less}'",
                span,
                "a safety order has no cycle: drop one of the pairs",
            )
            return False
    return True


def _value(item: ast.ProfileSetting, order: Order, value: ast.ProfileValue, errors: ErrorList) -> Any:
    what = f"setting '{item.name}'"
    match item.type, value.form:
        case "int", "number" if float(value.value).is_integer():  # type: ignore[arg-type]
            return int(float(value.value))  # type: ignore[arg-type]
        case "bool", "name" if value.value in ("true", "false"):
            return value.value == "true"
        case "duration", "duration":
            return value.text
        case "string", "string":
            return value.value
        case "enum", "name" if value.value in order.values:
            return value.value
        case "enum", "name":
            errors.error(
                "value",
                f"{what} is '{value.value}', which its order does not rank",
                value.span,
                did_you_mean(value.value, order.values) or f"the values are {', '.join(order.values)}",
            )
            return None
    example = {
        "int": "30",
        "bool": "true",
        "duration": "15m",
        "string": '"eu-west"',
        "enum": order.values[0] if order.values else "required",
    }
    errors.error(
        "value",
        f"{what} is {_a(item.type)}; `{value.text}` is not one",
        value.span,
        f"write `value {example[item.type]}`",
    )
    return None


def _change(item: ast.ChangeEntry, versions: dict[str, Span], model: ProfileModel, errors: ErrorList) -> None:
    version = item.version.value
    if version in versions:
        errors.error(
            "duplicate",
            f"the change log has two entries for version {version!r} (first at {versions[version]})",
            item.version.span,
            "one entry per version",
        )
        return
    versions[version] = item.version.span
    try:
        dt.date.fromisoformat(item.date.value)
    except ValueError:
        errors.error("date", f"'{item.date.value}' is not a date", item.date.span, 'write "2026-12-01"')
        return
    entry = {"version": version, "date": item.date.value, "text": item.text}
    if item.justification:
        entry["justification"] = item.justification
    model.changes.append(entry)


def _window(item: ast.GovernanceBlock, windows: dict[str, Span], model: ProfileModel, errors: ErrorList) -> None:
    if item.label in windows:
        errors.error(
            "duplicate",
            f"tenant class '{item.label}' has two windows (first at {windows[item.label]})",
            item.label_span,
            "one window per tenant class",
        )
        return
    windows[item.label] = item.label_span
    what = f"window {item.label}"
    settings = read_settings(item.settings, WINDOW_SETTINGS, what, errors)
    ok = True
    for required in WINDOW_SETTINGS:
        if required not in settings:
            ok = False
            errors.error(
                "missing",
                f"{what} has no {required}",
                item.label_span,
                f"add `{required} {WINDOW_SETTINGS[required].example}`",
            )
    days = words_of(settings, "days")
    for day in days:
        if day not in DAYS:
            ok = False
            errors.error(
                "window",
                f"{what}: '{day}' is not a day",
                settings["days"].value_span,
                did_you_mean(day, DAYS) or f"days are {', '.join(DAYS)}",
            )
    for name in ("start", "end"):
        if name in settings and not _HHMM.fullmatch(string_of(settings, name)):
            ok = False
            errors.error(
                "window",
                f"{what}: {name} '{string_of(settings, name)}' is not a time of day",
                settings[name].value_span,
                'write "HH:MM" (UTC), e.g. "02:00"',
            )
    if ok and string_of(settings, "start") == string_of(settings, "end"):
        ok = False
        errors.error("window", f"{what} opens and closes at the same minute", item.label_span, "")
    if ok:
        model.windows.append(
            {
                "class": item.label,
                "days": list(days),
                "start": string_of(settings, "start"),
                "end": string_of(settings, "end"),
            }
        )


# ---- across profiles: extends, monotonicity, dependency order ----


def check_profiles(models: list[ProfileModel], errors: ErrorList) -> None:
    by_name = {m.document.name: m for m in models}
    done: dict[str, bool] = {}
    for model in models:
        _effective(model, by_name, done, [], errors)


def _effective(
    model: ProfileModel, by_name: dict[str, ProfileModel], done: dict[str, bool], visiting: list[str], errors: ErrorList
) -> bool:
    """Fill `model.effective`; False when it (or a profile it extends) has errors."""
    name = model.document.name
    if name in done:
        return done[name]
    done[name] = _effective_of(model, by_name, done, visiting, errors)
    return done[name]


def _effective_of(
    model: ProfileModel, by_name: dict[str, ProfileModel], done: dict[str, bool], visiting: list[str], errors: ErrorList
) -> bool:
    name = model.document.name
    inherited: list[Setting] = []
    windows: list[IR] = []
    ok = True
    if model.extends is not None:
        parent = by_name.get(model.extends.name)
        if parent is None:
            errors.error(
                "extends",
                f"profile '{name}' extends '{model.extends.name}', which is not in the set",
                model.extends.name_span,
                did_you_mean(model.extends.name, by_name) or "check the profile's file with the one it extends",
            )
            ok = False
        elif parent.document.name in visiting:
            cycle = " → ".join([*visiting[visiting.index(parent.document.name) :], name, parent.document.name])
            errors.error("extends", f"profiles extend each other in a cycle: {cycle}", model.extends.name_span, "")
            ok = False
        else:
            ok = _effective(parent, by_name, done, [*visiting, name], errors)
            inherited = parent.effective
            windows = parent.effective_windows
            model.chain = [parent.document.name, *parent.chain]
    if not ok or any(s.setting is None for s in model.settings.values()):
        return False
    settings = {s.name: s for s in inherited}
    for declared in model.settings.values():
        assert declared.setting is not None
        parent_setting = settings.get(declared.source.name)
        if parent_setting is not None and not _raises(declared, parent_setting, model, errors):
            ok = False
        settings[declared.source.name] = declared.setting
    ordered = _sorted(model, settings, [s.name for s in inherited], errors)
    if not ok or ordered is None:
        return False
    model.effective = ordered
    classes = {w["class"] for w in model.windows}
    model.effective_windows = [w for w in windows if w["class"] not in classes] + model.windows
    return True


def _raises(declared: SettingModel, parent: Setting, model: ProfileModel, errors: ErrorList) -> bool:
    """Whether a redeclared setting keeps its parent's type and order and is at least as safe."""
    new = declared.setting
    assert new is not None
    source = declared.source
    what = f"setting '{source.name}'"
    if (
        (new.type, new.unit) != (parent.type, parent.unit)
        or new.order.form != parent.order.form
        or set(new.order.pairs) != set(parent.order.pairs)
    ):
        errors.error(
            "extends",
            f"{what} is {_declared(new)} here but {_declared(parent)} in profile '{parent.declared_in}'",
            source.name_span,
            "a profile that extends another keeps each setting's type and safety order",
        )
        return False
    if not new.order.at_least(new.comparable(new.value), parent.comparable(parent.value)):
        errors.error(
            "monotonic",
            f"profile '{model.document.name}' lowers {what} from {parent.shown(parent.value)} "
            f"(profile '{parent.declared_in}') to {new.shown(new.value)}: {new.order.text()}",
            source.values[0].span,
            f"a profile may only raise what it extends: keep {parent.shown(parent.value)} or a safer value",
        )
        return False
    return True


def _declared(s: Setting) -> str:
    unit = f" {s.unit}" if s.unit else ""
    return f"{s.type}{unit} ordered `{s.order.text()}`"


def _sorted(
    model: ProfileModel, settings: dict[str, Setting], inherited: list[str], errors: ErrorList
) -> list[Setting] | None:
    """The settings in dependency order (Kahn's algorithm, ties in declaration order with the
    inherited first), or None after reporting an unknown dependency or a cycle."""
    declared = list(dict.fromkeys([*inherited, *model.settings]))
    ok = True
    for name, source in ((n, m.source) for n, m in model.settings.items()):
        for dependency, span in source.after:
            if dependency == name or dependency not in settings:
                hint = (
                    "a setting cannot come after itself" if dependency == name else did_you_mean(dependency, settings)
                )
                errors.error(
                    "after",
                    f"setting '{name}' comes after '{dependency}', which is not a setting of profile '{model.document.name}'"
                    if dependency != name
                    else f"setting '{name}' comes after itself",
                    span,
                    hint or f"the settings are {', '.join(declared)}",
                )
                ok = False
    if not ok:
        return None
    placed: list[str] = []
    remaining = list(declared)
    while remaining:
        ready = next((n for n in remaining if all(d in placed for d in settings[n].after)), None)
        if ready is None:
            cycle = _cycle(remaining, settings)
            where = model.settings.get(cycle[0])
            span = (
                next((s for d, s in where.source.after if d == cycle[1]), where.source.name_span)
                if where
                else head(model.document)
            )
            errors.error(
                "after",
                f"the settings' `after` dependencies form a cycle: {' → '.join([*cycle, cycle[0]])}",
                span,
                "drop one `after` of the cycle",
            )
            return None
        placed.append(ready)
        remaining.remove(ready)
    return [settings[n] for n in placed]


def _cycle(remaining: list[str], settings: dict[str, Setting]) -> list[str]:
    """One cycle among the settings that could not be placed, from the first of them."""
    path = [remaining[0]]
    while True:
        following = next(d for d in settings[path[-1]].after if d in remaining)
        if following in path:
            return path[path.index(following) :]
        path.append(following)


def lower_profile(model: ProfileModel) -> IR:
    document = model.document
    return {
        **document_header(document, PROFILE_FORMAT, "profile"),
        "extends": model.chain,
        "settings": [_setting_ir(s, model) for s in model.effective],
        "windows": model.effective_windows,
        "changes": model.changes,
    }


def _setting_ir(s: Setting, model: ProfileModel) -> IR:
    declared = model.settings.get(s.name)
    return {
        "name": s.name,
        "type": s.type,
        "unit": s.unit,
        "order": {"form": s.order.form, "pairs": [list(p) for p in s.order.pairs]},
        "value": s.value,
        "after": list(s.after),
        "remediation": s.remediation,
        "description": s.description,
        "declared_in": s.declared_in,
        "at": at(declared.source.span) if declared is not None else None,
    }


class ProfileKind(DataKind):
    """A `profile` document: typed settings with safety orders, extends, change log, windows."""

    name = "profile"
    keywords = ("profile",)
    ir_key = "profiles"

    resolve_document = staticmethod(resolve_profile)

    def check_across(self, compilation: Compilation, errors: ErrorList) -> None:
        check_profiles(compilation.resolved.get(self.name, []), errors)

    def lower(self, compilation: Compilation, errors: ErrorList) -> list[IR]:
        return [lower_profile(model) for model in compilation.resolved.get(self.name, [])]

    def manifest(self, entry: IR) -> IR:
        return {"name": entry["name"], "version": entry["version"], "settings": len(entry["settings"])}

    def load(self, entry: IR) -> Any:
        return Profile.from_ir(entry)

    def diff(self, old: IR, new: IR, *, timeout_ms: int, solver_seconds: list[float] | None = None) -> list[Any]:
        return diff_profiles(old, new)

    def explain(self, entry: IR) -> list[str]:
        raise NotSupportedYet(f"explaining profile '{entry['name']}' is not supported yet: it has no rules")


KIND = ProfileKind()
