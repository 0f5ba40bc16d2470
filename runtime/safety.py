"""Safety catalogs at run time: which high-risk classes an action descriptor falls in, and what
they require before the action may run.

A compiled `safety` document (IR of kind "safety") lists classes of high-risk action, each with
a condition over the action descriptor, a risk level, the controls it requires and how strictly:

* `enforce` (HashiCorp Sentinel's levels): `hard` (the default) — the controls must be met;
  `soft` — they must be met unless a signed, justified override waives the class;
  `advisory` — they are reported, never required.
* `mode` (OPA Gatekeeper's actions): `deny` (the default) — the class acts as `enforce` says;
  `warn` — it is reported as a warning and requires nothing; `dryrun` — it is only counted, as
  what it would have required.

`SafetyCatalog.assess(action)` is pure: it validates the descriptor against the catalog's input,
runs every class's condition (one fused function, built by `ballast.runtime.codegen` as policy
matchers are), and returns an `Assessment`. A condition that faults counts as fired, with the
fault as its rationale: a class that cannot be ruled out is assumed to apply (fail safe).
Booking holds and approvals is `ballast.runtime.approvals.Gate`'s job.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ballast.runtime.codegen import compile_matcher
from ballast.runtime.enforcement import DEFAULT_ENFORCE, DEFAULT_MODE, ENFORCE_LEVELS, MODES
from ballast.runtime.errors import BallastError, UsageError
from ballast.runtime.interpret import check_expression, describe_fault
from ballast.runtime.ir import IR
from ballast.runtime.policy import canonical_json, rationale, render_reason
from ballast.runtime.validate import check_schema, fast_checker, validate
from ballast.runtime.values import format_duration

__all__ = [
    "CONTROLS",
    "DEFAULT_APPROVAL_SECONDS",
    "DEFAULT_ENFORCE",
    "DEFAULT_MODE",
    "ENFORCE_LEVELS",
    "MODES",
    "REQUESTER_FIELD",
    "RISK_LEVELS",
    "SAFETY_FORMAT",
    "Assessment",
    "Fired",
    "Requirements",
    "SafetyCatalog",
    "action_hash",
    "describe_control",
    "merge_requirements",
]

SAFETY_FORMAT = "ballast.safety/1"
RISK_LEVELS = ("none", "low", "medium", "high", "critical")  # in rising order
CONTROLS = ("dual_control", "justification", "hold", "approvers", "block")
DEFAULT_APPROVAL_SECONDS = 900.0  # approvals expire after 15 minutes unless the catalog says otherwise
REQUESTER_FIELD = "actor"  # the descriptor field naming who asks: they may not approve their own action


def action_hash(action: Any) -> str:
    """The canonical hash of an action descriptor (SHA-256 of its canonical JSON): what
    approvals are bound to. Raises UsageError for a value JSON cannot hold exactly (NaN, a set)."""
    try:
        text = canonical_json(action)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"the action descriptor is not plain JSON: {exc}") from None
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def describe_control(control: Mapping[str, Any]) -> str:
    """A control as written in the catalog: `hold 10m`, `approvers role "dba" count 2`."""
    kind = control["kind"]
    if kind == "hold":
        return f"hold {format_duration(control['seconds'])}"
    if kind == "approvers":
        return f'approvers role "{control["role"]}" count {control["count"]}'
    return str(kind)


class Fired:
    """One class the action falls in, with why.

    The reason and the rationale are computed when first read (as a directive's are): a
    preflight decides with the class's name, risk, enforcement and controls alone, and a caller
    that shows why pays for that alone. They are pure functions of (class, descriptor).
    """

    __slots__ = (
        "_data",
        "_entry",
        "_rationale",
        "_reason",
        "at",
        "controls",
        "enforce",
        "fault",
        "mode",
        "name",
        "risk",
    )

    def __init__(self, entry: IR, data: Mapping[str, Any], fault: str = "") -> None:
        self.name: str = entry["name"]
        self.risk: str = entry["risk"]
        self.enforce: str = entry["enforce"]
        self.mode: str = entry["mode"]
        self.controls: tuple[Mapping[str, Any], ...] = tuple(entry["controls"])
        self.at: tuple[int, ...] = tuple(entry.get("at", ()))
        self.fault = fault  # the condition faulted: assumed to apply
        self._entry = entry
        self._data = data
        self._reason: str | None = None
        self._rationale: tuple[Mapping[str, Any], ...] | None = None

    @property
    def reason(self) -> str:
        """The class's reason template rendered for the descriptor."""
        if self._reason is None:
            self._reason = (
                f"assumed to apply: {self.fault}" if self.fault else render_reason(self._entry["reason"], self._data)
            )
        return self._reason

    @property
    def rationale(self) -> tuple[Mapping[str, Any], ...]:
        """The checks that made the condition true, with the values they read."""
        if self._rationale is None:
            self._rationale = () if self.fault else tuple(rationale(self._entry["when"], self._data))
        return self._rationale

    def __repr__(self) -> str:
        return f"Fired({self.name!r}, risk={self.risk!r}, enforce={self.enforce!r}, mode={self.mode!r})"

    @property
    def enforced(self) -> bool:
        """Whether its controls are required (mode deny, enforce soft or hard)."""
        return self.mode == "deny" and self.enforce != "advisory"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "class": self.name,
            "risk": self.risk,
            "enforce": self.enforce,
            "mode": self.mode,
            "controls": [describe_control(c) for c in self.controls],
            "reason": self.reason,
            "rationale": [dict(c) for c in self.rationale],
        }
        if self.fault:
            out["fault"] = self.fault
        return out


