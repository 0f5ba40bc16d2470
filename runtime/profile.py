"""Profiles at run time: a compiled profile, what a live configuration lacks, and the safe plan.

A profile (compiled by the `profile` kind, `ballast.compiler.kinds.profile`) is a list of typed
settings, each with the value a tenant must hold and its *safety order*: which values are at
least as safe as which. The orders are

- `higher` / `lower` (`higher is safer`): integers and durations, compared as numbers (durations
  in seconds);
- `true` / `false` (`true is safer`): booleans;
- `exact`: strings; only the required value is as safe as itself;
- `chain` (`order required > optional > off`) and `partial` (`order { eu > any, us > any }`):
  enums; a value is at least as safe as another when a path of declared pairs leads from it to
  the other (the reflexive-transitive closure). Two values with no such path are incomparable:
  neither counts as at least as safe as the other.

`diff` compares a live configuration (a JSON object of setting names to values) with the
profile; each delta has a risk:

- `unsafe`: the live value is not at least as safe as the required one (lower, incomparable, or
  not a valid value of the setting's type);
- `drift`: different from the required value but at least as safe (nothing to remediate);
- `missing`: the setting is absent;
- `extra`: a key the profile does not declare (left alone).

`plan` is what a remediation writes: the required value of every `unsafe` or `missing` setting,
in the profile's dependency order (the compiler sorts the settings topologically, ties in
declaration order), so remediation only ever raises safety and applying a plan twice changes
nothing the second time.

The runtime imports only the standard library: the CLI and services load `Profile.from_ir`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ballast.runtime.errors import UsageError
from ballast.runtime.values import parse_duration

PROFILE_FORMAT = "ballast.profile/1"
RISKS = ("unsafe", "missing", "drift", "extra")  # most to least urgent
TYPES = ("int", "bool", "enum", "duration", "string")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ORDER_FORMS = {
    "int": ("higher", "lower"),
    "duration": ("higher", "lower"),
    "bool": ("true", "false"),
    "string": ("exact",),
    "enum": ("chain", "partial"),
}


@dataclass(frozen=True)
class Order:
    """A setting's safety order; `pairs` are the declared (safer, less safe) pairs of an enum."""

    form: str
    pairs: tuple[tuple[str, str], ...] = ()

    @property
    def values(self) -> tuple[str, ...]:
        """An enum's values, in order of first mention."""
        return tuple(dict.fromkeys(v for pair in self.pairs for v in pair))

    def text(self) -> str:
        """The order as written: `higher is safer`, `required > optional > off`."""
        if self.form in ("higher", "lower", "true", "false"):
            return f"{self.form} is safer"
        if self.form == "exact":
            return "exact"
        if self.form == "chain":
            return " > ".join(self.values)
        return "{ " + ", ".join(f"{a} > {b}" for a, b in self.pairs) + " }"

    def at_least(self, a: Any, b: Any) -> bool:
        """Whether `a` is at least as safe as `b` (both valid values of the setting)."""
        if a == b:
            return True
        if self.form == "higher":
            return a >= b
        if self.form == "lower":
            return a <= b
        if self.form in ("true", "false"):
            return a == (self.form == "true")
        if self.form == "exact":
            return False
        return b in self._below(a)

    def _below(self, value: str) -> set[str]:
        """Every value `value` is declared safer than, directly or through others."""
        seen: set[str] = set()
        todo = [value]
        while todo:
            current = todo.pop()
            for safer, less in self.pairs:
                if safer == current and less not in seen:
                    seen.add(less)
                    todo.append(less)
        return seen


@dataclass(frozen=True)
class Setting:
    """One setting of a profile: its type, safety order, required value and dependencies."""

    name: str
    type: str
    order: Order
    value: Any  # as a tenant's configuration holds it: int, bool, str; a duration's text ("15m")
    unit: str = ""
    after: tuple[str, ...] = ()
    remediation: str = ""
    description: str = ""
    declared_in: str = ""  # the profile that declared the value: this one or one it extends

    def comparable(self, value: Any) -> Any:
        """`value` as the order compares it (a duration in seconds), or None when it is not a
        valid value of the setting's type."""
        if self.type == "int":
            return value if isinstance(value, int) and not isinstance(value, bool) else None
        if self.type == "bool":
            return value if isinstance(value, bool) else None
        if self.type == "duration":
            if isinstance(value, str):
                return parse_duration(value)
            return None
        if self.type == "enum":
            return value if isinstance(value, str) and value in self.order.values else None
        return value if isinstance(value, str) else None

    def at_least_as_safe(self, live: Any) -> bool | None:
        """Whether a live value is at least as safe as the required one; None when it is invalid."""
        a = self.comparable(live)
        if a is None:
            return None
        return self.order.at_least(a, self.comparable(self.value))

    def shown(self, value: Any) -> str:
        """A value for people: `90 days`, `required`, `true`."""
        text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
        return f"{text} {self.unit}" if self.unit and self.type == "int" and isinstance(value, int) else text


@dataclass(frozen=True)
class Window:
    """When a tenant class accepts changes: `days` (mon…sun), from `start` to `end` (HH:MM, UTC;
    an end before the start runs past midnight, into the next day)."""

    tenant_class: str
    days: tuple[str, ...]
    start: str
    end: str

    def open_at(self, moment: dt.datetime) -> bool:
        """Whether the window is open at `moment` (a UTC datetime)."""
        minute = moment.hour * 60 + moment.minute
        start, end = _minutes(self.start), _minutes(self.end)
        today = DAYS[moment.weekday()]
        yesterday = DAYS[(moment.weekday() - 1) % 7]
        if start < end:
            return today in self.days and start <= minute < end
        return (today in self.days and minute >= start) or (yesterday in self.days and minute < end)

    def text(self) -> str:
        return f"{self.tenant_class}: {', '.join(self.days)} {self.start}-{self.end} UTC"


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


