"""Semantic diff: what a change to a policy set means, from the checked IR of both sides.

`diff_ir` matches the documents of each kind by name and asks the kind (its `diff` hook,
`ballast.compiler.kinds`) for the findings between two versions of a document; a document only
on one side is `<kind>-removed` (breaking) or `<kind>-added` (behavioral). The checks, their ids
and levels are in `findings.CHECKS`, documented in docs/diff.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ballast.compiler.diff.findings import (
    DEFAULT_TIMEOUT_MS,
    GUARD_LOOSENED,
    Finding,
    Position,
    position,
    severity_rank,
)
from ballast.compiler.diff.profile import justified as justified_profiles
from ballast.compiler.kinds import DocumentKind, registry

IR = dict[str, Any]


def diff_ir(
    old: IR,
    new: IR,
    kinds: tuple[DocumentKind, ...] | None = None,
    timeout_ms: int = DEFAULT_TIMEOUT_MS,
    solver_seconds: list[float] | None = None,
) -> list[Finding]:
    """Every finding between two compiled IRs (`Compilation.ir`), in a stable order.

    `solver_seconds`, when given, is appended the time of every pair of conditions the solver
    compared (a rule's condition or exit condition in both versions; bench/diff.py reports them).
    """
    findings: list[Finding] = []
    for kind in kinds if kinds is not None else registry():
        before = {entry["name"]: entry for entry in old.get(kind.ir_key, [])}
        after = {entry["name"]: entry for entry in new.get(kind.ir_key, [])}
        for name, entry in before.items():
            if name not in after:
                where = position(entry.get("file", ""), [1, 1])
                findings.append(
                    Finding(
                        f"{kind.name}-removed", kind.name, name, "", f"{kind.name} '{name}' was removed", base=where
                    )
                )
        for name, entry in after.items():
            if name not in before:
                where = position(entry.get("file", ""), [1, 1])
                findings.append(
                    Finding(f"{kind.name}-added", kind.name, name, "", f"{kind.name} '{name}' was added", head=where)
                )
            else:
                findings.extend(kind.diff(before[name], entry, timeout_ms=timeout_ms, solver_seconds=solver_seconds))
    return sort_findings(findings)


Locate = Callable[[str, str, str], "tuple[str, int, int] | None"]


def place(findings: list[Finding], base: Locate, head: Locate) -> None:
    """Point findings about an input field or an action at its declaration on each side (the IR
    keeps no position for them)."""
    for f in findings:
        what = (
            "field"
            if f.id.startswith("input-field-") or f.id.startswith("input-enum-")
            else "action"
            if f.id.startswith("action-")
            else ""
        )
        if not what or not f.subject:
            continue
        for side, locate in (("base", base), ("head", head)):
            found = locate(f.document, what, f.subject)
            if found:  # else the subject is not declared there (None already) or is imported
                setattr(f, side, Position(*found))


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Most severe first; then by document, subject and check: the same order on every run."""
    return sorted(findings, key=lambda f: (severity_rank(f.level), f.kind, f.document, f.subject, f.id, f.message))


def unjustified(findings: list[Finding], head_ir: IR) -> list[str]:
    """The keys of guard-loosened findings on rules, safety classes or rollout plans that carry
    no `justification` in the head (`ballast diff --require-justification`, and `ballast fleet
    plan` for a rollout's bundle), and on profiles whose change-log entry for the head's version
    carries none. A rollout's justification is the plan's own, one for the whole document."""
    # (kind, document, rule or class): a policy and a catalog may share a name
    guards = [
        (kind, document["name"], entry)
        for kind, key, entries in (("policy", "policies", "rules"), ("safety", "safety", "classes"))
        for document in head_ir.get(key, [])
        for entry in document[entries]
    ]
    justified = {(kind, name, entry["name"]) for kind, name, entry in guards if entry.get("justification")}
    known = {(kind, name, entry["name"]) for kind, name, entry in guards}
    plans = {document["name"]: bool(document.get("justification")) for document in head_ir.get("rollouts", [])}
    profiles = justified_profiles(head_ir)
    return [
        f.key
        for f in findings
        if GUARD_LOOSENED in f.tags
        and (
            ((f.kind, f.document, f.subject) in known and (f.kind, f.document, f.subject) not in justified)
            or (f.kind == "rollout" and f.document in plans and not plans[f.document])
            or (f.kind == "profile" and f.document not in profiles)
        )
    ]
