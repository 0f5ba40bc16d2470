"""Shadow runs: a baseline and a candidate policy set on the same seeded worlds, compared.

Each seed is simulated twice, once per policy set, with the same scenario and seed, so both
runs draw the same demand, risk and fault randomness (common random numbers) and differ only
through their decisions. Seeds run in worker processes when asked (`workers`); the results are
gathered in seed order, so the report does not depend on the number of workers.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from ballast.runtime.engine import iso
from ballast.runtime.policy import PolicySet
from ballast.simulator.decisions import Decision, diff_decisions, merge_rule_diffs, policy_list, rule_keys
from ballast.simulator.run import RunResult, Simulation
from ballast.simulator.scenario import Scenario
from ballast.simulator.stats import compare
from ballast.simulator.tracking import rounded, scenario_header

REPORT_FORMAT = "ballast.shadow/1"

# The KPIs compared, how to read each from a simulation report, and which direction is better.
KPIS: tuple[tuple[str, str, Callable[[dict[str, Any]], float | None]], ...] = (
    ("sla_adherence_pct", "higher", lambda r: r["kpis"]["sla_adherence_pct"]),
    ("error_rate", "lower", lambda r: r["kpis"]["error_rate"]),
    ("dropped", "lower", lambda r: r["kpis"]["dropped"]),
    ("time_to_mitigate_s", "lower", lambda r: r["kpis"]["time_to_mitigate_s"]["mean"]),
    ("directive_latency_p95_ms", "lower", lambda r: r["kpis"]["directive_latency_ms"]["p95"]),
    ("false_lockdowns", "lower", lambda r: r["kpis"]["false_lockdowns"]),
    ("lockdowns", "lower", lambda r: r["kpis"]["lockdowns"]),
    ("mode_changes", "lower", lambda r: r["kpis"]["mode_changes"]),
    ("directives", "lower", lambda r: r["kpis"]["directives"]),
    ("worker_hours", "lower", lambda r: r["kpis"]["worker_hours"]),
    ("hypothesis_held_share", "higher", lambda r: 1.0 if r["outcome"]["hypothesis_held"] else 0.0),
)


@dataclass(frozen=True)
class Side:
    """A policy set as the paths it compiles from (workers compile their own copy)."""

    paths: tuple[str, ...]


@functools.lru_cache(maxsize=4)
def compiled(paths: tuple[str, ...]) -> PolicySet:
    """The policy set of files and directories, or of one bundle (a .json file); cached per process."""
    import ballast
    from ballast.cli.commands import expand

    if len(paths) == 1 and paths[0].endswith(".json"):
        return ballast.load(paths[0])
    return ballast.compile(expand(list(paths)))


def decisions(result: RunResult, scenario: Scenario) -> list[Decision]:
    return [
        Decision(r.t_s, iso(scenario.start + r.t_s), r.seq, r.policy, r.rule, r.action, r.targets, r.event)
        for r in result.directives
    ]


def run_pair(scenario: Scenario, baseline: Side, candidate: Side, seed: int) -> dict[str, Any]:
    """Both sides on one seed: their reports and the rule decision diff of the seed."""
    out: dict[str, Any] = {"seed": seed}
    runs = {}
    for name, side in (("baseline", baseline), ("candidate", candidate)):
        policies = compiled(side.paths)
        runs[name] = (Simulation(scenario, policies, seed=seed).run(), rule_keys(policies))
        out[name] = runs[name][0].report
    (base_run, base_rules), (cand_run, cand_rules) = runs["baseline"], runs["candidate"]
    out["rules"] = diff_decisions(
        decisions(base_run, scenario),
        decisions(cand_run, scenario),
        baseline_rules=base_rules,
        candidate_rules=cand_rules,
        seed=seed,
    )
    return out


def shadow(
    scenario: Scenario,
    baseline: Side,
    candidate: Side,
    *,
    seeds: int,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """The `ballast.shadow/1` report over `seeds` seeds (the scenario's seed and the next ones)."""
    seed_list = [scenario.seed + k for k in range(seeds)]
    # compile once here: a policy error is reported before any worker starts
    base_set, cand_set = compiled(baseline.paths), compiled(candidate.paths)
    pairs: list[dict[str, Any]] = []
    if workers <= 1:
        for done, seed in enumerate(seed_list, 1):
            pairs.append(run_pair(scenario, baseline, candidate, seed))
            if progress:
                progress(done, len(seed_list))
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(run_pair, scenario, baseline, candidate, seed) for seed in seed_list]
            for done, future in enumerate(futures, 1):
                pairs.append(future.result())
                if progress:
                    progress(done, len(seed_list))
    return _report(scenario, base_set, cand_set, pairs)


def _report(scenario: Scenario, base_set: PolicySet, cand_set: PolicySet, pairs: list[dict[str, Any]]) -> dict[str, Any]:
    kpis = []
    for name, better, read in KPIS:
        result = compare([read(p["baseline"]) for p in pairs], [read(p["candidate"]) for p in pairs], better)
        kpis.append(_rounded_kpi(name, result))
    first = pairs[0]
    return {
        "format": REPORT_FORMAT,
        "scenario": scenario_header(scenario, scenario.seed),
        "seeds": [p["seed"] for p in pairs],
        "baseline": {"policies": policy_list(base_set)},
        "candidate": {"policies": policy_list(cand_set)},
        "kpis": kpis,
        "rules": merge_rule_diffs([p["rules"] for p in pairs]),
        "example": {
            "seed": first["seed"],
            "baseline": first["baseline"]["timeline"],
            "candidate": first["candidate"]["timeline"],
            "baseline_modes": first["baseline"]["modes"],
            "candidate_modes": first["candidate"]["modes"],
            "baseline_directives": first["baseline"]["directives"],
            "candidate_directives": first["candidate"]["directives"],
            "faults": first["baseline"]["faults"],
        },
    }


def _rounded_kpi(name: str, result: dict[str, Any]) -> dict[str, Any]:
    ci = result["ci95"]
    return {
        "kpi": name,
        **result,
        "baseline_mean": rounded(result["baseline_mean"]),
        "candidate_mean": rounded(result["candidate_mean"]),
        "difference": rounded(result["difference"]),
        "ci95": [rounded(ci[0]), rounded(ci[1])] if ci is not None else None,
    }
