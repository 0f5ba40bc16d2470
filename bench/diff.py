"""The semantic-diff benchmark: `ballast diff` of two 1000-rule policy sets with 5% of the rules changed.

    python -m bench.diff                       # full run: 1000 rules, median of 3 runs (about 2 minutes)
    python -m bench.diff --quick               # smoke run: 200 rules (about 20 s; numbers are rough)
    python -m bench.diff --rules 40 --runs 1   # any size, any number of runs
    python -m bench.diff --markdown            # the tables as Markdown (for docs/performance.md)
    python -m bench.diff --profile             # also: where one run spends its time (cProfile)

The product target: the diff of two 1000-rule sets with 5% of the rules changed in under 5 s on
one core, with the solver's time per compared rule pair reported. Run it pinned to one core
(`taskset -c 0 python -m bench.diff`); the report says which cores the process could use.

The sets. `bench/workloads/diffset.py` generates, from a fixed seed, one policy of N rules over a
typed input of 15 fields (floats and ints with ranges, enums, a string, an optional field, the
event time of a `stream` block): 1 to 4 comparisons per rule joined by `&&` and `||`, enums and
`in` lists, arithmetic, a window aggregate, `for` and `cooldown` clauses, actions with targets.
The head version changes 5% of the rules: thresholds moved up and down, operands reordered,
conditions rewritten by De Morgan, a clause added, rules renamed, removed and added, cooldowns
changed, and the version bumped. Each side is written to its own folder of a temporary directory.

Method. Everything runs in this process, interleaved within each run, and every figure is the
median over the runs (`gc.collect()` before each timing), wall time and this process's CPU time:

- end to end: `ballast.cli.main(["diff", BASE, HEAD, "--format", "json"])` with the output to a
  StringIO: compiling both sides, the diff, the report;
- the same with the cyclic garbage collector paused (what the collector costs);
- the same for the set against itself (BASE BASE: every rule takes the fast path), the baseline
  the end-to-end ratio is taken against;
- compile: `load_side` of both sides, as the command does, and again with the parsed documents
  cached (what a second run, or a run after `ballast check`, finds);
- diff alone: `diff_ir(base.ir, head.ir)` on the compiled sides, against `diff_ir` of the set
  against a second compilation of itself;
- `ballast diff` as a fresh process (`python -m ballast.cli diff …`), which also imports Lark
  and z3.

The parsed-document cache (docs/performance.md, "CLI start-up") lives in a temporary directory
and is emptied before every run that compiles, except the "documents cached" one; the parser
tables stay cached (a first, untimed run builds them and imports everything). The solver's time
per compared rule pair comes from `diff_ir(..., solver_seconds=...)`: for each pair the median
over the runs, then the median, p95 and maximum over the pairs.

Every run must find exactly the findings the generator expects, by check id, both from
`diff_ir` and in the command's JSON report, and none between the set and itself (the benchmark
stops if not): a broken diff is never timed. This is a benchmark, not a test: it asserts
nothing about speed.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ballast.cli import main as ballast_main
from bench.harness import (
    ROOT,
    BenchReport,
    cprofile_text,
    head_lines,
    intro,
    load_average,
    markdown_table,
    measures_table,
    parse_arguments,
    percentile,
    progress,
    report_tail,
    repository_relative,
)
from bench.workloads.diffset import FIELD_COUNT, Pair, make_pair

TARGET_S = 5.0  # two 1000-rule sets, 5% changed, on one core
TARGET_RULES = 1000
EXIT_FINDINGS = 1  # a rule removed is breaking: `--fail-on breaking` (the default) fails


@dataclass(frozen=True)
class Settings:
    quick: bool
    rules: int
    runs: int

    @classmethod
    def make(cls, quick: bool, rules: int | None, runs: int | None) -> Settings:
        return cls(quick, rules or (200 if quick else TARGET_RULES), runs or 3)


@dataclass
class Timing:
    """Wall and CPU seconds of every run of one measure."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def add(self, wall: float, cpu: float) -> None:
        self.wall.append(wall)
        self.cpu.append(cpu)

    @property
    def median(self) -> float:
        return statistics.median(self.wall)

    @property
    def median_cpu(self) -> float:
        return statistics.median(self.cpu)


@dataclass
class Report(BenchReport):
    settings: Settings
    pair: Pair | None = None
    timings: dict[str, Timing] = field(default_factory=dict)
    solver_ms: list[float] = field(default_factory=list)  # per compared pair, the median over the runs
    found: Counter[str] = field(default_factory=Counter)  # by check id, from diff_ir
    found_cli: Counter[str] = field(default_factory=Counter)  # by check id, from the command's JSON report
    sizes: tuple[int, int] = (0, 0)  # the base and head policies' characters
    cores: str = ""


