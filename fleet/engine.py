"""`ActionRun`: a rollout plan applied to a fleet, batch by batch, durably and resumably.

States of a run: `running` → `succeeded` | `failed` | `paused` (a gate was inconclusive, or a
person paused it) → `running` again on `resume`; `aborted` (a person stopped it) and
`rolled_back` (every cluster the run pushed to got its previous bundle back) are final too.
States of each target cluster: `pending` → `running` → `succeeded` | `failed` | `paused`, and
`rolled_back`.

How a run moves (`step`, one unit of work due at the clock's time):

1. With no batch open, the next batch is taken from the first wave with pending clusters: up to
   the wave's `max_update` clusters, in plan order, and never more of a blast-radius group than
   the plan's ceiling allows (`Limit.of(group size)`). Only one batch is open at a time, so the
   clusters running an unproven bundle are exactly the open batch: the ceiling holds at every
   instant.
2. Each cluster of the batch is pushed (`ClusterAdapter.push`). A failed push is retried with
   exponential backoff (`RetryPolicy`); after `breaker_threshold` failures in a row the cluster's
   circuit breaker opens for `breaker_cooldown` seconds; after `max_attempts` the cluster has
   failed. When more clusters of the wave have failed than its `max_unavailable`, the run fails.
3. When every cluster of the batch is pushed (or has failed within the allowance), the batch
   bakes for the wave's `bake`, then each gate of the wave measures the batch's telemetry every
   `interval` (`ballast.fleet.gates`). Passed: the batch's clusters have succeeded. Failed: the run
   fails and the rollback policy applies (`on-deviation` and `always` roll back every cluster the
   run pushed to; `always` also on a failed push or an abort; `never` leaves them). Inconclusive:
   the run pauses for a person, who resumes (the inconclusive count starts again) or aborts.

Durability: each transition is one transaction of the `RunStore`; the adapter call it reports is
made before the transaction that records it, and adapters skip a push the cluster already runs,
so repeating the step that was in flight when the process died pushes nothing twice. Every step
also goes to the audit trail (`AuditLog`, e.g. over the ledger) keyed by the run id (the action
id) and the cluster id.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from ballast.fleet.adapter import ClusterAdapter, PushFailed
from ballast.fleet.clock import Clock
from ballast.fleet.gates import FAILED, INCONCLUSIVE, PASSED, RUNNING, Tally, aggregate, combine, measure
from ballast.fleet.store import BatchRow, ClusterRow, RunStore
from ballast.runtime.errors import UsageError
from ballast.runtime.fleet import Fleet, Plan, check_plan

TERMINAL = ("succeeded", "failed", "aborted", "rolled_back")


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of a failed push, and the per-cluster circuit breaker."""

    max_attempts: int = 5
    backoff: float = 5.0  # the first retry's delay; each next one doubles, up to max_backoff
    max_backoff: float = 300.0
    breaker_threshold: int = 3  # failures in a row that open the cluster's breaker
    breaker_cooldown: float = 600.0

    def delay(self, attempts: int) -> float:
        return min(self.backoff * 2 ** max(attempts - 1, 0), self.max_backoff)


