"""Rehearsing a rollout: the same plan, the same engine and gate code, in a SimPy world.

`rehearse(plan_ir, fleet_ir, scenario, seeds)` runs `ballast.fleet.engine.ActionRun` once per
seed, with simulated clusters (`SimulatedClusters`, a `ClusterAdapter`) and SimPy's clock: a
SimPy process steps the run and waits, in simulated time, until the step it asks for. Nothing
about gates, waves, ceilings, retries or rollback is re-implemented here: the rehearsal measures
the code that will run for real.

Telemetry is synthetic and seeded: a cluster's sample for an interval is drawn from
`random.Random("<seed>:<cluster>:<interval end>")`, so a seed always gives the same world, and
the report is byte-identical for the same inputs. The scenarios (`SCENARIOS`) add the faults the
issue lists: a bad bundle that raises the error-budget burn in one region, a noisy metric, a slow
cluster whose first pushes time out, a cluster that never reports.

The report: per seed the outcome, the time to promote (start to success), the time to detect a
bad bundle and roll it back (from the first push of the bad bundle to the run's failure and to
its rollback), the clusters exposed to the bad bundle before the abort, the waves over time and
the run's turning points (`events`: the gate failure that aborts it, a pause, the rollback);
over the seeds the false-abort rate (runs that failed when nothing was wrong) and means; and a
sweep: the same seeds with every float threshold of the gates scaled by each factor, showing how
those figures move, so a team tunes its gates before the real rollout.
"""

from __future__ import annotations

import copy
import functools
import random
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import simpy

from ballast.fleet.adapter import Inventory, PushFailed
from ballast.fleet.engine import ActionRun, RetryPolicy
from ballast.fleet.store import RunStore
from ballast.runtime.errors import UsageError
from ballast.runtime.fleet import Fleet, Plan
from ballast.simulator.executors import Executor, Progress, Sequential
from ballast.simulator.render.rehearsal import REHEARSAL as REHEARSAL_FORMAT

NEW, OLD = b"new-bundle", b"old-bundle"
DEFAULT_SWEEP = (0.5, 0.75, 1.0, 1.5, 2.0)
# The engine's steps that end or turn a run, as a report's `events[].kind`.
OUTCOME_STEPS = {
    "RunFailed": "failed",
    "RunPaused": "paused",
    "RunRolledBack": "rolled_back",
    "RunSucceeded": "succeeded",
}


@dataclass(frozen=True)
class Scenario:
    """What goes wrong in a rehearsal (`SCENARIOS`)."""

    name: str
    description: str
    bad_region: str | None = None  # the new bundle burns the error budget there: "first" = the canary's region
    noise: float = 0.05  # the standard deviation of the burn rate's noise
    slow_pushes: int = 0  # the first N pushes to the slow cluster time out
    silent: bool = False  # one cluster never reports

    @property
    def faulty(self) -> bool:
        """Whether aborting is the right outcome (a false abort is one where it is not)."""
        return self.bad_region is not None


SCENARIOS = {
    s.name: s
    for s in (
        Scenario("healthy", "nothing goes wrong"),
        Scenario("bad-bundle-region", "the new bundle burns the error budget 3x in the canary's region", "first"),
        Scenario("bad-bundle-late", "the new bundle burns the error budget 3x in the last region only", "last"),
        Scenario("noisy-metric", "nothing goes wrong, but the burn rate is noisy (sd 0.45)", noise=0.45),
        Scenario("slow-cluster", "one cluster's first 4 pushes time out", slow_pushes=4),
        Scenario("silent-cluster", "one cluster never reports telemetry", silent=True),
    )
}


class SimClock:
    """SimPy's clock as the engine's `Clock` (the SimPy process does the waiting)."""

    def __init__(self, env: simpy.Environment) -> None:
        self.env = env

    def now(self) -> float:
        return float(self.env.now)

    def sleep_until(self, when: float) -> None:  # never called: the SimPy process waits instead
        raise UsageError("a rehearsal waits in SimPy time, not on the clock")


