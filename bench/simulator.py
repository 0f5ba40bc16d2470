"""The simulator benchmark: `ballast simulate` against bare SimPy, and a day of 1,000 services.

    python -m bench.simulator              # full run (about 4 minutes: seven 24 h runs of the day)
    python -m bench.simulator --quick      # smoke run (about 15 s; the day is 1 h; numbers are rough)
    python -m bench.simulator --markdown   # the table as Markdown (for docs/performance.md)
    python -m bench.simulator --profile    # also: a cProfile of one hour of the day

The product target: a simulated day of 1,000 services with telemetry every 10 s (8.64 million
telemetry events through the Engine) runs in under 60 s.

Two workloads, each run in process as `Simulation(scenario, policy_set).run()`, the policies
compiled once before any timing:

1. The kernel: `catalog/scenarios/load-risk-spike.scenario.yaml` (90 minutes, telemetry every
   15 s, a load and a risk spike) with its three pools replicated to 100. A counting run first
   records every SimPy event the simulation processes (model steps, telemetry ticks, fault
   starts and ends, directive actuations, the processes' own start events) and every
   telemetry event it feeds to the Engine. The baseline is bare SimPy on the same machine, in
   the same process: the same processes with the same timeouts (a step chain, a telemetry
   chain that starts each recorded actuation's delay at its tick, the fault chains, the end),
   doing no work; its event count must equal the simulation's. The two are timed alternately.
2. The day: 1,000 services (300 critical, 398 standard and 300 batch pools via `replicas`, a
   standby and an overflow pool) with a diurnal load curve and four faults (a latency fault, a
   worker dropout, an evening rush on 10% of the pools and a TRP risk spike), run for 24 h with
   `catalog/motb.bal` and `catalog/gtbe.bal`: 86,400 model steps, 8,640 telemetry ticks,
   8.64 M per-pool events and 8,640 fleet events. Quick mode runs its first hour. Each run of
   the day alternates with a run of the same day without the simulator's columnar screen
   (`Simulation(screen=False)`: every event evaluated by the Engine), whose report must be
   the same: the ratio of the two is the screen's A/B.

Every number is the median of the runs, with `gc.collect()` before each; wall time (CPU time
beside it: on a shared machine the difference is other processes' load). Every timed run must
produce the same report byte for byte (the benchmark stops if not). Where the time goes comes
from one more run of the day's first hour with the simulator's parts wrapped in timers (the
Engine, building events, the model step, the Poisson demand draws, breach tracking, the
columnar screen, the rest: SimPy and glue); the timers' own cost is included in each part.

This is a benchmark, not a test: it asserts nothing about speed.
"""

from __future__ import annotations

import gc
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import simpy

import ballast
from ballast.runtime.policy import PolicySet
from ballast.simulator.run import Simulation
from ballast.simulator.scenario import Scenario, load_scenario, parse_scenario
from bench.harness import (
    ROOT,
    BenchReport,
    clock,
    cprofile_text,
    fmt_rate,
    head_lines,
    load_average,
    markdown_table,
    parse_arguments,
    progress,
    report_head,
    report_tail,
    repository_relative,
)

SCENARIOS = ROOT / "catalog" / "scenarios"
KERNEL_SCENARIO = SCENARIOS / "load-risk-spike.scenario.yaml"
KERNEL_POOLS = 100
TARGET_S = 60.0  # a day of 1,000 services at 10 s telemetry in under a minute
ISSUE_12_TARGET_S = 25.0  # issue 12: the same day in under 25 s

