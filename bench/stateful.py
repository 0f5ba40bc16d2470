"""The stateful benchmark: the catalog watchdog policy in an Engine over 10,000 keys.

    python -m bench.stateful              # full run (about 4 minutes; the traced warm-up takes half)
    python -m bench.stateful --quick      # smoke run (about 30 s; 2,000 keys; numbers are rough)
    python -m bench.stateful --markdown   # the table as Markdown (for docs/performance.md)
    python -m bench.stateful --profile    # also: where Engine.process spends its time (cProfile)

The workload is `catalog/watchdog.bal` (9 rules grouped by pool: hysteresis, `for`, `keep`,
cooldowns, `at most`, 11 window aggregates up to a 10-minute anomaly detector) run by
`ballast.runtime.engine.Engine`. Every key (an orchestration pool) sends one watchdog sample
every 15 s of event time, spread evenly over the 15 s, so each event's windows hold what they
hold in production: 2 samples for 30 s, 4 for 1 m, 20 for 5 m, 40 for the 10-minute anomaly
window. About 1% of the pools are in an incident at any time (a queue at the warning or critical
level, lost workers, high latency, an error burst, a latency spike, a stalled scheduler, a
starved trigger mesh, a policy cascade), so rules go pending, fire, resolve and are held back.

Method (the same as bench/spine.py; the timing is bench/harness.py's): the engine is first
warmed up for 42 rounds (10 minutes of windows plus the 30 s lateness), so every window is
full. Each run then times a fresh stretch of the stream (time only moves forward, so no event
is replayed): events/s from an un-instrumented pass (`for ev in events: engine.process(ev)`),
and p50/p95/p99 from a second pass that times every event with `perf_counter_ns` (the clock
pair's cost measured and subtracted). A third pass hands the engine each round as one
`TrustedEvents` batch (`Engine.process_many`, the schema checked once per batch, as the
simulator does). Every number is the median of the runs, with
`gc.collect()` before each run. The events of a pass are generated before it starts.

Memory per key is tracemalloc's count of what the warm-up left allocated (the engine's state:
histories, rule states, each key's last event, cooldowns), divided by the keys: tracing starts
before the engine is built and the warm-up runs under it (so the warm-up is slower; it is not
timed). `Engine.snapshot()` is timed on the warmed-up engine, with `json.dumps` of the result and
`Engine.restore(json.loads(...))` beside it.
"""

from __future__ import annotations

import gc
import json
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import ballast
from ballast.runtime.batch import Column, TrustedEvents
from ballast.runtime.engine import Engine
from ballast.runtime.keys import Context
from bench.harness import (
    ROOT,
    BenchReport,
    clock,
    cprofile_text,
    fmt_rate,
    head_lines,
    latency_us,
    load_average,
    median_ms,
    parse_arguments,
    plain_pass,
    progress,
    report_head,
    report_tail,
    repository_relative,
    timer_overhead_ns,
)

POLICY = ROOT / "catalog" / "watchdog.bal"
T0 = 1_763_200_800.0  # 2025-11-15T10:00:00Z
PERIOD = 15.0  # the watchdog's check interval (seed 004)
WARMUP_ROUNDS = 42  # the longest window (10 m) plus the lateness (30 s), in 15 s rounds

Event = dict[str, Any]


@dataclass(frozen=True)
class Settings:
    quick: bool
    keys: int
    runs: int
    rounds_per_pass: int  # each pass covers this many rounds of every key
    snapshot_repeats: int

    @classmethod
    def make(cls, quick: bool) -> Settings:
        if quick:
            return cls(True, 2_000, 3, 2, 3)
        return cls(False, 10_000, 7, 2, 5)


@dataclass
class Report(BenchReport):
    settings: Settings
    rows: list[tuple[str, str]] = field(default_factory=list)
    timer_ns: float = 0.0


# ---------------------------------------------------------------------------------------------
# the event stream


INCIDENTS = ("queue_warn", "queue_critical", "workers", "latency", "errors", "spike", "stall", "starve", "cascade")


