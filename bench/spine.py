"""The spine benchmark: Ballast's compiled evaluators against hand-written Python and the interpreter.

    python -m bench.spine              # full run (about 2 minutes)
    python -m bench.spine --quick      # smoke run (under 20 s; numbers are rough)
    python -m bench.spine --markdown   # the table as Markdown (for docs/performance.md)
    python -m bench.spine --profile    # also: where PolicySet.evaluate spends its time (1000 rules)

Everything is measured in one process, so the ratios against hand-written Python are
meaningful even on a noisy machine. Workloads:

1. one expression, `load > 0.8 && risk > 80`: `ballast.compile_expression` vs a lambda vs the
   IR interpreter, timed in batches of calls (per-call timing would swamp ~50 ns calls);
2. the catalog policy `catalog/motb.bal` on its sample events and on generated telemetry;
3. generated per-service SLO policy sets of 10, 100 and 1000 rules, tuned so that about 1% of
   the rules fire per event.

For every policy-set line: events/s from an un-instrumented pass over the event stream, and
p50/p95/p99 latency from a second pass timing each event with `perf_counter_ns` (the cost of
the clock pair is measured and subtracted). Each number is the median of several repeated runs,
with the implementations interleaved inside every run and `gc.collect()` before each run.
Memory is the traced allocation (tracemalloc) of building the PolicySet from an already-parsed
bundle with `ballast.runtime.from_bundle`, the PolicySet kept alive.

This is a benchmark, not a test: it checks that every implementation fires the same rules on
the events it is timed on (and stops if not), but asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ballast
from ballast.compiler.expression import check_expression
from ballast.compiler.pipeline import compile_paths
from ballast.runtime import PolicySet, from_bundle
from ballast.runtime.bundle import dump_bundle
from ballast.runtime.interpret import evaluate as interpret

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "catalog"
clock = time.perf_counter_ns
STARTED = time.perf_counter()

Event = dict[str, Any]


# ---------------------------------------------------------------------------------------------
# settings and results


@dataclass(frozen=True)
class Settings:
    quick: bool
    runs: int  # repeated runs; every reported number is the median over them
    pass_seconds: float  # the target duration of one timed pass of one implementation
    min_events: int  # at least this many events per pass (percentiles need a few)
    max_events: int
    stream_size: int  # distinct generated events per stream (cycled when a pass needs more)
    calibration_events: int  # per-service sample used to place thresholds
    sizes: tuple[int, ...]

    @classmethod
    def make(cls, quick: bool) -> Settings:
        if quick:
            return cls(True, 5, 0.01, 60, 20_000, 3_000, 800, (10, 100, 1000))
        return cls(False, 7, 0.22, 300, 400_000, 20_000, 4_000, (10, 100, 1000))


@dataclass
class Row:
    workload: str
    impl: str
    events_per_s: float
    p50_us: float
    p95_us: float
    p99_us: float
    ratio: float | None = None  # time per event relative to hand-written Python (1.0 = as fast)
    memory: str = ""
    ns_per_eval: float | None = None  # workload 1 only


@dataclass
class Report:
    settings: Settings
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    timer_ns: float = 0.0
    loop_ns: float = 0.0
    targets: list[tuple[str, str, bool]] = field(default_factory=list)
    elapsed_s: float = 0.0
    profile: bool = False
    profile_text: str = ""
    load_before: str = ""
    load_after: str = ""


def progress(message: str) -> None:
    print(f"[bench {time.perf_counter() - STARTED:5.1f}s] {message}", file=sys.stderr, flush=True)


def source_state() -> str:
    """The commit measured, and whether the core's working tree differs from it."""
    import subprocess

    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "runtime", "compiler", "dsl", "ballast"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"
    return f"commit {head}" + (" with uncommitted changes to the core" if dirty else "")


def load_average() -> str:
    try:
        return "/".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted sequence."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


# ---------------------------------------------------------------------------------------------
# the timing harness