DAY = """\
scenario: bench.day-1000
description: a day of 1,000 services at 10 s telemetry; diurnal load, a slow zone, a dropout, an evening rush and a risk spike
seed: 2025
duration: 24h
telemetry: 10s
policies: [../motb.bal, ../gtbe.bal]
slo: {latency_ms: 250, error_rate: 0.01}

pools:
  - {name: api, class: critical, region: eu-west, workers: 10, max_workers: 40, service_ms: 50, rate: 100, replicas: 300}
  - {name: web, class: standard, region: eu-central, workers: 10, max_workers: 30, service_ms: 50, rate: 100, replicas: 398}
  - {name: jobs, class: batch, region: us-east, workers: 6, max_workers: 12, service_ms: 80, rate: 40, replicas: 300}
  - {name: standby, class: standard, region: eu-central, workers: 40, max_workers: 200, service_ms: 50, rate: 10}
  - {name: overflow, class: standard, region: eu-west, workers: 40, max_workers: 200, service_ms: 50, rate: 10}

load: {diurnal: 0.3}
risk: {trp: 30, noise: 2, reversion: 2m, cve: 2.0}

faults:
  - {name: slow-zone, kind: latency, at: 30m, duration: 20m, target: {region: [eu-central], mode: fixed, value: 20}, add_ms: 300}
  - {name: dropout, kind: kill-workers, at: 40m, duration: 10m, target: {class: [batch], mode: fixed, value: 5}, share: 0.5}
  - {name: evening-rush, kind: load-spike, at: 17h, duration: 2h, target: {class: [critical, standard], mode: percent, value: 10}, factor: 1.6, ramp: 5m}
  - {name: trp-spike, kind: risk-spike, at: 17h30m, duration: 30m, value: 83, ramp: 2m}
"""


@dataclass(frozen=True)
class Settings:
    quick: bool
    day_hours: int
    day_runs: int
    kernel_runs: int

    @classmethod
    def make(cls, quick: bool) -> Settings:
        return cls(True, 1, 3, 3) if quick else cls(False, 24, 3, 7)


@dataclass
class Report(BenchReport):
    settings: Settings
    rows: list[tuple[str, str]] = field(default_factory=list)
    parts: list[tuple[str, str, str]] = field(default_factory=list)  # part, share, cost per unit


# ---------------------------------------------------------------------------------------------
# the scenarios


def kernel_scenario() -> Scenario:
    """load-risk-spike with its pools replicated to KERNEL_POOLS (the faults target classes, not names)."""
    scenario = load_scenario(KERNEL_SCENARIO)
    base = scenario.pools
    pools = []
    for k, pool in enumerate(base):
        count = KERNEL_POOLS // len(base) + (k < KERNEL_POOLS % len(base))
        pools += [replace(pool, name=f"{pool.name}-{n:03d}") for n in range(1, count + 1)]
    return replace(scenario, pools=tuple(pools))


def day_scenario(hours: int) -> Scenario:
    scenario = parse_scenario(DAY, "bench/simulator.py:DAY", base=SCENARIOS)
    return replace(scenario, duration=hours * 3600.0)


# ---------------------------------------------------------------------------------------------
# the instrumented run: what a simulation does, and where its time goes


PARTS = (
    "Engine.process_many (the runtime)",
    "building events",
    "model step (numpy)",
    "Poisson demand draws",
    "breach tracking (every step)",
    "telemetry columns, fleet signals, tick tracking",
    "columnar screen (quiet pools proven)",
)


class _Timed:
    """A callable that adds the time of its calls to `spent[slot]` (ns) and counts them."""

    def __init__(self, fn: Callable[..., Any], spent: dict[str, int], slot: str) -> None:
        self.fn, self.spent, self.slot = fn, spent, slot
        spent.setdefault(slot, 0)
        self.calls = 0

    def __call__(self, *args: Any) -> Any:
        t0 = clock()
        result = self.fn(*args)
        self.spent[self.slot] += clock() - t0
        self.calls += 1
        return result


class _TimedBatch(_Timed):
    """A timed batch call (`Engine.process_many`): counts the events of its batches, not the calls."""

    def __call__(self, *args: Any) -> Any:
        result = super().__call__(*args)
        self.calls += len(args[0]) - 1
        return result


