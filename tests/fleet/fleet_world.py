"""A fleet of local clusters for the engine tests: the catalog fleet and plan, two bundles, telemetry."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from ballast.compiler.pipeline import compile_paths
from ballast.fleet.clock import ManualClock
from ballast.fleet.engine import ActionRun, RetryPolicy
from ballast.fleet.local import LocalAdapter, make_cluster, trusted_loader
from ballast.fleet.store import RunStore
from ballast.runtime.bundle import dump_bundle

REPO = Path(__file__).resolve().parents[2]
CATALOG = REPO / "catalog"
HEALTHY = {
    "error_budget_burn": 0.3,
    "p95_latency_ms": 120.0,
    "error_rate": 0.001,
    "directive_rate": 2.0,
    "rule_faults": 0,
    "requests": 1000,
}


@functools.cache
def documents() -> tuple[dict[str, Any], dict[str, Any]]:
    """The catalog fleet and plan IR (compiled once per test session)."""
    c = compile_paths(
        [str(CATALOG / "fleet" / "edge.fleet.bal"), str(CATALOG / "fleet" / "policy-2026-12.rollout.bal")],
        stop_after="optimize",
    )
    return c.ir["fleets"][0], c.ir["rollouts"][0]


@functools.cache
def bundle(name: str) -> bytes:
    return dump_bundle(compile_paths([str(CATALOG / name)]).bundle)


class World:
    """Twelve cluster directories running the old bundle, a store, a manual clock."""

    def __init__(
        self, root: Path, *, retry: RetryPolicy | None = None, loader: Any = None, plan: dict[str, Any] | None = None
    ) -> None:
        self.fleet, catalog_plan = documents()
        self.plan = plan or catalog_plan
        self.old, self.new = bundle("watchdog.bal"), bundle("motb.bal")
        self.root = root / "clusters"
        for c in self.fleet["clusters"]:
            make_cluster(
                self.root, c["id"], {"control_plane": c["control_plane"], "capabilities": c["capabilities"]}, self.old
            )
        self.adapter = LocalAdapter(self.root, loader or trusted_loader(None, allow_unsigned=True))
        self.clock = ManualClock(1000.0)
        self.store = RunStore(root / "runs.db")
        self.retry = retry or RetryPolicy(backoff=10, breaker_threshold=3, breaker_cooldown=120)

    def telemetry(self, cluster_id: str, start: float, end: float, every: float = 30.0, **metrics: Any) -> None:
        with open(self.root / cluster_id / "telemetry.jsonl", "a", encoding="utf-8") as f:
            t = start
            while t <= end:
                f.write(json.dumps({"t": t, **HEALTHY, **metrics}) + "\n")
                t += every

    def healthy_everywhere(self, hours: float = 4) -> None:
        for c in self.fleet["clusters"]:
            self.telemetry(c["id"], self.clock.now(), self.clock.now() + hours * 3600)

    def fault(self, cluster_id: str, **faults: Any) -> None:
        (self.root / cluster_id / "faults.json").write_text(json.dumps(faults), encoding="utf-8")

    def start(self, run_id: str = "r1", **options: Any) -> ActionRun:
        options.setdefault("retry", self.retry)
        return ActionRun.start(self.store, run_id, self.plan, self.fleet, self.new, self.adapter, self.clock, **options)

    def reopen(self, run_id: str = "r1", **options: Any) -> ActionRun:
        options.setdefault("retry", self.retry)
        return ActionRun(self.store, run_id, self.adapter, self.clock, **options)

    def pushes(self, cluster_id: str) -> list[str]:
        return [p["kind"] for p in self.adapter.pushes(cluster_id)]

    def runs_new(self, cluster_id: str) -> bool:
        return self.adapter.running(cluster_id) == self.new
