"""What every benchmark shares: timing, the machine's description, the report's shape, the command line.

Timing. A benchmark measures everything in one process, the implementations it compares
interleaved inside every run, and reports the median of the runs; ratios are taken against a
baseline measured in the same process (hand-written Python, bare SimPy, `python -c pass`), so
they hold on a noisy machine. `plain_pass` gives events/s from an un-instrumented loop,
`timed_pass` each event's latency, `latency_us` the p50/p95/p99 of those latencies with the
clock pair's own cost (`timer_overhead_ns`) subtracted.

The report. Every report opens with four lines (`head_lines`: the title, the software, the
machine with the load average around the run, the method), then the benchmark's tables
(`measures_table` for two columns of measure and value, `markdown_table` for any other), and
ends with `report_tail`: notes, the product's targets met or not, the profile, the run time.
Each renders as plain text or, with `--markdown`, as the Markdown docs/performance.md shows.

Nothing here asserts anything about speed: a benchmark is not a test.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import math
import os
import platform
import pstats
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ballast

ROOT = Path(__file__).resolve().parent.parent
clock = time.perf_counter_ns
STARTED = time.perf_counter()


# ---------------------------------------------------------------------------------------------
# the command line and progress


def parse_arguments(
    argv: Sequence[str] | None,
    name: str,
    doc: str,
    quick: str,
    profile: str,
    options: Callable[[argparse.ArgumentParser], None] | None = None,
) -> argparse.Namespace:
    """The options every benchmark takes: `--quick`, `--markdown`, `--profile` (with its own help).

    `name` is the module under `bench` (`python -m bench.<name>`); the description is the first
    paragraph of `doc`, the benchmark's module docstring. `options`, when given, declares the
    benchmark's own options on the parser.
    """
    parser = argparse.ArgumentParser(prog=f"python -m bench.{name}", description=doc.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=quick)
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--profile", action="store_true", help=profile)
    if options is not None:
        options(parser)
    return parser.parse_args(argv)


def progress(message: str) -> None:
    """Say on stderr how far the benchmark has got, with the seconds since it started."""
    print(f"[bench {time.perf_counter() - STARTED:5.1f}s] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# timing


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


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted sequence."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def latency_us(latencies: list[int], timer_ns: float) -> tuple[float, float, float]:
    """p50, p95 and p99 in µs of per-event latencies in ns, less the clock pair's cost (sorts the list)."""
    latencies.sort()
    p50, p95, p99 = (max(percentile(latencies, q) - timer_ns, 0.0) / 1000 for q in (0.50, 0.95, 0.99))
    return p50, p95, p99


def interleaved_medians(
    functions: dict[str, Callable[[Any], Any]], stream: list[Any], runs: int
) -> dict[str, tuple[float, float, float, float]]:
    """Per function: the median over `runs` of its calls/s (an un-instrumented pass) and of its
    p50/p95/p99 latency in µs (a timed pass), the functions interleaved inside every run."""
    timer = timer_overhead_ns()
    samples: dict[str, list[tuple[float, float, float, float]]] = {name: [] for name in functions}
    for run in range(runs):
        progress(f"run {run + 1} of {runs}")
        for name, fn in functions.items():
            gc.collect()
            ns = plain_pass(fn, stream)
            p50, p95, p99 = latency_us(timed_pass(fn, stream), timer)
            samples[name].append((len(stream) / (ns / 1e9), p50, p95, p99))
    return {
        name: tuple(statistics.median(column) for column in zip(*rows, strict=True))  # type: ignore[misc]
        for name, rows in samples.items()
    }


def median_ms(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """The median wall time in ms of `repeats` calls of `fn` (`gc.collect()` before each) and its last value."""
    times, value = [], None
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        value = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), value


def cprofile_text(fn: Callable[[], Any], top: int) -> str:
    """pstats' listing of the `top` functions by own time in one profiled call of `fn`."""
    profiler = cProfile.Profile()
    profiler.enable()
    fn()
    profiler.disable()
    buffer = io.StringIO()
    pstats.Stats(profiler, stream=buffer).sort_stats("tottime").print_stats(top)
    return buffer.getvalue()


