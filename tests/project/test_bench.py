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


def test_the_fleet_rehearsal_benchmark_runs_on_a_small_fleet() -> None:
    # bench.fleet stops unless every seed ends with the bad bundle caught and rolled back
    out = run_bench("bench.fleet", "--clusters", "150", "--seeds", "1", "--markdown")
    assert "| 150 clusters |" in out and "target" in out
