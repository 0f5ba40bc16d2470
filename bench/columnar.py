"""The columnar replay benchmark: the row engine against the columnar one, and against hand-written numpy.

    python -m bench.columnar              # full run: 2 h × 100 services × 1 Hz = 720,000 events (a few minutes)
    python -m bench.columnar --quick      # smoke run: 20 min = 120,000 events; rough numbers
    python -m bench.columnar --markdown   # the table as Markdown (for docs/performance.md)
    python -m bench.columnar --profile    # also: where the columnar replay spends its time
    python -m bench.columnar --hours 24   # another length of telemetry
    python -m bench.columnar --month      # the month at full size, run once (bench/month.py; 10 minutes or more)

The issue's targets (issue 12, §4): replay of stateless sets on the columnar path at ≥ 5 M
events/s from Parquet and ≥ 1 M events/s from JSONL through both sets on one core; a month of
100 services at 1 Hz (259 M events) in under 2 minutes from Parquet; at most 1.5× the time of
hand-written numpy for the same rules; memory bounded by the chunk, not by the recording.

Method. The telemetry of `bench.replay` (catalog/motb.bal's input, 100 pools with incidents,
about 2 directives per 100 events) is generated once, before any timing, as JSONL, and
converted to Parquet and Arrow IPC. The baseline is catalog/motb.bal, the candidate the same
with `sla_breach` at 99.9 % (as in `bench.replay`). Each run is `ballast.simulator.replay.replay`
in process, both sets compiled before timing; the configurations are interleaved inside every
run and each figure is the median of the runs. Every configuration must produce the same
report (the benchmark stops if not). The hand-written numpy baseline (bench/handwritten.py)
reads the same Parquet file in the same chunks (the columns the rules use) and computes the
eleven rules' conditions for both sets with numpy, counting fires per rule; its counts must
equal the report's. A second version of it reads every column, strings as Python strings. Peak RSS is measured in a child
process per configuration (VmHWM), for the telemetry and for four times as much, so a
memory that grows with the recording shows.

Windowed workloads (issue 12, §1: "a columnar speed-up for windowed rules where the vectorised
path applies"). The same telemetry with an event time (a sixth of the length: the row engine
runs an Engine per set) through bench/workloads/windowed.py, five level rules over window
aggregates grouped by pool, baseline and candidate differing in one threshold: the row engine
on JSONL against the columnar engine on JSONL, Parquet and CSV, interleaved, median of the runs, the
reports identical (the benchmark stops if not); then the same with two edge rules added (a
`for`, a `for` with `keep`), and with a latency SLO over a 5-minute percentile (hysteresis),
each row engine against columnar Parquet.

This is a benchmark, not a test: it asserts nothing about speed.
"""

from __future__ import annotations

import gc
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ballast
from bench.handwritten import directives_per_rule, numpy_counts
from bench.harness import (
    ROOT,
    BenchReport,
    cprofile_text,
    fmt_rate,
    head_lines,
    load_average,
    markdown_table,
    parse_arguments,
    progress,
    report_tail,
)
from bench.harness import intro as report_intro
from bench.month import MONTH_DAYS, MonthSettings, bench_month, render_month
from bench.replay import CATALOG, SERVICES, make_candidate, write_telemetry
from bench.workloads.windowed import edge_sources, slo_sources, windowed_sources, write_windowed_telemetry

MONTH_EVENTS = 30 * 86_400 * SERVICES  # 259.2 M
TARGET_PARQUET = 5e6
TARGET_JSONL = 1e6
TARGET_MONTH_S = 120.0
TARGET_OVERHEAD = 1.5
CONFIGS = (
    "row engine, JSONL",
    "columnar, JSONL",
    "columnar, CSV",
    "columnar, Arrow IPC",
    "columnar, Parquet",
    "hand-written numpy, Parquet",
    "hand-written numpy, every column, Parquet",
)


@dataclass(frozen=True)
class Settings:
    quick: bool
    seconds: int
    runs: int