class _TimedRng:
    """The demand generator with its Poisson draws timed (the same draws: it delegates)."""

    def __init__(self, rng: Any, spent: dict[str, int]) -> None:
        self.poisson = _Timed(rng.poisson, spent, PARTS[3])


@dataclass
class Instrumented:
    """One instrumented run: its report, SimPy and Engine events, actuations (tick, delay), time by part."""

    report: str
    simpy_events: int
    engine_events: int  # evaluated by the Engine
    screened: int  # counted quiet by the simulator's columnar screen (simulator/screen.py)
    directives: int
    actuations: list[tuple[int, float]]
    end: float
    stopped: bool
    total_ns: int
    spent: dict[str, int]
    calls: dict[str, tuple[int, str]]  # part → (calls, what one call is)
    timer_ns: float  # what one timed call costs outside its own clock pair


def instrumented_run(scenario: Scenario, policies: PolicySet) -> Instrumented:
    """Run once with counters and timers attached as instance attributes (they shadow the methods:
    Environment.run calls self.step(), the telemetry and step processes bind what they call when
    they start, directives call self._after)."""
    sim = Simulation(scenario, policies)
    simpy_events = 0
    actuations: list[tuple[int, float]] = []
    env_step, after = sim.env.step, sim._after

    def counted_step() -> None:
        nonlocal simpy_events
        simpy_events += 1
        env_step()

    def recorded_after(delay: float, act: Callable[[float], None]) -> Any:
        actuations.append((sim.tick, delay))
        return after(delay, act)

    sim.env.step = counted_step  # type: ignore[method-assign]
    sim._after = recorded_after  # type: ignore[method-assign]
    spent: dict[str, int] = {}
    engine = _TimedBatch(sim.engine.process_many, spent, PARTS[0])
    sim.engine.process_many = engine  # type: ignore[method-assign]
    builds = [(name, _Timed(build, spent, PARTS[1])) for name, build in sim.builders]
    sim.builders = builds  # type: ignore[assignment]
    step = _Timed(sim.mesh.step, spent, PARTS[2])
    sim.mesh.step = step  # type: ignore[method-assign]
    rng = _TimedRng(sim.demand_rng, spent)
    sim.demand_rng = rng  # type: ignore[assignment]
    tracking = _Timed(sim.tracker.step, spent, PARTS[4])
    sim.tracker.step = tracking  # type: ignore[method-assign]
    columns = _Timed(sim.mesh.columns, spent, PARTS[5])
    sim.mesh.columns = columns  # type: ignore[method-assign]
    fleet = _Timed(sim._fleet, spent, PARTS[5])
    sim._fleet = fleet  # type: ignore[method-assign]
    tick = _Timed(sim.tracker.tick, spent, PARTS[5])
    sim.tracker.tick = tick  # type: ignore[method-assign]
    screens = [_Timed(screen.quiet, spent, PARTS[6]) for screen in sim.screens.values()]
    for screen, timed in zip(sim.screens.values(), screens, strict=True):
        screen.quiet = timed  # type: ignore[method-assign]
    spent.setdefault(PARTS[6], 0)
    gc.collect()
    t0 = clock()
    result = sim.run()
    total = clock() - t0
    calls = {
        PARTS[0]: (engine.calls, "event"),
        PARTS[1]: (sum(b.calls for _, b in builds), "input and tick"),
        PARTS[2]: (step.calls, "step"),
        PARTS[3]: (rng.poisson.calls, "step"),
        PARTS[4]: (tracking.calls, "step"),
        PARTS[5]: (tick.calls, "tick"),
        PARTS[6]: (sum(t.calls for t in screens), "input and tick"),
    }
    return Instrumented(
        report=json.dumps(result.report, sort_keys=True),
        simpy_events=simpy_events,
        engine_events=engine.calls,
        screened=sim.screened,
        directives=len(result.directives),
        actuations=actuations,
        end=sim.env.now,
        stopped=sim.stopped is not None,
        total_ns=total,
        spent=spent,
        calls=calls,
        timer_ns=timer_cost_ns(),
    )