class SimulatedClusters:
    """Clusters whose telemetry is drawn from a seeded model; a `ClusterAdapter`."""

    def __init__(self, fleet: Fleet, scenario: Scenario, seed: int, clock: SimClock, targets: Sequence[str]) -> None:
        self.fleet, self.scenario, self.seed, self.clock = fleet, scenario, seed, clock
        regions = list(dict.fromkeys(fleet.cluster(cid).region for cid in targets if fleet.cluster(cid)))
        self.bad_region = {"first": regions[0] if regions else None, "last": regions[-1] if regions else None}.get(
            scenario.bad_region or ""
        )
        # The odd ones out are picked from the targets by the seed: a different cluster each seed.
        picker = random.Random(f"{seed}:pick")
        self.slow = picker.choice(list(targets)) if scenario.slow_pushes and targets else None
        self.silent = picker.choice(list(targets)) if scenario.silent and targets else None
        self.running: dict[str, bytes] = {c.id: OLD for c in fleet.clusters}
        self.since: dict[str, float] = {}
        self.attempts: dict[str, int] = {}
        self.exposed: dict[str, float] = {}  # cluster → when it first ran the bad bundle

    def inventory(self, cluster_id: str) -> Inventory:
        c = self.fleet.cluster(cluster_id)
        return Inventory(cluster_id, c.control_plane if c else "", tuple(c.capabilities) if c else (), "")

    def push(self, cluster_id: str, bundle: bytes) -> bool:
        self.attempts[cluster_id] = self.attempts.get(cluster_id, 0) + 1
        if cluster_id == self.slow and self.attempts[cluster_id] <= self.scenario.slow_pushes:
            raise PushFailed(f"cluster '{cluster_id}': push timed out (slow cluster)")
        if self.running[cluster_id] == bundle:
            return False
        self.running[cluster_id], self.since[cluster_id] = bundle, self.clock.now()
        if self._bad(cluster_id):
            self.exposed.setdefault(cluster_id, self.clock.now())
        return True

    def rollback(self, cluster_id: str, bundle: bytes) -> bool:
        if self.running[cluster_id] != bundle:
            return False
        self.running[cluster_id], self.since[cluster_id] = OLD, self.clock.now()
        return True

    def telemetry(self, cluster_id: str, start: float, end: float) -> list[dict[str, Any]]:
        if cluster_id == self.silent:
            return []
        rng = random.Random(f"{self.seed}:{cluster_id}:{end:.3f}")
        bad = self.running[cluster_id] == NEW and self._bad(cluster_id) and self.since[cluster_id] <= start
        burn = 3.0 if bad else 0.3
        return [
            {
                "t": end,
                "error_budget_burn": round(max(0.0, rng.gauss(burn, self.scenario.noise)), 4),
                "p95_latency_ms": round(max(1.0, rng.gauss(180.0 if bad else 120.0, 10.0)), 2),
                "error_rate": round(max(0.0, rng.gauss(0.02 if bad else 0.001, 0.0005)), 5),
                "directive_rate": round(max(0.0, rng.gauss(2.0, 0.2)), 3),
                "rule_faults": 0,
                "requests": 1000,
            }
        ]

    def _bad(self, cluster_id: str) -> bool:
        cluster = self.fleet.cluster(cluster_id)
        return self.bad_region is not None and cluster is not None and cluster.region == self.bad_region


