"""The start-up benchmark: how long the `ballast` command takes to start, as a multiple of bare Python.

    python -m bench.startup              # full run: 21 rounds (about 40 s)
    python -m bench.startup --quick      # smoke run: 7 rounds (about 15 s; numbers are rough)
    python -m bench.startup --markdown   # the table as Markdown (for docs/performance.md)
    python -m bench.startup --profile    # also: the slowest imports of each command (`python -X importtime`)

The product targets: `ballast --version` in at most 2× the time of `python -c pass`, and
`ballast check catalog/` in at most 5× (both with the same interpreter, measured in the same run).

Method. Every command runs as a subprocess, as a user runs it: the `ballast` console script
next to this interpreter (`python -m ballast.cli` where there is none), from the repository root,
output captured. A round runs each command once, in turn, so a change in the machine's speed
hits them all alike; the reported time is the median over the rounds and the ratio is that
median over the median of `python -c pass`. Every command must exit 0 and print the same bytes
in every round (the benchmark stops if not). Python's bytecode cache and the parser cache
(docs/performance.md, "CLI start-up") live in a temporary directory, warmed by one untimed run
of each command; the caches (parser, parsed documents, proofs) are emptied before every run of the "cold caches" row.

This is a benchmark, not a test: it asserts nothing about speed.
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.harness import ROOT, BenchReport, head_lines, load_average, parse_arguments, report_head, report_tail

VERSION_TARGET = 2.0  # `ballast --version` ≤ 2× bare Python
CHECK_TARGET = 5.0  # `ballast check catalog/` ≤ 5× bare Python


@dataclass(frozen=True)
class Command:
    """One command line to time; `cold` empties the caches (parser, parsed documents, proofs) before every run."""

    label: str
    argv: list[str]
    cold: bool = False


@dataclass
class Report(BenchReport):
    quick: bool
    rounds: int
    medians: dict[str, float] = field(default_factory=dict)  # wall seconds
    cpu_medians: dict[str, float] = field(default_factory=dict)  # user + system seconds


def ballast_argv() -> list[str]:
    """How a user starts `ballast` with this interpreter: its console script, else `-m ballast.cli`."""
    script = Path(sys.executable).with_name("ballast")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "ballast.cli"]


def commands() -> list[Command]:
    cli = ballast_argv()
    return [
        Command("python -c pass", [sys.executable, "-c", "pass"]),
        Command("ballast --version", [*cli, "--version"]),
        Command("ballast --help", [*cli, "--help"]),
        Command("ballast check catalog/", [*cli, "check", "catalog/"]),
        Command("ballast check catalog/ (cold caches)", [*cli, "check", "catalog/"], cold=True),
    ]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(command: Command, env: dict[str, str], cache_dir: Path) -> tuple[float, float, bytes]:
    """The wall and CPU time of one run and what it printed; stops the benchmark if the command fails."""
    if command.cold:
        shutil.rmtree(cache_dir, ignore_errors=True)
    cpu_before = children_cpu()
    started = time.perf_counter()
    done = subprocess.run(command.argv, cwd=ROOT, env=env, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    cpu = children_cpu() - cpu_before
    if done.returncode != 0:
        sys.exit(f"bench.startup: `{command.label}` exited {done.returncode}: {done.stderr.decode(errors='replace')}")
    return elapsed, cpu, done.stdout


def environment(scratch: Path) -> dict[str, str]:
    """This process's environment, with the parser cache and the bytecode cache in `scratch`.

    An installed package runs from .pyc files; PYTHONDONTWRITEBYTECODE (set in some CI and
    sandboxes) would have every run recompile every module instead, so it is dropped, and the
    .pyc files go to a scratch PYTHONPYCACHEPREFIX rather than into the source tree.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "BALLAST_CACHE_DIR": str(scratch / "cache"), "PYTHONPYCACHEPREFIX": str(scratch / "pyc")}


