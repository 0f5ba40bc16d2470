"""Detectors for the `safety` kind: what a change to a safety catalog does to its guards.

A safety catalog's classes are guards on high-risk actions (docs/governance.md). A change that
lets some action through with fewer controls is `guard-loosened` and breaking, so that
`ballast diff --fail-on breaking` stops it and `--require-justification` asks the class for a
`justification`: a class removed, a control removed or weakened (a shorter hold, fewer
approvers), a lower risk, a laxer `enforce` (hard → soft → advisory) or `mode` (deny → warn →
dryrun), a condition that matches fewer actions (or other ones), approvals that stay valid
longer. The reverse of each is `guard-tightened` and behavioral. Conditions are compared by the
solver as a policy's are (`ballast.compiler.diff.solver.compare`), with a witness action for each
difference; one the solver cannot decide is `safety-condition-changed` without a witness.
"""

from __future__ import annotations

from typing import Any

from ballast.compiler.diff.document import DOCUMENT, DocumentDiff
from ballast.compiler.diff.findings import GUARD_LOOSENED, GUARD_TIGHTENED, Finding, position
from ballast.compiler.diff.schema import diff_input
from ballast.compiler.diff.solver import DEFAULT_TIMEOUT_MS, Comparison, Domain, compare, same_shape
from ballast.compiler.kinds import without_positions
from ballast.runtime.ir import unparse
from ballast.runtime.safety import ENFORCE_LEVELS, MODES, RISK_LEVELS
from ballast.runtime.values import format_duration

IR = dict[str, Any]
LOOSENED, TIGHTENED = (GUARD_LOOSENED,), (GUARD_TIGHTENED,)


