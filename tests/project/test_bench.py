"""The benchmarks still run: each at a tiny size, so bench/ does not rot between measurements.

Nothing here times anything (docs/performance.md has the figures); a benchmark stops with an
error when what it measures is wrong, and that is what these runs check.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_bench(*argv: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", *argv], cwd=REPO, env=os.environ.copy(), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_diff_benchmark_runs_on_a_small_set() -> None:
    # bench.diff stops unless every run finds exactly the findings its generator expects
    out = run_bench("bench.diff", "--rules", "40", "--runs", "1", "--markdown")
    assert "**Ballast semantic diff benchmark (full run)**" in out
    assert "| `rule-renamed` | 1 | 1 | 1 |" in out
    assert "solver time per compared pair" in out


def test_the_reload_benchmark_runs_and_checks_the_store_decides_as_the_set() -> None:
    # bench.reload stops unless the store decides as the bare set and every reload keeps the state
    out = run_bench("bench.reload", "--quick", "--markdown")
    assert "**Ballast hot reload benchmark (--quick smoke run: rough numbers)**" in out
    assert "| stateful: store / bare, median of the pairs' ratios (quartiles) |" in out


def test_the_preflight_benchmark_runs_on_a_small_stream() -> None:
    # bench.preflight stops unless the matcher fires exactly the interpreter's classes
    out = run_bench("bench.preflight", "--descriptors", "100", "--runs", "1", "--markdown")
    assert "**Ballast preflight benchmark (full run)**" in out
    assert "the matcher fired exactly the interpreter's classes for every descriptor" in out


def test_the_fleet_rehearsal_benchmark_runs_on_a_small_fleet() -> None:
    # bench.fleet stops unless every seed ends with the bad bundle caught and rolled back
    out = run_bench("bench.fleet", "--clusters", "150", "--seeds", "1", "--markdown")
    assert "| 150 clusters |" in out and "target" in out


def test_the_route_benchmark_runs_on_a_small_stream() -> None:
    # bench.route stops unless every routing gives the generator's tier and decision
    out = run_bench("bench.route", "--intents", "100", "--runs", "1", "--markdown")
    assert "**Ballast route benchmark (full run)**" in out
    assert "every routing of the stream gave the generator's tier and decision" in out


def test_the_service_benchmark_runs_and_checks_nothing_is_lost() -> None:
    # bench.serve stops unless every answer has one result per event, with the bundle's own
    # decisions, and the server counted every event sent
    out = run_bench("bench.serve", "--quick", "--markdown")
    assert "**Ballast service benchmark (--quick smoke run: rough numbers)**" in out
    assert "| sequential: request latency p50 / p95 / p99 (ms, one event) |" in out
    assert "| batch: refused with 429 (events) | 0 |" in out
    assert "nothing lost: every answer was 200" in out


def test_the_columnar_month_runs_on_a_few_minutes_and_deletes_its_recording(tmp_path: Path) -> None:
    # bench.columnar --month stops unless the month's report counts numpy's fires rule by rule and
    # both engines write the same report on its slice; the recording goes to $TMPDIR, then away
    done = subprocess.run(
        [sys.executable, "-m", "bench.columnar", "--month", "--days", "0.005", "--markdown"],
        cwd=REPO,
        env={**os.environ, "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "**Ballast columnar month benchmark (--quick smoke run: 0.005 days, not 30)**" in done.stdout
    assert "43,200 events (0.005 days × 100 services × 1 Hz" in done.stdout
    assert "| the month, columnar, Parquet |" in done.stdout
    assert "whose report the columnar engine matches byte for byte" in done.stdout
    assert list((tmp_path / "ballast-columnar-month").iterdir()) == []
