"""The catalog policy `catalog/motb.bal` written by hand, and generated telemetry for it."""

from __future__ import annotations

import math
import random
from typing import Any

Event = dict[str, Any]


def motb_by_hand(ev: Event) -> list[str]:
    """catalog/motb.bal written by hand (constants from catalog/lib/thresholds.bal inlined)."""
    fired = []
    load = ev["load"]
    risk = ev["risk"]
    tier = ev["tier"]
    queue = ev["htm_queue_depth"]
    overloaded = load > 0.8 and risk > 80
    if overloaded and tier != "critical":
        fired.append("downgrade_on_load_risk")
    if overloaded and tier == "critical":
        fired.append("protect_critical_under_risk")
    if ev["sla_adherence"] < 99.95 and tier != "batch":
        fired.append("sla_breach")
    if ev["latency_p95_ms"] > 250.0 and load > 0.6:
        fired.append("latency_breach")
    if ev["error_rate"] > 0.01 * 5:
        fired.append("error_budget_burn")
    if 1000 <= queue < 5000:
        fired.append("htm_queue_warning")
    if queue >= 5000:
        fired.append("htm_queue_critical")
    if ev["subscriptions"] < 5:
        fired.append("trigger_mesh_starved")
    if ev["dispatch_rate"] < 1.0 and queue > 0:
        fired.append("scheduler_stalled")
    if ev["policy_depth"] >= 10:
        fired.append("policy_cascade_limit")
    if tier == "batch" and load > 0.9:
        fired.append("batch_shed_on_load")
    return fired


MOTB_TIERS = ("critical", "standard", "batch")
MOTB_REGIONS = ("eu-west", "eu-central", "us-east", "us-west", "ap-south")


def motb_events(n: int, seed: int) -> list[Event]:
    """Agent-pool telemetry: mostly healthy, with correlated bursts of load, latency and queueing."""
    rng = random.Random(seed)
    pools = []
    for i in range(24):
        pools.append(
            {
                "pool": f"pool-{i:02d}",
                "region": MOTB_REGIONS[i % len(MOTB_REGIONS)],
                "tier": MOTB_TIERS[i % 3],
                "load": rng.uniform(0.3, 0.65),
                "latency": rng.uniform(60, 220),
                "queue": rng.uniform(40, 400),
            }
        )
    events = []
    for _ in range(n):
        p = rng.choice(pools)
        g = rng.gauss
        stress = g(0, 1)
        hot = max(stress, 0.0)
        ev: Event = {
            "agent": f"agent-{p['pool'][-2:]}-{rng.randrange(8)}",
            "pool": p["pool"],
            "region": p["region"],
            "tier": p["tier"],
            "load": min(1.0, max(0.0, p["load"] + 0.12 * stress + 0.05 * g(0, 1))),
            "risk": min(100.0, max(0.0, 35.0 + 14.0 * g(0, 1) + 14.0 * stress)),
            "latency_p95_ms": min(600000.0, p["latency"] * math.exp(0.3 * g(0, 1) + 0.5 * hot)),
            "error_rate": min(1.0, 0.004 * math.exp(0.9 * g(0, 1) + 0.6 * hot)),
            "sla_adherence": max(0.0, 100.0 - 0.015 * math.exp(0.9 * g(0, 1) + 0.8 * hot)),
            "htm_queue_depth": min(10_000_000, int(p["queue"] * math.exp(0.9 * g(0, 1) + 1.0 * hot))),
            "workers": rng.randint(2, 64),
            "subscriptions": max(0, int(g(24, 7))),
            "dispatch_rate": max(0.0, g(14.0, 5.0)),
            "policy_depth": min(1000, 1 + int(rng.expovariate(0.6))),
        }
        if rng.random() < 0.1:
            ev["canary"] = rng.random() < 0.5
        events.append(ev)
    return events