# ---------------------------------------------------------------------------------------------
# the runs


def cpu_seconds(children: bool = False) -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(timing: Timing, fn: Callable[[], Any], children: bool = False) -> Any:
    """Call `fn` once, add its wall and CPU seconds to `timing`, return its value."""
    gc.collect()
    cpu = cpu_seconds(children)
    started = time.perf_counter()
    value = fn()
    timing.add(time.perf_counter() - started, cpu_seconds(children) - cpu)
    return value


class Workspace:
    """The two sides on disk and the cache directory the compiles use."""

    def __init__(self, root: Path, pair: Pair) -> None:
        self.base, self.head = root / "base", root / "head"
        for side, text in ((self.base, pair.base), (self.head, pair.head)):
            side.mkdir()
            (side / "fleet.bal").write_text(text, encoding="utf-8")
        self.cache = root / "cache"
        self.env = {**os.environ, "BALLAST_CACHE_DIR": str(self.cache)}

    def cold(self) -> None:
        """Empty the parsed-document cache (the parser tables stay)."""
        shutil.rmtree(self.cache / "documents", ignore_errors=True)


def cli_diff(base: Path, head: Path) -> tuple[int, str, str]:
    """`ballast diff BASE HEAD --format json` in process: (exit code, report, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = ballast_main(["diff", str(base), str(head), "--format", "json"], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def without_gc(ws: Workspace) -> tuple[int, str, str]:
    """`cli_diff` with the cyclic garbage collector paused: what the collector costs."""
    gc.disable()
    try:
        return cli_diff(ws.base, ws.head)
    finally:
        gc.enable()


def process_diff(ws: Workspace) -> tuple[int, str, str]:
    """`python -m ballast.cli diff BASE HEAD --format json` as a fresh process."""
    argv = [sys.executable, "-m", "ballast.cli", "diff", str(ws.base), str(ws.head), "--format", "json"]
    done = subprocess.run(argv, cwd=ROOT, env=ws.env, capture_output=True, text=True, check=False)
    return done.returncode, done.stdout, done.stderr


def check_report(label: str, result: tuple[int, str, str], code: int, expected: Counter[str]) -> Counter[str]:
    """The command's exit code and its JSON report's findings by id must be what is expected."""
    got, text, err = result
    if got != code:
        raise SystemExit(f"bench.diff: {label} exited {got}, expected {code}: {err.strip()}")
    found = Counter(f["id"] for f in json.loads(text)["findings"])
    if found != expected:
        raise SystemExit(f"bench.diff: {label} found {dict(found)}, expected {dict(expected)}")
    return found


def check_findings(label: str, findings: list[Any], expected: Counter[str]) -> Counter[str]:
    found = Counter(f.id for f in findings)
    if found != expected:
        raise SystemExit(f"bench.diff: {label} found {dict(found)}, expected {dict(expected)}")
    return found


def run_bench(settings: Settings, profile: bool) -> Report:
    from ballast.sides import load_side

    report = Report(settings, load_before=load_average())
    if hasattr(os, "sched_getaffinity"):
        report.cores = ", ".join(str(c) for c in sorted(os.sched_getaffinity(0)))
    pair = report.pair = make_pair(settings.rules)
    report.sizes = (len(pair.base), len(pair.head))
    names = ("e2e", "e2e-nogc", "e2e-self", "compile", "compile-cached", "diff", "diff-self", "process")
    report.timings = {name: Timing() for name in names}
    solver_runs: list[list[float]] = []
    saved = os.environ.get("BALLAST_CACHE_DIR")
    with tempfile.TemporaryDirectory(prefix="ballast-diff-bench-") as tmp:
        ws = Workspace(Path(tmp), pair)
        os.environ["BALLAST_CACHE_DIR"] = str(ws.cache)
        try:
            progress(f"{settings.rules} rules, {sum(pair.changes.values())} changed; a first, untimed run")
            check_report("ballast diff", cli_diff(ws.base, ws.head), EXIT_FINDINGS, pair.expected)
            base_again = load_side(str(ws.base), "base")  # a second compilation, for the diff against itself
            for run in range(settings.runs):
                solver_runs.append(one_run(ws, report, base_again))
                t = report.timings
                progress(
                    f"run {run + 1}/{settings.runs}: end to end {t['e2e'].wall[-1]:.2f} s, "
                    f"compile {t['compile'].wall[-1]:.2f} s, diff {t['diff'].wall[-1]:.2f} s, "
                    f"{len(solver_runs[-1])} pairs to the solver"
                )
            if len({len(s) for s in solver_runs}) != 1:
                raise SystemExit("bench.diff: the runs compared different numbers of rule pairs")
            report.solver_ms = [statistics.median(s) * 1000 for s in zip(*solver_runs, strict=True)]
            if profile:
                report.profile_text = profile_runs(ws)
        finally:
            if saved is None:
                os.environ.pop("BALLAST_CACHE_DIR", None)
            else:
                os.environ["BALLAST_CACHE_DIR"] = saved
    report.load_after = load_average()
    return report


def one_run(ws: Workspace, report: Report, base_again: Any) -> list[float]:
    """Time every measure once, in turn, checking each result; the solver's seconds per compared pair."""
    from ballast.compiler.diff import diff_ir
    from ballast.sides import load_side

    t, expected = report.timings, report.pair.expected  # type: ignore[union-attr]

    def compile_both() -> tuple[Any, Any]:
        return load_side(str(ws.base), "base"), load_side(str(ws.head), "head")

    ws.cold()
    report.found_cli = check_report(
        "ballast diff", timed(t["e2e"], lambda: cli_diff(ws.base, ws.head)), EXIT_FINDINGS, expected
    )
    ws.cold()
    check_report("ballast diff, GC paused", timed(t["e2e-nogc"], lambda: without_gc(ws)), EXIT_FINDINGS, expected)
    ws.cold()
    check_report("ballast diff BASE BASE", timed(t["e2e-self"], lambda: cli_diff(ws.base, ws.base)), 0, Counter())
    ws.cold()
    base, head = timed(t["compile"], compile_both)
    timed(t["compile-cached"], compile_both)
    seconds: list[float] = []
    findings = timed(t["diff"], lambda: diff_ir(base.ir, head.ir, solver_seconds=seconds))
    report.found = check_findings("diff_ir", findings, expected)
    itself = timed(t["diff-self"], lambda: diff_ir(base.ir, base_again.ir))
    check_findings("diff_ir of the set against itself", itself, Counter())
    ws.cold()
    result = timed(t["process"], lambda: process_diff(ws), children=True)
    check_report("python -m ballast.cli diff", result, EXIT_FINDINGS, expected)
    return seconds


