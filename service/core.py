"""`Service`: the runtime behind `ballast serve`, without HTTP.

One object owns the policy store (and its Engine), the audit log, the safety gate, the metrics,
the health and the dashboard feed. The ASGI app (`ballast.service.app`) is a thin layer that
turns requests into calls of this object and its answers and `Problem`s into responses; a
telemetry-bus consumer can drive the same object, so HTTP and bus events are decided by one
Engine, counted in one set of metrics and written to one ledger.

Decisions depend on the events' own time, never on the wall clock: the same events against the
same bundle give the same decisions (and directive ids) whichever way they arrive. Only health
(silence, back-pressure) and preflight tickets read the clock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from ballast.runtime.approval_store import ApprovalStore
from ballast.runtime.approvals import Gate
from ballast.runtime.audit import AuditLog
from ballast.runtime.errors import UsageError
from ballast.runtime.events import ThreatIndexUpdated
from ballast.runtime.policy import Directive, Result
from ballast.runtime.safety import SafetyCatalog
from ballast.runtime.store import COMMITTED, ChangeOutcome, PolicyStore
from ballast.runtime.values import iso
from ballast.service.feed import Feed
from ballast.service.health import Health, HealthPolicy
from ballast.service.metrics import Metrics
from ballast.service.problems import Problem, json_type

DEFAULT_MAX_BODY = 4 * 1024 * 1024  # a signed bundle of a large policy set fits; a runaway upload does not
DEFAULT_QUEUE = 64
DEFAULT_MAX_BATCH = 10_000
# Which refusal of a proposed bundle is which problem: a trust failure, a rollback, or a bundle
# that cannot run (every other reason of runtime/store.py).
TRUST_REASONS = frozenset(
    {
        "unsigned",
        "bad-signature",
        "unknown-key",
        "revoked-key",
        "expired-key",
        "key-not-yet-valid",
        "missing-role",
        "too-few-signers",
        "not-canonical",
        "no-keyring",
    }
)
ROLLBACK_REASONS = frozenset({"rollback", "bad-version"})


@dataclass(frozen=True, slots=True)
class ServiceOptions:
    """Limits and switches of a service (the `ballast serve` options of the same names)."""

    max_body: int = DEFAULT_MAX_BODY
    queue: int = DEFAULT_QUEUE  # requests in flight before 429
    max_batch: int = DEFAULT_MAX_BATCH
    admin_token: str | None = None
    reports: Path | None = None
    health: HealthPolicy = field(default_factory=HealthPolicy)

    def __post_init__(self) -> None:
        for name in ("max_body", "queue", "max_batch"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UsageError(f"{name.replace('_', '-')} must be a whole number above 0, got {value!r}")
        if self.admin_token is not None and not self.admin_token.strip():
            raise UsageError("the admin token is empty: put the token in the file, or leave --admin-token-file out")


class Admission:
    """The bounded number of requests in flight: beyond it, requests are refused (429), not queued."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._in = 0
        self._lock = threading.Lock()

    @property
    def in_flight(self) -> int:
        return self._in

    def enter(self) -> bool:
        """Admit one request (True), or refuse it when `limit` are in flight (False)."""
        with self._lock:
            if self._in >= self.limit:
                return False
            self._in += 1
            return True

    def leave(self) -> None:
        with self._lock:
            self._in -= 1


