"""`ballast simulate --seeds N`: one scenario and policy set over N seeds, on an executor.

Each seed is an independent `Simulation` (the scenario's seed, then the next ones); the report
holds every seed's own `ballast.simulate` report in seed order, so it is byte-identical whichever
executor ran the seeds, and a summary of what held across them.
"""

from __future__ import annotations

import functools
from typing import Any

from ballast.simulator.executors import Executor, Progress, Sequential
from ballast.simulator.run import Simulation
from ballast.simulator.scenario import Scenario
from ballast.simulator.shadow import Side, compiled

SWEEP_FORMAT = "ballast.simulate-sweep/1"


def simulate_seed(scenario: Scenario, side: Side, seed: int) -> dict[str, Any]:
    """One seed's `ballast.simulate` report (the worker compiles its own copy of the policies)."""
    policies = compiled(side.paths, side.trust, side.allow_unsigned)
    return Simulation(scenario, policies, seed=seed).run().report


def sweep(
    scenario: Scenario, side: Side, seeds: int, *, executor: Executor | None = None, progress: Progress | None = None
) -> dict[str, Any]:
    """The `ballast.simulate-sweep/1` report over `seeds` seeds, the scenario's seed first."""
    seed_list = [scenario.seed + k for k in range(seeds)]
    runs = (executor or Sequential()).map(functools.partial(simulate_seed, scenario, side), seed_list, progress)
    held = [r["outcome"]["hypothesis_held"] and r["outcome"]["stopped"] is None for r in runs]
    return {
        "format": SWEEP_FORMAT,
        "scenario": runs[0]["scenario"] if runs else None,
        "seeds": seed_list,
        "summary": {
            "seeds": len(runs),
            "held": sum(held),
            "not_held": [s for s, h in zip(seed_list, held, strict=True) if not h],
        },
        "runs": runs,
    }


__all__ = ["SWEEP_FORMAT", "simulate_seed", "sweep"]