def rehearse_once(
    plan_ir: Mapping[str, Any], fleet_ir: Mapping[str, Any], scenario: Scenario, seed: int
) -> dict[str, Any]:
    """One seed: the run's outcome and figures."""
    env = simpy.Environment()
    clock = SimClock(env)
    plan, fleet = Plan.from_ir(plan_ir), Fleet.from_ir(fleet_ir)
    clusters = SimulatedClusters(fleet, scenario, seed, clock, plan.targets())
    store = RunStore(":memory:")
    retry = RetryPolicy()
    run = ActionRun.start(store, f"seed-{seed}", dict(plan_ir), dict(fleet_ir), NEW, clusters, clock, retry=retry)

    def drive() -> Any:
        while True:
            wake = run.step()
            if wake is None:
                return
            yield env.timeout(max(0.0, wake - env.now))

    env.process(drive())
    env.run()
    steps = store.steps(run.run_id)
    state = run.state
    end = max((s[0] for s in steps), default=0.0)
    first_bad = min(clusters.exposed.values(), default=None)
    failed_at = next((s[0] for s in steps if s[2] == "RunFailed"), None)
    rolled_at = next((s[0] for s in steps if s[2] == "RunRolledBack"), None)
    waves = []
    names = [w.name for w in plan.waves]
    for index, name in enumerate(names):
        members = {c.cluster_id for c in run.clusters() if c.wave == index}
        started = [s[0] for s in steps if s[2] == "ClusterStarted" and s[1] in members]
        done = [s[0] for s in steps if s[1] in members]  # its clusters' last step: success, failure, rollback
        waves.append({"wave": name, "start": min(started, default=None), "end": max(done, default=None)})
    reason = run.reason if state != "succeeded" else ""
    store.close()
    # The run's turning points, each placed in the wave that was open (waves run one after another),
    # so the HTML chart marks where the gate failed, the run paused, or the rollback finished.
    events = []
    for at, _cluster, kind, detail in steps:
        if kind in OUTCOME_STEPS:
            open_waves = [w["wave"] for w in waves if w["start"] is not None and w["start"] <= at]
            events.append(
                {"t": at, "kind": OUTCOME_STEPS[kind], "wave": open_waves[-1] if open_waves else None, "detail": detail}
            )
    return {
        "seed": seed,
        "outcome": state,
        "reason": reason,
        "time_to_promote": end if state == "succeeded" else None,
        "time_to_detect": (failed_at - first_bad) if failed_at is not None and first_bad is not None else None,
        "time_to_roll_back": (rolled_at - first_bad) if rolled_at is not None and first_bad is not None else None,
        "exposed": len(clusters.exposed),
        "false_abort": state in ("failed", "rolled_back") and not scenario.faulty,
        "missed": state == "succeeded" and scenario.faulty,
        "waves": waves,
        "events": events,
    }


def scale_thresholds(plan_ir: Mapping[str, Any], factor: float) -> dict[str, Any]:
    """The plan with every float literal of its gates' conditions multiplied by `factor`."""
    scaled = copy.deepcopy(dict(plan_ir))

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("k") == "lit" and isinstance(node.get("v"), float):
                node["v"] = round(node["v"] * factor, 6)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for gate in scaled["gates"]:
        walk(gate.get("pass"))
        walk(gate.get("fail"))
    return scaled


def _mean(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.fmean(present), 3) if present else None