@dataclass
class Report(BenchReport):
    settings: Settings
    events: int = 0
    sizes: dict[str, int] = field(default_factory=dict)
    runs_s: dict[str, list[float]] = field(default_factory=dict)
    rss_mib: dict[str, tuple[float, float]] = field(default_factory=dict)  # (1×, 4×) telemetry
    summary: dict[str, Any] = field(default_factory=dict)
    windowed_events: int = 0
    windowed_s: dict[str, list[float]] = field(default_factory=dict)
    edge_s: dict[str, list[float]] = field(default_factory=dict)  # the windowed workload with two edge rules
    slo_s: dict[str, list[float]] = field(default_factory=dict)  # the windowed workload with a percentile SLO


# ---- the telemetry in three formats ----


def write_formats(directory: Path, seconds: int, name: str = "t") -> dict[str, Path]:
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.json as pj
    import pyarrow.parquet as pq

    jsonl = directory / f"{name}.jsonl"
    write_telemetry(jsonl, seconds)
    table = pj.read_json(jsonl)
    parquet, arrow = directory / f"{name}.parquet", directory / f"{name}.arrow"
    pq.write_table(table, parquet)
    with pa.OSFile(str(arrow), "wb") as sink, pa.ipc.new_file(sink, table.schema) as out:
        out.write_table(table)
    csv = directory / f"{name}.csv"  # minimal quoting, as pandas and most exporters write it
    pcsv.write_csv(table, csv, write_options=pcsv.WriteOptions(quoting_style="none"))
    return {"jsonl": jsonl, "csv": csv, "parquet": parquet, "arrow": arrow}


# ---- the runs ----


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def peak_rss_mib(path: Path, candidate: Path, engine: str) -> float:
    """Peak RSS of a child process that compiles both sets and replays `path` on `engine`."""
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork and exec, so a child would report
    # the benchmark's own peak; VmHWM belongs to the child's address space alone.
    script = (
        "import sys, ballast\n"
        "from ballast.simulator.replay import replay\n"
        "b, c = ballast.compile([sys.argv[1]]), ballast.compile([sys.argv[2]])\n"
        "replay(sys.argv[3], b, c, engine=sys.argv[4])\n"
        "print(next(line.split()[1] for line in open('/proc/self/status') if line.startswith('VmHWM:')))\n"
    )
    args = [sys.executable, "-c", script, str(CATALOG / "motb.bal"), str(candidate), str(path), engine]
    done = subprocess.run(args, capture_output=True, text=True, check=True, cwd=ROOT)
    return int(done.stdout.split()[-1]) / 1024