def short_paths(listing: str) -> list[str]:
    """A profile's lines with the repository's paths relative and installed packages' from site-packages."""
    return [re.sub(r"\S*/site-packages/", "", line) for line in repository_relative(listing)]


def profile_runs(ws: Workspace) -> str:
    from ballast.compiler.diff import diff_ir
    from ballast.sides import load_side

    progress("profile")
    base, head = load_side(str(ws.base), "base"), load_side(str(ws.head), "head")
    ws.cold()
    end_to_end = short_paths(cprofile_text(lambda: cli_diff(ws.base, ws.head), 20))
    alone = short_paths(cprofile_text(lambda: diff_ir(base.ir, head.ir), 25))
    return "\n".join(
        [
            "Where one end-to-end run spends its time (cProfile, by own time):",
            *end_to_end,
            "",
            "diff_ir alone (cProfile, by own time):",
            *alone,
        ]
    )


# ---------------------------------------------------------------------------------------------
# the report


def seconds(timing: Timing, baseline: Timing | None = None) -> str:
    text = f"{timing.median:.2f} s wall, {timing.median_cpu:.2f} s CPU"
    if baseline is not None:
        text += f" ({timing.median / baseline.median:.1f}× the set against itself)"
    return text


def render(report: Report, markdown: bool) -> str:
    s, pair, t = report.settings, report.pair, report.timings
    assert pair is not None
    method = (
        f"median of {s.runs} interleaved runs, in process (`ballast.cli.main`, `load_side`, `diff_ir`) and as a "
        'fresh process; the parsed-document cache emptied before each compile but the "documents cached" row; '
        "× = median ÷ the median of the same measure for the set against itself"
    )
    aside = f"; CPU affinity: {report.cores}" if report.cores else ""
    software = ""
    try:
        import lark
        import z3

        software = f"; Lark {lark.__version__}, z3 {z3.get_version_string()}"
    except ImportError:
        pass
    head = head_lines(
        "semantic diff", s.quick, method, (report.load_before, report.load_after), software=software, aside=aside
    )
    changed = sum(pair.changes.values())
    solver = sorted(report.solver_ms)
    rest = t["e2e"].median - t["compile"].median - t["diff"].median
    rest_cpu = t["e2e"].median_cpu - t["compile"].median_cpu - t["diff"].median_cpu
    pairs = pair.rules - pair.changes["remove"]  # every rule of the base matched by name or as a rename
    rows = [
        (
            "rules, base → head",
            f"{pair.rules:,} → {pair.rules - pair.changes['remove'] + pair.changes['add']:,} ({changed} changed: {changed / pair.rules:.0%})",
        ),
        (
            "policy text, base / head",
            f"{report.sizes[0] / 1024:,.0f} / {report.sizes[1] / 1024:,.0f} KiB ({FIELD_COUNT} input fields)",
        ),
        ("`ballast diff` end to end (in process)", seconds(t["e2e"], t["e2e-self"])),
        ("`ballast diff` of the set against itself", seconds(t["e2e-self"])),
        ("`ballast diff` end to end, cyclic GC paused", seconds(t["e2e-nogc"])),
        ("compile both sides (`load_side` × 2)", seconds(t["compile"])),
        ("compile both sides, documents cached", seconds(t["compile-cached"])),
        ("diff alone (`diff_ir`)", seconds(t["diff"], t["diff-self"])),
        ("diff alone of the set against itself", seconds(t["diff-self"])),
        ("the rest (report, JSON): end to end − compile − diff", f"{rest:.2f} s wall, {rest_cpu:.2f} s CPU"),
        ("`ballast diff` as a fresh process (imports Lark, z3)", seconds(t["process"])),
        (
            "rule pairs compared by the solver",
            f"{len(solver)} of {pairs:,} (the others have the same shape: no solver)",
        ),
        (
            "solver time per compared pair: median / p95 / max",
            f"{percentile(solver, 0.5):.1f} / {percentile(solver, 0.95):.1f} / {solver[-1]:.1f} ms"
            if solver
            else "n/a",
        ),
        (
            "solver time, all pairs",
            f"{sum(solver) / 1000:.2f} s ({sum(solver) / 1000 / t['diff'].median:.0%} of the diff alone)"
            if solver
            else "n/a",
        ),
    ]
    findings = markdown_table(
        ("finding", "expected", "`diff_ir`", "`ballast diff` (JSON)"),
        [(f"`{k}`", str(v), str(report.found[k]), str(report.found_cli[k])) for k, v in sorted(pair.expected.items())],
    )
    if not markdown:
        findings = [
            f"  {k:<26} expected {v:>3}, diff_ir {report.found[k]:>3}, ballast diff {report.found_cli[k]:>3}"
            for k, v in sorted(pair.expected.items())
        ]
    report.notes = [
        "changes: " + ", ".join(f"{k} {v}" for k, v in pair.changes.items()) + "; and the policy's version bumped",
        "every run found exactly the expected findings (both from diff_ir and in the command's JSON report) and none "
        "between the set and itself",
        "in process, Lark and z3 are imported and the parser tables built by a first, untimed run; the fresh-process "
        "row pays both",
        "wall time includes waiting for the core while other processes run on it; CPU time is this process's own "
        "(its children's for the fresh process)",
    ]
    e2e = t["e2e"].median
    what = f"diff of two {TARGET_RULES}-rule sets, 5% changed, < {TARGET_S:g} s on one core (end to end)"
    if s.rules == TARGET_RULES:
        report.targets = [
            (
                what,
                f"{e2e:.2f} s wall ({t['e2e'].median_cpu:.2f} s CPU) in process, "
                f"{t['process'].median:.2f} s wall as a fresh process",
                e2e < TARGET_S,
            )
        ]
    else:
        report.notes.append(f"the target is for {TARGET_RULES} rules; this run has {s.rules}")
    return "\n".join(
        [
            *intro(head, markdown),
            "",
            *measures_table(rows, markdown),
            "",
            "**Findings by check**" if markdown else "Findings by check:",
            "",
            *findings,
            "",
            *report_tail(report, markdown),
        ]
    )


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rules", type=int, metavar="N", help=f"rules per set (default {TARGET_RULES}; 200 with --quick)"
    )
    parser.add_argument("--runs", type=int, metavar="N", help="timed runs; every figure is their median (default 3)")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_arguments(
        argv,
        "diff",
        __doc__,
        quick="a fast smoke run (200 rules); rough numbers",
        profile="also print a cProfile of one end-to-end run and of diff_ir alone",
        options=options,
    )
    if (args.rules is not None and args.rules < 20) or (args.runs is not None and args.runs < 1):
        raise SystemExit("bench.diff: --rules must be at least 20 (one of each kind of change) and --runs at least 1")
    started = time.perf_counter()
    report = run_bench(Settings.make(args.quick, args.rules, args.runs), args.profile)
    report.elapsed_s = time.perf_counter() - started
    print(render(report, args.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