def timer_cost_ns(n: int = 200_000) -> float:
    """The cost of one `_Timed` call beyond what its clock pair measures (median of 5)."""

    def nothing(*args: Any) -> None:
        return None

    costs = []
    for _ in range(5):
        timed = _Timed(nothing, {}, "x")
        t0 = clock()
        for _ in range(n):
            timed(1)
        outer = clock() - t0
        costs.append((outer - timed.spent["x"]) / n)
    return statistics.median(costs)


def timed_run(scenario: Scenario, policies: PolicySet, screen: bool | None = None) -> tuple[float, float, str]:
    """(wall s, CPU s, the report as sorted JSON) of one un-instrumented run (`screen`: Simulation's)."""
    sim = Simulation(scenario, policies, screen=screen)
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    result = sim.run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return wall, cpu, json.dumps(result.report, sort_keys=True)


def bare_simpy(scenario: Scenario, counted: Instrumented) -> tuple[float, int]:
    """(wall s, events) of the simulation's SimPy schedule with no model, telemetry or Engine work."""
    env = simpy.Environment()
    done = env.event()
    step, every, end = scenario.step, scenario.telemetry_every, counted.end
    by_tick: dict[int, list[float]] = {}
    for tick, delay in counted.actuations:
        by_tick.setdefault(tick, []).append(delay)

    def steps() -> Any:
        while True:
            yield env.timeout(step)

    def telemetry() -> Any:
        yield env.timeout(every)
        tick = 0
        while True:
            tick += 1
            for delay in by_tick.get(tick, ()):
                env.process(after(delay))
            if counted.stopped and env.now >= end:  # a stop condition ended the run here
                done.succeed()
                return
            yield env.timeout(every)

    def after(delay: float) -> Any:
        yield env.timeout(delay)

    def fault(at: float, over: float | None, duration: float) -> Any:
        yield env.timeout(at)
        if over is not None and over < duration:
            yield env.timeout(over)
            duration -= over
        yield env.timeout(duration)

    def finish() -> Any:
        yield env.timeout(scenario.duration)
        if not done.triggered:
            done.succeed()

    count = 0
    original = env.step

    def counted_step() -> None:
        nonlocal count
        count += 1
        original()

    env.process(steps())
    env.process(telemetry())
    for f in scenario.faults:
        env.process(fault(f.at, f.params["over"] if f.kind == "queue-flood" else None, f.duration))
    env.process(finish())
    env.step = counted_step  # type: ignore[method-assign]
    gc.collect()
    t0 = time.perf_counter()
    env.run(until=done)
    return time.perf_counter() - t0, count


def profile_day(scenario: Scenario, policies: PolicySet) -> str:
    sim = Simulation(scenario, policies)
    lines = repository_relative(cprofile_text(sim.run, 22))
    venv = next((line for line in lines if "site-packages/" in line), None)
    if venv is not None:
        prefix = venv[: venv.index("site-packages/")]
        prefix = prefix[prefix.rfind(" ") + 1 :]
        lines = [line.replace(prefix, "") for line in lines]
    return "\n".join(["cProfile of the day's first hour, by own time (cProfile inflates per-call costs):", *lines])


# ---------------------------------------------------------------------------------------------
# the benchmark


def same_reports(reports: list[str], what: str) -> None:
    if len(set(reports)) != 1:
        raise SystemExit(
            f"bench.simulator: the runs of {what} produced different reports; the simulation is not deterministic"
        )