@dataclass
class Pool:
    name: str
    source: str
    queue: int
    workers: int
    subscriptions: int
    dispatch: float  # tasks per second
    latency: float
    error_rate: float
    offset: float  # where in the 15 s round this pool reports
    phase: int
    dispatched: int = 0


class Fleet:
    """`keys` pools reporting every 15 s; a deterministic 1% of them in an incident at any time."""

    def __init__(self, keys: int, seed: int = 20251115) -> None:
        rng = random.Random(seed)
        self.rng = random.Random(seed + 1)
        self.pools = [
            Pool(
                name=f"pool-{i:05d}",
                source=f"watchdog-{i % 100:02d}",
                queue=rng.randint(50, 600),
                workers=rng.randint(8, 32),
                subscriptions=rng.randint(8, 40),
                dispatch=rng.uniform(5, 40),
                latency=rng.uniform(60, 180),
                error_rate=rng.uniform(0.0005, 0.004),
                offset=PERIOD * i / keys,
                phase=rng.randrange(400),
            )
            for i in range(keys)
        ]
        self.sequence: dict[str, int] = {}
        self.round = 0

    def incident(self, pool: Pool, r: int) -> str:
        """Every 10th pool has a 4-minute incident once every 100 minutes: 1% of pools at any time."""
        if int(pool.name[-5:]) % 10:
            return ""
        at = (r + pool.phase) % 400
        return INCIDENTS[(int(pool.name[-5:]) // 10 + (r + pool.phase) // 400) % len(INCIDENTS)] if at < 16 else ""

    def next_round(self) -> list[Event]:
        r, rng, events = self.round, self.rng, []
        self.round += 1
        for p in self.pools:
            kind = self.incident(p, r)
            queue = max(0, p.queue + rng.randint(-40, 40))
            workers, subs, dispatch, depth = p.workers, p.subscriptions, p.dispatch, rng.choice((0, 1, 1, 2))
            latency = p.latency * rng.uniform(0.9, 1.1)
            errors = p.error_rate * rng.uniform(0.5, 1.5)
            if kind == "queue_warn":
                queue = 1000 + rng.randint(-60, 200)
            elif kind == "queue_critical":
                queue = 5200 + rng.randint(0, 600)
            elif kind == "workers":
                workers = max(1, p.workers // 3)
            elif kind == "latency":
                latency = 320 * rng.uniform(0.9, 1.2)
            elif kind == "errors":
                errors = 0.08 * rng.uniform(0.8, 1.2)
            elif kind == "spike" and (r + p.phase) % 400 == 8:
                latency = p.latency * 5
            elif kind == "stall":
                dispatch, queue = 0.3, 600 + rng.randint(0, 200)
            elif kind == "starve":
                subs = 3
            elif kind == "cascade" and (r + p.phase) % 400 in (4, 5):
                depth = 12
            p.dispatched += int(dispatch * PERIOD)
            seq = self.sequence[p.source] = self.sequence.get(p.source, 0) + 1
            events.append(
                {
                    "ts": T0 + r * PERIOD + p.offset,
                    "seq": seq,
                    "source": p.source,
                    "pool": p.name,
                    "htm_queue_depth": queue,
                    "workers": workers,
                    "subscriptions": subs,
                    "tasks_dispatched": p.dispatched,
                    "policy_depth": depth,
                    "latency_ms": round(latency, 1),
                    "error_rate": round(errors, 5),
                }
            )
        return events

    def rounds(self, n: int) -> list[Event]:
        out: list[Event] = []
        for _ in range(n):
            out += self.next_round()
        return out


# ---------------------------------------------------------------------------------------------
# measuring


@dataclass
class Tally:
    directives: int = 0
    engine_events: int = 0
    errors: int = 0
    events: int = 0

    def add(self, result: ballast.Result) -> None:
        self.events += 1
        self.directives += len(result.directives)
        self.engine_events += len(result.events)
        self.errors += len(result.errors)


def trusted(events: list[Event]) -> TrustedEvents:
    """A round as a simulator hands it over: one batch with its column summaries (the schema is
    checked once for the batch, runtime/batch.py)."""
    columns = {name: Column.of([ev[name] for ev in events]) for name in events[0]}
    return TrustedEvents(events, columns, producer="bench.stateful")


def warm_up(engine: Engine, fleet: Fleet, tally: Tally) -> None:
    for r in range(WARMUP_ROUNDS):
        for ev in fleet.next_round():
            tally.add(engine.process(ev))
        if r % 10 == 9:
            progress(f"  warm-up round {r + 1}/{WARMUP_ROUNDS}")


def timed_pass(engine: Engine, events: list[Event], tally: Tally) -> list[int]:
    """Each event's latency in nanoseconds, as harness.timed_pass, with every result kept for the tally."""
    process = engine.process
    lat: list[int] = []
    append = lat.append
    results = []
    for ev in events:
        t0 = clock()
        result = process(ev)
        append(clock() - t0)
        results.append(result)
    for result in results:
        tally.add(result)
    return lat


def aggregate_costs(engine: Engine, sample: int = 500, repeats: int = 5) -> str:
    """µs per call of each window aggregate the policy reads, over warmed-up keys (median of repeats)."""
    state = engine._engines[0]
    lines, total = [], 0.0
    for grouping in state.groupings:
        keys = [key for (g, _), key in state.keys.items() if state.groupings[g] == grouping][:sample]
        for slot, read in state.reads[grouping].items():
            times = []
            for _ in range(repeats):
                t0 = clock()
                for key in keys:
                    read(key.series, state.newest)
                times.append((clock() - t0) / max(len(keys), 1) / 1000)
            cost = statistics.median(times)
            total += cost
            lines.append(f"  {slot[1:]:<36} {cost:6.2f} µs")
    return "\n".join(
        [
            "window aggregates, µs per call (every event of a key computes all of them; the anomaly's",
            "running sums already sit at the window here, so its line leaves out sliding them):",
            *lines,
            f"  {'all aggregates of one event':<36} {total:6.2f} µs",
        ]
    )


def event_parts(engine: Engine, fleet: Fleet, repeats: int = 5) -> str:
    """Where one event's time goes, µs per event: the schema check, recording the samples,
    the window aggregates, the rule state machine with its conditions, and the rest of
    `Engine.process` (the stream's bookkeeping, keys, results). Each part is timed alone over a
    round of events (one per key), median of `repeats`; recording is timed once (time only moves
    forward), and `Engine.process` over fresh rounds. The parts add up only roughly to the whole."""
    state = engine._engines[0]
    policy, table, machine = state.policy, state.table, state.machine
    grouping = state.groupings[0]
    reads = table.reads[grouping]
    scratch = ballast.Result()
    events = fleet.next_round()
    data = [policy.prepare(ev, scratch) for ev in events]
    keys = [table.get(0, grouping, d) for d in data]
    newest = max(ev["ts"] for ev in events)

    def per_event(fn: Any, runs: int = repeats) -> float:
        times = []
        for _ in range(runs):
            t0 = clock()
            fn()
            times.append((clock() - t0) / len(events) / 1000)
        return statistics.median(times)

    def record() -> None:
        for key, d in zip(keys, data, strict=True):
            table.record(grouping, key, d, d["ts"], newest)

    def aggregates() -> None:
        for key in keys:
            context = Context(key.event, reads, key.series, newest)
            for slot in reads:
                context[slot]

    def step() -> None:
        for key in keys:
            machine.step(grouping, key, reads, newest, scratch, from_event=True)

    parts = {
        "schema check (Policy.prepare)": per_event(lambda: [policy.prepare(ev, scratch) for ev in events]),
        "record the samples (KeyTable.record)": per_event(record, 1),
        "window aggregates (all slots)": per_event(aggregates),
    }
    parts["rule state machine and conditions"] = per_event(step) - parts["window aggregates (all slots)"]
    rounds = [fleet.next_round() for _ in range(repeats)]
    whole = statistics.median(per_event(lambda r=r: [engine.process(ev) for ev in r], 1) for r in rounds)
    lines = [f"  {name:<38} {cost:6.2f} µs" for name, cost in parts.items()]
    return "\n".join(
        [
            "one event, µs (each part timed alone over a round, one event per key; the rest is",
            "Engine.process less the parts):",
            *lines,
            f"  {'the rest (stream, keys, results)':<38} {whole - sum(parts.values()):6.2f} µs",
            f"  {'Engine.process, whole':<38} {whole:6.2f} µs",
        ]
    )


def fmt_us(value: float) -> str:
    return f"{value:.1f} µs" if value < 1000 else f"{value / 1000:.2f} ms"


def run_bench(settings: Settings, profile: bool) -> Report:
    report = Report(settings)
    report.load_before = load_average()
    report.timer_ns = timer_overhead_ns()
    t0 = time.perf_counter()
    policies = ballast.compile([str(POLICY)])
    compile_ms = (time.perf_counter() - t0) * 1000
    rules = sum(len(p.rules) for p in policies.policies)
    fleet = Fleet(settings.keys)
    warm = Tally()

    progress(f"warm-up: {settings.keys} keys x {WARMUP_ROUNDS} rounds, under tracemalloc")
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    engine = Engine(policies)
    warm_up(engine, fleet, warm)
    gc.collect()
    state_bytes = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    keys = engine.stats[policies.policies[0].name]["keys"]

    progress(f"timing: {settings.runs} runs of {settings.rounds_per_pass} rounds per pass")
    rates, batched, p50, p95, p99 = [], [], [], [], []
    timed = Tally()
    for run in range(settings.runs):
        plain_events = fleet.rounds(settings.rounds_per_pass)
        timed_events = fleet.rounds(settings.rounds_per_pass)
        batches = [trusted(fleet.next_round()) for _ in range(settings.rounds_per_pass)]
        gc.collect()
        total = plain_pass(engine.process, plain_events)
        rates.append(len(plain_events) * 1e9 / total)
        q50, q95, q99 = latency_us(timed_pass(engine, timed_events, timed), report.timer_ns)
        gc.collect()
        total = plain_pass(engine.process_many, batches)  # the rounds after the timed pass: time moves on
        batched.append(sum(map(len, batches)) * 1e9 / total)
        p50.append(q50)
        p95.append(q95)
        p99.append(q99)
        progress(f"  run {run + 1}: {fmt_rate(rates[-1])} events/s ({fmt_rate(batched[-1])} batched), p95 {fmt_us(p95[-1])}")

    progress("snapshot")
    snap_ms, snap = median_ms(engine.snapshot, settings.snapshot_repeats)

    def without_gc() -> Any:
        gc.disable()
        try:
            return engine.snapshot()
        finally:
            gc.enable()

    snap_nogc_ms, _ = median_ms(without_gc, settings.snapshot_repeats)
    dumps_ms, text = median_ms(lambda: json.dumps(snap), settings.snapshot_repeats)
    restore_ms, restored = median_ms(lambda: Engine.restore(policies, json.loads(text)), settings.snapshot_repeats)
    parsed = json.loads(text)
    restore_parsed_ms, _ = median_ms(lambda: Engine.restore(policies, parsed), settings.snapshot_repeats)
    assert restored.snapshot() == json.loads(text), "the restored engine does not match its snapshot"
    del restored

    if profile:
        progress("profile")
        events = fleet.rounds(settings.rounds_per_pass)

        def process_all() -> None:
            for ev in events:
                engine.process(ev)

        listing = repository_relative(cprofile_text(process_all, 18))
        report.profile_text = "\n".join([aggregate_costs(engine), "", event_parts(engine, fleet), "", *listing])

    rate, batched_rate, q50, q95, q99 = (statistics.median(v) for v in (rates, batched, p50, p95, p99))
    stats = engine.stats[policies.policies[0].name]
    per_key = state_bytes / keys
    pass_events = settings.keys * settings.rounds_per_pass
    report.rows = [
        ("keys (pools) / rules", f"{keys:,} / {rules}"),
        ("Engine.process, events/s (one core)", fmt_rate(rate)),
        (f"Engine.process_many, trusted batches of {settings.keys:,} events, events/s", fmt_rate(batched_rate)),
        ("latency per event p50 / p95 / p99", f"{fmt_us(q50)} / {fmt_us(q95)} / {fmt_us(q99)}"),
        ("engine state after warm-up (tracemalloc)", f"{state_bytes / 1_048_576:.1f} MB"),
        ("memory per key", f"{per_key / 1024:.2f} KiB"),
        ("Engine.snapshot()", f"{snap_ms:.0f} ms ({snap_ms * 1000 / keys:.1f} µs per key)"),
        ("Engine.snapshot(), cyclic GC paused", f"{snap_nogc_ms:.0f} ms ({snap_nogc_ms * 1000 / keys:.1f} µs per key)"),
        (
            "json.dumps(snapshot)",
            f"{dumps_ms:.0f} ms, {len(text) / 1_048_576:.1f} MB ({len(text) / keys:.0f} B per key)",
        ),
        ("Engine.restore(json.loads(…))", f"{restore_ms:.0f} ms"),
        ("Engine.restore(parsed snapshot)", f"{restore_parsed_ms:.0f} ms"),
    ]
    report.notes = [
        f"policy: catalog/watchdog.bal, {rules} rules, compiled in {compile_ms:.0f} ms; every key reports every "
        f"{PERIOD:g} s of event time; warm-up {WARMUP_ROUNDS} rounds ({WARMUP_ROUNDS * settings.keys:,} events)",
        f"per timed pass: {pass_events:,} events ({settings.rounds_per_pass} rounds of every key); per 1,000 timed "
        f"events: {1000 * timed.directives / max(timed.events, 1):.1f} directives, "
        f"{1000 * timed.engine_events / max(timed.events, 1):.1f} engine events (RuleState, Suppressed, "
        f"TelemetryGap), {timed.errors} problems",
        f"engine counters at the end: {', '.join(f'{k} {v:,}' for k, v in stats.items())}",
        f"memory: {state_bytes:,} bytes still allocated after the warm-up, tracemalloc started before the Engine was "
        "built; the compiled PolicySet is not counted",
    ]
    report.targets = [
        (f"≥ 25k events/s on one core (watchdog policy, {keys:,} keys)", f"{fmt_rate(rate)} events/s", rate >= 25_000),
        (f"≥ 50k events/s on one core, {keys:,} keys (issue 12)", f"{fmt_rate(rate)} events/s", rate >= 50_000),
        ("P95 ≤ 5 ms per event", f"P95 {fmt_us(q95)}", q95 <= 5000),
        (f"Engine.snapshot() of {keys:,} keys < 0.5 s (issue 12)", f"{snap_ms:.0f} ms", snap_ms < 500),
        (f"Engine.restore of {keys:,} keys < 0.5 s (issue 12)", f"{restore_parsed_ms:.0f} ms", restore_parsed_ms < 500),
    ]
    report.load_after = load_average()
    return report


def render(report: Report, markdown: bool) -> str:
    s = report.settings
    method = (
        f"median of {s.runs} runs, each over fresh events; events/s from an un-instrumented pass, "
        f"percentiles from a per-event-timed pass minus the {report.timer_ns:.0f} ns clock overhead"
    )
    head = head_lines("stateful", s.quick, method, (report.load_before, report.load_after))
    return "\n".join([*report_head(head, report.rows, markdown), "", *report_tail(report, markdown)])


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_arguments(
        argv,
        "stateful",
        __doc__,
        quick="a fast smoke run (2,000 keys); rough numbers",
        profile="also print a cProfile of Engine.process",
    )
    started = time.perf_counter()
    report = run_bench(Settings.make(args.quick), args.profile)
    report.elapsed_s = time.perf_counter() - started
    print(render(report, args.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
