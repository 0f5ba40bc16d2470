"""The rollout-rehearsal benchmark: one seed of a 1,000-cluster rehearsal, against a 100-cluster one.

    python -m bench.fleet                      # 1,000 clusters, 5 seeds per size
    python -m bench.fleet --clusters 200 --seeds 2 --markdown

The product target: a 1,000-cluster rehearsal under 30 s per seed on one core
(docs/performance.md, "Fleet rehearsal").

Method. A fleet of N clusters over ten regions (one staging cluster in ten, the rest prod; each
region a blast-radius group) and a canary → regional → global plan (ceiling 25%, max_update 25%,
one gate) are compiled once; each seed runs `ballast.simulator.rehearsal.rehearse_once` under the
`bad-bundle-late` scenario, so the run goes through every wave before the last region's gate
fails and the run rolls back: the longest path a rehearsal takes. The reported time is the median
over the seeds, wall clock and process CPU; the ratio is the 1,000-cluster median over the
100-cluster median measured in the same process. Every seed must end rolled back with the bad
bundle caught (the benchmark stops if not).

This is a benchmark, not a test: it asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import statistics
import time

from ballast.compiler.pipeline import compile_paths
from ballast.simulator.rehearsal import SCENARIOS, rehearse_once

TARGET_SECONDS = 30.0
BASELINE = 100
REGIONS = 10


def documents(clusters: int) -> tuple[dict, dict]:
    lines = ['fleet bench.fleet version "1" {']
    prod = []
    for i in range(clusters):
        region = f"r{i % REGIONS}"
        env = "staging" if i % 10 == 9 else "prod"
        lines.append(f'  cluster "c{i:05d}" {{ region "{region}" env "{env}" control_plane "1.8.2" }}')
        if env == "prod":
            prod.append(f'"c{i:05d}"')
    lines.append("}")
    plan = f"""rollout bench.plan version "1" {{
  fleet "bench.fleet"
  profile "prod"
  select env == "prod"
  allow [{", ".join(prod)}]
  ceiling 25%
  gate health {{
    pass when error_budget_burn < 1.0 && p95_latency_ms < 250.0
    fail when error_budget_burn > 2.0
    interval 1m
    count 3
    failure_limit 1
  }}
  wave canary {{ select id == "c00000" bake 10m gates ["health"] }}
  wave regional {{ select region == "r0" max_update 25% bake 10m gates ["health"] }}
  wave global {{ max_update 25% max_unavailable 1% bake 10m gates ["health"] }}
}}
"""
    sources = {"fleet.bal": "\n".join(lines) + "\n", "plan.bal": plan}
    c = compile_paths(["fleet.bal", "plan.bal"], sources=sources, stop_after="optimize")
    return c.ir["fleets"][0], c.ir["rollouts"][0]


def time_seeds(clusters: int, seeds: int) -> tuple[float, float, dict]:
    fleet, plan = documents(clusters)
    walls, cpus, last = [], [], {}
    for seed in range(seeds):
        wall, cpu = time.perf_counter(), time.process_time()
        last = rehearse_once(plan, fleet, SCENARIOS["bad-bundle-late"], seed)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
        if last["outcome"] != "rolled_back" or last["missed"] or not last["exposed"]:
            raise SystemExit(f"seed {seed} of {clusters} clusters: expected a caught bad bundle, got {last}")
    return statistics.median(walls), statistics.median(cpus), last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--markdown", action="store_true", help="print the table for docs/performance.md")
    args = parser.parse_args()
    base_wall, base_cpu, _ = time_seeds(BASELINE, args.seeds)
    wall, cpu, last = time_seeds(args.clusters, args.seeds)
    rows = [
        (f"{BASELINE} clusters (baseline)", base_wall, base_cpu, 1.0),
        (f"{args.clusters} clusters", wall, cpu, wall / base_wall),
    ]
    verdict = "meets" if wall < TARGET_SECONDS else "misses"
    if args.markdown:
        print(f"**Fleet rehearsal, median of {args.seeds} seeds (bad-bundle-late: every wave, then a rollback)**\n")
        print("| rehearsal | wall per seed | CPU per seed | × baseline |")
        print("|---|---|---|---|")
        for label, w, c, ratio in rows:
            print(f"| {label} | {w:.2f} s | {c:.2f} s | {ratio:.1f} |")
        print(f"\n{args.clusters} clusters {verdict} the {TARGET_SECONDS:g} s target; "
              f"last seed exposed {last['exposed']} cluster(s), detected after {last['time_to_detect']:g} s simulated.")  # fmt: skip
    else:
        for label, w, c, ratio in rows:
            print(f"{label:<28} wall {w:7.2f} s  cpu {c:7.2f} s  ×{ratio:.1f}")
        print(f"target {TARGET_SECONDS:g} s per seed: {verdict}")


if __name__ == "__main__":
    main()
