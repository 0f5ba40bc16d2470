"""PolicyStore: the running policy set of a service, replaced only by a trusted, newer bundle.

    store = PolicyStore(trust=keyring, audit=AuditLog(Ledger.open("audit.sqlite")), stateful=True)
    store.propose(Path("motb.bundle.json")).check()    # the first set; raises if refused
    result = store.process(event)                       # result.bundle names the version
    outcome = store.propose(request_body)               # bytes in, ChangeOutcome out

**What is accepted.** `propose(bundle)` reads the bundle (bytes, or the path of a file) and checks,
in this order, the first failure naming the refusal's reason (a `BundleError` code):

1. its format and fingerprint (`not-json`, `not-a-bundle`, `format`, `fingerprint-mismatch`, …);
2. its signatures, against the store's keyring, for every role the change needs
   (`runtime/changes.py`: the role of each kind of document it holds or removes) and, for a file
   or bytes, that it is byte for byte as signed (`unsigned`, `bad-signature`, `missing-role`,
   `too-few-signers`, `revoked-key`, `not-canonical`, …);
3. the same fingerprint as the running bundle: a no-op, reported and recorded, nothing swapped;
4. that the evaluators build from its IR (`malformed-ir`);
5. that it moves forward (`rollback`, `bad-version`): refused unless `allow_rollback=True`, and
   then recorded as a rollback.

**Atomic swap.** The running set is one immutable `Active` value held in one attribute. An event
is evaluated by the `Active` read once when it arrives, so it is decided entirely by one version:
`evaluate` takes no lock. A stateful store (`stateful=True`) runs one `Engine`, whose state is
carried into the new version (`Engine.reload`); `process` and the reload hold one lock, so no
event is half-processed while the state is carried over, and none is lost.

**The ledger.** With `audit`, every decision is written through it before it takes effect:
`PolicyChangeCommitted` (also for a no-op, with outcome `no-op`, and for an allowed rollback,
with outcome `rollback`) or `PolicyChangeRejected`, with who signed, the old and new fingerprints
and versions, the reason, and what became of each rule's state. If the write fails, the change
does not happen and `propose` raises: nothing is acknowledged that was not recorded.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ballast.runtime import from_checked_bundle
from ballast.runtime.audit import AuditLog, policy_change_entry
from ballast.runtime.bundle import parse_bundle, read_bundle_bytes
from ballast.runtime.changes import (
    BundleRef,
    Document,
    VersionChange,
    check_documents,
    compare_documents,
    documents,
    required_roles,
    returning_reason,
    rollback_reason,
    version_key,
)
from ballast.runtime.engine import Engine
from ballast.runtime.errors import BundleError, UsageError
from ballast.runtime.keyring import Keyring, resolve_keyring
from ballast.runtime.policy import PolicySet, Result
from ballast.runtime.reload import ReloadReport, StateCarry, plan_reload
from ballast.runtime.signing import Signer, check_trust

__all__ = ["COMMITTED", "NO_OP", "REJECTED", "Active", "ChangeOutcome", "PolicyStore", "Proposal"]

COMMITTED, NO_OP, REJECTED = "committed", "no-op", "rejected"


@dataclass(frozen=True, slots=True)
class Active:
    """The running set: the policy set, which bundle it came from, and the bundle itself."""

    policies: PolicySet
    bundle: BundleRef
    content: dict[str, Any] = field(repr=False)


@dataclass(frozen=True, slots=True)
class ChangeOutcome:
    """What became of a proposed bundle.

    `status` is `committed`, `no-op` (the same fingerprint as the running bundle) or `rejected`;
    `error` is the BundleError of a refusal (its `reason` is the code, `message` its words).
    `rollback` is true for a rollback committed with `allow_rollback`. `versions` says how each
    document changes, `state` what became of each timed rule's and threat's state (for a stateful
    store, what the Engine did; else what it would do). `ledger_seq` is the entry written, if any.
    """

    status: str
    where: str
    old: BundleRef | None = None
    new: BundleRef | None = None
    roles: tuple[str, ...] = ()
    versions: tuple[VersionChange, ...] = ()
    state: tuple[StateCarry, ...] = ()
    rollback: bool = False
    error: BundleError | None = None
    actor: str | None = None
    ledger_seq: int | None = None
    # the keys a refused bundle's signatures name (unverified: a refusal says they did not count)
    claimed: tuple[str, ...] = ()

    @property
    def accepted(self) -> bool:
        return self.status != REJECTED

    @property
    def reason(self) -> str:
        """The refusal's reason code, "" when accepted."""
        return self.error.reason if self.error is not None else ""

    @property
    def message(self) -> str:
        if self.error is not None:
            return str(self.error)
        if self.status == NO_OP:
            return f"{self.where}: no change: the running bundle has the same fingerprint ({self.new.label if self.new else ''})"
        what = "rolled back" if self.rollback else "committed"
        old = self.old.label if self.old is not None else "nothing"
        return f"{self.where}: {what}: {old} → {self.new.label if self.new else ''}"

    def check(self) -> ChangeOutcome:
        """This outcome, or its BundleError raised when the bundle was refused."""
        if self.error is not None:
            raise self.error
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "bundle": self.where,
            "reason": self.reason,
            "message": self.message,
            "rollback": self.rollback,
            "roles": list(self.roles),
            "old": self.old.to_dict() if self.old is not None else None,
            "new": self.new.to_dict() if self.new is not None else None,
            "versions": [c.to_dict() for c in self.versions],
            "state": [c.to_dict() for c in self.state],
            "actor": self.actor,
            "ledger_seq": self.ledger_seq,
        }


