"""Shadow runs: a baseline and a candidate policy set on the same seeded worlds, compared.

Each seed is simulated twice, once per policy set, with the same scenario and seed, so both
runs draw the same demand, risk and fault randomness (common random numbers) and differ only
through their decisions. Seeds run on an executor (`ballast.simulator.executors`: in order, in
worker processes, or on a Dask cluster); the results are gathered in seed order, so the report
does not depend on where the seeds ran.

A seed on which a stop condition cut either run short is compared over the common window: both
sides are run again to the earlier stop, without stop conditions (a run's prefix does not depend
on its length), so KPIs of unequal spans are never compared. The report lists those seeds.
The verdict is the gates' (`ballast.simulator.gates`), never "some KPI moved".
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import ballast
from ballast.paths import expand_policies
from ballast.runtime.engine import iso
from ballast.runtime.policy import PolicySet
from ballast.simulator.decisions import Decision, diff_decisions, merge_rule_diffs, policy_list, rule_keys
from ballast.simulator.executors import Executor, Sequential
from ballast.simulator.gates import KPI_BETTER, Gate, default_gates, evaluate, passed
from ballast.simulator.run import RunResult, Simulation, check_observable
from ballast.simulator.scenario import Scenario
from ballast.simulator.stats import compare
from ballast.simulator.tracking import rounded, scenario_header

REPORT_FORMAT = "ballast.shadow/1"

# How to read each compared KPI (gates.KPI_BETTER: which, in order, and which way is better).
READERS: dict[str, Callable[[dict[str, Any]], float | None]] = {
    "sla_adherence_pct": lambda r: r["kpis"]["sla_adherence_pct"],
    "error_rate": lambda r: r["kpis"]["error_rate"],
    "dropped": lambda r: r["kpis"]["dropped"],
    "time_to_mitigate_s": lambda r: r["kpis"]["time_to_mitigate_s"]["mean"],
    "directive_latency_p95_ms": lambda r: r["kpis"]["directive_latency_ms"]["p95"],
    "false_lockdowns": lambda r: r["kpis"]["false_lockdowns"],
    "lockdowns": lambda r: r["kpis"]["lockdowns"],
    "mode_changes": lambda r: r["kpis"]["mode_changes"],
    "directives": lambda r: r["kpis"]["directives"],
    "worker_hours": lambda r: r["kpis"]["worker_hours"],
    "hypothesis_held_share": lambda r: 1.0 if r["outcome"]["hypothesis_held"] else 0.0,
}


@dataclass(frozen=True)
class Side:
    """A policy set as the paths it compiles from (workers compile their own copy); a bundle is
    loaded only if the keyring at `trust` trusts it, or unverified with `allow_unsigned`."""

    paths: tuple[str, ...]
    trust: str | None = None
    allow_unsigned: bool = False


@functools.lru_cache(maxsize=4)
def compiled(paths: tuple[str, ...], trust: str | None = None, allow_unsigned: bool = False) -> PolicySet:
    """The policy set of files and directories, or of one bundle (a .json file); cached per process."""
    if len(paths) == 1 and paths[0].endswith(".json"):
        return ballast.load(paths[0], trust=trust, allow_unsigned=allow_unsigned)
    return ballast.compile(expand_policies(list(paths)))


def decisions(result: RunResult, scenario: Scenario) -> list[Decision]:
    return [
        Decision(r.t_s, iso(scenario.start + r.t_s), r.seq, r.policy, r.rule, r.action, r.targets, r.event)
        for r in result.directives
    ]


def run_pair(scenario: Scenario, baseline: Side, candidate: Side, seed: int) -> dict[str, Any]:
    """Both sides on one seed: their reports and the rule decision diff of the seed."""
    out: dict[str, Any] = {"seed": seed, "cut_short": []}
    runs = _run_sides(scenario, baseline, candidate, seed)
    stops = {name: run.report["outcome"]["stopped"] for name, (run, _) in runs.items()}
    cut = [(name, stop) for name, stop in stops.items() if stop is not None]
    if cut:
        window = min(float(stop["t_s"]) for _, stop in cut)
        out["cut_short"] = [
            {"seed": seed, "side": name, "t_s": stop["t_s"], "condition": stop["condition"], "compared_to_s": window}
            for name, stop in cut
        ]
        runs = _run_sides(replace(scenario, duration=window, stop=()), baseline, candidate, seed)
    for name, (run, _) in runs.items():
        out[name] = run.report
    (base_run, base_rules), (cand_run, cand_rules) = runs["baseline"], runs["candidate"]
    out["rules"] = diff_decisions(
        decisions(base_run, scenario),
        decisions(cand_run, scenario),
        baseline_rules=base_rules,
        candidate_rules=cand_rules,
        seed=seed,
    )
    return out


def _run_sides(scenario: Scenario, baseline: Side, candidate: Side, seed: int) -> dict[str, tuple[RunResult, Any]]:
    runs = {}
    for name, side in (("baseline", baseline), ("candidate", candidate)):
        policies = compiled(side.paths, side.trust, side.allow_unsigned)
        runs[name] = (Simulation(scenario, policies, seed=seed).run(), rule_keys(policies))
    return runs


def shadow(
    scenario: Scenario,
    baseline: Side,
    candidate: Side,
    *,
    seeds: int,
    executor: Executor | None = None,
    gates: tuple[Gate, ...] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """The `ballast.shadow/1` report over `seeds` seeds (the scenario's seed and the next ones).

    `executor` runs the seeds (default: `Sequential`); `progress(done, total)` as each completes.
    `gates` decide `outcome.passed`; None: the scenario's `gates:`, else `gates.default_gates()`.
    Raises CompileError when a probe reads a metric one side does not run (no threat document).
    """
    seed_list = [scenario.seed + k for k in range(seeds)]
    # compile and check once here: a policy error is reported before any worker starts
    base_set = compiled(baseline.paths, baseline.trust, baseline.allow_unsigned)
    cand_set = compiled(candidate.paths, candidate.trust, candidate.allow_unsigned)
    check_observable(scenario, base_set, "the baseline")
    check_observable(scenario, cand_set, "the candidate")
    task = functools.partial(run_pair, scenario, baseline, candidate)
    pairs = (executor or Sequential()).map(task, seed_list, progress)
    if gates is None:
        gates, source = (scenario.gates, "scenario") if scenario.gates else (default_gates(), "default")
    else:
        source = "--gate"
    return _report(scenario, base_set, cand_set, pairs, gates, source)


def _report(
    scenario: Scenario,
    base_set: PolicySet,
    cand_set: PolicySet,
    pairs: list[dict[str, Any]],
    gates: tuple[Gate, ...],
    source: str,
) -> dict[str, Any]:
    kpis, comparisons, measured = [], {}, set()
    for name, better in KPI_BETTER.items():
        read = READERS[name]
        base, cand = [read(p["baseline"]) for p in pairs], [read(p["candidate"]) for p in pairs]
        comparisons[name] = compare(base, cand, better)
        if any(v is not None for v in (*base, *cand)):
            measured.add(name)
        kpis.append(_rounded_kpi(name, comparisons[name]))
    verdicts = [evaluate(gate, comparisons[gate.kpi], measured=gate.kpi in measured) for gate in gates]
    first = pairs[0]
    return {
        "format": REPORT_FORMAT,
        "scenario": scenario_header(scenario, scenario.seed),
        "seeds": [p["seed"] for p in pairs],
        "baseline": {"policies": policy_list(base_set)},
        "candidate": {"policies": policy_list(cand_set)},
        "outcome": {"passed": passed(verdicts), "gates_from": source},
        "gates": verdicts,
        "cut_short": [c for p in pairs for c in p["cut_short"]],
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