def bench(settings: Settings, profile: bool, chunk_rows: int) -> Report:
    from ballast.simulator.replay import replay

    report = Report(settings, load_before=load_average())
    with tempfile.TemporaryDirectory(prefix="ballast-columnar-bench-") as tmp:
        directory = Path(tmp)
        progress(f"generating {settings.seconds / 3600:g} h × {SERVICES} services × 1 Hz of telemetry")
        files = write_formats(directory, settings.seconds)
        report.events = settings.seconds * SERVICES
        report.sizes = {k: p.stat().st_size for k, p in files.items()}
        candidate_path = make_candidate(directory)
        baseline, candidate = ballast.compile([CATALOG / "motb.bal"]), ballast.compile([candidate_path])

        def run_replay(path: Path, engine: str) -> Callable[[], Any]:
            return lambda: replay(path, baseline, candidate, engine=engine, chunk_rows=chunk_rows)

        runs: dict[str, Callable[[], Any]] = {
            "row engine, JSONL": run_replay(files["jsonl"], "row"),
            "columnar, JSONL": run_replay(files["jsonl"], "columnar"),
            "columnar, CSV": run_replay(files["csv"], "columnar"),
            "columnar, Arrow IPC": run_replay(files["arrow"], "columnar"),
            "columnar, Parquet": run_replay(files["parquet"], "columnar"),
            "hand-written numpy, Parquet": lambda: numpy_counts(files["parquet"], chunk_rows),
            "hand-written numpy, every column, Parquet": lambda: numpy_counts(
                files["parquet"], chunk_rows, every_column=True
            ),
        }
        reports: dict[str, str] = {}
        for run in range(settings.runs):
            for name, fn in runs.items():
                seconds, result = timed(fn)
                report.runs_s.setdefault(name, []).append(seconds)
                if name.startswith("hand-written"):
                    if report.summary.setdefault("numpy", result) != result:
                        raise SystemExit("the two hand-written numpy baselines counted differently")
                else:
                    result["telemetry"]["file"] = "-"  # the same events whatever the file
                    reports[name] = json.dumps(result, sort_keys=True)
                progress(
                    f"run {run + 1}/{settings.runs} {name}: {seconds:.2f} s ({report.events / seconds:,.0f} events/s)"
                )
            if len(set(reports.values())) != 1:
                raise SystemExit("the configurations wrote different reports")
        final = json.loads(next(iter(reports.values())))
        if directives_per_rule(final) != report.summary["numpy"]:
            raise SystemExit(f"hand-written numpy counts {report.summary['numpy']} differ from the replay's")
        report.summary["report"] = final
        progress("peak RSS in child processes (1× and 4× the telemetry)")
        bigger = write_formats(directory, settings.seconds * 4, name="big")
        for label, key, engine in (("columnar, Parquet", "parquet", "columnar"), ("row engine, JSONL", "jsonl", "row")):
            if engine == "row" and settings.quick is False and settings.seconds > 3_600:
                continue  # the row engine on 4× a long recording takes too long for a benchmark run
            report.rss_mib[label] = (
                peak_rss_mib(files[key], candidate_path, engine),
                peak_rss_mib(bigger[key], candidate_path, engine),
            )
        if profile:
            report.profile_text = "Where the columnar replay of the Parquet file spends its time (cProfile):\n" + (
                cprofile_text(runs["columnar, Parquet"], 16).strip()
            )
        bench_windowed(report, directory, chunk_rows)
    report.load_after = load_average()
    return report


WINDOWED_CONFIGS = ("row engine, JSONL", "columnar, JSONL", "columnar, Parquet", "columnar, CSV")
EDGE_CONFIGS = ("row engine, JSONL", "columnar, Parquet")