@dataclass(frozen=True, slots=True)
class Requirements:
    """The controls an action needs, merged over the classes that require them."""

    dual_control: bool = False
    justification: bool = False
    hold_seconds: float = 0.0
    approvers: Mapping[str, int] = field(default_factory=dict)  # role → distinct approvers
    block: tuple[str, ...] = ()  # the classes that block the action

    @property
    def empty(self) -> bool:
        return not (self.dual_control or self.justification or self.hold_seconds or self.approvers or self.block)

    def describe(self) -> list[str]:
        """The requirements as controls written in a catalog, in a stable order."""
        out = []
        if self.dual_control:
            out.append("dual_control")
        if self.justification:
            out.append("justification")
        if self.hold_seconds:
            out.append(f"hold {format_duration(self.hold_seconds)}")
        out.extend(f'approvers role "{role}" count {n}' for role, n in sorted(self.approvers.items()))
        out.extend(f"block ({name})" for name in self.block)
        return out


def merge_requirements(classes: Iterable[Fired]) -> Requirements:
    """The controls of `classes` together: the strongest of each kind."""
    dual = justification = False
    hold = 0.0
    approvers: dict[str, int] = {}
    block: list[str] = []
    for fired in classes:
        for control in fired.controls:
            kind = control["kind"]
            if kind == "dual_control":
                dual = True
            elif kind == "justification":
                justification = True
            elif kind == "hold":
                hold = max(hold, float(control["seconds"]))
            elif kind == "approvers":
                approvers[control["role"]] = max(approvers.get(control["role"], 0), int(control["count"]))
            elif kind == "block":
                block.append(fired.name)
    return Requirements(dual, justification, hold, approvers, tuple(block))


@dataclass(frozen=True, slots=True)
class Assessment:
    """What a catalog says about one action descriptor (`SafetyCatalog.assess`)."""

    catalog: str
    action: Mapping[str, Any]  # the validated descriptor
    action_hash: str
    requester: str
    fired: tuple[Fired, ...]
    approval_seconds: float

    @property
    def risk(self) -> str:
        """The highest risk of the classes that act (deny and warn); `none` when none does."""
        acting = [RISK_LEVELS.index(f.risk) for f in self.fired if f.mode != "dryrun"]
        return RISK_LEVELS[max(acting, default=0)]

    @property
    def enforced(self) -> tuple[Fired, ...]:
        return tuple(f for f in self.fired if f.enforced)

    def requirements(self, waived: Iterable[str] = ()) -> Requirements:
        """The controls the action needs, without the classes in `waived` (overridden soft ones)."""
        skip = set(waived)
        return merge_requirements(f for f in self.enforced if f.name not in skip)

    @property
    def warnings(self) -> list[str]:
        """Classes that report without requiring: mode warn, or enforce advisory."""
        return [
            f"{f.name} ({'advisory' if f.mode == 'deny' else 'warn'}): {f.reason}; would require "
            + ", ".join(describe_control(c) for c in f.controls)
            for f in self.fired
            if f.mode == "warn" or (f.mode == "deny" and f.enforce == "advisory")
        ]

    @property
    def dry_run(self) -> list[str]:
        """Classes in mode dryrun that fired: what they would have required."""
        return [
            f"{f.name} (dryrun): would require " + ", ".join(describe_control(c) for c in f.controls)
            for f in self.fired
            if f.mode == "dryrun"
        ]

    def counts(self) -> dict[str, int]:
        """How many fired classes would have blocked or required controls, by mode and enforcement:
        `dryrun` and `warn` (not enforced), `advisory`, `soft`, `hard` (enforced)."""
        counts = {"dryrun": 0, "warn": 0, "advisory": 0, "soft": 0, "hard": 0}
        for f in self.fired:
            counts[f.mode if f.mode != "deny" else f.enforce] += 1
        return counts


