"""Preflight, confirm, execute: the approval state machine over a safety catalog.

`Gate(catalog, store)` runs the three steps of a guarded action (Wave-12 §91):

1. `preflight(action)` assesses the descriptor (`SafetyCatalog.assess`) and, when controls are
   required, books a *ticket* in the store: a random nonce bound to the canonical hash of the
   descriptor, the hold's end (issue time + the longest `hold`) and the approvals' expiry (issue
   time + the catalog's `approvals expire after`). It returns the risk, the required controls,
   the blocking errors, the expiry and every fired class's rationale. `simulate=True` predicts
   the same without booking anything. An action no enforced class matches needs no ticket.
2. `confirm(token, action, kind, by=…)` records one fulfilled control: `approve` (an approver
   and their roles), `justify` (the requester's justification) or `override` (a signed,
   justified waiver of `enforce soft` classes, checked against a keyring).
3. `execute(token, action)` refuses unless every control is met, then consumes the ticket, once.

What cannot happen, whatever the order of calls (a property test drives random sequences):
a ticket executes only for the exact descriptor it was booked for (an altered descriptor has
another hash), before it expires, after its hold, and once (a replay finds it consumed); the
requester never approves their own action and never overrides it; one person's approvals count
once, so two approvals by the same person never make dual control (`dual_control` needs two
distinct approvers other than the requester; `approvers role R count N`, N distinct approvers
holding R); a `hard` class cannot be overridden and `block` in one blocks for good.

Every refusal raises `Refused`, whose `reason` is a stable code (`malformed-token`,
`unknown-ticket`, `altered`, `expired`, `replayed`, `self-approval`, `duplicate`,
`not-required`, `bad-override`, `unmet`, `blocked`, `needs-preflight`, `store-unavailable`,
`ledger-unavailable`).

Fail safe: when the store cannot be reached, an action that needs controls is blocked (preflight
says so; confirm and execute refuse); when an audit ledger is configured and cannot be written,
the same. Only an action that needs nothing proceeds, with a warning that it was not recorded.

Every preflight, confirmation, execution and refusal is written to the audit ledger when one is
given (`AuditLog`), with its 5W1H narrative. The clock and the nonce source are injectable, so
tests never sleep and a run with a seeded nonce source is reproducible.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, NoReturn

from ballast.runtime.approval_store import (
    ApprovalStore,
    Confirmation,
    DuplicateConfirmation,
    StoreUnavailable,
    Ticket,
)
from ballast.runtime.audit import AuditLog, audit_entry
from ballast.runtime.errors import BallastError, UsageError
from ballast.runtime.keyring import Keyring
from ballast.runtime.safety import Assessment, Requirements, SafetyCatalog
from ballast.runtime.signing import PrivateKey, decode_signature, signed_message, valid_signature
from ballast.runtime.values import iso

CONFIRM_KINDS = ("approve", "justify", "override")
OVERRIDE_CONTEXT = "ballast-safety-override/1"
OVERRIDE_ROLE = "safety-override"  # the keyring role whose keys may sign overrides


class Refused(BallastError):
    """A confirm or execute the gate refuses: `reason` is a stable code, `missing` the unmet controls."""

    def __init__(self, reason: str, message: str, missing: Iterable[str] = ()) -> None:
        self.reason = reason
        self.missing = list(missing)
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Preflight:
    """What a preflight found and booked."""

    assessment: Assessment
    decision: str  # "allow" | "needs-controls" | "blocked"
    required: Requirements
    blocking: tuple[str, ...]
    issued_at: float
    expires_at: float | None
    hold_until: float | None
    ticket: Ticket | None = None
    simulated: bool = False
    notes: tuple[str, ...] = ()  # what went wrong around it: an unreachable ledger for a low-risk action

    @property
    def token(self) -> str | None:
        return self.ticket.token if self.ticket is not None else None

    def to_dict(self) -> dict[str, Any]:
        a = self.assessment
        return {
            "catalog": a.catalog,
            "action_hash": a.action_hash,
            "risk": a.risk,
            "decision": self.decision,
            "simulated": self.simulated,
            "required": self.required.describe(),
            "blocking": list(self.blocking),
            "warnings": a.warnings,
            "dry_run": a.dry_run,
            "counts": a.counts(),
            "ticket": self.token,
            "hold_until": iso(self.hold_until) if self.hold_until else None,
            "expires_at": iso(self.expires_at) if self.expires_at else None,
            "fired": [f.to_dict() for f in a.fired],
            "notes": list(self.notes),
        }


@dataclass(frozen=True, slots=True)
class Execution:
    """An action the gate let through."""

    assessment: Assessment
    at: float
    ticket: Ticket | None = None
    confirmations: tuple[Confirmation, ...] = ()
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "catalog": self.assessment.catalog,
            "action_hash": self.assessment.action_hash,
            "risk": self.assessment.risk,
            "executed_at": iso(self.at),
            "ticket": self.ticket.token if self.ticket else None,
            "confirmations": [
                {"kind": c.kind, "by": c.by, "at": iso(c.at), **({"classes": list(c.classes)} if c.classes else {})}
                for c in self.confirmations
            ],
            "notes": list(self.notes),
        }


def override_payload(token: str, classes: Iterable[str], justification: str) -> dict[str, Any]:
    """What an override signature covers: the ticket (so the action's hash), the classes, why."""
    return {"token": token, "classes": sorted(classes), "justification": justification}


def sign_override(token: str, classes: Iterable[str], justification: str, key: PrivateKey) -> dict[str, str]:
    """An override of soft classes for one ticket, signed with `key` (a key holding the keyring
    role `safety-override`): pass it to `Gate.confirm(..., kind="override", signature=…)`."""
    import base64

    message = signed_message(OVERRIDE_CONTEXT, override_payload(token, classes, justification))
    return {"key_id": key.key_id, "sig": base64.b64encode(key.sign(message)).decode("ascii")}


class Gate:
    """Preflight, confirm and execute actions against one safety catalog (see the module docstring).

    `store` keeps tickets (`MemoryApprovalStore`, `SqliteApprovalStore`); `ledger` is an
    `AuditLog` or None; `overrides` the keyring that signs overrides (none: overrides refused);
    `clock` returns epoch seconds; `nonce` returns a fresh ticket id.
    """

    def __init__(
        self,
        catalog: SafetyCatalog,
        store: ApprovalStore,
        *,
        ledger: AuditLog | None = None,
        overrides: Keyring | None = None,
        clock: Callable[[], float] = time.time,
        nonce: Callable[[], str] = lambda: secrets.token_hex(16),
    ) -> None:
        self.catalog = catalog
        self.store = store
        self.ledger = ledger
        self.overrides = overrides
        self.clock = clock
        self.nonce = nonce

    # ---- preflight ----

    def preflight(self, action: Any, *, simulate: bool = False) -> Preflight:
        """Assess `action` and, unless `simulate`, book a ticket when it needs controls.

        Raises UsageError for a descriptor that does not fit the catalog's input."""
        assessment = self.catalog.assess(action)
        required = assessment.requirements()
        now = self.clock()
        blocking = [
            f"class {f.name} blocks this action"
            + (" unless a signed override waives it" if f.enforce == "soft" else " (enforce hard: no override)")
            for f in assessment.enforced
            if any(c["kind"] == "block" for c in f.controls)
        ]
        hard_block = any(
            f.enforce == "hard" and any(c["kind"] == "block" for c in f.controls) for f in assessment.enforced
        )
        needs = not required.empty
        decision = "blocked" if hard_block else "needs-controls" if needs else "allow"
        expires = now + assessment.approval_seconds if needs else None
        hold_until = now + required.hold_seconds if required.hold_seconds else None
        ticket = None
        notes: list[str] = []
        if decision == "needs-controls" and not simulate:
            ticket = Ticket(
                self.nonce(),
                assessment.action_hash,
                self.catalog.name,
                assessment.requester,
                now,
                hold_until or now,
                expires or now,
            )
            try:
                self.store.open_ticket(ticket)
            except StoreUnavailable as exc:
                ticket, decision = None, "blocked"
                blocking.append(f"{exc}: actions that need controls are blocked until it is back")
        outcome = "simulated" if simulate else decision
        entry = partial(
            self._entry, "SafetyPreflight", assessment, assessment.requester, outcome, now, required.describe()
        )
        if not self._record(entry):
            if needs and not simulate:
                # Fail safe: a booked ticket nobody recorded must not be usable.
                with contextlib.suppress(StoreUnavailable):
                    if ticket is not None:
                        self.store.consume(ticket.id, now)
                return Preflight(
                    assessment,
                    "blocked",
                    required,
                    (
                        *blocking,
                        "the audit ledger is unavailable: actions that need controls are blocked until it is back",
                    ),
                    now,
                    expires,
                    hold_until,
                    None,
                    simulate,
                )
            notes.append("the audit ledger is unavailable: this preflight was not recorded")
        return Preflight(
            assessment, decision, required, tuple(blocking), now, expires, hold_until, ticket, simulate, tuple(notes)
        )

    # ---- confirm ----

    def confirm(
        self,
        token: str,
        action: Any,
        kind: str,
        *,
        by: str = "",
        roles: Iterable[str] = (),
        text: str = "",
        classes: Iterable[str] = (),
        signature: Mapping[str, str] | None = None,
    ) -> Confirmation:
        """Record one fulfilled control on the ticket `token` for `action`; raises Refused.

        `approve`: `by` approves, holding `roles`. `justify`: the requester (`by`) explains why,
        in `text`. `override`: waives the soft `classes`, with `text` as justification and
        `signature` from `sign_override` (its key's name is who overrides).
        """
        if kind not in CONFIRM_KINDS:
            raise UsageError(f"unknown confirmation {kind!r}: use one of {', '.join(CONFIRM_KINDS)}")
        now = self.clock()
        assessment = self.catalog.assess(action)
        ticket = self._ticket(token, assessment, now, by or "?", f"confirm {kind}")
        required = assessment.requirements()
        who = by
        waived: tuple[str, ...] = ()
        key_id = ""
        if kind == "approve":
            if not by:
                raise UsageError("an approval names who approves: by=…")
            if by == ticket.requester:
                self._refuse("self-approval", f"{by} asked for this action and cannot approve it", assessment, by, now)
            if not (required.dual_control or required.approvers):
                self._refuse("not-required", "this action needs no approval", assessment, by, now)
        elif kind == "justify":
            if by != ticket.requester:
                self._refuse(
                    "not-required",
                    f"the justification is the requester's ({ticket.requester}), not {by or 'anonymous'}'s",
                    assessment,
                    by,
                    now,
                )
            if not text.strip():
                raise UsageError("a justification needs text: say why the action is needed")
        else:
            who, waived, key_id = self._check_override(token, ticket, assessment, classes, text, signature, now)
        confirmation = Confirmation(
            ticket.id, kind, who, now, self.nonce(), tuple(sorted(set(roles))), text, waived, key_id
        )
        try:
            self.store.add(confirmation)
        except DuplicateConfirmation:
            self._refuse(
                "duplicate",
                f"{who} already recorded a {kind} on this ticket: one person counts once",
                assessment,
                who,
                now,
            )
        except StoreUnavailable as exc:
            self._refuse("store-unavailable", f"{exc}: nothing was recorded", assessment, who, now)
        entry = partial(
            self._entry,
            "SafetyConfirmed",
            assessment,
            who,
            kind,
            now,
            [f"{kind} by {who}", *(f"waives {c}" for c in waived)],
        )
        if not self._record(entry):
            self._refuse(
                "ledger-unavailable",
                "the audit ledger is unavailable: the confirmation does not count",
                assessment,
                who,
                now,
            )
        return confirmation

    def _check_override(
        self,
        token: str,
        ticket: Ticket,
        assessment: Assessment,
        classes: Iterable[str],
        text: str,
        signature: Mapping[str, str] | None,
        now: float,
    ) -> tuple[str, tuple[str, ...], str]:
        wanted = tuple(sorted(set(classes)))
        enforced = {f.name: f for f in assessment.enforced}
        if not wanted:
            raise UsageError("an override names the soft classes it waives")
        if not text.strip():
            raise UsageError("an override needs a justification: say why the controls may be waived")
        for name in wanted:
            fired = enforced.get(name)
            if fired is None:
                self._refuse(
                    "not-required", f"class {name} does not require anything of this action", assessment, "?", now
                )
            elif fired.enforce != "soft":
                self._refuse(
                    "bad-override",
                    f"class {name} is enforce {fired.enforce}: it cannot be overridden",
                    assessment,
                    "?",
                    now,
                )
        if self.overrides is None or signature is None:
            self._refuse(
                "bad-override",
                "an override must be signed by a key the gate's override keyring trusts",
                assessment,
                "?",
                now,
            )
        key = self.overrides.key(str(signature.get("key_id", "")))
        sig = decode_signature(signature.get("sig"))
        message = signed_message(OVERRIDE_CONTEXT, override_payload(token, wanted, text))
        problem = ""
        if key is None or sig is None:
            problem = "unknown key or malformed signature"
        elif key.refusal(now) is not None:
            problem = key.refusal(now)[1]
        elif OVERRIDE_ROLE not in key.roles:
            problem = f"key {key.label} does not hold the role {OVERRIDE_ROLE!r}"
        elif not valid_signature(key, message, sig):
            problem = "the signature does not match this ticket, these classes and this justification"
        if problem:
            self._refuse("bad-override", f"override refused: {problem}", assessment, "?", now)
        who = key.name or key.key_id
        if who == ticket.requester:
            self._refuse("self-approval", f"{who} asked for this action and cannot override it", assessment, who, now)
        return who, wanted, key.key_id

    # ---- execute ----

    def status(self, token: str, action: Any) -> list[str]:
        """The controls still unmet for the ticket (empty: `execute` would let it through); raises Refused."""
        now = self.clock()
        assessment = self.catalog.assess(action)
        ticket = self._ticket(token, assessment, now, assessment.requester, "status")
        return self._unmet(ticket, assessment, self._confirmations(ticket, assessment, now), now)

    def execute(self, token: str | None, action: Any) -> Execution:
        """Let `action` through if every control of its ticket is met, consuming the ticket; raises
        Refused otherwise. An action that needs no control executes without a token."""
        now = self.clock()
        assessment = self.catalog.assess(action)
        requester = assessment.requester
        if token is None:
            if not assessment.requirements().empty:
                self._refuse(
                    "needs-preflight",
                    "this action needs controls: run preflight and present its ticket",
                    assessment,
                    requester,
                    now,
                    missing=assessment.requirements().describe(),
                )
            entry = partial(
                self._entry, "SafetyExecuted", assessment, requester, "executed", now, ["no control required"]
            )
            notes = () if self._record(entry) else ("the audit ledger is unavailable: not recorded",)
            return Execution(assessment, now, notes=notes)
        ticket = self._ticket(token, assessment, now, requester, "execute")
        confirmations = self._confirmations(ticket, assessment, now)
        missing = self._unmet(ticket, assessment, confirmations, now)
        if missing:
            blocked = any(m.startswith("block") for m in missing)
            self._refuse(
                "blocked" if blocked else "unmet",
                "controls not met: " + "; ".join(missing),
                assessment,
                requester,
                now,
                missing=missing,
            )
        try:
            first = self.store.consume(ticket.id, now)
        except StoreUnavailable as exc:
            self._refuse("store-unavailable", f"{exc}: the action is blocked", assessment, requester, now)
        if not first:
            self._refuse(
                "replayed", "this ticket was executed already: run a new preflight", assessment, requester, now
            )
        why = [f"{c.kind} by {c.by}" for c in confirmations]
        entry = partial(self._entry, "SafetyExecuted", assessment, requester, "executed", now, why)
        if not self._record(entry):
            self._refuse(
                "ledger-unavailable",
                "the audit ledger is unavailable: the action is blocked (its ticket is spent; run a new preflight)",
                assessment,
                requester,
                now,
            )
        return Execution(assessment, now, ticket, tuple(confirmations))

    # ---- the checks ----

    def _ticket(self, token: str, assessment: Assessment, now: float, who: str, step: str) -> Ticket:
        digest, _, nonce = token.partition(".") if isinstance(token, str) else ("", "", "")
        if not digest or not nonce:
            self._refuse("malformed-token", f"{step}: a ticket is written <action hash>.<nonce>", assessment, who, now)
        try:
            ticket = self.store.ticket(nonce)
            consumed = self.store.consumed_at(nonce) if ticket is not None else None
        except StoreUnavailable as exc:
            self._refuse("store-unavailable", f"{step}: {exc}; high-risk actions are blocked", assessment, who, now)
        if ticket is None:
            self._refuse("unknown-ticket", f"{step}: no such ticket", assessment, who, now)
        if digest != ticket.action_hash or assessment.action_hash != ticket.action_hash:
            self._refuse(
                "altered",
                f"{step}: the ticket was issued for another action descriptor (it has changed since the preflight)",
                assessment,
                who,
                now,
            )
        if consumed is not None:
            self._refuse(
                "replayed", f"{step}: this ticket was executed already at {iso(consumed)}", assessment, who, now
            )
        if now >= ticket.expires_at:
            self._refuse("expired", f"{step}: the ticket expired at {iso(ticket.expires_at)}", assessment, who, now)
        return ticket

    def _confirmations(self, ticket: Ticket, assessment: Assessment, now: float) -> list[Confirmation]:
        try:
            return self.store.confirmations(ticket.id)
        except StoreUnavailable as exc:
            self._refuse(
                "store-unavailable", f"{exc}; high-risk actions are blocked", assessment, ticket.requester, now
            )

    @staticmethod
    def _unmet(ticket: Ticket, assessment: Assessment, confirmations: list[Confirmation], now: float) -> list[str]:
        waived = {name for c in confirmations if c.kind == "override" for name in c.classes}
        required = assessment.requirements(waived)
        # Each person counts once, and never the requester (checked at confirm; again here).
        approvers: dict[str, tuple[str, ...]] = {}
        for c in confirmations:
            if c.kind == "approve" and c.by != ticket.requester:
                approvers.setdefault(c.by, c.roles)
        missing = [f"block: class {name} blocks this action" for name in required.block]
        if required.dual_control and len(approvers) < 2:
            missing.append(f"dual_control: {len(approvers)} of 2 distinct approvers")
        if required.justification and not any(c.kind == "justify" and c.by == ticket.requester for c in confirmations):
            missing.append("justification: the requester has not justified the action")
        for role, count in sorted(required.approvers.items()):
            have = sum(1 for roles in approvers.values() if role in roles)
            if have < count:
                missing.append(f'approvers role "{role}": {have} of {count}')
        if required.hold_seconds and now < ticket.issued_at + required.hold_seconds:
            missing.append(f"hold: the action may run from {iso(ticket.issued_at + required.hold_seconds)}")
        return missing

    # ---- the ledger ----

    def _entry(
        self, kind: str, assessment: Assessment, who: str, outcome: str, now: float, why: list[str]
    ) -> dict[str, Any]:
        reasons = [f.reason for f in assessment.fired]
        return audit_entry(
            kind,
            {"action_hash": assessment.action_hash, "outcome": outcome, "at": now, "who": who},
            subject=assessment.action_hash[:16],
            actor=who or "?",
            scope=assessment.catalog,
            outcome=outcome,
            reason=f"risk {assessment.risk}" + (": " + "; ".join(reasons) if reasons else ""),
            when=iso(now),
            how=f"{kind} in {assessment.catalog} (counts {assessment.counts()})",
            why=why,
        )

    def _record(self, entry: Callable[[], dict[str, Any]]) -> bool:
        """Write the entry `entry()` builds to the ledger (built only when there is one: reasons
        cost time); False when a ledger is configured and cannot be written."""
        if self.ledger is None:
            return True
        try:
            self.ledger.write(entry())
        except (BallastError, OSError):
            return False
        return True

    def _refuse(
        self, reason: str, message: str, assessment: Assessment, who: str, now: float, missing: Iterable[str] = ()
    ) -> NoReturn:
        """Log the refusal (best effort: a refusal stands even when the ledger is down) and raise it."""
        missing = list(missing)
        self._record(partial(self._entry, "SafetyRefused", assessment, who, reason, now, [message, *missing]))
        raise Refused(reason, message, missing)