def measure(rounds: int, scratch: Path) -> tuple[dict[str, float], dict[str, float]]:
    """Median wall time and median CPU time per command, over interleaved rounds."""
    env = environment(scratch)
    cache_dir = scratch / "cache"
    todo = commands()
    for command in todo:  # warm the OS file cache, the .pyc files and the parser cache
        run_once(command, env, cache_dir)
    times: dict[str, list[float]] = {c.label: [] for c in todo}
    cpu_times: dict[str, list[float]] = {c.label: [] for c in todo}
    outputs: dict[str, set[bytes]] = {c.label: set() for c in todo}
    for _ in range(rounds):
        for command in todo:
            elapsed, cpu, printed = run_once(command, env, cache_dir)
            times[command.label].append(elapsed)
            cpu_times[command.label].append(cpu)
            outputs[command.label].add(printed)
    for label, printed in outputs.items():
        if len(printed) != 1:
            sys.exit(f"bench.startup: `{label}` printed different output in different rounds")
    return (
        {label: statistics.median(values) for label, values in times.items()},
        {label: statistics.median(values) for label, values in cpu_times.items()},
    )


def slowest_imports(command: Command, scratch: Path, top: int = 8) -> list[str]:
    """The `top` imports with the largest cumulative time in one `-X importtime` run."""
    env = {**environment(scratch), "PYTHONPROFILEIMPORTTIME": "1"}
    done = subprocess.run(command.argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    rows = []
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line and "cumulative" not in line:
            _, cumulative, name = line.split("|")
            rows.append((int(cumulative), name.strip()))
    rows.sort(reverse=True)
    return [f"  {us / 1000:7.1f} ms  {name}" for us, name in rows[:top]]


def profile(scratch: Path) -> str:
    out = []
    for command in commands()[1:]:
        if command.cold:
            shutil.rmtree(scratch / "cache", ignore_errors=True)
        out += [f"{command.label}: slowest imports (cumulative)", *slowest_imports(command, scratch), ""]
    return "\n".join(out).rstrip()


def render(report: Report, markdown: bool) -> str:
    bare = report.medians["python -c pass"]
    method = (
        f"each command a subprocess, median of {report.rounds} interleaved rounds; "
        f"× bare = median ÷ median of `python -c pass` in the same run; CPU = the child's user + system time"
    )
    head = head_lines("start-up", report.quick, method, (report.load_before, report.load_after))
    bare_cpu = report.cpu_medians["python -c pass"]
    rows = [
        (
            label,
            f"{seconds * 1000:.0f} ms wall ({seconds / bare:.1f}× bare), "
            f"{report.cpu_medians[label] * 1000:.0f} ms CPU ({report.cpu_medians[label] / bare_cpu:.1f}× bare)",
        )
        for label, seconds in report.medians.items()
    ]
    return "\n".join([*report_head(head, rows, markdown), "", *report_tail(report, markdown)])


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_arguments(
        argv,
        "startup",
        __doc__,
        quick="a fast smoke run (7 rounds); rough numbers",
        profile="also print the slowest imports of each command",
    )
    started = time.perf_counter()
    report = Report(quick=args.quick, rounds=7 if args.quick else 21)
    report.load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="ballast-startup-") as tmp:
        report.medians, report.cpu_medians = measure(report.rounds, Path(tmp))
        if args.profile:
            report.profile_text = profile(Path(tmp))
    report.load_after = load_average()
    bare = report.medians["python -c pass"]
    version = report.medians["ballast --version"] / bare
    check = report.medians["ballast check catalog/"] / bare
    report.notes = [
        f"ballast is started as: {' '.join(ballast_argv())}",
        "the targets are judged on wall time; CPU time varies less on a busy machine",
        "the cold-caches row is the first run after an upgrade, or of files never checked before: it builds the parser, parses every file, proves the rules of every policy (loading z3) and saves all three",
    ]
    report.targets = [
        (f"`ballast --version` ≤ {VERSION_TARGET:g}× bare Python", f"{version:.1f}×", version <= VERSION_TARGET),
        (f"`ballast check catalog/` ≤ {CHECK_TARGET:g}× bare Python", f"{check:.1f}×", check <= CHECK_TARGET),
    ]
    report.elapsed_s = time.perf_counter() - started
    print(render(report, args.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
