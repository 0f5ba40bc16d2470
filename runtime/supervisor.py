"""The meta-loop supervisor (issue 14 §3): snapshot the audit stream, verify the directives whose
window is over, decide new directives from the meta-policies, route them through the approval
matrix, and log every step.

One `Supervisor.cycle(entries, now)` does, in this order:

1. **Snapshot**: the KPIs and goal gaps of the window ending at `now`
   (`ballast.runtime.supervisor_kpis`).
2. **Verify** every applied directive whose `verify_after` has passed: its target metric must
   have improved from the snapshot taken when it was applied, and no goal with a `tolerance`
   may have degraded by more than it. No data on either side is a failure (nothing shows the
   change helped). A failure issues a `rollback_change` directive, routed like any other at the
   document's rollback impact; applied, it undoes the change. Rollbacks are not verified
   themselves: they restore a state that was running before.
3. **Alerts**: a goal open (short of target, or without data) for `alert_gap_cycles` cycles in a
   row, and every further multiple of it; verification failing `alert_failures` times in a row.
4. **Decide**: each meta-policy in document order. A policy whose last directive is still
   awaiting verification or approval waits. A condition that reads a KPI without data is not
   evaluated ("no data"). The confidence of a decision is, over the KPIs it reads, the smallest
   `samples / min_samples` (capped at 1); below the policy's threshold it is not issued.
5. **Route** each directive through the matrix (`ballast.runtime.supervisor_model`): applied
   through the `Actuator`, held for approval, or blocked.

Every directive, verification, rollback and alert is written to the ledger (`AuditLog`) as a
`SupervisorDirective`, `SupervisorVerification`, `SupervisorRollback` or `SupervisorAlert` entry.
A ledger that cannot be written makes the supervisor refuse the directive (the change is undone):
nothing is applied unrecorded. Decisions read only `now` and the entries, never the clock, so the
same trail and state give the same cycle.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ballast.runtime.audit import AuditLog, Entry, audit_entry
from ballast.runtime.errors import BallastError, EvaluationError, UsageError
from ballast.runtime.interpret import evaluate_condition
from ballast.runtime.supervisor_actuator import Actuator, ParameterTable, clamp
from ballast.runtime.supervisor_kpis import KPIS, Snapshot, build_snapshot, degradation, improved
from ballast.runtime.supervisor_model import PROD, ROLLBACK, MetaPolicy, SupervisorDocument
from ballast.runtime.supervisor_records import (
    ACTOR,
    APPLIED,
    AWAITING,
    BLOCKED,
    FAILED,
    NOTIFYING_ROUTES,
    REFUSED,
    ROLLED_BACK,
    VERIFIED,
    Cycle,
    Directive,
    Skip,
    SupervisorState,
    Verification,
)
from ballast.runtime.values import iso


class Supervisor:
    """Runs the cycles of one `SupervisorDocument`; see the module docstring."""

    def __init__(
        self,
        document: SupervisorDocument,
        *,
        actuator: Actuator | None = None,
        ledger: AuditLog | None = None,
        state: SupervisorState | None = None,
    ) -> None:
        self.document = document
        self.actuator: Actuator = actuator if actuator is not None else ParameterTable()
        self.ledger = ledger
        self.state = state if state is not None else SupervisorState()

    def cycle(self, entries: Iterable[Entry], now: float) -> Cycle:
        """One cycle over the trail `entries` at time `now` (epoch seconds)."""
        doc = self.document
        snapshot = build_snapshot(entries, doc.goals, at=now, window_seconds=doc.window_seconds)
        self.state.cycles += 1
        cycle = Cycle(doc.name, self.state.cycles, now, snapshot)
        current = {name: r.value for name, r in snapshot.readings.items()}
        self._verify(cycle, current)
        self._alert_gaps(cycle)
        for policy in doc.policies:
            self._decide(cycle, policy, current)
        self.state.last = current
        return cycle

    def approve(self, directive_id: str, by: str, now: float) -> Directive:
        """Apply a directive held for approval, verified from the last snapshot on; `UsageError`
        when no such directive waits."""
        held = next((d for d in self.state.open if d.id == directive_id and d.status == AWAITING), None)
        if held is None:
            waiting = [d.id for d in self.state.open if d.status == AWAITING]
            raise UsageError(
                f"no directive {directive_id} awaits approval"
                + (f"; these do: {', '.join(waiting)}" if waiting else " (none does)")
            )
        held.justification += f"; approved by {by} at {iso(now)}"
        held.at = now
        held.pre = dict(self.state.last)
        self._carry_out(held, self.state.last)
        return held

    # ---- verification ----

    def _verify(self, cycle: Cycle, current: dict[str, float | None]) -> None:
        due = [
            d for d in self.state.open if d.status == APPLIED and d.verify_at is not None and d.verify_at <= cycle.at
        ]
        for directive in due:
            verification = self._check(directive, current)
            cycle.verifications.append(verification)
            self.state.open.remove(directive)
            self._record(lambda v=verification, d=directive: self._verification_entry(v, d, cycle.at))
            if verification.passed:
                directive.status = VERIFIED
                self.state.failures_in_row = 0
                continue
            self.state.failures_in_row += 1
            failures = self.state.failures_in_row
            if failures >= self.document.alert_failures and failures % self.document.alert_failures == 0:
                self._alert(cycle, f"verification failed {failures} times in a row (last: {directive.id})")
            cycle.directives.append(self._rollback(directive, verification, cycle.at))

    def _check(self, directive: Directive, current: dict[str, float | None]) -> Verification:
        metric = directive.metric
        better = KPIS[metric].better
        before, after = directive.pre.get(metric), current.get(metric)
        reasons = []
        result = improved(better, before, after)
        if result is None:
            side = "before" if before is None else "after"
            reasons.append(f"{metric} has no data {side} the change: nothing shows it helped")
        elif not result:
            reasons.append(f"{metric} did not improve: {_num(before)} → {_num(after)}")
        else:
            reasons.append(f"{metric} improved: {_num(before)} → {_num(after)}")
        for goal in self.document.goals:
            if goal.kpi == metric or goal.tolerance is None:
                continue
            worse = degradation(goal.better, directive.pre.get(goal.kpi), current.get(goal.kpi))
            if worse is not None and worse > goal.tolerance:
                result = False
                reasons.append(
                    f"{goal.kpi} degraded by {_num(worse)}, beyond its tolerance {_num(goal.tolerance)}: "
                    f"{_num(directive.pre.get(goal.kpi))} → {_num(current.get(goal.kpi))}"
                )
        return Verification(directive.id, directive.policy, metric, before, after, bool(result), tuple(reasons))

    def _rollback(self, original: Directive, verification: Verification, now: float) -> Directive:
        impact = self.document.rollback_impact
        rollback = Directive(
            _directive_id(self.document.name, original.policy, ROLLBACK, {"change": original.id}, now),
            original.policy,
            ROLLBACK,
            {"change": original.id},
            impact,
            self.document.approvals[impact],
            "",
            now,
            1.0,
            f"verification of {original.id} failed: " + "; ".join(verification.reasons),
        )
        self._route(rollback)
        if rollback.status == APPLIED:
            self._carry_out(rollback, {})
            if rollback.status == APPLIED:
                original.status = ROLLED_BACK
        elif rollback.status == AWAITING:
            self._hold(rollback)
        else:
            self._record(lambda: self._directive_entry(rollback))
        return rollback

    # ---- decisions ----

    def _decide(self, cycle: Cycle, policy: MetaPolicy, current: dict[str, float | None]) -> None:
        waiting = next((d for d in self.state.open if d.policy == policy.name), None)
        if waiting is not None:
            what = "verification" if waiting.status == APPLIED else "approval"
            cycle.skipped.append(Skip(policy.name, f"waiting: {waiting.id} awaits {what}"))
            return
        undone = next((d for d in cycle.directives if d.policy == policy.name and d.type == ROLLBACK), None)
        if undone is not None:  # not the same change again in the cycle that found it did not help
            cycle.skipped.append(Skip(policy.name, f"waiting: its change was rolled back this cycle ({undone.id})"))
            return
        missing = [k for k in policy.reads if current.get(k) is None]
        if missing:
            cycle.skipped.append(Skip(policy.name, f"no data for {', '.join(missing)}: the condition is not evaluated"))
            return
        gaps = {g.kpi: g.gap for g in cycle.snapshot.gaps if g.gap is not None}
        values = {k: v for k, v in current.items() if v is not None}
        try:
            holds = evaluate_condition(dict(policy.when), {"gap": gaps, "kpi": values})
        except EvaluationError as exc:
            cycle.skipped.append(Skip(policy.name, f"the condition cannot be evaluated: {exc}"))
            return
        if not holds:
            cycle.skipped.append(Skip(policy.name, f"{policy.text} does not hold"))
            return
        confidence = self._confidence(policy, cycle.snapshot)
        if confidence < policy.confidence:
            cycle.skipped.append(
                Skip(policy.name, f"confidence {confidence:.0%} is below its threshold {policy.confidence:.0%}")
            )
            return
        params = dict(policy.params)
        if policy.type == ROLLBACK:  # the change of the meta-policy it names, applied in an earlier cycle
            named = str(params["change"])
            target = next(
                (d for d in reversed(self.state.open) if d.policy == named and d.status == APPLIED and d.at < cycle.at),
                None,
            )
            if target is None:
                cycle.skipped.append(Skip(policy.name, f"{policy.text} holds, but no change of {named} is in force"))
                return
            params = {"change": target.id}
        readings = ", ".join(
            f"{k} {_num(current[k])}" + (f" (gap {_num(gaps[k])})" if k in gaps else "") for k in policy.reads
        )
        directive = Directive(
            _directive_id(self.document.name, policy.name, policy.type, params, cycle.at),
            policy.name,
            policy.type,
            params,
            policy.impact,
            self.document.approvals[policy.impact],
            "",
            cycle.at,
            confidence,
            f"{policy.text} held" + (f": {readings}" if readings else ""),
            policy.metric,
            pre=dict(current),
        )
        self._route(directive)
        if directive.status == APPLIED:
            self._carry_out(directive, current)
        elif directive.status == AWAITING:
            self._hold(directive)
        else:
            self._record(lambda: self._directive_entry(directive))
        cycle.directives.append(directive)

    def _confidence(self, policy: MetaPolicy, snapshot: Snapshot) -> float:
        shares = [
            min(1.0, snapshot.readings[k].samples / self.document.min_samples(k)) for k in policy.reads if k in KPIS
        ]
        return min(shares, default=1.0)

    def _route(self, directive: Directive) -> None:
        route = directive.route
        directive.notify = route in NOTIFYING_ROUTES
        if route == "block_review":
            directive.status, directive.note = BLOCKED, "blocked: a human review decides"
        elif route == "approval" or (route == "approval_in_prod" and self.document.environment == PROD):
            directive.status, directive.note = AWAITING, "held for approval"
            directive.notify = True
        else:
            directive.status = APPLIED

    def _hold(self, directive: Directive) -> None:
        if self._record(lambda: self._directive_entry(directive)):
            self.state.open.append(directive)
        else:
            directive.status, directive.note = REFUSED, "refused: the ledger cannot be written"

    def _carry_out(self, directive: Directive, current: dict[str, float | None]) -> None:
        if directive.type == ROLLBACK:
            self._undo(directive)
            return
        try:
            directive.note = self.actuator.apply(directive)
        except UsageError as exc:
            directive.status, directive.note = FAILED, str(exc)
            self._record(lambda: self._directive_entry(directive))
            return
        directive.status = APPLIED
        policy = next((p for p in self.document.policies if p.name == directive.policy), None)
        directive.verify_at = directive.at + (policy.verify_after if policy else self.document.window_seconds)
        if self._record(lambda: self._directive_entry(directive)):
            if directive in self.state.open:
                self.state.open.remove(directive)
            self.state.open.append(directive)
            return
        self.actuator.undo(directive.id)  # nothing stays applied that the ledger does not hold
        directive.status, directive.note, directive.verify_at = REFUSED, "refused: the ledger cannot be written", None
        if directive in self.state.open:
            self.state.open.remove(directive)

    def _undo(self, rollback: Directive) -> None:
        """Carry out a `rollback_change`: undo the directive it names. Rollbacks are not verified:
        they restore what ran before."""
        target = str(rollback.params["change"])
        if rollback in self.state.open:
            self.state.open.remove(rollback)
        try:
            rollback.note = self.actuator.undo(target)
        except UsageError as exc:
            rollback.status, rollback.note = FAILED, str(exc)
            self._record(lambda: self._directive_entry(rollback))
            return
        rollback.status, rollback.verify_at = APPLIED, None
        for undone in [d for d in self.state.open if d.id == target]:
            undone.status = ROLLED_BACK
            self.state.open.remove(undone)
        if not self._record(lambda: self._directive_entry(rollback)):
            rollback.note += " (the ledger cannot be written)"

    # ---- alerts ----

    def _alert_gaps(self, cycle: Cycle) -> None:
        every = self.document.alert_gap_cycles
        for gap in cycle.snapshot.gaps:
            streak = self.state.streaks.get(gap.kpi, 0) + 1 if gap.open else 0
            self.state.streaks[gap.kpi] = streak
            if streak >= every and streak % every == 0:
                state = "no data" if gap.gap is None else f"gap {_num(gap.gap)}"
                self._alert(cycle, f"goal {gap.kpi} has been open for {streak} cycles ({state})")

    def _alert(self, cycle: Cycle, message: str) -> None:
        cycle.alerts.append(message)
        self._record(
            lambda: audit_entry(
                "SupervisorAlert",
                {"supervisor": self.document.name, "cycle": cycle.number, "alert": message},
                self.document.name,
                ACTOR,
                self.document.name,
                "alert",
                message,
                iso(cycle.at),
                f"supervisor {self.document.name}, cycle {cycle.number}",
            )
        )

    # ---- the ledger ----

    def _record(self, entry: Callable[[], Entry]) -> bool:
        if self.ledger is None:
            return True
        try:
            self.ledger.write(entry())
        except (BallastError, OSError):
            return False
        return True

    def _directive_entry(self, directive: Directive) -> Entry:
        """`SupervisorDirective`, or `SupervisorRollback` (its subject the directive undone)."""
        rollback = directive.type == ROLLBACK
        entry = audit_entry(
            "SupervisorRollback" if rollback else "SupervisorDirective",
            directive.to_json(),
            str(directive.params["change"]) if rollback else directive.id,
            ACTOR,
            self.document.name,
            directive.status,
            directive.justification,
            iso(directive.at),
            f"meta-policy {directive.policy}, impact {directive.impact}, routed {directive.route}",
            [directive.describe(), *([directive.note] if directive.note else [])],
        )
        entry["directive"] = directive.to_json()
        return entry

    def _verification_entry(self, verification: Verification, directive: Directive, now: float) -> Entry:
        entry = audit_entry(
            "SupervisorVerification",
            verification.to_json(),
            directive.id,
            ACTOR,
            self.document.name,
            "passed" if verification.passed else "failed",
            verification.reasons[0],
            iso(now),
            f"pre/post snapshots of {directive.metric}, tolerances of the other goals",
            list(verification.reasons[1:]),
        )
        entry["verification"] = verification.to_json()
        return entry



def _num(value: float | None) -> str:
    return "no data" if value is None else f"{round(value, 6):g}"


def _directive_id(supervisor: str, policy: str, kind: str, params: Mapping[str, Any], at: float) -> str:
    material = json.dumps([supervisor, policy, kind, dict(params), at], sort_keys=True, separators=(",", ":"))
    return "sup-" + hashlib.sha256(material.encode()).hexdigest()[:12]


__all__ = [
    "Actuator",
    "Cycle",
    "Directive",
    "ParameterTable",
    "Skip",
    "Supervisor",
    "SupervisorState",
    "Verification",
    "clamp",
]
