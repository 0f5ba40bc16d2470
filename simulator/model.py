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

from dataclasses import dataclass
from typing import Any

import numpy as np

from ballast.simulator.scenario import Pool, Scenario

TIMEOUT_S = 30.0  # the clients' request timeout
STORM_PER_SUBSCRIPTION = 100.0  # trigger-mesh events/s one subscription absorbs before it sheds
RATE_MEMORY_S = 10.0  # the arrival rate a queue's waiting time follows is smoothed over this
CASCADE_LOAD = 0.1  # each level of a policy cascade adds this share of extra work


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


class Mesh:
    """The state of every pool, as numpy vectors indexed like `scenario.pools`."""

    def __init__(self, scenario: Scenario) -> None:
        pools = scenario.pools
        self.scenario = scenario
        self.pools: tuple[Pool, ...] = pools
        self.index = {p.name: i for i, p in enumerate(pools)}
        n = len(pools)
        self.size = n
        self.cls = [p.cls for p in pools]
        self.workers = np.array([p.workers for p in pools], dtype=float)
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

    def _fresh_totals(self) -> StepTotals:
        z = self.size
        return StepTotals(*(np.zeros(z) for _ in range(9)))

    def take_totals(self) -> StepTotals:
        """The totals since the last call, and a fresh start for the next tick."""
        totals, self.totals = self.totals, self._fresh_totals()
        return totals

    # ---- one step ----
    def step(self, now: float, dt: float, demand: np.ndarray) -> None:
        """Advance every pool by dt seconds; `demand` is this step's exogenous arrivals per pool."""
        self._expire(now)
        shed = self.shed
        moved = demand * self.reroute_share
        kept = demand - moved
        degraded = kept * shed
        offered = kept - degraded
        inbound = np.zeros(self.size)
        np.add.at(inbound, self.reroute_to, moved)
        storm_tasks = self.storm_rate * self.storm_task_share * dt
        flood = self.flood_valid * dt
        cascade = 1.0 + CASCADE_LOAD * np.maximum(self.depth - 1.0, 0.0)
        work = (offered + inbound + storm_tasks) * cascade + flood
        running = (self.paused_until <= now) & ~self.lockdown_pauses & ~self.scheduler_paused
        capacity_rate = self.workers * self.mu * running
        backlog = self.queue + work
        served = np.minimum(backlog, capacity_rate * dt)
        queue = backlog - served
        overflow = np.maximum(queue - self.queue_limit, 0.0)
        self.queue = queue - overflow
        self.dispatched += served

        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            # the queue's state follows the recent arrival rate, not one slice's Poisson draw
            alpha = min(1.0, dt / RATE_MEMORY_S)
            self.arrival_rate = alpha * (work / dt) + (1.0 - alpha) * self.arrival_rate
            rho = np.where(capacity_rate > 0, self.arrival_rate / capacity_rate, np.inf)
            base, wait_share, decay = self._sojourn(rho, capacity_rate)
            base = base + self.latency_add_ms / 1000.0
            tail_slo = np.where(self.slo_s <= base, 1.0, wait_share * np.exp(-decay * (self.slo_s - base)))
            timeouts = np.where(base >= TIMEOUT_S, 1.0, wait_share * np.exp(-decay * (TIMEOUT_S - base)))
            mean_s = base + np.where(decay > 0, wait_share / decay, 0.0)
            p95_s = base + np.where(wait_share > 0.05, np.log(wait_share / 0.05) / decay, 0.0)
        inside = 1.0 - tail_slo
        failed_share = np.minimum(1.0, self.error_add + timeouts)
        ok = served * inside * (1.0 - failed_share)
        failed = served * failed_share
        self.mean_ms = np.minimum(mean_s, TIMEOUT_S) * 1000.0
        self.p95_ms = np.minimum(p95_s, TIMEOUT_S) * 1000.0
        self.load = np.where(self.queue > 0, 1.0, np.minimum(rho, 1.0))
        self.load[capacity_rate == 0] = np.where(work[capacity_rate == 0] > 0, 1.0, 0.0)
        arrived = demand + inbound - moved + storm_tasks + flood
        with np.errstate(divide="ignore", invalid="ignore"):
            self.step_error = np.where(arrived > 0.5, (failed + overflow) / np.maximum(arrived, 1e-9), 0.0)

        t = self.totals
        t.arrived += demand + storm_tasks + flood  # what the mesh was asked for, before any reroute
        t.ok += ok + degraded  # a downgraded request is answered, cheaply
        t.failed += failed
        t.dropped += overflow
        t.degraded += degraded
        t.rejected += self.flood_invalid * dt
        t.served += served
        t.latency_sum += self.mean_ms * dt
        t.load_sum += self.load * dt
        t.seconds += dt
        self._mesh_dynamics(now, dt)
        self.worker_seconds += float(self.workers.sum()) * dt
        self.worker_cost += float((self.workers * self.cost).sum()) * dt / 3600.0

    def _sojourn(self, rho: np.ndarray, capacity_rate: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The time in the system as `base + an exponential wait that only some requests have`.

        base: one service time plus draining the backlog already queued (Little's law; all of it
        when the pool is stopped). The wait of an M/M/c queue below saturation: a request waits
        with probability C (Erlang C, in Sakasegawa's approximation ρ^(√(2(c+1))−1)), and then
        for an exponential time of rate cμ(1−ρ). So P(T > x) = C·exp(−cμ(1−ρ)(x − base)).
        """
        c = np.maximum(self.workers, 1.0)
        service = 1.0 / self.mu
        r = np.minimum(rho, 0.99)
        backlog = np.where(capacity_rate > 0, self.queue / capacity_rate, TIMEOUT_S)
        base = service + backlog
        wait_share = np.where(capacity_rate > 0, r ** (np.sqrt(2.0 * (c + 1.0)) - 1.0), 1.0)
        decay = c * self.mu * (1.0 - r)
        return base, wait_share, decay

    def _mesh_dynamics(self, now: float, dt: float) -> None:
        """The trigger mesh sheds subscriptions under a storm; policy cascades deepen."""
        per_sub = self.storm_rate / np.maximum(self.subscriptions, 1.0)
        storming = per_sub > STORM_PER_SUBSCRIPTION
        self.subscriptions = np.where(
            storming,
            np.maximum(self.subscriptions - dt / 10.0, 0.0),
            np.minimum(self.subscriptions + dt / 30.0, self.base_subscriptions),
        )
        if now < self.event_policy_paused_until:
            self.depth[:] = 0.0
            return
        growing = self.cascade_active
        self.depth = np.where(
            growing,
            np.minimum(np.maximum(self.depth, 1.0) + dt / self.cascade_every, self.cascade_limit),
            np.maximum(1.0, self.depth - dt / 5.0),
        )

    def _expire(self, now: float) -> None:
        self.shed[self.shed_until <= now] = 0.0
        ended = self.reroute_until <= now
        self.reroute_share[ended] = 0.0
        self.reroute_to[ended] = np.arange(self.size)[ended]

    # ---- directives (called when their actuation delay has passed) ----
    def scale(self, i: int, by: int) -> None:
        self.workers[i] = min(max(self.workers[i] + by, 0.0), self.max_workers[i])

    def pause(self, i: int, now: float, duration: float) -> None:
        self.paused_until[i] = max(self.paused_until[i], now + duration)

    def downgrade(self, i: int, now: float, level: int, hold: float) -> None:
        self.shed[i] = min(0.9, 0.25 * max(level, 0))
        self.shed_until[i] = now + hold

    def reroute(self, i: int, j: int, now: float, share: float, hold: float) -> None:
        if i == j:
            return
        self.reroute_share[i] = min(max(share, 0.0), 1.0)
        self.reroute_to[i] = j
        self.reroute_until[i] = now + hold

    def kill(self, i: int, count: float) -> None:
        self.workers[i] = max(self.workers[i] - count, 0.0)

    # ---- telemetry ----
    def columns(self, totals: StepTotals) -> dict[str, list[Any]]:
        """Per-pool values of one telemetry tick, as Python lists (event fields are built from these)."""
        seconds = max(totals.seconds, 1e-9)
        arrived = totals.arrived
        with np.errstate(divide="ignore", invalid="ignore"):
            sla = np.where(arrived > 0, np.minimum(100.0, totals.ok / arrived * 100.0), 100.0)
            errors = np.where(arrived > 0, np.minimum(1.0, (totals.failed + totals.dropped) / arrived), 0.0)
        return {
            "load": np.round(totals.load_sum / seconds, 6).tolist(),
            "latency_p95_ms": np.round(self.p95_ms, 3).tolist(),
            "latency_ms": np.round(totals.latency_sum / seconds, 3).tolist(),
            "error_rate": np.round(errors, 6).tolist(),
            "sla_adherence": np.round(sla, 4).tolist(),
            "htm_queue_depth": np.rint(self.queue).astype(np.int64).tolist(),
            "workers": np.rint(self.workers).astype(np.int64).tolist(),
            "subscriptions": np.rint(self.subscriptions).astype(np.int64).tolist(),
            "dispatch_rate": np.round(totals.served / seconds, 3).tolist(),
            "tasks_dispatched": np.floor(self.dispatched).astype(np.int64).tolist(),
            "policy_depth": np.rint(self.depth).astype(np.int64).tolist(),
        }