@dataclass(frozen=True)
class Delta:
    """One difference between a live configuration and a profile."""

    setting: str
    risk: str  # one of RISKS
    live: Any
    required: Any
    message: str
    remediation: str = ""

    def to_json(self) -> dict[str, Any]:
        out = {"setting": self.setting, "risk": self.risk, "live": self.live, "required": self.required}
        out["message"] = self.message
        if self.remediation:
            out["remediation"] = self.remediation
        return out


@dataclass(frozen=True)
class Change:
    """One step of a remediation plan: set `setting` from `before` (None: absent) to `after`."""

    setting: str
    before: Any
    after: Any
    risk: str  # the delta it fixes: unsafe or missing

    def to_json(self) -> dict[str, Any]:
        return {"setting": self.setting, "before": self.before, "after": self.after, "fixes": self.risk}


@dataclass(frozen=True)
class Profile:
    """A compiled profile: its settings in dependency order, windows and change log."""

    name: str
    version: str
    settings: tuple[Setting, ...]
    extends: tuple[str, ...] = ()  # the chain of profiles it raises, nearest first
    windows: tuple[Window, ...] = ()
    changes: tuple[dict[str, str], ...] = field(default=())

    @classmethod
    def from_ir(cls, ir: Mapping[str, Any]) -> Profile:
        """The profile of a compiled IR entry (`Compilation.ir["profiles"][i]`)."""
        if ir.get("format") != PROFILE_FORMAT:
            raise UsageError(f"not a compiled profile of format {PROFILE_FORMAT}: {ir.get('format')!r}")
        settings = tuple(
            Setting(
                s["name"],
                s["type"],
                Order(s["order"]["form"], tuple(tuple(p) for p in s["order"]["pairs"])),  # type: ignore[misc]
                s["value"],
                s["unit"],
                tuple(s["after"]),
                s["remediation"],
                s["description"],
                s["declared_in"],
            )
            for s in ir["settings"]
        )
        windows = tuple(Window(w["class"], tuple(w["days"]), w["start"], w["end"]) for w in ir["windows"])
        return cls(ir["name"], ir["version"], settings, tuple(ir["extends"]), windows, tuple(ir["changes"]))

    def setting(self, name: str) -> Setting | None:
        return next((s for s in self.settings if s.name == name), None)

    def window(self, tenant_class: str) -> Window | None:
        """The change window of a tenant class; None: the class has none, changes apply any time."""
        return next((w for w in self.windows if w.tenant_class == tenant_class), None)

    def diff(self, live: Mapping[str, Any]) -> list[Delta]:
        """Every delta between `live` and the profile: settings in dependency order, then extra
        keys by name."""
        deltas: list[Delta] = []
        for s in self.settings:
            required = s.shown(s.value)
            if s.name not in live:
                deltas.append(
                    Delta(
                        s.name,
                        "missing",
                        None,
                        s.value,
                        f"{s.name}: not set; the profile requires {required}",
                        s.remediation,
                    )
                )
                continue
            value = live[s.name]
            if s.comparable(value) is not None and s.comparable(value) == s.comparable(s.value):
                continue  # the same value, perhaps written otherwise ("60m" for "1h")
            safe = s.at_least_as_safe(value)
            if safe is None:
                message = f"{s.name}: {json.dumps(value)} is not a {_type_text(s)}; the profile requires {required}"
                deltas.append(Delta(s.name, "unsafe", value, s.value, message, s.remediation))
            elif not safe:
                message = f"{s.name}: {s.shown(value)} is weaker than the profile's {required} ({s.order.text()})"
                deltas.append(Delta(s.name, "unsafe", value, s.value, message, s.remediation))
            else:
                message = f"{s.name}: {s.shown(value)} is not the profile's {required} but at least as safe ({s.order.text()})"
                deltas.append(Delta(s.name, "drift", value, s.value, message))
        declared = {s.name for s in self.settings}
        for key in sorted(k for k in live if k not in declared):
            deltas.append(Delta(key, "extra", live[key], None, f"{key}: not a setting of profile {self.name}"))
        return deltas

    def plan(self, live: Mapping[str, Any]) -> list[Change]:
        """The changes that make `live` at least as safe as the profile, in dependency order:
        the required value of every unsafe or missing setting, and nothing else."""
        return [
            Change(d.setting, d.live, d.required, d.risk) for d in self.diff(live) if d.risk in ("unsafe", "missing")
        ]

    def applied(self, live: Mapping[str, Any]) -> dict[str, Any]:
        """`live` with the plan applied (a new mapping)."""
        out = dict(live)
        for change in self.plan(live):
            out[change.setting] = change.after
        return out

    def defaults(self) -> dict[str, Any]:
        """A new tenant's settings: every required value, in dependency order."""
        return {s.name: s.value for s in self.settings}


def _type_text(s: Setting) -> str:
    if s.type == "enum":
        return f"valid value (one of {', '.join(s.order.values)})"
    return {"int": "whole number", "bool": "boolean", "duration": 'duration ("15m")', "string": "string"}[s.type]
