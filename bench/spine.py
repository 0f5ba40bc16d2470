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

The workloads' events and hand-written Python are in `bench/workloads/` (`motb.py`, `slo.py`);
the timing and the report's head and tail, shared by every benchmark, in `bench/harness.py`.

This is a benchmark, not a test: it checks that every implementation fires the same rules on
the events it is timed on (and stops if not), but asserts nothing about speed.
"""

from __future__ import annotations

import gc
import json
import logging
import random
import statistics
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import ballast
from ballast.compiler.expression import check_expression
from ballast.compiler.pipeline import compile_paths
from ballast.runtime import PolicySet, from_bundle
from ballast.runtime.bundle import dump_bundle
from ballast.runtime.interpret import evaluate as interpret
from bench.harness import (
    ROOT,
    BenchReport,
    clock,
    fmt_rate,
    head_lines,
    intro,
    latency_us,
    load_average,
    markdown_table,
    parse_arguments,
    percentile,
    plain_pass,
    progress,
    report_tail,
    timed_pass,
    timer_overhead_ns,
)
from bench.workloads.motb import motb_by_hand, motb_events
from bench.workloads.slo import build_python, hand_written_source, make_slo_set

CATALOG = ROOT / "catalog"

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
class Report(BenchReport):
    settings: Settings
    rows: list[Row] = field(default_factory=list)
    timer_ns: float = 0.0
    loop_ns: float = 0.0
    profile: bool = False


# ---------------------------------------------------------------------------------------------
# one policy set's implementations, timed side by side


def cycled(events: list[Any], n: int) -> list[Any]:
    """The first `n` events of the list repeated."""
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
            p50, p95, p99 = latency_us(timed_pass(impl.fn, impl.stream), timer_ns)
            impl.p50.append(p50)
            impl.p95.append(p95)
            impl.p99.append(p99)


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
    logging.getLogger("ballast.runtime.signing").setLevel(logging.ERROR)  # "loaded an unsigned bundle", 4 times
    raw = dump_bundle(bundle)
    times = []
    for _ in range(3):
        parsed = json.loads(raw)
        gc.collect()
        t0 = time.perf_counter()
        from_bundle(parsed, allow_unsigned=True)  # the bench's own bundle: unsigned, warning silenced below
        times.append((time.perf_counter() - t0) * 1000)
    parsed = json.loads(raw)  # the bundle dict first, outside the trace
    gc.collect()
    tracemalloc.start()
    policy_set = from_bundle(parsed, allow_unsigned=True)
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


def bench_slo(report: Report, settings: Settings, size: int) -> None:
    progress(f"workload 3: {size} generated rules")
    slo = make_slo_set(size, settings.calibration_events, settings.stream_size, seed=1000 + size)
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

        def directives(ev: Event) -> None:
            # Each fired rule's generated emitter builds its arguments and appends its Directives.
            out: list[Directive] = []
            for i in fired_of[id(ev)]:
                rules[i].emit(ev, out)

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
        steps.append(
            (f"  freeze the event: copy_containers(ev) (used: nested={policy.nested})", policy_module.copy_containers)
        )
        steps += [
            ("  emitters of the fired rules (arguments, checks, Directive objects)", directives),
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
        rate = f"{row.events_per_s:.0f}" if row.events_per_s < 1e3 else fmt_rate(row.events_per_s)
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
        return "\n".join(markdown_table(header, body, left=2))
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


def render(report: Report, markdown: bool) -> str:
    s = report.settings
    method = (
        f"median of {s.runs} interleaved runs; ~{s.pass_seconds:g} s per pass; events/s from an "
        f"un-instrumented pass, percentiles from a per-event-timed pass minus the {report.timer_ns:.0f} ns "
        f"clock overhead; × hand-written = time per event / hand-written Python's; memory = tracemalloc of "
        f"from_bundle(parsed bundle) with the set kept alive (+ the parsed bundle IR, allocated before tracing, "
        f"that the PolicySet keeps referenced)"
    )
    load = (report.load_before, report.load_after)
    head = head_lines("spine", s.quick, method, load, aside=" (other processes make numbers noisy)")
    out = ["\n".join(intro(head, markdown)), "", table(report, markdown), ""]
    return "\n".join(out + report_tail(report, markdown))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_arguments(
        argv,
        "spine",
        __doc__,
        quick="a fast smoke run (under 20 s); rough numbers",
        profile="also print a cProfile of PolicySet.evaluate on the largest rule set",
    )
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
