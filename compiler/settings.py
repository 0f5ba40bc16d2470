"""The `name value` settings of fleet and rollout blocks, checked against what a block takes.

The grammar reads every setting the same way (`ballast.dsl.ast.Setting`); a block says which names
it takes and the form of each value (`SettingSpec`), and this module reports, at the setting, an
unknown name (with did-you-mean), a value of the wrong form, a number out of range and a setting
written twice. What it returns holds only the settings that passed, so callers read values
without checking them again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ballast.dsl import ast
from ballast.runtime.errors import ErrorList, Span
from ballast.runtime.suggest import did_you_mean

_FORMS = {
    "string": "a string",
    "number": "a number",
    "duration": "a duration",
    "percent": "a percentage",
    "list": "a list",
    "map": "a map",
}


@dataclass(frozen=True)
class SettingSpec:
    """A setting a block takes: the forms its value may be written in, an example, bounds."""

    forms: tuple[str, ...]
    example: str
    minimum: float | None = None
    whole: bool = False  # a number must be an integer


def read_settings(
    settings: Iterable[ast.Setting], specs: dict[str, SettingSpec], what: str, errors: ErrorList
) -> dict[str, ast.Setting]:
    """The valid settings by name; each problem reported at the setting."""
    out: dict[str, ast.Setting] = {}
    seen: dict[str, Span] = {}
    for setting in settings:
        spec = specs.get(setting.name)
        if spec is None:
            hint = did_you_mean(setting.name, specs) or f"{what} takes: {', '.join(specs)}"
            errors.error("name", f"{what} has no setting '{setting.name}'", setting.name_span, hint)
            continue
        if setting.name in seen:
            errors.error(
                "duplicate",
                f"'{setting.name}' is set twice in {what} (first at {seen[setting.name]})",
                setting.name_span,
                "write each setting once",
            )
            continue
        seen[setting.name] = setting.span
        if setting.kind not in spec.forms:
            expected = " or ".join(_FORMS[f] for f in spec.forms)
            errors.error(
                "type",
                f"'{setting.name}' takes {expected}, got {_FORMS[setting.kind]}",
                setting.value_span,
                f"write `{setting.name} {spec.example}`",
            )
            continue
        if setting.kind == "number" and not _number_ok(setting, spec, errors):
            continue
        if setting.kind == "percent" and not 0 < setting.value.value <= 100:  # type: ignore[union-attr]
            errors.error(
                "range",
                f"'{setting.name}' is {setting.value.text}: a percentage is in (0%, 100%]",  # type: ignore[union-attr]
                setting.value_span,
                f"write `{setting.name} {spec.example}`",
            )
            continue
        out[setting.name] = setting
    return out


def _number_ok(setting: ast.Setting, spec: SettingSpec, errors: ErrorList) -> bool:
    value = float(setting.value)  # type: ignore[arg-type]  # kind "number" holds a float
    if spec.whole and not value.is_integer():
        errors.error("type", f"'{setting.name}' takes a whole number, got {value:g}", setting.value_span, "")
        return False
    if spec.minimum is not None and value < spec.minimum:
        errors.error(
            "range",
            f"'{setting.name}' is {value:g}: it must be at least {spec.minimum:g}",
            setting.value_span,
            f"write `{setting.name} {spec.example}`",
        )
        return False
    return True


def string_of(settings: dict[str, ast.Setting], name: str, default: str = "") -> str:
    setting = settings.get(name)
    return str(setting.value) if setting is not None else default


def words_of(settings: dict[str, ast.Setting], name: str) -> tuple[str, ...]:
    setting = settings.get(name)
    return tuple(setting.value) if setting is not None else ()  # type: ignore[arg-type]


def head(document: ast.Document) -> Span:
    """The document's keyword: where document-level findings point."""
    s = document.span
    return Span(s.file, s.line, s.column, s.line, s.column + len(document.kind))