def summarize(runs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    n = len(runs)
    return {
        "runs": n,
        "succeeded": sum(r["outcome"] == "succeeded" for r in runs),
        "paused": sum(r["outcome"] == "paused" for r in runs),
        "false_abort_rate": round(sum(r["false_abort"] for r in runs) / n, 4) if n else None,
        "missed_rate": round(sum(r["missed"] for r in runs) / n, 4) if n else None,
        "time_to_promote_mean": _mean([r["time_to_promote"] for r in runs]),
        "time_to_detect_mean": _mean([r["time_to_detect"] for r in runs]),
        "time_to_roll_back_mean": _mean([r["time_to_roll_back"] for r in runs]),
        "exposed_mean": _mean([float(r["exposed"]) for r in runs]),
        "exposed_max": max((r["exposed"] for r in runs), default=0),
    }


def _rehearse_task(
    fleet_ir: Mapping[str, Any], scenario: Scenario, task: tuple[Mapping[str, Any], int]
) -> dict[str, Any]:
    plan_ir, seed = task
    return rehearse_once(plan_ir, fleet_ir, scenario, seed)


def rehearse(
    plan_ir: Mapping[str, Any],
    fleet_ir: Mapping[str, Any],
    scenario: str,
    seeds: int,
    *,
    first_seed: int = 0,
    sweep: Sequence[float] = DEFAULT_SWEEP,
    executor: Executor | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The rehearsal report (module docstring); raises UsageError for an unknown scenario or no seeds.

    `executor` runs the (factor, seed) tasks (default: `Sequential`); `progress(done, total)` as
    each completes."""
    if scenario not in SCENARIOS:
        raise UsageError(f"unknown scenario '{scenario}': the scenarios are {', '.join(SCENARIOS)}")
    if seeds < 1:
        raise UsageError(f"--seeds {seeds}: rehearse at least one seed")
    chosen = SCENARIOS[scenario]
    seed_list = range(first_seed, first_seed + seeds)
    # One task per (factor, seed), the factor-1 runs first: they are the report's runs. Every
    # task is seeded, so where it runs does not change its result.
    factors = [1.0, *(f for f in sweep if f != 1.0)]
    plans = {f: plan_ir if f == 1.0 else scale_thresholds(plan_ir, f) for f in factors}
    tasks = [(plans[f], s) for f in factors for s in seed_list]
    results = (executor or Sequential()).map(functools.partial(_rehearse_task, fleet_ir, chosen), tasks, progress)
    by_factor = {f: results[i * seeds : (i + 1) * seeds] for i, f in enumerate(factors)}
    runs = by_factor[1.0]
    swept = [{"factor": factor, **summarize(by_factor[factor])} for factor in sweep]
    return {
        "format": REHEARSAL_FORMAT,
        "plan": plan_ir["name"],
        "fleet": fleet_ir["name"],
        "clusters": len(fleet_ir["clusters"]),
        "targets": len(Plan.from_ir(plan_ir).targets()),
        "scenario": {"name": chosen.name, "description": chosen.description, "faulty": chosen.faulty},
        "seeds": list(seed_list),
        "summary": summarize(runs),
        "runs": runs,
        "sweep": swept,
    }


def render_markdown(report: Mapping[str, Any]) -> str:
    """The report as Markdown: the figures, the sweep, and the waves of the first seed over time."""
    s = report["summary"]
    lines = [
        f"# Rehearsal of {report['plan']} on {report['fleet']}",
        "",
        f"Scenario **{report['scenario']['name']}**: {report['scenario']['description']}. "
        f"{report['targets']} target clusters of {report['clusters']}, {len(report['seeds'])} seed(s).",
        "",
        "| figure | value |",
        "|---|---|",
        f"| succeeded | {s['succeeded']} of {s['runs']} |",
        f"| paused for a person | {s['paused']} |",
        f"| false-abort rate | {_shown(s['false_abort_rate'])} |",
        f"| bad bundle promoted (missed) | {_shown(s['missed_rate'])} |",
        f"| time to promote (mean, s) | {_shown(s['time_to_promote_mean'])} |",
        f"| time to detect (mean, s) | {_shown(s['time_to_detect_mean'])} |",
        f"| time to roll back (mean, s) | {_shown(s['time_to_roll_back_mean'])} |",
        f"| clusters exposed to the bad bundle (mean / max) | {_shown(s['exposed_mean'])} / {s['exposed_max']} |",
        "",
        "## Threshold sweep",
        "",
        "Every float threshold of the gates scaled by the factor, on the same seeds.",
        "",
        "| factor | succeeded | paused | false aborts | missed | promote (s) | detect (s) | exposed (mean) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in report["sweep"]:
        lines.append(
            f"| {row['factor']:g} | {row['succeeded']} | {row['paused']} | {_shown(row['false_abort_rate'])} "
            f"| {_shown(row['missed_rate'])} "
            f"| {_shown(row['time_to_promote_mean'])} | {_shown(row['time_to_detect_mean'])} | {_shown(row['exposed_mean'])} |"
        )
    first = report["runs"][0]
    # An indented block, not a fence: the report is pasted into pages and comments that fence it.
    lines += ["", f"## Waves over time (seed {first['seed']}: {first['outcome']})", ""]
    spans = [w for w in first["waves"] if w["start"] is not None]
    horizon = max((w["end"] or w["start"] for w in spans), default=0.0) or 1.0
    width = 60
    for w in first["waves"]:
        if w["start"] is None:
            lines.append(f"    {w['wave']:<10} | (never started)")
            continue
        a = int(w["start"] / horizon * width)
        b = max(a + 1, int((w["end"] if w["end"] is not None else horizon) / horizon * width))
        lines.append(
            f"    {w['wave']:<10} |{' ' * a}{'#' * (b - a)}{' ' * (width - b)}| {w['start']:g}s → {_shown(w['end'])}s"
        )
    lines.append("")
    return "\n".join(lines)


def _shown(value: Any) -> str:
    return "—" if value is None else f"{value:g}" if isinstance(value, float) else str(value)