@dataclass(frozen=True, slots=True)
class Proposal:
    """A bundle that passed every check of `PolicyStore.review`, ready to commit."""

    outcome: ChangeOutcome
    active: Active | None  # None for a no-op or a refusal


class PolicyStore:
    """Holds the running trusted policy set (and optionally an Engine); see the module docstring.

    `trust`: the keyring (a Keyring, or the path of a JSON keyring). `audit`: where decisions are
    recorded (an AuditLog, over a ledger or any sink). `stateful`: run an `Engine` (with `queue`
    and `engine_audit` passed to it) and carry its state across reloads. `clock`: the time keys'
    validity dates are judged at (the wall clock by default).
    """

    def __init__(
        self,
        trust: Keyring | str | Path,
        *,
        audit: AuditLog | None = None,
        stateful: bool = False,
        engine_audit: AuditLog | None = None,
        queue: Any = None,
        clock: Callable[[], float] = time.time,
        name: str = "policy-store",
    ) -> None:
        keyring = resolve_keyring(trust)
        if keyring is None:
            raise UsageError("a PolicyStore needs a keyring (trust=…): it accepts signed bundles only")
        if audit is not None and not isinstance(audit, AuditLog):
            raise UsageError(f"audit must be an AuditLog (over a ledger or a sink), got {type(audit).__name__}")
        self.keyring = keyring
        self.audit = audit
        self.stateful = stateful
        self.name = name
        self._clock = clock
        self._engine_options = {"audit": engine_audit, "queue": queue}
        self._active: Active | None = None
        self._engine: Engine | None = None
        self._serial = 0
        # per document, the highest version this store has run: one removed and added back may
        # not return older (runtime/changes.py `returning_reason`)
        self._highest: dict[tuple[str, str], Document] = {}
        self._changing = threading.Lock()  # one proposal at a time: each is judged against the running set
        self._engine_lock = threading.Lock()  # an Engine event and a reload never overlap

    # ---- reading ----
    @property
    def current(self) -> Active | None:
        """The running set (None before the first accepted bundle)."""
        return self._active

    @property
    def engine(self) -> Engine | None:
        """The Engine of a stateful store (None before the first bundle, or when not stateful)."""
        return self._engine

    def evaluate(self, event: Any, input: str | None = None) -> Result:
        """`PolicySet.evaluate` by the running set, read once: `result.bundle` names it. No lock."""
        active = self._require()
        result = active.policies.evaluate(event, input)
        result.bundle = active.bundle
        return result

    def process(self, event: Any, input: str | None = None) -> Result:
        """`Engine.process` by the running set's Engine (a stateful store); `result.bundle` names it."""
        with self._engine_lock:
            active, engine = self._require(), self._stateful()
            result = engine.process(event, input)
        result.bundle = active.bundle
        return result

    def process_many(self, events: Iterable[Any], input: str | None = None) -> list[tuple[int, Result]]:
        """`Engine.process_many` by one version: the whole batch runs before a reload can."""
        with self._engine_lock:
            active, engine = self._require(), self._stateful()
            results = engine.process_many(events, input)
        for _, result in results:
            result.bundle = active.bundle
        return results

    def advance(self, until: float) -> Result:
        """`Engine.advance` by the running set's Engine; `result.bundle` names it."""
        with self._engine_lock:
            active, engine = self._require(), self._stateful()
            result = engine.advance(until)
        result.bundle = active.bundle
        return result

    # ---- changing ----
    def propose(
        self,
        bundle: bytes | str | os.PathLike[str],
        *,
        allow_rollback: bool = False,
        actor: str | None = None,
        where: str | None = None,
    ) -> ChangeOutcome:
        """Judge a bundle (its bytes, or the path of its file) and, if accepted, run it from the
        next event on; returns the outcome, refusals included (`outcome.check()` raises them).

        `allow_rollback` accepts a bundle that does not move forward (recorded as a rollback).
        `actor` says who proposed it, for the ledger (the signers are recorded whatever it says).
        `where` names the bundle in messages (default: its path, or "bundle"). Raises UsageError
        for bad arguments or when the ledger cannot be written (then nothing changed).
        """
        if not isinstance(allow_rollback, bool):
            raise UsageError(f"allow_rollback is True or False, got {allow_rollback!r}")
        with self._changing:
            proposal = self.review(bundle, allow_rollback=allow_rollback, actor=actor, where=where)
            return self._commit(proposal)

    def review(
        self,
        bundle: bytes | str | os.PathLike[str],
        *,
        allow_rollback: bool = False,
        actor: str | None = None,
        where: str | None = None,
    ) -> Proposal:
        """What `propose` would decide, without changing anything or writing to the ledger."""
        if actor is not None and not isinstance(actor, str):
            raise UsageError(f"actor names who proposed the change, as a string; got {type(actor).__name__}")
        running = self._active
        old = running.bundle if running is not None else None
        label = where or (str(bundle) if isinstance(bundle, str | os.PathLike) else "bundle")
        try:
            content, raw = self._read(bundle, label)
        except BundleError as exc:
            return Proposal(ChangeOutcome(REJECTED, label, old, error=exc, actor=actor), None)
        fingerprint = content["manifest"]["fingerprint"]["hash"]
        versions_now = tuple((d.kind, d.name, d.version) for d in documents(content))
        unsigned_ref = BundleRef(fingerprint, versions_now)
        roles = required_roles(self.keyring, content, running.content if running is not None else None)
        try:
            signers = self._check_signatures(content, raw, roles, label)
        except BundleError as exc:
            claimed = self._claimed(content)
            outcome = ChangeOutcome(
                REJECTED, label, old, unsigned_ref, tuple(roles), error=exc, actor=actor, claimed=claimed
            )
            return Proposal(outcome, None)
        new = BundleRef(fingerprint, versions_now, signers, self._serial + 1)
        base = ChangeOutcome(REJECTED, label, old, new, tuple(roles), actor=actor)
        if running is not None and running.bundle.fingerprint == fingerprint:
            same = BundleRef(fingerprint, versions_now, signers, running.bundle.serial)
            return Proposal(_replace(base, status=NO_OP, new=same), None)
        try:
            policies = from_checked_bundle(content, label)
            check_documents(documents(content), label)
            changes = tuple(compare_documents(documents(running.content) if running else [], documents(content), label))
        except BundleError as exc:
            return Proposal(_replace(base, error=exc), None)
        state = plan_reload(running.policies if running else None, policies).carries
        base = _replace(base, versions=changes, state=state)
        why = rollback_reason(changes) if running is not None else ""
        if running is not None and not why:
            why = returning_reason(documents(content), documents(running.content), self._highest)
        if why and not allow_rollback:
            error = BundleError(
                f"{label}: refused: rollback: {why}; the running bundle is {old.label if old else 'none'}. "
                "Raise the version of what changed and sign it again, or propose it with allow_rollback "
                "(--allow-rollback), which the ledger records",
                reason="rollback",
            )
            return Proposal(_replace(base, error=error), None)
        return Proposal(_replace(base, status=COMMITTED, rollback=bool(why)), Active(policies, new, content))

    def _commit(self, proposal: Proposal) -> ChangeOutcome:
        outcome, active = proposal.outcome, proposal.active
        if active is None:  # a no-op or a refusal: recorded, nothing changes
            return self._record(outcome)
        if not self.stateful:
            outcome = self._record(outcome)  # before the swap: a change that was not recorded never runs
            self._swap(active)
            return outcome
        recorded: list[ChangeOutcome] = []

        def record(report: ReloadReport) -> None:
            recorded.append(self._record(_replace(outcome, state=report.carries)))

        with self._engine_lock:
            if self._engine is None:
                engine = Engine(active.policies, **self._engine_options)
                record(plan_reload(None, active.policies))
                self._engine = engine
            else:
                self._engine.reload(active.policies, commit=record)
            self._swap(active)
        return recorded[0]

    def _swap(self, active: Active) -> None:
        self._active = active  # the one assignment readers see: atomic
        self._serial = active.bundle.serial
        for d in documents(active.content):
            before = self._highest.get((d.kind, d.name))
            if before is None or _newer(d, before):
                self._highest[(d.kind, d.name)] = d

    def _record(self, outcome: ChangeOutcome) -> ChangeOutcome:
        if self.audit is None:
            return outcome
        self.audit.write(policy_change_entry(outcome, self.name, self.keyring.source))
        return _replace(outcome, ledger_seq=self.audit.sequence)

    # ---- helpers ----
    def _read(self, bundle: Any, label: str) -> tuple[dict[str, Any], bytes]:
        if isinstance(bundle, bytes | bytearray):
            raw = bytes(bundle)
            return parse_bundle(raw, label), raw
        if isinstance(bundle, str | os.PathLike):
            return read_bundle_bytes(bundle)
        raise UsageError(f"propose() takes a bundle's bytes or the path of its file, got {type(bundle).__name__}")

    def _check_signatures(
        self, content: dict[str, Any], raw: bytes, roles: dict[str, list[str]], label: str
    ) -> tuple[Signer, ...]:
        signers: dict[str, Signer] = {}
        now = self._clock()
        for role, kinds in roles.items():
            try:
                verification = check_trust(content, label, trust=self.keyring, role=role, now=now, raw=raw)
            except BundleError as exc:
                if kinds:
                    needed = " and ".join(f"{k} documents" for k in kinds)
                    raise BundleError(
                        f"{exc} (changing {needed} needs role {role} in {self.keyring.source})", reason=exc.reason
                    ) from None
                raise
            assert verification is not None  # a keyring was given and allow_unsigned is False
            for signer in verification.signers:
                signers.setdefault(signer.key_id, signer)
        return tuple(signers.values())

    def _claimed(self, content: dict[str, Any]) -> tuple[str, ...]:
        """Who a bundle's signatures say signed it, as the keyring names them (not verified)."""
        out = []
        for entry in content.get("signatures") or ():
            kid = entry.get("key_id") if isinstance(entry, dict) else None
            if isinstance(kid, str):
                key = self.keyring.key(kid)
                out.append(key.label if key is not None else kid[:40])
        return tuple(dict.fromkeys(out))

    def _require(self) -> Active:
        active = self._active
        if active is None:
            raise UsageError("the store runs no policy set yet: propose a signed bundle first")
        return active

    def _stateful(self) -> Engine:
        if self._engine is None:
            raise UsageError("process() and advance() need a stateful store: PolicyStore(…, stateful=True)")
        return self._engine


def _newer(d: Document, than: Document) -> bool:
    """Whether `d`'s version is above `than`'s (a version that cannot be ordered never is)."""
    a, b = version_key(than.version), version_key(d.version)
    return a is not None and b is not None and b > a


def _replace(outcome: ChangeOutcome, **changes: Any) -> ChangeOutcome:
    return replace(outcome, **changes)