class ActionRun:
    """One run of a plan, read from and written to a `RunStore` (module docstring)."""

    def __init__(
        self,
        store: RunStore,
        run_id: str,
        adapter: ClusterAdapter,
        clock: Clock,
        *,
        audit: Any = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.store, self.run_id, self.adapter, self.clock = store, run_id, adapter, clock
        self.audit = audit
        self.retry = retry or RetryPolicy()
        run = store.run(run_id)
        self.plan = Plan.from_ir(run["plan"])
        self.fleet = Fleet.from_ir(run["fleet"])
        self.bundle: bytes = run["bundle"]
        self._pending_audit: list[dict[str, Any]] = []

    @classmethod
    def start(
        cls,
        store: RunStore,
        run_id: str,
        plan_ir: dict[str, Any],
        fleet_ir: dict[str, Any],
        bundle: bytes,
        adapter: ClusterAdapter,
        clock: Clock,
        **options: Any,
    ) -> ActionRun:
        """Record a new run; refuses a plan that breaks a safety rule (as `ballast check` does)."""
        plan, fleet = Plan.from_ir(plan_ir), Fleet.from_ir(fleet_ir)
        check_plan(plan, fleet)
        store.create(run_id, plan_ir, fleet_ir, bundle, [list(w.clusters) for w in plan.waves], clock.now())
        run = cls(store, run_id, adapter, clock, **options)
        with run._step() as db:
            run._record(db, "", "RunStarted", f"plan {plan.name} {plan.version}: {len(plan.targets())} clusters")
        return run

    # ---- reading ----
    @property
    def state(self) -> str:
        return self.store.run(self.run_id)["state"]

    @property
    def reason(self) -> str:
        return self.store.run(self.run_id)["reason"]

    def clusters(self) -> list[ClusterRow]:
        return self.store.clusters(self.run_id)

    # ---- driving ----
    def run(self, *, max_steps: int = 1_000_000) -> str:
        """Step until the run is final or paused, sleeping on the clock between steps."""
        for _ in range(max_steps):
            wake = self.step()
            if wake is None:
                return self.state
            self.clock.sleep_until(wake)
        raise UsageError(f"run '{self.run_id}' did not settle in {max_steps} steps")

    def step(self) -> float | None:
        """Do the work due now; when to step next, or None once the run is final or paused."""
        if self.state != "running":
            return None
        now = self.clock.now()
        open_batches = [b for b in self.store.batches(self.run_id) if b.state in ("pushing", "verifying")]
        if not open_batches:
            return self._next_batch(now)
        batch = open_batches[0]
        return self._push(batch, now) if batch.state == "pushing" else self._verify(batch, now)

    # ---- a person's commands ----
    def pause(self, reason: str = "paused by a person") -> None:
        self._require("pause", ("running",))
        with self._step() as db:
            self._pause(db, reason)

    def resume(self) -> None:
        """Continue a paused run; a gate's inconclusive samples are forgotten (a person decided)."""
        self._require("resume", ("paused",))
        now = self.clock.now()
        with self._step() as db:
            self.store.set_state(db, self.run_id, "running")
            for c in self.clusters():
                if c.state == "paused":
                    self.store.update_cluster(db, self.run_id, c.cluster_id, state="running")
            for batch in self.store.batches(self.run_id):
                if batch.state == "verifying":
                    tallies = {}
                    for name, kept in batch.tallies.items():
                        tally = dict(kept["tally"], inconclusive=0)
                        tallies[name] = {"tally": tally, "next": now + self.plan.gates[name].interval}
                    nexts = [t["next"] for t in tallies.values()]
                    self.store.update_batch(
                        db, self.run_id, batch.batch, tallies=tallies, next_measure=min(nexts) if nexts else now
                    )
            self._record(db, "", "RunResumed", "resumed by a person")

    def abort(self, reason: str = "aborted by a person") -> None:
        """Stop: nothing more is pushed; with rollback `always`, pushed clusters are rolled back."""
        self._require("abort", ("running", "paused"))
        with self._step() as db:
            self._close_open(db, "aborted", reason)
            self.store.set_state(db, self.run_id, "aborted", reason)
            self._record(db, "", "RunAborted", reason)
        if self.plan.rollback == "always":
            self.rollback()

    def rollback(self) -> list[str]:
        """Give every cluster this run pushed to its previous bundle back; the ids rolled back now.

        Idempotent: a cluster already rolled back is skipped; one that cannot be reached keeps
        its state and error, and calling again retries it."""
        state = self.state
        if state == "rolled_back":
            return []
        rolled = []
        for c in self.clusters():
            if not c.pushed or c.state == "rolled_back":
                continue
            try:
                wrote = self.adapter.rollback(c.cluster_id, self.bundle)
            except PushFailed as exc:
                with self._step() as db:
                    self.store.update_cluster(db, self.run_id, c.cluster_id, error=f"rollback failed: {exc}")
                    self._record(db, c.cluster_id, "RollbackFailed", str(exc))
                continue
            with self._step() as db:
                self.store.update_cluster(db, self.run_id, c.cluster_id, state="rolled_back", error="")
                self._record(
                    db, c.cluster_id, "RolledBack", "previous bundle restored" if wrote else "already rolled back"
                )
            rolled.append(c.cluster_id)
        if all(not c.pushed or c.state == "rolled_back" for c in self.clusters()):
            with self._step() as db:
                self._close_open(db, "failed", "rolled back")
                reason = self.reason or "rolled back by a person"
                self.store.set_state(db, self.run_id, "rolled_back", reason)
                self._record(db, "", "RunRolledBack", reason)
        return rolled

    # ---- the steps ----
    def _next_batch(self, now: float) -> float | None:
        clusters = self.clusters()
        pending = [c for c in clusters if c.state == "pending"]
        if not pending:
            failed = [c.cluster_id for c in clusters if c.state == "failed"]
            reason = f"{len(failed)} cluster(s) failed within max_unavailable: {', '.join(failed)}" if failed else ""
            with self._step() as db:
                self.store.set_state(db, self.run_id, "succeeded", reason)
                self._record(db, "", "RunSucceeded", reason or "every target runs the bundle")
            return None
        wave_index = min(c.wave for c in pending)
        wave = self.plan.waves[wave_index]
        size = sum(1 for c in clusters if c.wave == wave_index)
        limit = max(1, wave.max_update.of(size))
        groups = {group: len(members) for group, members in self.fleet.groups().items()}
        taken: Counter[str] = Counter()
        chosen = []
        for c in pending:
            if c.wave != wave_index or len(chosen) >= limit:
                continue
            group = self._group(c.cluster_id)
            if taken[group] >= self.plan.ceiling.of(groups[group]):
                continue
            chosen.append(c)
            taken[group] += 1
        number = len(self.store.batches(self.run_id))
        with self._step() as db:
            self.store.add_batch(db, self.run_id, number, wave_index)
            for c in chosen:
                self.store.update_cluster(db, self.run_id, c.cluster_id, state="running", batch=number)
                self._record(db, c.cluster_id, "ClusterStarted", f"wave {wave.name}, batch {number}")
        return now

    def _push(self, batch: BatchRow, now: float) -> float | None:
        waits = []
        for c in self._members(batch):
            if c.state != "running" or c.pushed:
                continue
            due = max(c.next_attempt, c.breaker_until)
            if due > now:
                waits.append(due)
                continue
            try:
                wrote = self.adapter.push(c.cluster_id, self.bundle)
            except PushFailed as exc:
                waits.extend(self._push_failed(c, now, str(exc)))
                continue
            with self._step() as db:
                self.store.update_cluster(
                    db, self.run_id, c.cluster_id, pushed=1, attempts=c.attempts + 1, failures_in_row=0, error=""
                )
                self._record(db, c.cluster_id, "Pushed", "bundle written" if wrote else "was running it already")
        wave = self.plan.waves[batch.wave]
        clusters = self.clusters()
        failed = [c.cluster_id for c in clusters if c.wave == batch.wave and c.state == "failed"]
        allowed = wave.max_unavailable.of(sum(1 for c in clusters if c.wave == batch.wave))
        if len(failed) > allowed:
            reason = (
                f"wave {wave.name}: {len(failed)} cluster(s) failed ({', '.join(failed)}), max_unavailable is {allowed}"
            )
            return self._fail(batch, reason, deviation=False)
        members = self._members(batch)
        if not all(c.pushed or c.state == "failed" for c in members):
            return min(waits) if waits else now
        with self._step() as db:
            if not any(c.pushed for c in members):  # every one failed, within the allowance
                self.store.update_batch(db, self.run_id, batch.batch, state="failed")
                return now
            first = {name: now + wave.bake + self.plan.gates[name].interval for name in wave.gates}
            tallies = {name: {"tally": Tally().to_json(), "next": t} for name, t in first.items()}
            self.store.update_batch(
                db,
                self.run_id,
                batch.batch,
                state="verifying",
                pushed_at=now,
                tallies=tallies,
                next_measure=min(first.values()) if first else now + wave.bake,
            )
            self._record(db, "", "BatchPushed", f"batch {batch.batch} of wave {wave.name}: baking {wave.bake:g}s")
        return now

    def _push_failed(self, c: ClusterRow, now: float, error: str) -> list[float]:
        attempts, in_row = c.attempts + 1, c.failures_in_row + 1
        with self._step() as db:
            if attempts >= self.retry.max_attempts:
                self.store.update_cluster(
                    db,
                    self.run_id,
                    c.cluster_id,
                    state="failed",
                    attempts=attempts,
                    failures_in_row=in_row,
                    error=error,
                )
                self._record(db, c.cluster_id, "ClusterFailed", f"{error} (attempt {attempts}, giving up)")
                return []
            retry_at = now + self.retry.delay(attempts)
            breaker = c.breaker_until
            if in_row >= self.retry.breaker_threshold:
                breaker = now + self.retry.breaker_cooldown
                self._record(
                    db, c.cluster_id, "BreakerOpened", f"{in_row} failures in a row: no call until {breaker:g}"
                )
            self.store.update_cluster(
                db,
                self.run_id,
                c.cluster_id,
                attempts=attempts,
                failures_in_row=in_row,
                next_attempt=retry_at,
                breaker_until=breaker,
                error=error,
            )
            self._record(db, c.cluster_id, "PushFailed", f"{error} (attempt {attempts}, retry at {retry_at:g})")
        return [max(retry_at, breaker)]

    def _verify(self, batch: BatchRow, now: float) -> float | None:
        if batch.next_measure is not None and now < batch.next_measure:
            return batch.next_measure
        wave = self.plan.waves[batch.wave]
        pushed = [c.cluster_id for c in self._members(batch) if c.pushed and c.state in ("running", "paused")]
        tallies = dict(batch.tallies)
        verdicts = []
        measured = []
        for name in wave.gates:
            gate = self.plan.gates[name]
            kept = tallies[name]
            tally = Tally(**kept["tally"])
            while kept["next"] <= now and tally.verdict(gate) == RUNNING:
                end = kept["next"]
                sample = aggregate([self._latest(cid, end - gate.interval, end) for cid in pushed])
                outcome = measure(gate, sample)
                tally.add(gate, outcome)
                measured.append((name, end, outcome, sample))
                kept = {"tally": tally.to_json(), "next": end + gate.interval}
            tallies[name] = kept
            verdicts.append(tally.verdict(gate))
        verdict = combine(verdicts)
        running = [tallies[n]["next"] for n, v in zip(wave.gates, verdicts, strict=True) if v == RUNNING]
        with self._step() as db:
            self.store.update_batch(
                db, self.run_id, batch.batch, tallies=tallies, next_measure=min(running) if running else now
            )
            for name, end, outcome, sample in measured:
                self._record(db, ",".join(pushed), "GateMeasured", f"gate {name} at {end:g}: {outcome} {sample}")
        if verdict == PASSED:
            with self._step() as db:
                self.store.update_batch(db, self.run_id, batch.batch, state="passed")
                for cid in pushed:
                    self.store.update_cluster(db, self.run_id, cid, state="succeeded")
                    self._record(db, cid, "ClusterSucceeded", f"wave {wave.name}: gates passed")
            return now
        if verdict == FAILED:
            failing = [n for n, v in zip(wave.gates, verdicts, strict=True) if v == FAILED]
            return self._fail(batch, f"wave {wave.name}: gate {', '.join(failing)} failed", deviation=True)
        if verdict == INCONCLUSIVE:
            unsure = [n for n, v in zip(wave.gates, verdicts, strict=True) if v == INCONCLUSIVE]
            with self._step() as db:
                self._pause(db, f"wave {wave.name}: gate {', '.join(unsure)} inconclusive: resume or abort")
            return None
        return min(running)

    # ---- inside ----
    def _fail(self, batch: BatchRow, reason: str, *, deviation: bool) -> None:
        with self._step() as db:
            self.store.update_batch(db, self.run_id, batch.batch, state="failed")
            self._close_open(db, "failed", reason)
            self.store.set_state(db, self.run_id, "failed", reason)
            self._record(db, "", "RunFailed", reason)
        policy = self.plan.rollback
        if policy == "always" or (policy == "on-deviation" and deviation):
            self.rollback()
        return None

    def _close_open(self, db: Any, state: str, reason: str) -> None:
        """Clusters of the open batch end in `state` (pending ones stay pending: never pushed)."""
        for c in self.clusters():
            if c.state in ("running", "paused"):
                self.store.update_cluster(db, self.run_id, c.cluster_id, state=state, error=reason)
        for b in self.store.batches(self.run_id):
            if b.state in ("pushing", "verifying"):
                self.store.update_batch(db, self.run_id, b.batch, state="failed")

    def _pause(self, db: Any, reason: str) -> None:
        self.store.set_state(db, self.run_id, "paused", reason)
        for c in self.clusters():
            if c.state == "running":
                self.store.update_cluster(db, self.run_id, c.cluster_id, state="paused")
        self._record(db, "", "RunPaused", reason)

    def _require(self, command: str, states: tuple[str, ...]) -> None:
        state = self.state
        if state not in states:
            raise UsageError(
                f"cannot {command} run '{self.run_id}': it is {state} (only a {' or '.join(states)} run can be)"
            )

    def _members(self, batch: BatchRow) -> list[ClusterRow]:
        return [c for c in self.clusters() if c.batch == batch.batch]

    def _group(self, cluster_id: str) -> str:
        cluster = self.fleet.cluster(cluster_id)
        return cluster.group if cluster is not None else cluster_id

    def _latest(self, cluster_id: str, start: float, end: float) -> dict[str, Any] | None:
        try:
            samples = self.adapter.telemetry(cluster_id, start, end)
        except PushFailed:
            return None  # an unreadable cluster is an error sample, never a pass
        return dict(samples[-1]) if samples else None

    def _step(self) -> Any:
        return _Step(self)

    def _record(self, db: Any, cluster_id: str, kind: str, detail: str) -> None:
        now = self.clock.now()
        self.store.log(db, self.run_id, now, cluster_id, kind, detail)
        if self.audit is not None:
            self._pending_audit.append(_audit_entry(self.run_id, self.plan.name, cluster_id, kind, detail, now))


def pause_run(store: RunStore, run_id: str, at: float, reason: str = "paused by a person") -> None:
    """Pause a run from another process: only the store is needed (no adapter, no clock)."""
    state = store.run(run_id)["state"]
    if state != "running":
        raise UsageError(f"cannot pause run '{run_id}': it is {state} (only a running run can be)")
    with store.transaction() as db:
        store.set_state(db, run_id, "paused", reason)
        for c in store.clusters(run_id):
            if c.state == "running":
                store.update_cluster(db, run_id, c.cluster_id, state="paused")
        store.log(db, run_id, at, "", "RunPaused", reason)


class _Step:
    """A transaction of the store; the audit entries it recorded are written once it commits."""

    def __init__(self, run: ActionRun) -> None:
        self.run = run
        self.transaction = run.store.transaction()

    def __enter__(self) -> Any:
        self.run._pending_audit.clear()
        return self.transaction.__enter__()

    def __exit__(self, *exc: Any) -> bool | None:
        done = self.transaction.__exit__(*exc)
        if exc[0] is None and self.run.audit is not None:
            for entry in self.run._pending_audit:
                self.run.audit.write(entry)
        self.run._pending_audit.clear()
        return done


def _audit_entry(run_id: str, plan: str, cluster_id: str, kind: str, detail: str, at: float) -> dict[str, Any]:
    """One step as an audit entry: the run id is the action id (a ledger suffixes it with the
    entry's sequence number, as it does every action id), the cluster the subject."""
    subject = cluster_id or run_id
    return {
        "kind": f"Fleet{kind}",
        "action_id": run_id,
        "run_id": run_id,
        "cluster_id": cluster_id,
        "subject": subject,
        "actor": "ballast fleet",
        "scope": plan,
        "outcome": kind,
        "reason": detail,
        "latency_ms": None,
        "narrative": {
            "who": "ballast fleet",
            "what": f"{kind}: {subject}",
            "when": f"{at:.3f}",
            "where": plan,
            "why": [detail],
            "how": f"rollout run {run_id}",
        },
    }
