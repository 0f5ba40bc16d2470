"""Safety catalogs (issue 14, Wave-12 §91): check a `safety` document and lower it to IR.

A safety document declares the action descriptor (its `input`, which must name the requester in
a string field `actor`), constants and conditions as a policy does, how long approvals stay
valid (`approvals expire after 15m`), and classes of high-risk action. Each class has a
condition, a risk level (`low | medium | high | critical`), the controls it requires
(`dual_control`, `justification`, `hold D`, `approvers role "R" count N`, `block`), an
enforcement level (`enforce advisory | soft | hard`, default hard) and a mode (`mode dryrun |
warn | deny`, default deny). `ballast.runtime.safety.SafetyCatalog` runs the IR.

Invariants checked here (docs/governance.md): a class has a condition, a risk and at least one
control; every hold ends before the approvals expire (else the action could never run); a role
is asked for once per class with a count of 1 or more; `block` under `enforce advisory` or a
mode other than deny is reported as a warning, since it would block nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ballast.compiler import types as T
from ballast.compiler.checker import Checker
from ballast.compiler.kinds import NotSupportedYet
from ballast.compiler.kinds.data import DataKind, document_header
from ballast.compiler.passes.optimize import fold, plan
from ballast.compiler.passes.resolve import PolicyModel, check_enforcement, check_names, merge, suggest
from ballast.compiler.spans import at
from ballast.dsl import ast
from ballast.runtime.errors import ErrorList, Span
from ballast.runtime.safety import (
    DEFAULT_APPROVAL_SECONDS,
    DEFAULT_ENFORCE,
    DEFAULT_MODE,
    REQUESTER_FIELD,
    RISK_LEVELS,
    SAFETY_FORMAT,
    SafetyCatalog,
)

if TYPE_CHECKING:
    from ballast.compiler.pipeline import Compilation

IR = dict[str, Any]
DECLARED_RISKS = RISK_LEVELS[1:]  # "none" is what an action no class matches gets


@dataclass
class SafetyModel:
    """A resolved safety document and its symbol table."""

    document: ast.Document
    model: PolicyModel


def _head(document: ast.Document) -> Span:
    s = document.span
    return Span(s.file, s.line, s.column, s.line, s.column + len(document.kind))


def resolve_safety(compilation: Compilation, document: ast.Document, errors: ErrorList) -> SafetyModel:
    """Symbol table, names and structure of one safety document (pass `resolve`)."""
    model = PolicyModel(document)
    merge(compilation, model, document, errors, chain=[document.file])
    head = _head(document)
    for other in compilation.resolved.get("safety", []):
        if other.document.name == document.name:
            errors.error(
                "duplicate",
                f"safety catalog '{document.name}' is given twice (also at {_head(other.document)})",
                head,
                "catalog names must be unique in a set",
            )
    _check_input(model, head, errors)
    approvals = _approval_seconds(document, errors)
    classes = document.of(ast.SafetyClass)
    if not classes:
        errors.error(
            "missing",
            f"safety catalog '{document.name}' declares no class",
            head,
            'add one: `class mass_delete { when operation == "delete" and volume > 1000 risk high require dual_control }`',
        )
    seen: dict[str, Span] = {}
    for cls in classes:
        name_span = cls.name_span or cls.span
        if cls.name in seen:
            errors.error(
                "duplicate",
                f"class '{cls.name}' is declared twice (first at {seen[cls.name]})",
                name_span,
                "each class needs its own name: it labels the class in every preflight",
            )
        seen.setdefault(cls.name, cls.span)
        _check_class(cls, approvals, errors)
        # Conditions and reasons are checked as a policy's rules are (names, cycles, types).
        model.rules.append(ast.Rule(name=cls.name, span=cls.span, when=cls.when, reason=cls.reason))
    check_names(model, errors)
    return SafetyModel(document, model)


def _check_input(model: PolicyModel, head: Span, errors: ErrorList) -> None:
    if not model.input_name:
        errors.error(
            "missing",
            f"safety catalog '{model.document.name}' declares no input",
            head,
            "declare the action descriptor: `input action { actor: string, operation: string, volume: int }`",
        )
        return
    actor = model.input.field(REQUESTER_FIELD)
    span = model.field_spans.get(REQUESTER_FIELD, head)
    if actor is None:
        errors.error(
            "missing",
            f"the action descriptor '{model.input_name}' has no '{REQUESTER_FIELD}' field",
            head,
            f"add `{REQUESTER_FIELD}: string`: approvals are checked against who asks",
        )
    elif actor.type != T.STRING or actor.optional:
        errors.error(
            "type",
            f"the descriptor field '{REQUESTER_FIELD}' must be a required string",
            span,
            f"write `{REQUESTER_FIELD}: string`: every action names who asks for it",
        )


def _approval_seconds(document: ast.Document, errors: ErrorList) -> float:
    declared = document.of(ast.Approvals)
    for extra in declared[1:]:
        errors.error("duplicate", "second `approvals` clause", extra.span, "approvals expire once")
    if not declared:
        return DEFAULT_APPROVAL_SECONDS
    expire = declared[0].expire
    if expire.seconds <= 0:
        errors.error("approvals", f"approvals expire after '{expire.text}': it must be longer than 0s", expire.span, "")
    return expire.seconds


def _check_class(cls: ast.SafetyClass, approvals: float, errors: ErrorList) -> None:
    name_span = cls.name_span or cls.span
    for key, span in cls.repeated:
        errors.error("duplicate", f"class '{cls.name}' writes '{key}' twice", span, "write each clause once")
    if cls.when is None:
        errors.error("missing", f"class '{cls.name}' has no condition", name_span, "add `when <condition>`")
    if not cls.risk:
        errors.error("missing", f"class '{cls.name}' has no risk level", name_span, "add `risk high`")
    elif cls.risk not in DECLARED_RISKS:
        errors.error(
            "risk",
            f"unknown risk level '{cls.risk}'",
            cls.risk_span or name_span,
            suggest(cls.risk, list(DECLARED_RISKS)) or f"write one of {', '.join(DECLARED_RISKS)}",
        )
    check_enforcement(cls.enforce, cls.enforce_span, cls.mode, cls.mode_span, name_span, errors)
    if not cls.controls:
        errors.error(
            "missing",
            f"class '{cls.name}' requires no control",
            name_span,
            "add `require dual_control`, `require justification`, `require hold 10m`, `require approvers "
            'role "dba" count 2` or `require block`',
        )
    kinds_seen: dict[str, Span] = {}
    roles: dict[str, Span] = {}
    for control in cls.controls:
        if control.kind != "approvers":
            if control.kind in kinds_seen:
                errors.error(
                    "duplicate",
                    f"class '{cls.name}' requires '{control.kind}' twice (first at {kinds_seen[control.kind]})",
                    control.span,
                    "require each control once",
                )
            kinds_seen.setdefault(control.kind, control.span)
        if control.kind == "hold" and control.hold is not None:
            if control.hold.seconds <= 0:
                errors.error("hold", f"'hold {control.hold.text}' must be longer than 0s", control.hold.span, "")
            elif control.hold.seconds >= approvals:
                errors.error(
                    "hold",
                    f"class '{cls.name}' holds the action for {control.hold.text}, but approvals expire first",
                    control.hold.span,
                    "shorten the hold, or lengthen `approvals expire after …`: the action could never run",
                )
        if control.kind == "approvers" and control.role is not None:
            if control.role.value in roles:
                errors.error(
                    "duplicate",
                    f"class '{cls.name}' asks for role '{control.role.value}' twice",
                    control.span,
                    "ask once, with the count you need",
                )
            roles.setdefault(control.role.value, control.span)
            if not control.role.value.strip():
                errors.error("approvers", "the approvers' role is empty", control.role.span, 'write `role "dba"`')
            if control.count is not None and control.count < 1:
                errors.error(
                    "approvers",
                    f"approvers count {control.count}: at least one approver is needed",
                    control.count_span or control.span,
                    "leave the control out to need no approver",
                )
    if "block" in kinds_seen and (cls.enforce == "advisory" or cls.mode in ("warn", "dryrun")):
        errors.warning(
            "enforce",
            f"class '{cls.name}' requires block, but is {cls.mode or cls.enforce}: it blocks nothing",
            kinds_seen["block"],
            "that is right for a trial; use `enforce soft` for a block that a signed override may lift",
        )


# ---- check-types: lowering ----


def _lower(safety: SafetyModel, errors: ErrorList) -> IR:
    document, model = safety.document, safety.model
    checker = Checker(model, errors)
    classes = []
    for index, cls in enumerate(document.of(ast.SafetyClass)):
        when = (
            checker.condition(cls.when, f"the condition of class '{cls.name}'")
            if cls.when is not None
            else {"k": "lit", "v": True, "t": "bool"}
        )
        reason = checker.reason(ast.Rule(name=cls.name, span=cls.span, reason=cls.reason))
        if cls.reason is None:
            reason = [f"class {cls.name} applies"]
        classes.append(
            {
                "name": cls.name,
                "index": index,
                "at": at(cls.span),
                "description": cls.description,
                "when": when,
                "risk": cls.risk,
                "enforce": cls.enforce or DEFAULT_ENFORCE,
                "mode": cls.mode or DEFAULT_MODE,
                "controls": [_control(c) for c in cls.controls],
                "reason": reason,
                **({"justification": cls.justification} if cls.justification else {}),
            }
        )
    approvals = document.of(ast.Approvals)
    return {
        **document_header(document, SAFETY_FORMAT, "safety"),
        "input": {"name": model.input_name, "fields": [T.field_to_json(f) for f in model.input.fields]},
        "approvals": {"expire": approvals[0].expire.seconds if approvals else DEFAULT_APPROVAL_SECONDS},
        "classes": classes,
    }


def _control(control: ast.Control) -> IR:
    out: IR = {"kind": control.kind}
    if control.kind == "hold" and control.hold is not None:
        out["seconds"] = control.hold.seconds
    if control.kind == "approvers":
        out["role"] = control.role.value if control.role is not None else ""
        out["count"] = control.count
    return out


# ---- the kind ----


class SafetyKind(DataKind):
    """A `safety` catalog: classes of high-risk action and the controls they require."""

    name = "safety"
    keywords = ("safety",)
    ir_key = "safety"

    resolve_document = staticmethod(resolve_safety)

    def lower(self, compilation: Compilation, errors: ErrorList) -> list[IR]:
        return [_lower(safety, errors) for safety in compilation.resolved.get(self.name, [])]

    def optimize(self, entries: list[IR], errors: ErrorList) -> None:
        for catalog in entries:
            for cls in catalog["classes"]:
                cls["when"] = fold(cls["when"], errors, catalog["file"])
            # The same layout as a policy's matcher: dispatch on `operation`, threshold chains.
            catalog["plan"] = plan({"rules": catalog["classes"]})

    def manifest(self, entry: IR) -> IR:
        return {"name": entry["name"], "version": entry["version"], "classes": len(entry["classes"])}

    def load(self, entry: IR) -> Any:
        return SafetyCatalog(entry)

    def diff(self, old: IR, new: IR, *, timeout_ms: int, solver_seconds: list[float] | None = None) -> list[Any]:
        from ballast.compiler.diff.safety import SafetyDiff

        return SafetyDiff(old, new, timeout_ms, solver_seconds).run()

    def explain(self, entry: IR) -> list[str]:
        raise NotSupportedYet(
            f"explaining safety catalog '{entry['name']}' is not supported yet: `ballast preflight` shows each class's rationale"
        )


KIND = SafetyKind()