def bench_kernel(report: Report, settings: Settings) -> None:
    scenario = kernel_scenario()
    policies = ballast.compile(list(scenario.policies))
    progress(f"kernel: instrumented run ({len(scenario.pools)} pools, {scenario.duration / 60:g} min)")
    counted = instrumented_run(scenario, policies)
    walls, bare_walls, reports = [], [], [counted.report]
    bare_events = 0
    for run in range(settings.kernel_runs):
        bare_wall, bare_events = bare_simpy(scenario, counted)
        wall, _cpu, text = timed_run(scenario, policies)
        bare_walls.append(bare_wall)
        walls.append(wall)
        reports.append(text)
        progress(f"  run {run + 1}: simulation {wall:.2f} s, bare SimPy {bare_wall * 1000:.1f} ms")
    same_reports(reports, "the kernel scenario")
    wall, bare_wall = statistics.median(walls), statistics.median(bare_walls)
    rate, bare_rate = counted.simpy_events / wall, bare_events / bare_wall
    report.rows += [
        (
            f"kernel: load-risk-spike × {len(scenario.pools)} pools, {scenario.duration / 60:g} min simulated",
            f"{wall:.2f} s wall ({scenario.duration / wall:,.0f}× real time)",
        ),
        (
            "SimPy events processed / telemetry events to the Engine",
            f"{counted.simpy_events:,} / {counted.engine_events:,} ({counted.directives:,} directives)",
        ),
        (
            "simulation: SimPy events/s / Engine events/s",
            f"{fmt_rate(rate)} / {fmt_rate(counted.engine_events / wall)}",
        ),
        (
            "bare SimPy, same schedule, no work: events/s",
            f"{fmt_rate(bare_rate)} ({bare_events:,} events in {bare_wall * 1000:.1f} ms)",
        ),
        ("simulation ÷ bare SimPy (SimPy events/s)", f"{rate / bare_rate:.4f} (1/{bare_rate / rate:,.0f})"),
    ]
    if bare_events != counted.simpy_events:
        report.notes.append(
            f"the bare SimPy schedule processed {bare_events:,} events, the simulation {counted.simpy_events:,}"
        )


def part_rows(run: Instrumented) -> list[tuple[str, str, str]]:
    """Each part's share of the instrumented run and its cost per call; the timers' own cost apart."""
    total = run.total_ns
    rows = []
    for part in PARTS:
        calls, unit = run.calls[part]
        ns = run.spent[part]
        rows.append((part, f"{100 * ns / total:.1f}%", f"{ns / max(calls, 1) / 1000:.2f} µs per {unit}"))
    timers = run.timer_ns * sum(calls for calls, _ in run.calls.values())
    rest = total - sum(run.spent.values()) - timers
    rows.append(("the rest: SimPy, directives, risk signal, glue", f"{100 * rest / total:.1f}%", ""))
    rows.append(
        ("the timers of this breakdown (estimated)", f"{100 * timers / total:.1f}%", f"{run.timer_ns:.0f} ns per call")
    )
    return rows