class Service:
    """The runtime as a service; see the module docstring.

    `store`: a stateful PolicyStore already running a bundle. `audit`: the log its decisions and
    every directive go to (the same AuditLog the store writes to), or None. `safety`: the catalog
    `preflight` assesses actions against (None: preflight answers 501). `approvals`: where
    preflight books tickets (None: every preflight is a simulation). `clock`: the wall clock of
    health and preflight tickets.
    """

    def __init__(
        self,
        store: PolicyStore,
        *,
        audit: AuditLog | None = None,
        safety: SafetyCatalog | None = None,
        approvals: ApprovalStore | None = None,
        options: ServiceOptions | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not store.stateful or store.current is None:
            raise UsageError("a Service needs a stateful PolicyStore running a bundle: PolicyStore(…, stateful=True)")
        self.store = store
        self.audit = audit
        self.options = options or ServiceOptions()
        self.admission = Admission(self.options.queue)
        self.health = Health(self.options.health, clock)
        self.feed = Feed()
        self.metrics = Metrics(self.state)
        self.approvals = approvals
        self.gate = (
            Gate(safety, approvals or _memory_store(), ledger=audit, clock=clock) if safety is not None else None
        )
        self._proposals = 0  # proposals being judged or committed (a commit holds the engine)
        self._last_update: dict[str, dict[str, Any]] = {}  # threat → its last ThreatIndexUpdated, for the rationale
        self._preflight_lock = threading.Lock()
        self._counting = threading.Lock()
        self.counts = dict.fromkeys(("events", "directives", "held", "faults", "requests"), 0)

    # ---- evaluation ----
    def evaluate(self, events: list[Any], input: str | None = None) -> list[Result]:
        """The decisions for each event, in order, each naming the bundle that decided it.

        Raises Problem `invalid-request` for an input no document reads, `ledger-unavailable` when
        the audit log cannot be written (the decisions are then not acknowledged)."""
        active = self.store.current
        assert active is not None  # checked in __init__; a store never goes back to no bundle
        if input is not None and input not in active.policies.inputs:
            raise Problem(
                "invalid-request",
                f"input {input!r}: no policy or threat reads it; inputs are {', '.join(active.policies.inputs)}",
            )
        started = time.perf_counter()
        try:
            results = [self.store.process(event, input) for event in events]
        except UsageError as exc:  # the input was checked: what is left is the audit log failing
            self.health.ledger_failed(str(exc))
            raise Problem("ledger-unavailable", f"{exc}; the decisions of this request were not acknowledged") from None
        self.metrics.latency.labels("evaluate").observe(time.perf_counter() - started)
        if self.audit is not None:
            self.health.ledger_written()
        self._observe(results)
        return results

    def _observe(self, results: list[Result]) -> None:
        m = self.metrics
        m.events.inc(len(results))
        for result in results:
            serial = result.bundle.serial if result.bundle is not None else None
            for d in result.directives:
                m.directives.labels(d.action).inc()
                self.feed.publish("directive", partial(_directive_item, d, serial))
            for d in result.held:
                m.held.labels(d.mode).inc()
            for e in result.events:
                m.engine_events.labels(e.type).inc()
                if isinstance(e, ThreatIndexUpdated):
                    update = e.to_dict()
                    self._last_update[e.threat] = update
                    self.feed.publish(
                        "threat",
                        {
                            "threat": e.threat,
                            "t": e.update.time,
                            "time": update["time"],
                            "index": e.update.index,
                            "mode": e.update.mode,
                        },
                    )
            for problem in result.errors:
                m.faults.labels(problem.kind).inc()
        self.health.saw_events([bool(r.errors) for r in results])
        with self._counting:
            c = self.counts
            c["requests"] += 1
            c["events"] += len(results)
            c["directives"] += sum(len(r.directives) for r in results)
            c["held"] += sum(len(r.held) for r in results)
            c["faults"] += sum(bool(r.errors) for r in results)

    # ---- threat ----
    def threats(self) -> list[dict[str, Any]]:
        """Each threat's `{threat, threatIndex, mode, updated, modes, rationale}`, by name."""
        engine = self.store.engine
        out = []
        for name, threat in sorted((engine.threats if engine is not None else {}).items()):
            last = self._last_update.get(name)
            out.append(
                {
                    "threat": name,
                    "threatIndex": threat.index,
                    "mode": threat.mode,
                    "updated": iso(threat.time) if threat.time is not None else None,
                    "modes": list(threat.modes),
                    "rationale": last["rationale"] if last is not None else [],
                }
            )
        return out

    def threat(self, name: str | None = None) -> dict[str, Any]:
        """One threat's state (the first by name when `name` is None); Problem `not-found` if none."""
        threats = self.threats()
        if not threats:
            raise Problem("not-found", "the running bundle has no threat document, so there is no ThreatIndex")
        if name is None:
            return threats[0]
        for threat in threats:
            if threat["threat"] == name:
                return threat
        raise Problem("not-found", f"no threat named {name!r}; threats are {', '.join(t['threat'] for t in threats)}")

    # ---- preflight ----
    def preflight(self, action: Any, *, simulate: bool = False) -> dict[str, Any]:
        """The `ballast preflight --format json` report of an action descriptor; a simulation
        unless the service books tickets (`approvals`)."""
        if self.gate is None:
            raise Problem(
                "no-safety-catalog",
                "this service runs without a safety catalog: start it with --safety CATALOG (a signed bundle or .bal file)",
            )
        if not isinstance(action, Mapping):
            raise Problem("invalid-request", f"an action descriptor is a JSON object, got {json_type(action)}")
        with self._preflight_lock:  # one ticket at a time: the approval store and the ledger are shared
            try:
                result = self.gate.preflight(action, simulate=simulate or self.approvals is None)
            except UsageError as exc:
                raise Problem("invalid-request", str(exc)) from None
        return result.to_dict()

    # ---- policy changes ----
    def propose(self, bundle: bytes, *, actor: str | None = None, allow_rollback: bool = False) -> ChangeOutcome:
        """Propose a signed bundle to the store; returns the outcome of an accepted one (committed
        or no-op) and raises the refusal as a Problem (`untrusted-bundle`, `rollback`,
        `invalid-bundle`, or `ledger-unavailable` when the decision could not be recorded)."""
        with self._counting:
            self._proposals += 1
        try:
            outcome = self.store.propose(bundle, actor=actor, allow_rollback=allow_rollback, where="request body")
        except UsageError as exc:
            self.health.ledger_failed(str(exc))
            raise Problem("ledger-unavailable", f"{exc}; the bundle was not changed") from None
        finally:
            with self._counting:
                self._proposals -= 1
        self.metrics.policy_changes.labels(outcome.status).inc()
        if outcome.accepted:
            if outcome.status == COMMITTED:
                self.feed.publish(
                    "policy", {"bundle": outcome.new.to_dict() if outcome.new else None, "message": outcome.message}
                )
            return outcome
        reason = outcome.reason
        kind = (
            "untrusted-bundle"
            if reason in TRUST_REASONS
            else "rollback"
            if reason in ROLLBACK_REASONS
            else "invalid-bundle"
        )
        raise Problem(kind, outcome.message, reason=reason, outcome=outcome.to_dict())

    # ---- reading ----
    @property
    def changing(self) -> bool:
        """Whether a policy change is under way (its commit may hold the Engine for a while)."""
        return self._proposals > 0

    def state(self) -> dict[str, Any]:
        """What the gauges and the dashboard show: threats, the running bundle, counters, health."""
        active = self.store.current
        engine = self.store.engine
        return {
            "threats": self.threats(),
            "bundle": active.bundle.to_dict() if active is not None else None,
            "engine": engine.stats if engine is not None else {},
            "in_flight": self.admission.in_flight,
            "health": self.health.report()["status"],
        }

    def close(self) -> None:
        """Close the audit log (a ledger signs its head here when it has a key)."""
        if self.audit is not None:
            self.audit.close()


def _directive_item(directive: Directive, serial: int | None) -> dict[str, Any]:
    return {**directive.to_dict(), "bundle_serial": serial}


def _memory_store() -> ApprovalStore:
    from ballast.runtime.approval_store import MemoryApprovalStore

    return MemoryApprovalStore()


__all__ = ["DEFAULT_MAX_BATCH", "DEFAULT_MAX_BODY", "DEFAULT_QUEUE", "Admission", "Service", "ServiceOptions"]
