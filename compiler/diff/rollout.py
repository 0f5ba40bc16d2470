"""Detectors for the `rollout` kind: what a change to a rollout plan does to its blast radius.

A rollout ships a bundle to a fleet's clusters in waves (docs/rollouts.md). Its guards are what
limits the harm of a bad bundle: the prod allowlist, the ceiling per blast-radius group, the
rollback policy, the waves (how many clusters each updates at once, how long it bakes, which
gates judge it) and the gates (when a wave passes or fails, and how many checks it takes).
A change that lets a bad bundle reach more clusters, sooner, or with less checking is
`guard-loosened` and breaking, as for safety catalogs and governance documents: a reviewer must
see it, and `--require-justification` wants the plan's `justification`. The reverse is
`guard-tightened` and behavioral.

Gate conditions are compared by the solver over the telemetry a gate reads
(`ballast.runtime.fleet.TELEMETRY_FIELDS`): a `pass` that holds on more samples, or a `fail`
that holds on fewer, loosens the gate; one the solver cannot decide counts as loosened (review it).
"""

from __future__ import annotations

from typing import Any

from ballast.compiler.diff.document import METADATA, DocumentDiff
from ballast.compiler.diff.findings import GUARD_LOOSENED, GUARD_TIGHTENED, Finding
from ballast.compiler.diff.solver import DEFAULT_TIMEOUT_MS, Domain, compare
from ballast.runtime.fleet import TELEMETRY_FIELDS
from ballast.runtime.ir import unparse
from ballast.runtime.values import format_duration

IR = dict[str, Any]
LOOSENED, TIGHTENED = (GUARD_LOOSENED,), (GUARD_TIGHTENED,)
# How strongly a rollout rolls back a bad bundle: higher is safer.
ROLLBACK_STRENGTH = {"never": 0, "on-deviation": 1, "always": 2}
# A gate's counting: for each setting, whether a higher value loosens the gate.
GATE_COUNTING = {
    "count": False,  # fewer measurements before the gate passes
    "failure_limit": True,  # more failed measurements tolerated
    "consecutive_error_limit": True,  # more errors in a row tolerated
    "consecutive_success_limit": False,  # fewer successes in a row needed
    "inconclusive_limit": True,  # more inconclusive measurements tolerated
}


