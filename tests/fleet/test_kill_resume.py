"""Kill -9 the process applying a plan in the middle of a wave; `resume` finishes the run and
pushes nothing twice — proved by the push counter each local cluster persists (pushes.jsonl).

The run uses the wall clock with short bakes and intervals, so the child is killed while it
really is in the middle of the global wave.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from support import run_cli as run

REPO = Path(__file__).resolve().parents[2]
FLEET = REPO / "catalog" / "fleet" / "edge.fleet.bal"
PROD = [
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "us-east-1",
    "us-east-2",
    "us-east-3",
    "ap-south-1",
    "ap-south-2",
    "ap-south-3",
]
FAST_PLAN = """rollout mesh.fast version "1.0.0" {
  fleet "mesh.edge"
  profile "prod"
  select env == "prod"
  allow ["eu-west-1", "eu-west-2", "eu-west-3", "us-east-1", "us-east-2", "us-east-3", "ap-south-1", "ap-south-2", "ap-south-3"]
  ceiling 1
  gate health {
    pass when error_budget_burn < 1.0
    interval 300ms
    count 2
  }
  wave canary { select id == "eu-west-1" bake 200ms gates ["health"] }
  wave global { max_update 3 bake 200ms gates ["health"] }
}
"""


def global_wave_in_flight(db: Path) -> bool:
    """Some cluster of the global wave pushed and not yet proven, some still pending."""
    if not db.exists():
        return False
    try:
        with sqlite3.connect(db, timeout=1) as conn:
            rows = conn.execute("SELECT wave, state, pushed FROM clusters").fetchall()
    except sqlite3.Error:
        return False
    pushed_running = any(w == 1 and s == "running" and p for w, s, p in rows)
    pending = any(w == 1 and s == "pending" for w, s, p in rows)
    return pushed_running and pending


def test_resume_after_kill_9_mid_wave_pushes_nothing_twice(tmp_path: Path) -> None:
    (tmp_path / "fast.rollout.bal").write_text(FAST_PLAN, encoding="utf-8")
    assert run("compile", REPO / "catalog" / "watchdog.bal", "-o", tmp_path / "old.json")[0] == 0
    assert run("compile", REPO / "catalog" / "motb.bal", "-o", tmp_path / "new.json")[0] == 0
    now = time.time()
    code, _, _ = run(
        "fleet", "init-local", "--fleet", FLEET, "--bundle", tmp_path / "old.json", "--clusters", tmp_path / "c",
        "--start", now - 5, "--hours", 0.05,
    )  # fmt: skip
    assert code == 0
    for directory in (tmp_path / "c").iterdir():  # denser samples than init-local's, for 300 ms intervals
        with open(directory / "telemetry.jsonl", "a", encoding="utf-8") as f:
            for i in range(1800):
                f.write(json.dumps({"t": now + i * 0.1, "error_budget_burn": 0.2}) + "\n")
    args = [
        "fleet", "apply", str(tmp_path / "fast.rollout.bal"), "--fleet", str(FLEET), "--bundle",
        str(tmp_path / "new.json"), "--clusters", str(tmp_path / "c"), "--allow-unsigned",
        "--state", str(tmp_path / "runs.db"), "--run", "r",
    ]  # fmt: skip
    child = subprocess.Popen(
        [sys.executable, "-m", "ballast.cli", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while not global_wave_in_flight(tmp_path / "runs.db"):
            assert child.poll() is None, "the run ended before it could be killed mid-wave"
            assert time.monotonic() < deadline, "the run never reached the global wave"
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    pushed_before = [cid for cid in PROD if (tmp_path / "c" / cid / "pushes.jsonl").exists()]
    assert 1 < len(pushed_before) < len(PROD)

    code, out, err = run(
        "fleet", "resume", "r", "--state", tmp_path / "runs.db", "--clusters", tmp_path / "c", "--allow-unsigned"
    )
    assert code == 0, out + err
    assert out.startswith("run r of mesh.fast: succeeded")
    for cid in PROD:
        writes = (tmp_path / "c" / cid / "pushes.jsonl").read_text(encoding="utf-8").splitlines()
        assert [json.loads(w)["kind"] for w in writes] == ["push"], (cid, writes)
        assert (tmp_path / "c" / cid / "bundle.json").read_bytes() == (tmp_path / "new.json").read_bytes()
    for cid in ("eu-west-stg", "us-east-stg", "ap-south-stg"):
        assert not (tmp_path / "c" / cid / "pushes.jsonl").exists()
