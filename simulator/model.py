"""The mesh: pools of workers serving queued requests, stepped in fixed time slices.

Why slices and not one SimPy event per request: a day of 1,000 services would be 10^9 request
events. Instead SimPy schedules everything discrete (model steps, telemetry ticks, faults,
directives and their provisioning delays) and each step moves every pool's queue at once with
numpy: Poisson arrivals, service limited by the workers' capacity, a bounded queue that drops
what overflows. Latency, errors and SLO adherence then follow from queueing theory rather than
from pasted-on noise:

- the time in the system is one service time, plus the time to drain the backlog already
  queued (Little's law), plus the wait of an M/M/c queue below saturation (Erlang C in
  Sakasegawa's approximation), which only some requests have and which is exponential;
- from that distribution: the p95 latency, the share of requests inside the SLO, and the share
  past the client timeout (counted as errors);
- utilisation (the CLE loadFactor) = offered load over capacity, 1 while a backlog drains.

Randomness is exogenous: arrivals and risk noise are drawn from demand alone, never from the
state that directives change, so two policy sets run on one seed see the same world
(common random numbers) until their decisions make it differ.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ballast.simulator.scenario import Pool, Scenario

TIMEOUT_S = 30.0  # the clients' request timeout
STORM_PER_SUBSCRIPTION = 100.0  # trigger-mesh events/s one subscription absorbs before it sheds
RATE_MEMORY_S = 10.0  # the arrival rate a queue's waiting time follows is smoothed over this
CASCADE_LOAD = 0.1  # each level of a policy cascade adds this share of extra work
# The per-pool signals of a telemetry tick (`Mesh.columns`), which an input's fields may read.
COLUMNS = (
    "load", "latency_p95_ms", "latency_ms", "error_rate", "sla_adherence", "htm_queue_depth", "workers",
    "subscriptions", "dispatch_rate", "tasks_dispatched", "policy_depth",
)  # fmt: skip


@dataclass
class StepTotals:
    """What one pool did since the last telemetry tick (counts of requests, sums of latencies)."""

    arrived: np.ndarray
    ok: np.ndarray
    failed: np.ndarray
    dropped: np.ndarray
    degraded: np.ndarray
    rejected: np.ndarray
    served: np.ndarray
    latency_sum: np.ndarray
    load_sum: np.ndarray
    seconds: float = 0.0


class Columns(Mapping[str, list[Any]]):
    """One tick's per-pool values by signal: numpy `arrays`, read as Python lists on first use.

    Events need Python ints and floats (the runtime's schema checks do not take numpy scalars),
    but a tick only converts the columns its inputs read; fleet sums read the arrays.
    """

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.arrays = arrays
        self._lists: dict[str, list[Any]] = {}

    def __getitem__(self, key: str) -> list[Any]:
        values = self._lists.get(key)
        if values is None:
            values = self._lists[key] = self.arrays[key].tolist()
        return values

    def __contains__(self, key: object) -> bool:
        return key in self.arrays

    def __iter__(self) -> Iterator[str]:
        return iter(self.arrays)

    def __len__(self) -> int:
        return len(self.arrays)


class Mesh:
    """The state of every pool, as numpy vectors indexed like `scenario.pools`.

    Directives change the state through `scale`, `pause`, `downgrade`, `reroute` and `kill`,
    faults through `set_effects` (and `queue`, `scheduler_paused`, `cascade_every`,
    `cascade_limit` directly): `step` keeps what follows from the workers, the faults' effects
    and the directives' expiry times until they change (a day of 1,000 pools is 86,400 steps).
    `workers` is read-only; a change replaces the array, and `paused_until` changes only through
    `pause` (which keeps the latest end of a pause, so that a step with no pool paused knows it).
    """

    def __init__(self, scenario: Scenario) -> None:
        pools = scenario.pools
        self.scenario = scenario
        self.pools: tuple[Pool, ...] = pools
        self.index = {p.name: i for i, p in enumerate(pools)}
        n = len(pools)
        self.size = n
        self.cls = [p.cls for p in pools]
        self.workers = np.array([p.workers for p in pools], dtype=float)
        self.workers.flags.writeable = False
        self.max_workers = np.array([p.max_workers for p in pools], dtype=float)
        self.mu = np.array([1000.0 / p.service_ms for p in pools])  # requests/s of one worker
        self.base_rate = np.array([p.rate for p in pools])
        self.queue_limit = np.array([p.queue_limit for p in pools], dtype=float)
        self.cost = np.array([p.cost_per_worker_hour for p in pools])
        self.base_subscriptions = np.array([p.subscriptions for p in pools], dtype=float)
        self.subscriptions = self.base_subscriptions.copy()
        self.queue = np.zeros(n)
        self.arrival_rate = self.base_rate.copy()
        self.dispatched = np.zeros(n)  # tasks dispatched since the start (a counter)
        # directives in force
        self.shed = np.zeros(n)
        self.shed_until = np.zeros(n)
        self.reroute_share = np.zeros(n)
        self.reroute_to = np.arange(n)
        self.reroute_until = np.zeros(n)
        self.paused_until = np.zeros(n)
        self.lockdown_pauses = np.zeros(n, dtype=bool)  # set from the threat mode each tick
        self.event_policy_paused_until = 0.0
        # faults in force (recomputed or set by the fault processes)
        self.load_factor = np.ones(n)
        self.latency_add_ms = np.zeros(n)
        self.error_add = np.zeros(n)
        self.flood_valid = np.zeros(n)  # intents/s entering the queue
        self.flood_invalid = np.zeros(n)  # intents/s rejected at admission
        self.storm_rate = np.zeros(n)  # trigger-mesh events/s
        self.storm_task_share = np.zeros(n)
        self.scheduler_paused = np.zeros(n, dtype=bool)
        self.cascade_active = np.zeros(n, dtype=bool)
        self.cascade_every = np.full(n, 5.0)
        self.cascade_limit = np.full(n, 10.0)
        self.depth = np.ones(n)  # event-policy cascade depth (1: a policy fired by an event)
        # the last step's instantaneous state, read by telemetry and breach tracking
        self.p95_ms = np.zeros(n)
        self.mean_ms = np.zeros(n)
        self.load = np.zeros(n)
        self.step_error = np.zeros(n)
        self.worker_seconds = 0.0
        self.worker_cost = 0.0
        self.totals = self._fresh_totals()
        self.slo_s = scenario.slo_latency_ms / 1000.0
        # What `step` keeps between changes. Terms that are zero (no reroute, shed, storm or flood
        # in force) or one (no cascade) are left out rather than added: every quantity they would
        # touch is non-negative, so x + 0 and x * 1 give x bit for bit.
        self._service = 1.0 / self.mu
        self._identity = np.arange(n)
        self._expires = math.inf  # the earliest end of a downgrade or reroute still in force
        self._shedding = False
        self._rerouting = False
        self._depth_rests = True  # every depth is 1 (the cascade term is one and stays so)
        self._subscriptions_rest = True  # every pool has its base subscriptions
        self._capacity_for: np.ndarray | None = None  # the `workers` the capacity terms are for
        self._effects_dt = math.nan  # the dt the fault terms are for (nan: the faults changed)
        self._last_pause_end = 0.0  # the latest `paused_until`: from then on no pool is paused

    def _fresh_totals(self) -> StepTotals:
        z = self.size
        return StepTotals(*(np.zeros(z) for _ in range(9)))

    def take_totals(self) -> StepTotals:
        """The totals since the last call, and a fresh start for the next tick."""
        totals, self.totals = self.totals, self._fresh_totals()
        return totals

    # ---- what changes only with the workers or the faults ----
    def _capacity(self) -> None:
        workers = self.workers
        c = np.maximum(workers, 1.0)
        self._workers_mu = workers * self.mu
        self._c_mu = c * self.mu
        self._exponent = np.sqrt(2.0 * (c + 1.0)) - 1.0  # Sakasegawa's exponent (see _sojourn)
        self._worker_sum = float(workers.sum())
        self._worker_cost_rate = float((workers * self.cost).sum())
        self._all_capable = bool((self._workers_mu > 0).all())  # every pool has a worker
        self._capacity_for = workers

    def set_effects(
        self,
        *,
        latency_ms: np.ndarray,
        errors: np.ndarray,
        flood_valid: np.ndarray,
        flood_invalid: np.ndarray,
        storm_rate: np.ndarray,
        storm_task_share: np.ndarray,
        cascade: np.ndarray,
    ) -> None:
        """The continuous effects of the faults in force, per pool (from `Faults.apply`)."""
        self.latency_add_ms, self.error_add = latency_ms, errors
        self.flood_valid, self.flood_invalid = flood_valid, flood_invalid
        self.storm_rate, self.storm_task_share = storm_rate, storm_task_share
        self.cascade_active = cascade
        self._effects_dt = math.nan  # the next step recomputes its fault terms

    def _effects(self, dt: float) -> None:
        """The per-step amounts of the faults in force."""

        def nonzero(values: np.ndarray) -> np.ndarray | None:
            return values if values.any() else None

        self._storm_tasks = nonzero(self.storm_rate * self.storm_task_share * dt)
        self._flood = nonzero(self.flood_valid * dt)
        self._rejected = nonzero(self.flood_invalid * dt)
        self._latency_add_s = nonzero(self.latency_add_ms / 1000.0)
        self._error_add = nonzero(self.error_add)
        self._storming = bool(self.storm_rate.any())
        self._cascading = bool(self.cascade_active.any())
        self._effects_dt = dt

    # ---- one step ----
    def step(self, now: float, dt: float, demand: np.ndarray) -> None:
        """Advance every pool by dt seconds; `demand` is this step's exogenous arrivals per pool."""
        if now >= self._expires:
            self._expire(now)
        if self.workers is not self._capacity_for:
            self._capacity()
        if dt != self._effects_dt:
            self._effects(dt)
        unit = dt == 1.0  # then x * dt and x / dt are x: left out
        storm_tasks, flood = self._storm_tasks, self._flood
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            moved = inbound = degraded = None
            kept = demand
            if self._rerouting:
                moved = demand * self.reroute_share
                kept = demand - moved
                inbound = np.zeros(self.size)
                np.add.at(inbound, self.reroute_to, moved)
            offered = kept
            if self._shedding:
                degraded = kept * self.shed
                offered = kept - degraded
            work = offered if inbound is None else offered + inbound
            if storm_tasks is not None:
                work = work + storm_tasks
            if not self._depth_rests:
                work = work * (1.0 + CASCADE_LOAD * np.maximum(self.depth - 1.0, 0.0))
            if flood is not None:
                work = work + flood
            if (
                self._last_pause_end <= now
                and self._all_capable
                and not (self.lockdown_pauses.any() or self.scheduler_paused.any())
            ):
                # every pool runs and has workers: capacity · True is capacity, and none is stopped
                capacity_rate, stopped = self._workers_mu, None
            else:
                running = (self.paused_until <= now) & ~self.lockdown_pauses & ~self.scheduler_paused
                capacity_rate = self._workers_mu * running
                stopped = np.flatnonzero(capacity_rate <= 0.0)  # the pools with no capacity this step
                if not stopped.size:
                    stopped = None
            backlog = self.queue + work
            served = np.minimum(backlog, capacity_rate if unit else capacity_rate * dt)
            queue = backlog - served
            overflow = np.maximum(queue - self.queue_limit, 0.0)
            self.queue = queue - overflow
            self.dispatched += served

            # the queue's state follows the recent arrival rate, not one slice's Poisson draw
            alpha = min(1.0, dt / RATE_MEMORY_S)
            self.arrival_rate = alpha * (work if unit else work / dt) + (1.0 - alpha) * self.arrival_rate
            rho, base, wait_share, decay = self._sojourn(capacity_rate, stopped)
            if self._latency_add_s is not None:
                base = base + self._latency_add_s
            # −decay·(x − base) as decay·(base − x): the same bits (IEEE rounding is symmetric)
            tail_slo = np.where(self.slo_s <= base, 1.0, wait_share * np.exp(decay * (base - self.slo_s)))
            timeouts = np.where(base >= TIMEOUT_S, 1.0, wait_share * np.exp(decay * (base - TIMEOUT_S)))
            mean_s = base + wait_share / decay  # decay > 0 always: c ≥ 1, μ > 0 and 1 − r ≥ 0.01
            p95_s = base + np.where(wait_share > 0.05, np.log(wait_share / 0.05) / decay, 0.0)
            inside = 1.0 - tail_slo
            failed_share = np.minimum(1.0, timeouts if self._error_add is None else self._error_add + timeouts)
            ok = served * inside * (1.0 - failed_share)
            failed = served * failed_share
            self.mean_ms = np.minimum(mean_s, TIMEOUT_S) * 1000.0
            self.p95_ms = np.minimum(p95_s, TIMEOUT_S) * 1000.0
            load = np.where(self.queue > 0, 1.0, np.minimum(rho, 1.0))
            if stopped is not None:
                load[stopped] = np.where(work[stopped] > 0, 1.0, 0.0)
            self.load = load
            arrived = demand if inbound is None else demand + inbound - moved
            asked = demand  # what the mesh was asked for, before any reroute
            if storm_tasks is not None:
                arrived = arrived + storm_tasks
                asked = asked + storm_tasks
            if flood is not None:
                arrived = arrived + flood
                asked = asked + flood
            self.step_error = np.where(arrived > 0.5, (failed + overflow) / np.maximum(arrived, 1e-9), 0.0)

        t = self.totals
        t.arrived += asked
        if degraded is None:
            t.ok += ok
        else:
            t.ok += ok + degraded  # a downgraded request is answered, cheaply
            t.degraded += degraded
        t.failed += failed
        t.dropped += overflow
        if self._rejected is not None:
            t.rejected += self._rejected
        t.served += served
        t.latency_sum += self.mean_ms if unit else self.mean_ms * dt
        t.load_sum += self.load if unit else self.load * dt
        t.seconds += dt
        self._mesh_dynamics(now, dt)
        self.worker_seconds += self._worker_sum * dt
        self.worker_cost += self._worker_cost_rate * dt / 3600.0

    def _sojourn(
        self, capacity_rate: np.ndarray, stopped: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The time in the system as `base + an exponential wait that only some requests have`.

        base: one service time plus draining the backlog already queued (Little's law; all of it
        when the pool is stopped). The wait of an M/M/c queue below saturation: a request waits
        with probability C (Erlang C, in Sakasegawa's approximation ρ^(√(2(c+1))−1)), and then
        for an exponential time of rate cμ(1−ρ). So P(T > x) = C·exp(−cμ(1−ρ)(x − base)).
        Returns ρ, base, C and cμ(1−ρ); `stopped` indexes the pools with no capacity (None: none),
        which are saturated (ρ = ∞, C = 1) and whose requests wait out the timeout.
        """
        rho = self.arrival_rate / capacity_rate
        waiting = self.queue / capacity_rate
        if stopped is not None:  # set here, not by np.where over every pool: only a few are stopped
            rho[stopped] = np.inf
            waiting[stopped] = TIMEOUT_S
        r = np.minimum(rho, 0.99)
        base = self._service + waiting
        wait_share = r**self._exponent
        if stopped is not None:
            wait_share[stopped] = 1.0
        decay = self._c_mu * (1.0 - r)
        return rho, base, wait_share, decay

    def _mesh_dynamics(self, now: float, dt: float) -> None:
        """The trigger mesh sheds subscriptions under a storm; policy cascades deepen."""
        if self._storming or not self._subscriptions_rest:
            per_sub = self.storm_rate / np.maximum(self.subscriptions, 1.0)
            storming = per_sub > STORM_PER_SUBSCRIPTION
            self.subscriptions = np.where(
                storming,
                np.maximum(self.subscriptions - dt / 10.0, 0.0),
                np.minimum(self.subscriptions + dt / 30.0, self.base_subscriptions),
            )
            self._subscriptions_rest = not self._storming and bool(
                (self.subscriptions == self.base_subscriptions).all()
            )
        if now < self.event_policy_paused_until:
            self.depth[:] = 0.0
            self._depth_rests = False
            return
        if self._depth_rests and not self._cascading:
            return  # max(1, 1 - dt/5) is 1
        growing = self.cascade_active
        self.depth = np.where(
            growing,
            np.minimum(np.maximum(self.depth, 1.0) + dt / self.cascade_every, self.cascade_limit),
            np.maximum(1.0, self.depth - dt / 5.0),
        )
        self._depth_rests = not self._cascading and bool((self.depth == 1.0).all())

    def _expire(self, now: float) -> None:
        self.shed[self.shed_until <= now] = 0.0
        ended = self.reroute_until <= now
        self.reroute_share[ended] = 0.0
        self.reroute_to[ended] = self._identity[ended]
        self._shedding = bool(self.shed.any())
        self._rerouting = bool(self.reroute_share.any())
        until = np.concatenate((self.shed_until, self.reroute_until))
        later = until[until > now]
        self._expires = float(later.min()) if later.size else math.inf

    # ---- directives (called when their actuation delay has passed) ----
    def scale(self, i: int, by: int) -> None:
        self._set_workers(i, min(max(self.workers[i] + by, 0.0), self.max_workers[i]))

    def pause(self, i: int, now: float, duration: float) -> None:
        self.paused_until[i] = max(self.paused_until[i], now + duration)
        self._last_pause_end = max(self._last_pause_end, float(self.paused_until[i]))

    def downgrade(self, i: int, now: float, level: int, hold: float) -> None:
        self.shed[i] = min(0.9, 0.25 * max(level, 0))
        self.shed_until[i] = now + hold
        self._shedding = True
        self._expires = min(self._expires, float(self.shed_until[i]))

    def reroute(self, i: int, j: int, now: float, share: float, hold: float) -> None:
        if i == j:
            return
        self.reroute_share[i] = min(max(share, 0.0), 1.0)
        self.reroute_to[i] = j
        self.reroute_until[i] = now + hold
        self._rerouting = True
        self._expires = min(self._expires, float(self.reroute_until[i]))

    def kill(self, i: int, count: float) -> None:
        self._set_workers(i, max(self.workers[i] - count, 0.0))

    def _set_workers(self, i: int, value: float) -> None:
        workers = self.workers.copy()  # a new array: `step` sees the change by identity
        workers[i] = value
        workers.flags.writeable = False
        self.workers = workers

    # ---- telemetry ----
    def columns(self, totals: StepTotals) -> Columns:
        """Per-pool values of one telemetry tick (event fields are built from these)."""
        seconds = max(totals.seconds, 1e-9)
        arrived = totals.arrived
        with np.errstate(divide="ignore", invalid="ignore"):
            sla = np.where(arrived > 0, np.minimum(100.0, totals.ok / arrived * 100.0), 100.0)
            errors = np.where(arrived > 0, np.minimum(1.0, (totals.failed + totals.dropped) / arrived), 0.0)
        return Columns(
            {
                "load": np.round(totals.load_sum / seconds, 6),
                "latency_p95_ms": np.round(self.p95_ms, 3),
                "latency_ms": np.round(totals.latency_sum / seconds, 3),
                "error_rate": np.round(errors, 6),
                "sla_adherence": np.round(sla, 4),
                "htm_queue_depth": np.rint(self.queue).astype(np.int64),
                "workers": np.rint(self.workers).astype(np.int64),
                "subscriptions": np.rint(self.subscriptions).astype(np.int64),
                "dispatch_rate": np.round(totals.served / seconds, 3),
                "tasks_dispatched": np.floor(self.dispatched).astype(np.int64),
                "policy_depth": np.rint(self.depth).astype(np.int64),
            }
        )
