"""No interleaving of cluster failures, bad telemetry, pauses, resumes, restarts and aborts makes
a run break its blast-radius ceiling, push outside the plan, push a cluster twice, or push a wave
before the waves ahead of it are done (hypothesis stateful testing).

The clusters here are an in-memory `ClusterAdapter` (the interface is public: any adapter must
keep these guarantees); the state is a real `RunStore`.
"""

from __future__ import annotations

import functools
from collections import Counter
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from ballast.compiler.pipeline import compile_paths
from ballast.fleet.adapter import Inventory, PushFailed
from ballast.fleet.clock import ManualClock
from ballast.fleet.engine import TERMINAL, ActionRun, RetryPolicy
from ballast.fleet.store import RunStore
from ballast.runtime.fleet import Fleet, Plan

CLUSTERS = [(f"{region}-{i}", region, "prod" if i else "staging") for region in ("a", "b", "c") for i in range(4)]
IDS = [c[0] for c in CLUSTERS]
FLEET = 'fleet f version "1" {\n' + "".join(
    f'  cluster "{cid}" {{ region "{region}" env "{env}" control_plane "1.0.0" }}\n' for cid, region, env in CLUSTERS
) + "}\n"  # fmt: skip


@functools.cache
def documents(ceiling: str, max_update: str, rollback: str) -> tuple[dict[str, Any], dict[str, Any]]:
    prod = ", ".join(f'"{cid}"' for cid, _, env in CLUSTERS if env == "prod")
    plan = f"""rollout r version "1" {{
  fleet "f"
  profile "prod"
  select env == "prod"
  allow [{prod}]
  ceiling {ceiling}
  rollback "{rollback}"
  gate g {{ pass when error_budget_burn < 1.0 fail when error_budget_burn > 2.0 interval 1m count 2 consecutive_error_limit 1 }}
  wave canary {{ select id == "a-1" bake 5m gates ["g"] }}
  wave regional {{ select region == "a" max_update {max_update} max_unavailable 1 gates ["g"] }}
  wave global {{ max_update {max_update} max_unavailable 2 bake 1m gates ["g"] }}
}}
"""
    c = compile_paths(["f.bal", "r.bal"], sources={"f.bal": FLEET, "r.bal": plan}, stop_after="optimize")
    return c.ir["fleets"][0], c.ir["rollouts"][0]


class MemoryClusters:
    """Clusters as dictionaries: what each runs, what was written to each, injected trouble."""

    def __init__(self) -> None:
        self.running = dict.fromkeys(IDS, b"old")
        self.previous: dict[str, bytes] = {}
        self.writes: Counter[str] = Counter()  # pushes that wrote a bundle
        self.failing: set[str] = set()
        self.bad: set[str] = set()
        self.silent: set[str] = set()

    def inventory(self, cluster_id: str) -> Inventory:
        return Inventory(cluster_id, "1.0.0")

    def push(self, cluster_id: str, bundle: bytes) -> bool:
        if cluster_id in self.failing:
            raise PushFailed(f"{cluster_id}: injected")
        if self.running[cluster_id] == bundle:
            return False
        self.previous[cluster_id], self.running[cluster_id] = self.running[cluster_id], bundle
        self.writes[cluster_id] += 1
        return True

    def rollback(self, cluster_id: str, bundle: bytes) -> bool:
        if cluster_id in self.failing:
            raise PushFailed(f"{cluster_id}: injected")
        if self.running[cluster_id] != bundle:
            return False
        self.running[cluster_id] = self.previous[cluster_id]
        return True

    def telemetry(self, cluster_id: str, start: float, end: float) -> list[dict[str, Any]]:
        if cluster_id in self.silent:
            return []
        burn = 3.0 if cluster_id in self.bad else 0.3
        return [{"t": end, "error_budget_burn": burn, "p95_latency_ms": 100.0, "error_rate": 0.0,
                 "directive_rate": 1.0, "rule_faults": 0, "requests": 10}]  # fmt: skip


class Rollouts(RuleBasedStateMachine):
    @initialize(
        ceiling=st.sampled_from(["1", "2", "50%", "75%"]),
        max_update=st.sampled_from(["1", "2", "3", "100%"]),
        rollback=st.sampled_from(["on-deviation", "always", "never"]),
    )
    def start(self, ceiling: str, max_update: str, rollback: str) -> None:
        fleet_ir, plan_ir = documents(ceiling, max_update, rollback)
        self.fleet, self.plan = Fleet.from_ir(fleet_ir), Plan.from_ir(plan_ir)
        self.clusters = MemoryClusters()
        self.clock = ManualClock(0)
        self.store = RunStore(":memory:")
        self.retry = RetryPolicy(max_attempts=3, backoff=5, breaker_threshold=2, breaker_cooldown=30)
        self.run = ActionRun.start(
            self.store, "run", plan_ir, fleet_ir, b"new", self.clusters, self.clock, retry=self.retry
        )

    @rule(n=st.integers(1, 12))
    def step(self, n: int) -> None:
        for _ in range(n):
            wake = self.run.step()
            if wake is None:
                return
            self.clock.sleep_until(wake)

    @rule(cid=st.sampled_from(IDS))
    def break_cluster(self, cid: str) -> None:
        self.clusters.failing.add(cid)

    @rule(cid=st.sampled_from(IDS))
    def repair_cluster(self, cid: str) -> None:
        self.clusters.failing.discard(cid)

    @rule(cid=st.sampled_from(IDS), trouble=st.sampled_from(["bad", "silent", "healthy"]))
    def telemetry(self, cid: str, trouble: str) -> None:
        self.clusters.bad.discard(cid)
        self.clusters.silent.discard(cid)
        if trouble != "healthy":
            getattr(self.clusters, trouble).add(cid)

    @precondition(lambda self: self.run.state == "running")
    @rule()
    def pause(self) -> None:
        self.run.pause()

    @precondition(lambda self: self.run.state == "paused")
    @rule()
    def resume(self) -> None:
        self.run.resume()

    @precondition(lambda self: self.run.state in ("running", "paused"))
    @rule()
    def abort(self) -> None:
        self.run.abort()

    @rule()
    def restart(self) -> None:
        """A new process takes the run over from the store."""
        self.run = ActionRun(self.store, "run", self.clusters, self.clock, retry=self.retry)

    @precondition(lambda self: self.run.state in TERMINAL)
    @rule()
    def roll_back(self) -> None:
        self.run.rollback()

    @invariant()
    def the_ceiling_holds(self) -> None:
        groups = {g: len(members) for g, members in self.fleet.groups().items()}
        unproven = Counter(
            self.fleet.cluster(c.cluster_id).group for c in self.run.clusters() if c.state in ("running", "paused")
        )
        for group, n in unproven.items():
            assert n <= self.plan.ceiling.of(groups[group]), (group, n, self.plan.ceiling)

    @invariant()
    def nothing_outside_the_plan_and_nothing_twice(self) -> None:
        targets = set(self.plan.targets())
        assert set(self.clusters.writes) <= targets
        assert all(n == 1 for n in self.clusters.writes.values()), self.clusters.writes

    @invariant()
    def waves_go_in_order(self) -> None:
        rows = self.run.clusters()
        for row in rows:
            if row.pushed:
                earlier = [r for r in rows if r.wave < row.wave]
                assert all(r.state not in ("pending", "running", "paused") for r in earlier), (row, earlier)


Rollouts.TestCase.settings = settings(max_examples=40, stateful_step_count=30, deadline=None)
TestRollouts = Rollouts.TestCase