def timer_overhead_ns() -> float:
    """The median cost of `t0 = clock(); ...; clock() - t0` with nothing in between."""
    samples = []
    for _ in range(7):
        lat = []
        append = lat.append
        for _ in range(20_000):
            t0 = clock()
            append(clock() - t0)
        lat.sort()
        samples.append(lat[len(lat) // 2])
    return statistics.median(samples)


def plain_pass(fn: Callable[[Any], Any], stream: list[Any]) -> int:
    """Nanoseconds for `fn(ev)` over the stream, nothing else in the loop."""
    t0 = clock()
    for ev in stream:
        fn(ev)
    return clock() - t0


def timed_pass(fn: Callable[[Any], Any], stream: list[Any]) -> list[int]:
    """Each event's latency in nanoseconds (timer overhead included)."""
    lat: list[int] = []
    append = lat.append
    for ev in stream:
        t0 = clock()
        fn(ev)
        append(clock() - t0)
    return lat


def cycled(events: list[Any], n: int) -> list[Any]:
    reps = -(-n // len(events))
    return (events * reps)[:n]


@dataclass
class Impl:
    name: str
    fn: Callable[[Any], Any]
    events: list[Any]
    stream: list[Any] = field(default_factory=list)
    rates: list[float] = field(default_factory=list)
    p50: list[float] = field(default_factory=list)
    p95: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)


def measure_set(impls: list[Impl], settings: Settings, timer_ns: float) -> None:
    """Events/s and latency percentiles of each implementation: median of `settings.runs` runs."""
    for impl in impls:  # warm up, then size each pass to about settings.pass_seconds
        warm = cycled(impl.events, 200)
        for ev in warm:
            impl.fn(ev)
        elapsed = plain_pass(impl.fn, warm)
        per_event = max(elapsed / len(warm), 1.0)
        n = int(settings.pass_seconds * 1e9 / per_event)
        impl.stream = cycled(impl.events, max(settings.min_events, min(settings.max_events, n)))
    for _ in range(settings.runs):
        gc.collect()  # once per run: a full collection takes ~0.1 s with 1000 rules' IR in the heap
        for impl in impls:  # interleaved, so drift in the machine's speed hits all of them alike
            total = plain_pass(impl.fn, impl.stream)
            impl.rates.append(len(impl.stream) * 1e9 / total)
            lat = timed_pass(impl.fn, impl.stream)
            lat.sort()
            impl.p50.append(max(percentile(lat, 0.50) - timer_ns, 0.0) / 1000)
            impl.p95.append(max(percentile(lat, 0.95) - timer_ns, 0.0) / 1000)
            impl.p99.append(max(percentile(lat, 0.99) - timer_ns, 0.0) / 1000)


def rows_for(workload: str, impls: list[Impl], hand: str) -> list[Row]:
    base = statistics.median(next(i for i in impls if i.name == hand).rates)
    out = []
    for impl in impls:
        rate = statistics.median(impl.rates)
        out.append(
            Row(
                workload,
                impl.name,
                rate,
                statistics.median(impl.p50),
                statistics.median(impl.p95),
                statistics.median(impl.p99),
                ratio=base / rate,
            )
        )
    return out


# ---------------------------------------------------------------------------------------------
# memory and loading


@dataclass
class Loaded:
    policy_set: PolicySet
    retained_bytes: int  # traced memory still allocated after from_bundle, the set kept alive
    peak_bytes: int  # the high-water mark while loading (fingerprint check, code generation)
    ir_bytes: int  # the parsed bundle dict (allocated before tracing); counted only if the set keeps it
    load_ms: float  # from_bundle wall time (untraced, median of 3)
    top_sites: list[str]


def load_measured(bundle: dict[str, Any]) -> Loaded:
    """Build the PolicySet from a parsed bundle under tracemalloc; see the module docstring."""
    raw = dump_bundle(bundle)
    times = []
    for _ in range(3):
        parsed = json.loads(raw)
        gc.collect()
        t0 = time.perf_counter()
        from_bundle(parsed)
        times.append((time.perf_counter() - t0) * 1000)
    parsed = json.loads(raw)  # the bundle dict first, outside the trace
    gc.collect()
    tracemalloc.start()
    policy_set = from_bundle(parsed)
    gc.collect()  # count only what the policy set keeps, not garbage cycles left by codegen
    retained, peak = tracemalloc.get_traced_memory()
    snapshot = tracemalloc.take_snapshot()
    tracemalloc.stop()
    top = [
        f"{stat.traceback[0].filename.rsplit('/', 2)[-1]}:{stat.traceback[0].lineno} {stat.size / 1024:.0f} KiB"
        for stat in snapshot.statistics("lineno")[:4]
    ]
    del snapshot
    gc.collect()
    tracemalloc.start()
    ir_copy = json.loads(raw)
    ir_bytes = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del ir_copy
    if policy_set.ir is None:  # the set dropped the bundle dict after building its code
        ir_bytes = 0
    return Loaded(policy_set, retained, peak, ir_bytes, statistics.median(times), top)


def mib(n: float) -> str:
    return f"{n / 1_048_576:.3f} MB"


def memory_cell(loaded: Loaded) -> str:
    if not loaded.ir_bytes:
        return mib(loaded.retained_bytes)
    return f"{mib(loaded.retained_bytes)} (+{loaded.ir_bytes / 1_048_576:.3f} IR)"


def memory_note(name: str, loaded: Loaded) -> str:
    return (
        f"{name}: from_bundle retains {mib(loaded.retained_bytes)} (peak {mib(loaded.peak_bytes)} while loading); "
        f"the parsed bundle dict it keeps adds {mib(loaded.ir_bytes)} (0: not kept); load takes {loaded.load_ms:.1f} ms; "
        f"largest allocation sites: {', '.join(loaded.top_sites)}"
    )


# ---------------------------------------------------------------------------------------------
# workload 1: one expression


EXPRESSION = "load > 0.8 && risk > 80"


def bench_expression(report: Report, settings: Settings) -> None:
    progress("workload 1: one expression")
    schema = {"load": "float", "risk": "float"}
    compiled = ballast.compile_expression(EXPRESSION, schema)
    ir, _ = check_expression(EXPRESSION, schema)
    rng = random.Random(1)
    batch = [{"load": rng.random(), "risk": rng.uniform(0, 100)} for _ in range(1000)]
    hand_expression = lambda ev: ev["load"] > 0.8 and ev["risk"] > 80  # noqa: E731  (the brief's baseline, verbatim)
    impls: list[tuple[str, Callable[[Event], Any]]] = [
        ("hand-written lambda", hand_expression),
        ("Ballast compile_expression", compiled),
        ("interpreter (IR walk)", lambda ev: interpret(ir, ev)),
    ]
    for _, fn in impls:
        if [fn(ev) for ev in batch] != [hand_expression(ev) for ev in batch]:
            raise SystemExit(f"workload 1: {fn} disagrees with hand-written Python")

    def batch_ns(fn: Callable[[Event], Any] | None, batches: int) -> list[float]:
        out = []
        gc.collect()
        if fn is None:
            for _ in range(batches):
                t0 = clock()
                for _ev in batch:
                    pass
                out.append((clock() - t0) / len(batch))
            return out
        for _ in range(batches):
            t0 = clock()
            for ev in batch:
                fn(ev)
            out.append((clock() - t0) / len(batch))
        return out

    sizes = {}
    for name, fn in impls:
        batch_ns(fn, 20)  # warm up
        per = statistics.median(batch_ns(fn, 20))
        sizes[name] = max(10, min(5000, int(settings.pass_seconds * 1e9 / (per * len(batch)))))
    loop_runs: list[float] = []
    stats: dict[str, dict[str, list[float]]] = {name: {"ns": [], "p50": [], "p95": [], "p99": []} for name, _ in impls}
    for _ in range(settings.runs):
        loop = batch_ns(None, 200)
        loop_ns = statistics.median(loop)
        loop_runs.append(loop_ns)
        for name, fn in impls:
            per = sorted(x - loop_ns for x in batch_ns(fn, sizes[name]))
            stats[name]["ns"].append(statistics.median(per))  # robust to a batch hit by a context switch
            for q in ("p50", "p95", "p99"):
                stats[name][q].append(percentile(per, int(q[1:]) / 100))
    report.loop_ns = statistics.median(loop_runs)
    hand_ns = statistics.median(stats["hand-written lambda"]["ns"])
    for name, _ in impls:
        ns = statistics.median(stats[name]["ns"])
        report.rows.append(
            Row(
                "1. `load > 0.8 && risk > 80`",
                name,
                1e9 / ns,
                statistics.median(stats[name]["p50"]) / 1000,
                statistics.median(stats[name]["p95"]) / 1000,
                statistics.median(stats[name]["p99"]) / 1000,
                ratio=ns / hand_ns,
                ns_per_eval=ns,
            )
        )
    compiled_ratio = statistics.median(stats["Ballast compile_expression"]["ns"]) / hand_ns
    report.targets.append(
        (
            "single expression: compiled within 1.2x of hand-written",
            f"{compiled_ratio:.2f}x ({statistics.median(stats['Ballast compile_expression']['ns']):.1f} ns vs {hand_ns:.1f} ns)",
            compiled_ratio <= 1.2,
        )
    )
    report.notes.append(
        f"workload 1: ns per evaluation = the median batch of {len(batch)} calls over varied events (divided by "
        f"{len(batch)}, the bare `for` loop's {report.loop_ns:.1f} ns per iteration subtracted), median of the runs; "
        f"percentiles are of the per-batch means"
    )


# ---------------------------------------------------------------------------------------------
# workload 2: the catalog policy


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


def bench_catalog(report: Report, settings: Settings) -> None:
    progress("workload 2: catalog/motb.bal")
    path = str(CATALOG / "motb.bal")
    t0 = time.perf_counter()
    compilation = compile_paths([path])
    compile_s = time.perf_counter() - t0
    assert ballast.compile([path]).rule_count == compilation.program.rule_count
    loaded = load_measured(compilation.bundle)
    ps = loaded.policy_set
    policy = ps.policies[0]
    names = [r.name for r in policy.rules]
    whens = [(r["name"], r["when"]) for r in compilation.bundle["ir"]["policies"][0]["rules"]]

    sample = [json.loads(line) for line in (CATALOG / "events.jsonl").read_text().splitlines() if line.strip()]
    valid = [ev for ev in sample if ps.evaluate(ev).ok]
    invalid = [ev for ev in sample if not ps.evaluate(ev).ok]
    generated = motb_events(settings.stream_size, seed=2)
    if not all(ps.evaluate(ev).ok for ev in generated):
        raise SystemExit("workload 2: a generated event failed validation")

    match_only = matcher(policy)
    interpreted = interpreter(whens)

    for ev in valid + generated[:2000]:
        expect = sorted(motb_by_hand(ev))
        got = {
            "evaluate": sorted({d.rule for d in ps.evaluate(ev).directives}),
            "match": sorted(names[i] for i in match_only(ev)),
            "interpreter": sorted(interpreted(ev)),
        }
        for what, fired in got.items():
            if fired != expect:
                raise SystemExit(f"workload 2: {what} fired {fired}, hand-written {expect}, for {ev}")

    for label, events in (("sample events", valid), ("generated events", generated)):
        impls = [
            Impl("hand-written Python", motb_by_hand, events),
            Impl("Ballast PolicySet.evaluate", ps.evaluate, events),
            Impl("Ballast match only", match_only, events),
            Impl("interpreter (IR walk)", interpreted, events),
        ]
        progress(f"  timing {label}")
        measure_set(impls, settings, report.timer_ns)
        rows = rows_for(f"2. motb.bal, {label}", impls, "hand-written Python")
        rows[1].memory = memory_cell(loaded)
        report.rows.extend(rows)
    bad = [Impl("Ballast PolicySet.evaluate", ps.evaluate, invalid)]
    measure_set(bad, settings, report.timer_ns)
    report.rows.extend(rows_for("2. motb.bal, invalid events", bad, "Ballast PolicySet.evaluate"))
    report.rows[-1].ratio = None
    fired_sample = statistics.fmean(len(motb_by_hand(ev)) for ev in valid)
    fired_gen = statistics.fmean(len(motb_by_hand(ev)) for ev in generated)
    report.notes.append(
        f"workload 2: {len(names)} rules; {len(valid)} valid sample events cycled ({fired_sample:.2f} rules fire per "
        f"event), {len(generated)} generated events ({fired_gen:.2f} fire per event), the {len(invalid)} invalid "
        f"sample events on their own line; compile {compile_s * 1000:.0f} ms"
    )
    report.notes.append(memory_note("workload 2 memory", loaded))


# ---------------------------------------------------------------------------------------------
# workload 3: generated per-service SLO policy sets

REGIONS = ("us-east", "us-west", "eu-west", "ap-south")
TIERS = ("critical", "standard", "batch")
QUEUE_MAX = 100_000_000

INPUT_BLOCK = """  input telemetry {
    service: string
    region: enum("us-east", "us-west", "eu-west", "ap-south")
    tier: enum("critical", "standard", "batch")
    latency_ms: float in [0, 600000]
    error_rate: float in [0, 1]
    load: float in [0, 1]
    queue_depth: int in [0, 100000000]
    risk: float in [0, 100]
  }"""
FIELDS = ("service", "region", "tier", "latency_ms", "error_rate", "load", "queue_depth", "risk")
INT_FIELDS = {"queue_depth"}


@dataclass(frozen=True)
class Service:
    name: str
    tier: str
    latency: float  # baseline p95 latency, ms
    errors: float  # baseline error rate
    load: float  # typical load
    queue: float  # typical queue depth


@dataclass(frozen=True)
class Template:
    kind: str
    filters: tuple[str, ...]  # equality filters: "region" (a random region) or "tier=batch"
    metrics: tuple[str, ...]  # thresholded fields, each `field > threshold`
    action: str
    impact: str


# `{n}` in an action is the rule's rank among the rules of the same kind and owner, so rules that
# differ only in thresholds escalate (scale by 1, 2, 3 …) rather than shadow each other.
SERVICE_TEMPLATES = (
    Template("latency_errors", (), ("latency_ms", "error_rate"), "scale(targets: service, by: {n})", "low"),
    Template("latency", (), ("latency_ms",), "scale(targets: service, by: {n})", "minimal"),
    Template("errors", (), ("error_rate",), 'reroute(targets: service, to: "standby", percent: {n}0.0)', "high"),
    Template("queue_load", (), ("queue_depth", "load"), "scale(targets: service, by: {n})", "moderate"),
    Template(
        "regional_latency",
        ("region",),
        ("latency_ms", "load"),
        'reroute(targets: service, to: "failover", percent: {n}0.0)',
        "high",
    ),
    Template("regional_errors", ("region",), ("error_rate",), "downgrade(targets: service, level: {n})", "moderate"),
    Template("risk_errors", (), ("risk", "error_rate"), "pause(targets: service, duration: {n}m)", "critical"),
)
GLOBAL_TEMPLATES = (
    Template("load_queue", (), ("load", "queue_depth"), "scale(targets: service, by: {n})", "low"),
    Template("batch_shed", ("tier=batch",), ("load",), "pause(targets: service, duration: {n}m)", "low"),
    Template(
        "risk_errors", (), ("risk", "error_rate"), 'reroute(targets: service, to: "quarantine", percent: {n}.0)', "high"
    ),
    Template("queue", (), ("queue_depth",), "scale(targets: service, by: {n})", "moderate"),
    Template(
        "regional_latency_load",
        ("region",),
        ("latency_ms", "load"),
        "downgrade(targets: service, level: {n})",
        "moderate",
    ),
    Template("critical_latency", ("tier=critical",), ("latency_ms",), "scale(targets: service, by: {n})", "high"),
)


@dataclass
class SloRule:
    name: str
    service: str | None
    equals: list[tuple[str, str]]
    above: list[tuple[str, float | int]]
    action: str
    impact: str
    priority: int

    def conjuncts(self) -> list[str]:
        parts = [f'service == "{self.service}"'] if self.service is not None else []
        parts += [f'{f} == "{v}"' for f, v in self.equals]
        parts += [f"{f} > {literal(f, v)}" for f, v in self.above]
        return parts


def literal(name: str, value: float | int) -> str:
    """A threshold as both Ballast and Python read it (no exponent notation)."""
    if name in INT_FIELDS:
        return str(int(value))
    text = f"{value:.6f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def nice(name: str, value: float) -> float | int:
    """Round a threshold the way a person writes one: three significant figures."""
    if name in INT_FIELDS:
        return int(float(f"{value:.3g}"))
    return max(float(f"{value:.3g}"), 0.0001)


def make_services(count: int, rng: random.Random) -> list[Service]:
    return [
        Service(
            f"svc-{i}",
            TIERS[i % 3],
            math.exp(rng.uniform(math.log(20), math.log(400))),
            math.exp(rng.uniform(math.log(0.0005), math.log(0.005))),
            rng.uniform(0.3, 0.7),
            math.exp(rng.uniform(math.log(10), math.log(500))),
        )
        for i in range(count)
    ]


def slo_event(svc: Service, rng: random.Random) -> Event:
    """One service's telemetry sample: a shared stress factor makes the metrics move together."""
    g = rng.gauss
    stress = g(0, 1)
    hot = max(stress, 0.0)
    return {
        "service": svc.name,
        "region": REGIONS[rng.randrange(4)],
        "tier": svc.tier,
        "latency_ms": min(600000.0, svc.latency * math.exp(0.3 * g(0, 1) + 0.4 * hot)),
        "error_rate": min(1.0, svc.errors * math.exp(0.8 * g(0, 1) + 0.5 * hot)),
        "load": min(1.0, max(0.0, svc.load + 0.1 * stress + 0.05 * g(0, 1))),
        "queue_depth": min(QUEUE_MAX, int(svc.queue * math.exp(0.7 * g(0, 1) + 0.8 * hot))),
        "risk": min(100.0, max(0.0, 30.0 + 15.0 * g(0, 1) + 10.0 * stress)),
    }


def place_thresholds(
    sample: list[Event], equals: list[tuple[str, str]], metrics: Sequence[str], target: float
) -> list[tuple[str, float | int]] | None:
    """Thresholds under which the rule holds for about `target` of the sample.

    Each threshold is a quantile of the events that pass the conditions before it, so the joint
    probability is right even though the metrics are correlated.
    """
    pool = [ev for ev in sample if all(ev[f] == v for f, v in equals)]
    if len(pool) < 100:
        return None
    need = target * len(sample) / len(pool)
    if need >= 1:
        return None
    share = need ** (1 / len(metrics))
    out: list[tuple[str, float | int]] = []
    for name in metrics:
        values = sorted(ev[name] for ev in pool)
        value = nice(name, values[min(len(values) - 1, int(len(values) * (1 - share)))])
        out.append((name, value))
        pool = [ev for ev in pool if ev[name] > value]
        if not pool:
            return None
    return out


@dataclass
class SloSet:
    size: int
    services: list[Service]
    rules: list[SloRule]
    source: str
    events: list[Event]


def make_slo_set(size: int, settings: Settings, seed: int) -> SloSet:
    """`size` rules: 80% per service (about 20 per service), 20% fleet-wide; ~1% fire per event."""
    rng = random.Random(seed)
    n_global = max(1, round(size * 0.2))
    n_service = size - n_global
    services = make_services(max(2, size // 25), rng)
    samples = {s.name: [slo_event(s, rng) for _ in range(settings.calibration_events)] for s in services}
    # the fleet-wide sample mixes the services as the event stream does; capped, as sorting it per rule adds up
    fleet = [ev for evs in samples.values() for ev in evs]
    fleet = rng.sample(fleet, min(len(fleet), settings.calibration_events * 4))
    rules: list[SloRule] = []
    ranks: dict[tuple[str, str], int] = {}

    def add(service: Service | None, template: Template, target: float) -> bool:
        equals = []
        for f in template.filters:
            if f == "region":
                equals.append(("region", rng.choice(REGIONS)))
            else:
                equals.append(tuple(f.split("=")))  # type: ignore[arg-type]
        sample = samples[service.name] if service else fleet
        above = place_thresholds(sample, equals, template.metrics, target)
        if above is None:
            return False
        owner = service.name.replace("-", "_") if service else "fleet"
        verb = template.action.split("(")[0]
        rank = ranks[(owner, verb)] = ranks.get((owner, verb), 0) + 1
        rules.append(
            SloRule(
                f"r{len(rules):04d}_{owner}_{template.kind}",
                service.name if service else None,
                equals,
                above,
                template.action.format(n=rank),
                template.impact,
                rng.randrange(10, 100),
            )
        )
        return True

    # Every rule fires on ~1% of events: a per-service rule sees only its service's share of them.
    for i in range(n_service):
        service = services[i % len(services)]
        target = min(0.95, 0.01 * len(services) * rng.uniform(0.5, 1.5))
        while not add(service, rng.choice(SERVICE_TEMPLATES), target):
            pass
    for _ in range(n_global):
        while not add(None, rng.choice(GLOBAL_TEMPLATES), 0.01 * rng.uniform(0.5, 1.5)):
            pass
    rng.shuffle(rules)  # as a team's file would be: not sorted by service

    lines = [
        f'policy bench.slo{size} version "1.0.0" {{',
        '  owner "bench"',
        f'  description "generated: {size} per-service SLO rules"',
        INPUT_BLOCK,
    ]
    for rule in rules:
        shown = rule.above[0][0]
        lines += [
            "",
            f"  rule {rule.name} {{",
            f"    when {' && '.join(rule.conjuncts())}",
            f"    then {rule.action}",
            f"    priority {rule.priority}",
            f"    impact {rule.impact}",
            f'    reason "{shown} {{{shown}}} above {literal(shown, rule.above[0][1])} on {{service}} in {{region}}"',
            "  }",
        ]
    lines.append("}")
    stream_rng = random.Random(seed + 1)
    events = [slo_event(services[stream_rng.randrange(len(services))], stream_rng) for _ in range(settings.stream_size)]
    return SloSet(size, services, rules, "\n".join(lines) + "\n", events)


def hand_written_source(rules: list[SloRule], grouped: bool) -> str:
    """Python a person would write for the rules: flat if-statements, or grouped by service."""
    head = [f"    {f} = ev[{f!r}]" for f in FIELDS]

    def check(rule: SloRule, with_service: bool) -> list[str]:
        parts = rule.conjuncts() if with_service or rule.service is None else rule.conjuncts()[1:]
        return [f"    if {' and '.join(parts)}:", f"        fired.append({rule.name!r})"]

    if not grouped:
        body = ["def evaluate(ev):", "    fired = []", *head]
        for rule in rules:
            body += check(rule, True)
        return "\n".join([*body, "    return fired", ""])
    out: list[str] = []
    by_service: dict[str, list[SloRule]] = {}
    for rule in rules:
        if rule.service is not None:
            by_service.setdefault(rule.service, []).append(rule)
    table = []
    for i, (service, mine) in enumerate(by_service.items()):
        used = [f for f in FIELDS if f != "service" and any(f in c for r in mine for c in r.conjuncts())]
        out += [f"def _service{i}(ev, fired):", *[f"    {f} = ev[{f!r}]" for f in used]]
        for rule in mine:
            out += check(rule, False)
        table.append(f"    {service!r}: _service{i},")
    out += ["_BY_SERVICE = {", *table, "}", "", "def evaluate(ev):", "    fired = []"]
    out += ["    group = _BY_SERVICE.get(ev['service'])", "    if group is not None:", "        group(ev, fired)"]
    fleet = [r for r in rules if r.service is None]
    used = [f for f in FIELDS if any(f in c for r in fleet for c in r.conjuncts())]
    out += [f"    {f} = ev[{f!r}]" for f in used]
    for rule in fleet:
        out += check(rule, True)
    return "\n".join([*out, "    return fired", ""])


def build_python(source: str, label: str) -> Callable[[Event], list[str]]:
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<hand-written {label}>", "exec"), namespace)
    return namespace["evaluate"]


def bench_slo(report: Report, settings: Settings, size: int) -> None:
    progress(f"workload 3: {size} generated rules")
    slo = make_slo_set(size, settings, seed=1000 + size)
    progress("  compiling")
    path = f"bench/generated/slo{size}.bal"
    t0 = time.perf_counter()
    compilation = compile_paths([path], sources={path: slo.source})
    compile_s = time.perf_counter() - t0
    loaded = load_measured(compilation.bundle)
    ps = loaded.policy_set
    policy = ps.policies[0]
    names = [r.name for r in policy.rules]
    whens = [(r["name"], r["when"]) for r in compilation.bundle["ir"]["policies"][0]["rules"]]
    flat = build_python(hand_written_source(slo.rules, grouped=False), f"slo{size}")
    grouped = build_python(hand_written_source(slo.rules, grouped=True), f"slo{size} grouped")
    events = slo.events

    match_only = matcher(policy)
    interpreted = interpreter(whens)

    progress("  checking that every implementation fires the same rules")
    for k, ev in enumerate(events[:2000]):
        expect = sorted(flat(ev))
        got = {
            "evaluate": sorted({d.rule for d in ps.evaluate(ev).directives}),
            "match": sorted(names[i] for i in match_only(ev)),
            "grouped": sorted(grouped(ev)),
        }
        if k < 100:
            got["interpreter"] = sorted(interpreted(ev))
        for what, fired in got.items():
            if fired != expect:
                raise SystemExit(f"workload 3 ({size} rules): {what} fired {fired}, hand-written {expect}, for {ev}")
        if ps.evaluate(ev).errors:
            raise SystemExit(f"workload 3 ({size} rules): problems for {ev}: {ps.evaluate(ev).errors}")
    fired_counts = sorted(len(flat(ev)) for ev in events)
    fired_per_event = statistics.fmean(fired_counts)
    progress("  timing")

    impls = [
        Impl("hand-written Python (flat ifs)", flat, events),
        Impl("hand-written Python (dict by service)", grouped, events),
        Impl("Ballast PolicySet.evaluate", ps.evaluate, events),
        Impl("Ballast match only", match_only, events),
        Impl("interpreter (IR walk)", interpreted, events),
    ]
    measure_set(impls, settings, report.timer_ns)
    rows = rows_for(f"3. {size} generated rules", impls, "hand-written Python (flat ifs)")
    rows[2].memory = memory_cell(loaded)
    report.rows.extend(rows)
    warnings = len(compilation.warnings)
    report.notes.append(
        f"workload 3, {size} rules: {len(slo.services)} services, {sum(r.service is None for r in slo.rules)} "
        f"fleet-wide rules; {fired_per_event:.2f} rules fire per event on average ({fired_per_event / size:.2%} of "
        f"the rules; tuned for ~1%; per event p50 {percentile(fired_counts, 0.5)}, p95 {percentile(fired_counts, 0.95)}, "
        f"max {fired_counts[-1]}); {len(events)} distinct events; compile {compile_s:.2f} s "
        f"({', '.join(f'{k} {v:.2f}' for k, v in compilation.timings.items())}); {warnings} compiler warnings"
    )
    report.notes.append(memory_note(f"workload 3, {size} rules, memory", loaded))
    evaluate_row = rows[2]
    if report.profile and size == max(settings.sizes):
        report.profile_text = profile_evaluate(ps, events, size)
    if size == 1000:
        report.targets.append(
            (
                "1000 rules: ≥ 100k events/s (PolicySet.evaluate, one core)",
                f"{evaluate_row.events_per_s / 1000:.0f}k events/s",
                evaluate_row.events_per_s >= 100_000,
            )
        )
        report.targets.append(
            ("1000 rules: P95 ≤ 1 ms", f"P95 {evaluate_row.p95_us:.1f} µs", evaluate_row.p95_us <= 1000)
        )
    if size == 100:
        report.targets.append(
            (
                "100 rules: < 0.5 MB per loaded policy set",
                f"{mib(loaded.retained_bytes)} retained by from_bundle "
                f"({mib(loaded.retained_bytes + loaded.ir_bytes)} with the parsed bundle dict it keeps)",
                loaded.retained_bytes < 0.5 * 1_048_576,
            )
        )


def profile_evaluate(ps: PolicySet, events: list[Event], size: int) -> str:
    """Where PolicySet.evaluate spends its time: a phase breakdown and a cProfile by function.

    The breakdown times each step of `CompiledPolicy.evaluate_into` on its own over the same
    events (no profiler, so no distortion of the many small calls); it reaches into runtime
    internals, so it says so and carries on if they have changed.
    """
    import cProfile
    import pstats

    policy = ps.policies[0]
    lines = [f"Where PolicySet.evaluate spends its time ({size} rules, {len(events)} events, µs per event):"]
    try:
        from ballast.runtime import policy as policy_module
        from ballast.runtime.policy import Directive, Result

        fired_of = {}
        for ev in events:
            fired: list[int] = []
            policy.match(ev, fired.append, [].append)
            fired.sort(key=policy._rank.__getitem__)
            fired_of[id(ev)] = fired
        rules = policy.rules
        snapshot = getattr(policy_module, "_snapshot", None)

        def directives(ev: Event) -> None:
            out = []
            for i in fired_of[id(ev)]:
                rule = rules[i]
                built = rule.arguments(ev)
                if getattr(rule, "param_checks", None):
                    rule.check_params(built)
                for k, (targets, params) in enumerate(built):
                    out.append(Directive(rule, k, [targets] if type(targets) is str else list(targets), params, ev))

        def arguments(ev: Event) -> None:
            for i in fired_of[id(ev)]:
                rules[i].arguments(ev)

        steps: list[tuple[str, Callable[[Event], Any]]] = [
            ("PolicySet.evaluate, in all", ps.evaluate),
            ("  Result()", lambda ev: Result()),
            ("  schema fast check, policy.check(ev)", policy.check),
            ("  matcher, policy.match(ev, …) with its two lists", lambda ev: policy.match(ev, [].append, [].append)),
            (
                "  sort the fired rules by priority",
                lambda ev: list(fired_of[id(ev)]).sort(key=policy._rank.__getitem__),
            ),
            ("  freeze the event: dict(ev)", dict),
        ]
        if snapshot is not None:
            nested = getattr(policy, "_nested", None)
            steps.append((f"  freeze the event: _snapshot(ev) (used: _nested={nested})", snapshot))
        steps += [
            ("  argument builders of the fired rules", arguments),
            ("  argument builders (+ check_params) + Directive objects", directives),
            ("  (loop and lookup overhead of these lines)", lambda ev: fired_of[id(ev)]),
        ]
        for label, fn in steps:
            for ev in events[:1000]:
                fn(ev)
            runs = []
            for _ in range(5):
                gc.collect()
                runs.append(plain_pass(fn, events) / len(events) / 1000)
            lines.append(f"  {label:<62} {statistics.median(runs):7.3f}")
        lines.append("  (each step timed on its own; evaluate sorts, freezes and builds directives only for events")
        lines.append("   where a rule fired, the breakdown does them for every event, so its lines overstate a little)")
    except Exception as exc:  # the runtime's internals moved on: the cProfile below still works
        lines.append(f"  breakdown unavailable: {exc!r}")

    profiler = cProfile.Profile()
    gc.collect()
    profiler.enable()
    for ev in events:
        ps.evaluate(ev)
    profiler.disable()
    # Generated code has one function per rule (argument builders) and per dispatch group: add
    # those up by name, or none of them shows although together they cost a lot.
    totals: dict[str, list[float]] = {}
    for (filename, _line, name), (_cc, calls, own, _cum, _callers) in pstats.Stats(profiler).stats.items():  # type: ignore[attr-defined]
        where = filename.rsplit("/", 1)[-1]
        key = f"{where}:{name.rstrip('0123456789') if name.startswith('group') else name}"
        entry = totals.setdefault(key, [0, 0.0])
        entry[0] += calls
        entry[1] += own
    lines += [
        "",
        "cProfile of PolicySet.evaluate, own time summed per function name (profiler overhead inflates small calls):",
    ]
    lines.append(f"  {'calls':>9} {'own s':>8} {'µs/event':>9}  function")
    for key, (calls, own) in sorted(totals.items(), key=lambda kv: -kv[1][1])[:14]:
        lines.append(f"  {calls:>9} {own:>8.3f} {own / len(events) * 1e6:>9.3f}  {key}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# output


def fmt_rate(rate: float) -> str:
    if rate >= 1e6:
        return f"{rate / 1e6:.2f}M"
    if rate >= 1e3:
        return f"{rate / 1e3:.1f}k"
    return f"{rate:.0f}"


def fmt_us(value: float) -> str:
    if value < 1:
        return f"{value * 1000:.0f} ns"
    if value < 100:
        return f"{value:.2f}"
    return f"{value:.0f}"


def table(report: Report, markdown: bool) -> str:
    header = ["workload", "implementation", "events/s", "p50 µs", "p95 µs", "p99 µs", "× hand-written", "memory"]
    body = []
    for row in report.rows:
        ratio = "" if row.ratio is None else f"{row.ratio:.2f}x"
        rate = fmt_rate(row.events_per_s)
        if row.ns_per_eval is not None:
            rate += f" ({row.ns_per_eval:.1f} ns/eval)"
        body.append(
            [
                row.workload,
                row.impl,
                rate,
                fmt_us(row.p50_us),
                fmt_us(row.p95_us),
                fmt_us(row.p99_us),
                ratio,
                row.memory,
            ]
        )
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * 2 + ["---:"] * 6) + "|"]
        lines += ["| " + " | ".join(cells) + " |" for cells in body]
        return "\n".join(lines)
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    sep = "  "

    def line(cells: list[str]) -> str:
        return sep.join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))

    out = [line(header), sep.join("-" * w for w in widths)]
    last = None
    for cells in body:
        if last is not None and cells[0] != last:
            out.append("")
        out.append(line(cells))
        last = cells[0]
    return "\n".join(out)


def matcher(policy: Any) -> Callable[[Event], list[int]]:
    """The fused matcher alone: the rule indices that fire, no validation or directives."""

    def match_only(ev: Event) -> list[int]:
        fired: list[int] = []
        faults: list[Any] = []
        policy.match(ev, fired.append, faults.append)
        return fired

    return match_only


def interpreter(whens: list[tuple[str, Any]]) -> Callable[[Event], list[str]]:
    """Every rule's condition walked by the reference interpreter, in a loop."""

    def interpreted(ev: Event) -> list[str]:
        return [name for name, when in whens if interpret(when, ev)]

    return interpreted


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, or "" where there is none."""
    try:
        for text in Path("/proc/cpuinfo").read_text().splitlines():
            if text.startswith("model name"):
                return text.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def render(report: Report, markdown: bool) -> str:
    s = report.settings
    cpu = platform.processor() or platform.machine()
    model = cpu_model()
    head = [
        f"Ballast spine benchmark ({'--quick smoke run: rough numbers' if s.quick else 'full run'})",
        f"Python {platform.python_version()} ({platform.python_implementation()}) on {platform.platform()}; "
        f"Ballast {ballast.__version__}, {source_state()}",
        f"machine: {platform.machine()} {model or cpu}, os.cpu_count() = {os.cpu_count()}; load average "
        f"{report.load_before} at the start, {report.load_after} at the end (other processes make numbers noisy)",
        f"method: median of {s.runs} interleaved runs; ~{s.pass_seconds:g} s per pass; events/s from an "
        f"un-instrumented pass, percentiles from a per-event-timed pass minus the {report.timer_ns:.0f} ns "
        f"clock overhead; × hand-written = time per event / hand-written Python's; memory = tracemalloc of "
        f"from_bundle(parsed bundle) with the set kept alive (+ the parsed bundle IR, allocated before tracing, "
        f"that the PolicySet keeps referenced)",
    ]
    if markdown:
        head = [f"**{head[0]}**", "", *(f"- {h}" for h in head[1:])]
    out = ["\n".join(head), "", table(report, markdown), ""]
    return "\n".join(out + report_tail(report, markdown))


def report_head(head: list[str], rows: list[tuple[str, str]], markdown: bool) -> list[str]:
    """The title, the run's circumstances and the two-column table of measures that open a bench report."""
    if markdown:
        out = [f"**{head[0]}**", "", *(f"- {h}" for h in head[1:]), "", "| measure | value |", "|---|---:|"]
        return out + [f"| {a} | {b} |" for a, b in rows]
    width = max(len(a) for a, _ in rows)
    return [*head, "", *(f"  {a.ljust(width)}  {b}" for a, b in rows)]


def report_tail(report: Any, markdown: bool) -> list[str]:
    """Notes, targets met or not, the profile and the run time: the end of every bench report."""
    bullet = "- " if markdown else "  "
    out = ["**Notes**" if markdown else "Notes:", ""]
    out += [bullet + n for n in report.notes]
    out += ["", "**Targets**" if markdown else "Targets:", ""]
    out += [f"{bullet}{'MET    ' if ok else 'NOT MET'}  {what}: {measured}" for what, measured, ok in report.targets]
    if report.profile_text:
        out += ["", "```" if markdown else "", report.profile_text, "```" if markdown else ""]
    out += ["", f"(total run time {report.elapsed_s:.0f} s)"]
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.spine", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a fast smoke run (under 20 s); rough numbers")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument(
        "--profile", action="store_true", help="also print a cProfile of PolicySet.evaluate on the largest rule set"
    )
    args = parser.parse_args(argv)
    settings = Settings.make(args.quick)
    started = time.perf_counter()
    report = Report(settings, profile=args.profile)
    report.load_before = load_average()
    report.timer_ns = timer_overhead_ns()
    bench_expression(report, settings)
    bench_catalog(report, settings)
    for size in settings.sizes:
        bench_slo(report, settings, size)
    report.elapsed_s = time.perf_counter() - started
    report.load_after = load_average()
    print(render(report, args.markdown))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