class RolloutDiff(DocumentDiff):
    """The findings between two versions (`old`, `new`) of one rollout document."""

    kind = "rollout"
    label = "rollout"

    def __init__(self, old: IR, new: IR, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> None:
        super().__init__(old, new)
        self.timeout_ms = timeout_ms

    def run(self) -> list[Finding]:
        self.metadata((*METADATA, "justification"))
        self.targets()
        self.allow()
        self.ceiling()
        self.rollback()
        self.waves()
        self.gates()
        return self.findings

    # ---- the plan ----

    def targets(self) -> None:
        for what in ("fleet", "profile", "select"):
            a, b = _text(self.old.get(what)), _text(self.new.get(what))
            if a != b:
                self.add(
                    "rollout-target-changed", what, f"rollout {what} {a or 'none'} → {b or 'none'}", before=a, after=b
                )

    def allow(self) -> None:
        a, b = set(self.old.get("allow", [])), set(self.new.get("allow", []))
        if a == b:
            return
        gained, lost = sorted(b - a), sorted(a - b)
        looser = bool(gained)
        parts = [f"now allows {', '.join(gained)}"] * bool(gained) + [f"no longer allows {', '.join(lost)}"] * bool(
            lost
        )
        self.guard(
            "rollout-allow",
            looser,
            "allow",
            f"prod allowlist: {'; '.join(parts)}",
            added=gained,
            removed=lost,
        )

    def ceiling(self) -> None:
        a, b = self.old.get("ceiling"), self.new.get("ceiling")
        if a == b:
            return
        looser = _limit_looser(a, b)
        self.guard(
            "rollout-ceiling",
            looser,
            "ceiling",
            f"ceiling per blast-radius group {_limit(a)} → {_limit(b)}",
            before=a,
            after=b,
        )

    def rollback(self) -> None:
        a, b = self.old.get("rollback"), self.new.get("rollback")
        if a == b:
            return
        looser = ROLLBACK_STRENGTH.get(b, 0) < ROLLBACK_STRENGTH.get(a, 0)
        self.guard(
            "rollout-rollback",
            looser,
            "rollback",
            f"rollback {a} → {b}",
            before=a,
            after=b,
        )

    # ---- waves ----

    def waves(self) -> None:
        old = {w["name"]: w for w in self.old["waves"]}
        new = {w["name"]: w for w in self.new["waves"]}
        for name, w in old.items():
            if name not in new:
                self.add(
                    "rollout-wave-removed",
                    name,
                    f"wave '{name}' was removed: its clusters go with a later wave, with one stage less",
                    w.get("at"),
                    None,
                    tags=LOOSENED,
                    clusters=w.get("clusters", []),
                )
        for name, w in new.items():
            if name not in old:
                self.add(
                    "rollout-wave-added",
                    name,
                    f"wave '{name}' was added",
                    None,
                    w.get("at"),
                    tags=TIGHTENED,
                    clusters=w.get("clusters", []),
                )
        kept_old = [n for n in old if n in new]
        kept_new = [n for n in new if n in old]
        if kept_old != kept_new:
            self.add(
                "rollout-waves-reordered",
                "",
                f"waves run in another order: {' → '.join(kept_old)} becomes {' → '.join(kept_new)}",
                before=kept_old,
                after=kept_new,
            )
        for name in kept_new:
            self.wave(old[name], new[name])

    def wave(self, a: IR, b: IR) -> None:
        name = b["name"]
        select_a, select_b = _text(a.get("select")), _text(b.get("select"))
        if select_a != select_b or a.get("clusters") != b.get("clusters"):
            joined = sorted(set(b.get("clusters", [])) - set(a.get("clusters", [])))
            left = sorted(set(a.get("clusters", [])) - set(b.get("clusters", [])))
            parts = [f"selects {select_a or 'the rest'} → {select_b or 'the rest'}"] * (select_a != select_b)
            parts += [f"now takes {', '.join(joined)}"] * bool(joined)
            parts += [f"no longer takes {', '.join(left)}"] * bool(left)
            self.add(
                "rollout-wave-targets-changed",
                name,
                f"wave '{name}' " + "; ".join(parts or ["takes its clusters in another order"]),
                a.get("at"),
                b.get("at"),
                joined=joined,
                left=left,
            )
        looser: list[str] = []
        tighter: list[str] = []
        for setting in ("max_update", "max_unavailable"):
            x, y = a.get(setting), b.get(setting)
            if x != y:
                (looser if _limit_looser(x, y) else tighter).append(f"{setting} {_limit(x)} → {_limit(y)}")
        if a.get("bake") != b.get("bake"):
            (looser if b.get("bake", 0) < a.get("bake", 0) else tighter).append(
                f"bake {format_duration(a.get('bake', 0))} → {format_duration(b.get('bake', 0))}"
            )
        removed = [g for g in a.get("gates", []) if g not in b.get("gates", [])]
        added = [g for g in b.get("gates", []) if g not in a.get("gates", [])]
        if removed:
            looser.append(f"no longer gated by {', '.join(removed)}")
        if added:
            tighter.append(f"now gated by {', '.join(added)}")
        self._loosened_or_tightened("rollout-wave", name, f"wave '{name}'", looser, tighter, a.get("at"), b.get("at"))

    # ---- gates ----

    def gates(self) -> None:
        old = {g["name"]: g for g in self.old["gates"]}
        new = {g["name"]: g for g in self.new["gates"]}
        for name, g in old.items():
            if name not in new:
                self.add("rollout-gate-removed", name, f"gate '{name}' was removed", g.get("at"), None, tags=LOOSENED)
        for name, g in new.items():
            if name not in old:
                self.add("rollout-gate-added", name, f"gate '{name}' was added", None, g.get("at"), tags=TIGHTENED)
        for name in [n for n in new if n in old]:
            self.gate(old[name], new[name])

    def gate(self, a: IR, b: IR) -> None:
        name = b["name"]
        looser: list[str] = []
        tighter: list[str] = []
        undecided: list[str] = []
        domain_fields = [{"name": n, "type": t} for n, t in TELEMETRY_FIELDS]
        # `pass` holding on more samples loosens; `fail` holding on fewer loosens.
        for clause, widened_loosens in (("pass", True), ("fail", False)):
            x, y = a.get(clause), b.get(clause)
            if x == y or (x is None and y is None):
                continue
            if x is None or y is None:
                # a gate without `fail` never fails on its own: dropping it loosens, adding it tightens
                looser_clause = (y is None) if clause == "fail" else (x is None)
                (looser if looser_clause else tighter).append(
                    f"{clause} {'removed' if y is None else 'added'}: {_text(x) or _text(y)}"
                )
                continue
            result = compare(x, y, Domain(domain_fields), self.timeout_ms)
            text = f"{clause} {unparse(x)} → {unparse(y)}"
            if result.verdict == "equivalent":
                continue
            if result.verdict == "undecided":
                undecided.append(f"{text} (could not be decided: {result.reason})")
            elif result.verdict == "changed":
                looser.append(f"{text} (holds on other samples)")
            elif (result.verdict == "widened") == widened_loosens:
                looser.append(f"{text} ({'holds on more samples' if clause == 'pass' else 'holds on fewer samples'})")
            else:
                tighter.append(f"{text} ({'holds on fewer samples' if clause == 'pass' else 'holds on more samples'})")
        for setting, higher_loosens in GATE_COUNTING.items():
            x, y = a.get(setting), b.get(setting)
            if x != y and x is not None and y is not None:
                (looser if (y > x) == higher_loosens else tighter).append(f"{setting} {x} → {y}")
        if a.get("interval") != b.get("interval"):
            (looser if b.get("interval", 0) > a.get("interval", 0) else tighter).append(
                f"interval {format_duration(a.get('interval', 0))} → {format_duration(b.get('interval', 0))}"
            )
        looser += undecided  # what the solver could not decide is reviewed as loosened
        self._loosened_or_tightened("rollout-gate", name, f"gate '{name}'", looser, tighter, a.get("at"), b.get("at"))

    def _loosened_or_tightened(
        self, check: str, subject: str, what: str, looser: list[str], tighter: list[str], old_at: Any, new_at: Any
    ) -> None:
        """One finding for a wave or gate: loosened when anything loosened (a mixed change is
        reviewed as loosened, with both lists), else tightened."""
        if not looser and not tighter:
            return
        self.guard(
            check,
            bool(looser),
            subject,
            f"{what}: {'; '.join(looser + tighter)}",
            old_at,
            new_at,
            loosened=looser,
            tightened=tighter,
        )


def _text(node: Any) -> str:
    if node is None:
        return ""
    return node if isinstance(node, str) else unparse(node)


def _limit(limit: IR | None) -> str:
    if not limit:
        return "none"
    if "percent" in limit:
        return f"{limit['percent']:g}%"
    return str(limit["count"])


def _limit_looser(a: IR | None, b: IR | None) -> bool:
    """Whether limit `b` lets more clusters through than `a` (none is no limit: the loosest). A
    count against a percentage cannot be ranked without the fleet: it is reviewed as loosened."""
    if not b:
        return bool(a)
    if not a:
        return False
    if ("percent" in a) != ("percent" in b):
        return True
    unit = "percent" if "percent" in a else "count"
    return bool(b[unit] > a[unit])


__all__ = ["RolloutDiff"]