def repository_relative(text: str) -> list[str]:
    """The non-blank lines of a listing, with paths shown relative to the repository."""
    return [line.replace(str(ROOT) + "/", "") for line in text.splitlines() if line.strip()]


# ---------------------------------------------------------------------------------------------
# the machine and the source measured


def source_state() -> str:
    """The commit measured, and whether the core's working tree differs from it."""
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
    """The 1, 5 and 15 minute load averages as `a/b/c`, or "n/a" where the system has none."""
    try:
        return "/".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, or "" where there is none."""
    try:
        for text in Path("/proc/cpuinfo").read_text().splitlines():
            if text.startswith("model name"):
                return text.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


# ---------------------------------------------------------------------------------------------
# the report


@dataclass(kw_only=True)
class BenchReport:
    """What every benchmark's report carries besides its measures: the load around the run and the tail.

    A benchmark's own report extends it with its settings and measures (those fields stay
    positional: the fields here are keyword-only).
    """

    notes: list[str] = field(default_factory=list)
    targets: list[tuple[str, str, bool]] = field(default_factory=list)  # (target, what was measured, met)
    profile_text: str = ""
    load_before: str = ""  # load_average() at the start of the run
    load_after: str = ""
    elapsed_s: float = 0.0


def fmt_rate(rate: float) -> str:
    """Events per second in thousands (`31.4k`) or, from a million, in millions (`1.25M`)."""
    return f"{rate / 1000:.1f}k" if rate < 1e6 else f"{rate / 1e6:.2f}M"


def head_lines(
    name: str,
    quick: bool,
    method: str,
    load: tuple[str, str],
    *,
    quick_note: str = "rough numbers",
    software: str = "",
    aside: str = "",
) -> list[str]:
    """The four lines that open a report: title, software, machine, method.

    `load` is the load average at the start and at the end of the run; `quick_note` says what a
    `--quick` run gives up, `software` names versions beyond Python's and Ballast's (each
    `; name version`), `aside` follows the machine line.
    """
    mode = f"--quick smoke run: {quick_note}" if quick else "full run"
    return [
        f"Ballast {name} benchmark ({mode})",
        f"Python {platform.python_version()} ({platform.python_implementation()}) on {platform.platform()}; "
        f"Ballast {ballast.__version__}, {source_state()}{software}",
        f"machine: {platform.machine()} {cpu_model() or platform.processor()}, os.cpu_count() = {os.cpu_count()}; "
        f"load average {load[0]} at the start, {load[1]} at the end{aside}",
        f"method: {method}",
    ]


def intro(head: list[str], markdown: bool) -> list[str]:
    """The head lines as printed: as they are, or a bold title over a bullet list in Markdown."""
    if markdown:
        return [f"**{head[0]}**", "", *(f"- {h}" for h in head[1:])]
    return list(head)


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]], left: int = 1) -> list[str]:
    """A Markdown table: the first `left` columns aligned left, the others right."""
    rule = "|" + "|".join(["---"] * left + ["---:"] * (len(header) - left)) + "|"
    return ["| " + " | ".join(header) + " |", rule, *("| " + " | ".join(cells) + " |" for cells in rows)]


def measures_table(rows: list[tuple[str, str]], markdown: bool) -> list[str]:
    """A two-column table of measure and value."""
    if markdown:
        return markdown_table(("measure", "value"), rows)
    width = max(len(a) for a, _ in rows)
    return [f"  {a.ljust(width)}  {b}" for a, b in rows]


def report_head(head: list[str], rows: list[tuple[str, str]], markdown: bool) -> list[str]:
    """The title, the run's circumstances and the two-column table of measures that open a bench report."""
    return [*intro(head, markdown), "", *measures_table(rows, markdown)]


def report_tail(report: BenchReport, markdown: bool) -> list[str]:
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