def bench_day(report: Report, settings: Settings, profile: bool) -> None:
    scenario = day_scenario(settings.day_hours)
    t0 = time.perf_counter()
    policies = ballast.compile(list(scenario.policies))
    compile_ms = (time.perf_counter() - t0) * 1000
    progress(f"day: instrumented run ({len(scenario.pools):,} pools, {settings.day_hours} h)")
    counted = instrumented_run(scenario, policies)
    report.parts = part_rows(counted)
    walls, cpus, reports = [], [], [counted.report]
    plain_walls: list[float] = []
    for run in range(settings.day_runs):
        wall, cpu, text = timed_run(scenario, policies)
        walls.append(wall)
        cpus.append(cpu)
        reports.append(text)
        # the same day with every event evaluated (no columnar screen), alternating: the A/B of the screen
        plain_wall, _cpu, text = timed_run(scenario, policies, screen=False)
        plain_walls.append(plain_wall)
        reports.append(text)
        progress(f"  run {run + 1}: {wall:.1f} s wall, {cpu:.1f} s CPU; without the screen {plain_wall:.1f} s wall")
    same_reports(reports, "the day (with and without the screen)")
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    plain_wall = statistics.median(plain_walls)
    steps = round(scenario.duration / scenario.step)
    ticks = round(scenario.duration / scenario.telemetry_every)
    engine_us = counted.spent[PARTS[0]] / max(counted.engine_events, 1) / 1000
    label = (
        f"day: {len(scenario.pools):,} services, {settings.day_hours} h, telemetry every {scenario.telemetry_every:g} s"
    )
    report.rows += [
        (label, f"{wall:.1f} s wall, {cpu:.1f} s CPU ({scenario.duration / wall:,.0f}× real time)"),
        ("model steps / telemetry ticks / SimPy events", f"{steps:,} / {ticks:,} / {counted.simpy_events:,}"),
        (
            "telemetry events: evaluated by the Engine / counted quiet by the screen",
            f"{counted.engine_events:,} / {counted.screened:,} "
            f"({fmt_rate((counted.engine_events + counted.screened) / wall)} per wall second)",
        ),
        ("directives", f"{counted.directives:,} ({len(counted.actuations):,} actuated)"),
        (
            "the same day without the columnar screen (every event evaluated)",
            f"{plain_wall:.1f} s wall; with the screen ÷ without: {wall / plain_wall:.2f}",
        ),
    ]
    engine_s = engine_us * counted.engine_events / 1e6
    report.notes += [
        f"policies: catalog/motb.bal (per-pool input `telemetry`) and catalog/gtbe.bal (fleet input `signals`), "
        f"compiled once in {compile_ms:.0f} ms",
        f"the instrumented run took {counted.total_ns / 1e9:.1f} s; at its {engine_us:.2f} µs per event the Engine "
        f"alone accounts for about {engine_s:.0f} s of the median {wall:.1f} s",
    ]
    for target in (TARGET_S, ISSUE_12_TARGET_S):
        what = f"a day of 1,000 services at 10 s telemetry (8.64 M events) in ≤ {target:.0f} s"
        if settings.quick:
            estimate = wall * 24 / settings.day_hours
            report.targets.append((what, f"{estimate:.0f} s (estimated: the 1 h run × 24)", estimate <= target))
        else:
            report.targets.append((what, f"{wall:.1f} s wall (median of {settings.day_runs})", wall <= target))
    if profile:
        progress("day: profile (one hour)")
        report.profile_text = profile_day(day_scenario(1), policies)


def render(report: Report, markdown: bool) -> str:
    s = report.settings
    method = (
        f"medians of {s.kernel_runs} kernel runs (alternating with bare SimPy) and {s.day_runs} runs of the day; "
        "every run's report identical"
    )
    head = head_lines(
        "simulator",
        s.quick,
        method,
        (report.load_before, report.load_after),
        quick_note="rough numbers, the day is 1 h",
        software=f"; SimPy {simpy.__version__}, numpy {_numpy_version()}",
    )
    out = report_head(head, report.rows, markdown)
    if markdown:
        header = ("where the day's time goes (the instrumented run)", "share", "cost")
        out += ["", *markdown_table(header, report.parts)]
    else:
        out += ["", "where the day's time goes (the instrumented run):"]
        width = max(len(a) for a, _, _ in report.parts)
        out += [f"  {a.ljust(width)}  {b:>6}  {c}" for a, b, c in report.parts]
    return "\n".join([*out, "", *report_tail(report, markdown)])


def _numpy_version() -> str:
    import numpy

    return numpy.__version__


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_arguments(
        argv,
        "simulator",
        __doc__,
        quick="a fast smoke run (the day is 1 h); rough numbers",
        profile="also print a cProfile of one hour of the day",
    )
    settings = Settings.make(args.quick)
    started = time.perf_counter()
    report = Report(settings)
    report.load_before = load_average()
    bench_kernel(report, settings)
    bench_day(report, settings, args.profile)
    report.load_after = load_average()
    report.elapsed_s = time.perf_counter() - started
    print(render(report, args.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