class SafetyDiff(DocumentDiff):
    """The findings between two versions (`old`, `new`) of one safety catalog."""

    kind = "safety"
    label = "safety catalog"

    def __init__(
        self, old: IR, new: IR, timeout_ms: int = DEFAULT_TIMEOUT_MS, solver_seconds: list[float] | None = None
    ) -> None:
        super().__init__(old, new)
        self.timeout_ms = timeout_ms
        self.solver_seconds = solver_seconds

    def run(self) -> list[Finding]:
        self.metadata()
        base, head = position(self.old.get("file", ""), DOCUMENT), position(self.new.get("file", ""), DOCUMENT)
        self.findings.extend(diff_input("safety", self.name, self.old["input"], self.new["input"], base, head))
        self.approvals()
        old = {c["name"]: c for c in self.old["classes"]}
        new = {c["name"]: c for c in self.new["classes"]}
        for name, c in old.items():
            if name not in new:
                self.add(
                    "safety-class-removed",
                    name,
                    f"class '{name}' was removed: the actions it matched need none of its controls "
                    f"({_controls(c['controls'])})",
                    c["at"],
                    None,
                    tags=LOOSENED,
                )
        for name, c in new.items():
            if name not in old:
                self.add(
                    "safety-class-added",
                    name,
                    f"class '{name}' was added: risk {c['risk']}, requires {_controls(c['controls'])}",
                    None,
                    c["at"],
                    tags=TIGHTENED,
                )
            else:
                self.klass(old[name], c)
        return self.findings

    def approvals(self) -> None:
        a, b = self.old["approvals"]["expire"], self.new["approvals"]["expire"]
        if a == b:
            return
        looser = b > a  # an approval that stays valid longer can be used later, on a changed situation
        self.guard(
            "safety-approvals",
            looser,
            "",
            f"approvals expire after {format_duration(a)} → {format_duration(b)}",
            before=a,
            after=b,
        )

    def klass(self, a: IR, b: IR) -> None:
        name = b["name"]
        self.ranked(a, b, "risk", RISK_LEVELS, "safety-risk-lowered", "safety-risk-raised")
        self.ranked(a, b, "enforce", ENFORCE_LEVELS, "safety-enforcement-loosened", "safety-enforcement-tightened")
        self.ranked(a, b, "mode", MODES, "safety-enforcement-loosened", "safety-enforcement-tightened")
        self.controls(a, b)
        self.condition(a, b)
        # a reason's parts carry their positions: only what they say counts
        changed = [
            k
            for k in ("description", "reason", "justification")
            if without_positions(a.get(k)) != without_positions(b.get(k))
        ]
        if changed:
            self.add(
                "safety-metadata-changed",
                name,
                f"class '{name}' {', '.join(changed)} changed",
                a["at"],
                b["at"],
                changes={k: {"before": _text(a.get(k)), "after": _text(b.get(k))} for k in changed},
            )

    def ranked(self, a: IR, b: IR, key: str, order: tuple[str, ...], lower: str, higher: str) -> None:
        x, y = a[key], b[key]
        if x == y:
            return
        looser = order.index(y) < order.index(x)
        self.add(
            lower if looser else higher,
            b["name"],
            f"class '{b['name']}' {key} {x} → {y}",
            a["at"],
            b["at"],
            tags=LOOSENED if looser else TIGHTENED,
            before=x,
            after=y,
        )

    def controls(self, a: IR, b: IR) -> None:
        name = b["name"]
        old, new = _by_identity(a["controls"]), _by_identity(b["controls"])
        for ident, c in old.items():
            if ident not in new:
                self.add(
                    "safety-control-removed",
                    name,
                    f"class '{name}' no longer requires {_control(c)}",
                    a["at"],
                    b["at"],
                    tags=LOOSENED,
                    control=_control(c),
                )
        for ident, c in new.items():
            if ident not in old:
                self.add(
                    "safety-control-added",
                    name,
                    f"class '{name}' now requires {_control(c)}",
                    a["at"],
                    b["at"],
                    tags=TIGHTENED,
                    control=_control(c),
                )
                continue
            before, after = old[ident], c
            amount = "seconds" if c["kind"] == "hold" else "count" if c["kind"] == "approvers" else ""
            if not amount or before[amount] == after[amount]:
                continue
            weaker = after[amount] < before[amount]
            self.add(
                "safety-control-weakened" if weaker else "safety-control-strengthened",
                name,
                f"class '{name}' {_control(before)} → {_control(after)}",
                a["at"],
                b["at"],
                tags=LOOSENED if weaker else TIGHTENED,
                before=_control(before),
                after=_control(after),
            )

    def condition(self, a: IR, b: IR) -> None:
        name = b["name"]
        before, after = a["when"], b["when"]
        if same_shape(before, after):
            return
        domain = Domain(self.old["input"]["fields"], self.new["input"]["fields"])
        result = compare(before, after, domain, self.timeout_ms)
        if self.solver_seconds is not None:
            self.solver_seconds.append(result.seconds)
        at = (a["at"], b["at"])
        text = f"{unparse(before)} → {unparse(after)}"
        details: dict[str, Any] = {"before": unparse(before), "after": unparse(after)}
        for key, witness in (("now_matches", result.gained), ("no_longer_matches", result.lost)):
            if witness is not None:
                details[key] = witness.text()
        proven = "proven" if not result.assumptions else "structural"
        if result.verdict == "equivalent":
            self.add(
                "safety-condition-rewritten",
                name,
                f"class '{name}' condition rewritten, proven to match alike: {text}",
                *at,
                confidence=proven,
                **details,
            )
        elif result.verdict == "widened":
            self.add(
                "safety-condition-widened",
                name,
                f"class '{name}' now matches more actions{_witness(result)}",
                *at,
                confidence=proven,
                tags=TIGHTENED,
                **details,
            )
        elif result.verdict == "narrowed":
            self.add(
                "safety-condition-narrowed",
                name,
                f"class '{name}' now matches fewer actions{_witness(result)}",
                *at,
                confidence=proven,
                tags=LOOSENED,
                **details,
            )
        else:  # "changed", or "undecided": an action may have left the class either way
            why = (
                f"could not be decided ({result.reason}): {text}"
                if result.verdict == "undecided"
                else f"matches other actions{_witness(result)}"
            )
            self.add(
                "safety-condition-changed",
                name,
                f"class '{name}' {why}",
                *at,
                confidence=proven if result.verdict == "changed" else "structural",
                tags=LOOSENED,
                **details,
            )


def _by_identity(controls: list[IR]) -> dict[tuple[str, str], IR]:
    """Controls by what they are: a kind, and for approvers their role (the count may change)."""
    return {(c["kind"], c.get("role", "")): c for c in controls}


def _control(c: IR) -> str:
    if c["kind"] == "hold":
        return f"hold {format_duration(c['seconds'])}"
    if c["kind"] == "approvers":
        return f'approvers role "{c["role"]}" count {c["count"]}'
    return str(c["kind"])


def _controls(controls: list[IR]) -> str:
    return ", ".join(_control(c) for c in controls) or "nothing"


def _witness(result: Comparison) -> str:
    parts = []
    if result.gained is not None:
        parts.append(f"now also when {result.gained.text()}")
    if result.lost is not None:
        parts.append(f"no longer when {result.lost.text()}")
    return (": " + "; ".join(parts)) if parts else ""


def _text(value: Any) -> Any:
    """A class's reason as written (its parts joined), anything else as it is."""
    if isinstance(value, list):
        return "".join(
            p if isinstance(p, str) else "{" + p["text"] + (":" + p["spec"] if p.get("spec") else "") + "}"
            for p in value
        )
    return value