class SafetyCatalog:
    """One compiled safety document, ready to assess action descriptors."""

    def __init__(self, ir: IR) -> None:
        """Build the catalog from its IR; raises UsageError for IR that is not a safety catalog's
        (a bundle's IR is read, not trusted)."""
        if not isinstance(ir, dict) or ir.get("kind") != "safety":
            raise UsageError("not a compiled safety catalog (IR of kind 'safety')")
        if ir.get("format") != SAFETY_FORMAT:
            raise UsageError(f"safety catalog format {ir.get('format')!r} is not {SAFETY_FORMAT!r}")
        try:
            self._build(ir)
        except UsageError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, BallastError) as exc:
            raise UsageError(f"malformed safety catalog {ir.get('name')!r}: {exc!r}") from None

    def _build(self, ir: IR) -> None:
        self.name: str = ir["name"]
        self.version: str = ir.get("version", "")
        self.file: str = ir.get("file", "<safety>")
        self.fields: list[dict[str, Any]] = ir["input"]["fields"]
        check_schema(self.fields)  # a bundle's IR is read, not trusted
        self._check = fast_checker(self.fields)
        self.classes: list[IR] = ir["classes"]
        for entry in self.classes:
            check_expression(entry["when"])
            if entry["risk"] not in RISK_LEVELS or entry["enforce"] not in ENFORCE_LEVELS or entry["mode"] not in MODES:
                raise UsageError(f"safety class {entry['name']!r}: malformed risk, enforce or mode")
            if any(c.get("kind") not in CONTROLS for c in entry["controls"]):
                raise UsageError(f"safety class {entry['name']!r}: unknown control")
        self.approval_seconds = float(ir.get("approvals", {}).get("expire", DEFAULT_APPROVAL_SECONDS))
        matcher_ir = {"name": self.name, "file": self.file, "rules": self.classes, "plan": ir.get("plan")}
        self._match: Callable[[Any, Any, Any], None]
        self._match, self.python_source = compile_matcher(matcher_ir)

    def validated(self, action: Any) -> dict[str, Any]:
        """The descriptor checked against the catalog's input; raises UsageError naming each bad field."""
        if self._check(action):
            return action
        data, problems = validate(action, self.fields)
        if data is None:
            listed = "; ".join(
                f"{p.field or 'descriptor'}: {p.message}" + (f" ({p.hint})" if p.hint else "") for p in problems
            )
            raise UsageError(f"the action descriptor does not fit catalog {self.name!r}: {listed}")
        return data

    def assess(self, action: Any) -> Assessment:
        """The classes `action` falls in, with reasons and rationales; raises UsageError for a
        descriptor that does not fit the catalog's input."""
        data = self.validated(action)
        digest = action_hash(action)
        hits: list[int] = []
        faults: list[tuple[int, BaseException]] = []
        self._match(data, hits.append, faults.append)
        faulted = {index: describe_fault(exc) for index, exc in faults}
        classes = self.classes
        fired = tuple(Fired(classes[i], data, faulted.get(i, "")) for i in sorted({*hits, *faulted}))
        requester = data.get(REQUESTER_FIELD)
        return Assessment(
            catalog=self.name,
            action=data,
            action_hash=digest,
            requester=requester if isinstance(requester, str) else "",
            fired=fired,
            approval_seconds=self.approval_seconds,
        )