def bench_windowed(report: Report, directory: Path, chunk_rows: int) -> None:
    """The windowed workload (bench/workloads/windowed.py): row and columnar engines on the same
    events, interleaved, the reports compared (the run stops when they differ)."""
    from ballast.simulator.replay import replay

    seconds = max(report.settings.seconds // 6, 60)
    progress(f"windowed: {seconds / 60:g} min × {SERVICES} services × 1 Hz, level rules over windows")
    files = write_windowed_telemetry(directory, seconds)
    report.windowed_events = seconds * SERVICES
    workloads = {"windowed": windowed_sources(), "edge": edge_sources(), "slo": slo_sources()}
    sets = {
        label: tuple(ballast.compile(["windows.bal"], sources={"windows.bal": source}) for source in sources)
        for label, sources in workloads.items()
    }
    runs = {
        "row engine, JSONL": (files["jsonl"], "row"),
        "columnar, JSONL": (files["jsonl"], "columnar"),
        "columnar, Parquet": (files["parquet"], "columnar"),
        "columnar, CSV": (files["csv"], "columnar"),
    }
    # per workload: the configurations it runs, and where their times go
    plan = {
        "windowed": (WINDOWED_CONFIGS, report.windowed_s),
        "edge": (EDGE_CONFIGS, report.edge_s),
        "slo": (EDGE_CONFIGS, report.slo_s),
    }
    for run in range(report.settings.runs):
        for label, (baseline, candidate) in sets.items():
            reports = set()
            configs, times = plan[label]
            for name, (path, engine) in runs.items():
                if name not in configs:
                    continue
                seconds_taken, result = timed(
                    lambda path=path, engine=engine, b=baseline, c=candidate: replay(
                        path, b, c, engine=engine, chunk_rows=chunk_rows
                    )
                )
                times.setdefault(name, []).append(seconds_taken)
                result["telemetry"]["file"] = "-"
                reports.add(json.dumps(result, sort_keys=True))
                report.summary[label] = result["decisions"]
                rate = report.windowed_events / seconds_taken
                progress(
                    f"{label} run {run + 1}/{report.settings.runs} {name}: {seconds_taken:.2f} s ({rate:,.0f} events/s)"
                )
            if len(reports) != 1:
                raise SystemExit(f"the {label} configurations wrote different reports")


def windowed_lines(report: Report, markdown: bool) -> list[str]:
    """The windowed workloads' tables: events/s per configuration, and the speed-up over the row engine."""
    level = "windowed workload (bench/workloads/windowed.py: five level rules over count, avg, max, sum, delta, min, by pool)"
    edge = "the same with two edge rules (a `for 1m`, a `for 10s` with `keep 1m`: bench/workloads/windowed.py)"
    slo = "the same with a latency SLO on `percentile(latency_p95_ms, 95, 5m)`, with hysteresis (bench/workloads/windowed.py)"
    return [
        *_workload_lines(report, markdown, level, report.windowed_s, WINDOWED_CONFIGS, "windowed"),
        *_workload_lines(report, markdown, edge, report.edge_s, EDGE_CONFIGS, "edge"),
        *_workload_lines(report, markdown, slo, report.slo_s, EDGE_CONFIGS, "slo"),
    ]


def _workload_lines(
    report: Report, markdown: bool, title: str, times: dict[str, list[float]], configs: Sequence[str], label: str
) -> list[str]:
    n = report.windowed_events
    median = {name: statistics.median(runs) for name, runs in times.items()}
    row = n / median["row engine, JSONL"]
    header = (f"{label} configuration", "median s", "events/s", "vs row engine")
    cells = [
        (name, f"{median[name]:.2f}", fmt_rate(n / median[name]), f"{n / median[name] / row:.1f}×") for name in configs
    ]
    decisions = report.summary[label]
    lines = [
        "",
        f"{title}: {n:,} events; directives baseline / candidate {decisions['baseline']:,} / {decisions['candidate']:,}",
        "",
    ]
    if markdown:
        return [*lines, *markdown_table(header, cells)]
    widths = [max(len(str(c[i])) for c in [header, *cells]) for i in range(len(header))]
    return lines + ["  " + "  ".join(str(c[i]).ljust(widths[i]) for i in range(len(header))) for c in [header, *cells]]


# ---- the table ----


def render(report: Report, markdown: bool) -> str:
    s = report.settings
    n = report.events
    median = {name: statistics.median(times) for name, times in report.runs_s.items()}
    rate = {name: n / seconds for name, seconds in median.items()}
    row = rate["row engine, JSONL"]
    numpy_s = median["hand-written numpy, Parquet"]
    method = (
        f"`replay()` in process, both sets compiled before timing, the configurations interleaved, median of {s.runs} "
        "runs; every configuration's report identical"
    )
    head = head_lines("columnar", s.quick, method, (report.load_before, report.load_after), quick_note="rough numbers")
    header = ("configuration", "median s", "events/s", "vs row engine", "vs hand-written numpy")
    cells = [
        (
            name,
            f"{median[name]:.2f}",
            fmt_rate(rate[name]),
            f"{rate[name] / row:.1f}×",
            f"{median[name] / numpy_s:.2f}×",
        )
        for name in CONFIGS
    ]
    if markdown:
        table = markdown_table(header, cells)
    else:
        widths = [max(len(str(c[i])) for c in [header, *cells]) for i in range(len(header))]
        table = ["  " + "  ".join(str(c[i]).ljust(widths[i]) for i in range(len(header))) for c in [header, *cells]]
    decisions = report.summary["report"]["decisions"]
    sizes = ", ".join(f"{k} {v / 2**20:,.0f} MiB" for k, v in report.sizes.items())
    lines = [
        *report_intro(head, markdown),
        "",
        f"{n:,} events ({s.seconds / 3600:g} h × {SERVICES} services × 1 Hz; {sizes}); directives baseline / candidate "
        f"{decisions['baseline']:,} / {decisions['candidate']:,}, events decided differently {decisions['differing_events']:,}",
        "",
        *table,
        "",
    ]
    lines += [*windowed_lines(report, markdown), ""]
    rss = [(label, f"{one:,.0f} MiB", f"{four:,.0f} MiB") for label, (one, four) in report.rss_mib.items()]
    rss_header = ("peak RSS (child process)", f"{n:,} events", f"{4 * n:,} events")
    lines += markdown_table(rss_header, rss) if markdown else [f"  {a}: {b} → {c} at 4×" for a, b, c in rss]
    parquet, jsonl = rate["columnar, Parquet"], rate["columnar, JSONL"]
    month_s = MONTH_EVENTS / parquet
    report.notes = [
        "telemetry generated once before timing (not timed); the candidate is catalog/motb.bal with `sla_breach` at 99.9%",
        "the month figure is projected from the Parquet rate measured here (`--month` runs it at full size)",
        "the hand-written numpy baseline computes the same eleven conditions for both sets and counts fires; it builds "
        "no directives, checks no schema and writes no report; it reads the ten columns the rules use, the tier as a "
        "dictionary (bench/handwritten.py); 'every column' reads all fourteen, strings as Python strings",
        "every reader runs one thread (the target is one core)",
    ]
    overhead = median["columnar, Parquet"] / numpy_s
    report.targets = [
        (
            "≥ 5 M events/s from Parquet through both sets, one core",
            f"{fmt_rate(parquet)} events/s",
            parquet >= TARGET_PARQUET,
        ),
        ("≥ 1 M events/s from JSONL", f"{fmt_rate(jsonl)} events/s", jsonl >= TARGET_JSONL),
        (
            "30 days × 100 services × 1 Hz (259 M events) from Parquet in < 2 min",
            f"{month_s:,.0f} s projected (--month runs it)",
            month_s < TARGET_MONTH_S,
        ),
        ("columnar ≤ 1.5× hand-written numpy for the same rules", f"{overhead:.1f}×", overhead <= TARGET_OVERHEAD),
    ]
    if "columnar, Parquet" in report.rss_mib:
        one, four = report.rss_mib["columnar, Parquet"]
        report.targets.append(
            (
                "memory bounded by the chunk, not the recording",
                f"{one:,.0f} MiB → {four:,.0f} MiB at 4× the events",
                four <= one * 1.25,
            )
        )
    return "\n".join([*lines, "", *report_tail(report, markdown)])


def main(argv: Sequence[str] | None = None) -> int:
    def options(parser: Any) -> None:
        parser.add_argument("--hours", type=float, help="hours of telemetry (default 2, or 1/3 with --quick)")
        parser.add_argument("--chunk-rows", type=int, default=1 << 17, help="rows per chunk (default 131072)")
        parser.add_argument(
            "--month", action="store_true", help="run the month (30 days × 100 services × 1 Hz) at full size instead"
        )
        parser.add_argument("--days", type=float, default=MONTH_DAYS, help="with --month: days of telemetry (30)")
        parser.add_argument("--keep", action="store_true", help="with --month: keep the recording for the next run")

    args = parse_arguments(
        argv,
        "columnar",
        __doc__,
        quick="20 minutes of telemetry instead of 2 hours; rough numbers",
        profile="also profile one columnar replay of the Parquet file",
        options=options,
    )
    started = time.perf_counter()
    if args.month:
        if not 0 < args.days <= 366 or args.chunk_rows < 1:
            raise SystemExit("--days is a number of days in (0, 366] and --chunk-rows at least 1")
        month = bench_month(MonthSettings(args.days, args.keep, args.chunk_rows))
        month.elapsed_s = time.perf_counter() - started
        print(render_month(month, args.markdown))
        return 0
    hours = args.hours if args.hours is not None else (1 / 3 if args.quick else 2)
    settings = Settings(args.quick, round(hours * 3600), 3)
    report = bench(settings, args.profile, args.chunk_rows)
    report.elapsed_s = time.perf_counter() - started
    print(render(report, args.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
