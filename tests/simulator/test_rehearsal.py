"""`ballast fleet rehearse`: the real engine in a SimPy world, per scenario, byte-identical per seed."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

from support import run_cli as run

from ballast.compiler.pipeline import compile_paths
from ballast.simulator.rehearsal import rehearse, render_markdown, scale_thresholds

REPO = Path(__file__).resolve().parents[2]
FLEET = REPO / "catalog" / "fleet" / "edge.fleet.bal"
PLAN = REPO / "catalog" / "fleet" / "policy-2026-12.rollout.bal"


@functools.cache
def documents() -> tuple[dict, dict]:
    c = compile_paths([str(FLEET), str(PLAN)], stop_after="optimize")
    return c.ir["fleets"][0], c.ir["rollouts"][0]


def report(scenario: str, seeds: int = 4, **options: object) -> dict:
    fleet, plan = documents()
    return rehearse(plan, fleet, scenario, seeds, **options)  # type: ignore[arg-type]


def test_a_healthy_rollout_promotes_on_every_seed_without_false_aborts() -> None:
    summary = report("healthy", sweep=(1.0,))["summary"]
    assert summary["succeeded"] == 4 and summary["false_abort_rate"] == 0 and summary["exposed_max"] == 0
    assert summary["time_to_promote_mean"] > 600 + 1200 + 1800  # at least the bakes of the three waves


def test_a_bad_bundle_in_the_canarys_region_is_caught_at_the_canary() -> None:
    r = report("bad-bundle-region", sweep=(1.0,))
    assert r["summary"]["succeeded"] == 0 and r["summary"]["missed_rate"] == 0
    assert r["summary"]["exposed_max"] == 1  # the canary only: the blast radius realised
    assert all(run["outcome"] == "rolled_back" and run["time_to_detect"] > 600 for run in r["runs"])


def test_a_bad_bundle_in_the_last_region_is_caught_later_with_more_exposure_time() -> None:
    early = report("bad-bundle-region", sweep=(1.0,))["summary"]
    late = report("bad-bundle-late", sweep=(1.0,))["summary"]
    assert late["time_to_detect_mean"] > early["time_to_detect_mean"]
    assert late["exposed_max"] <= 2  # never more than the ceiling of the region's group at once


def test_a_silent_cluster_fails_the_gate_and_a_slow_one_only_delays() -> None:
    silent = report("silent-cluster", sweep=(1.0,))["summary"]
    assert silent["succeeded"] == 0 and silent["false_abort_rate"] == 1.0  # a silent cluster never passes
    slow, healthy = report("slow-cluster", sweep=(1.0,))["summary"], report("healthy", sweep=(1.0,))["summary"]
    assert slow["succeeded"] == 4 and slow["time_to_promote_mean"] > healthy["time_to_promote_mean"]


def test_the_sweep_scales_the_gates_thresholds_and_changes_the_outcomes() -> None:
    r = report("noisy-metric", seeds=3, sweep=(0.5, 1.0, 2.0))
    by_factor = {row["factor"]: row for row in r["sweep"]}
    assert by_factor[1.0]["runs"] == 3 and by_factor[1.0] == {"factor": 1.0, **r["summary"]}
    assert by_factor[0.5] != by_factor[2.0]
    plan = documents()[1]
    scaled = scale_thresholds(plan, 2.0)
    assert scaled["gates"][0]["pass"] != plan["gates"][0]["pass"] and plan == documents()[1]  # a copy


def test_the_same_seeds_give_a_byte_identical_report(tmp_path: Path) -> None:
    argv = ["fleet", "rehearse", PLAN, "--fleet", FLEET, "--scenario", "noisy-metric", "--seeds", "3", "--sweep", "1,2"]
    outputs = []
    for name in ("a.json", "b.json"):
        assert run(*argv, "--format", "json", "-o", tmp_path / name)[0] == 0
        outputs.append((tmp_path / name).read_bytes())
    assert outputs[0] == outputs[1]
    assert json.loads(outputs[0])["seeds"] == [0, 1, 2]
    code, out, _ = run(*argv)
    assert code == 0 and out == render_markdown(json.loads(outputs[0]))
    assert "## Waves over time" in out and "| factor | succeeded |" in out


def test_bad_arguments_are_usage_errors() -> None:
    code, _, err = run("fleet", "rehearse", PLAN, "--fleet", FLEET, "--scenario", "meteor")
    assert code == 2 and "unknown scenario 'meteor'" in err
    code, _, err = run("fleet", "rehearse", PLAN, "--fleet", FLEET, "--scenario", "healthy", "--sweep", "1,x")
    assert code == 2 and "--sweep 1,x" in err


def test_the_html_report_is_byte_identical_and_draws_a_row_per_wave(tmp_path: Path) -> None:
    late = ["--scenario", "bad-bundle-late", "--seeds", "2", "--sweep", "1,2"]
    argv = ["fleet", "rehearse", PLAN, "--fleet", FLEET, *late]
    pages = []
    for name in ("a.html", "b.html"):
        assert run(*argv, "--format", "html", "-o", tmp_path / name)[0] == 0
        pages.append((tmp_path / name).read_bytes())
    assert pages[0] == pages[1]
    page = pages[0].decode()
    assert run(*argv, "--format", "html")[1] == page  # standard output has the same page
    assert page.startswith("<!DOCTYPE html>") and "http" not in page and "<script" not in page
    assert re.findall(r'<svg data-chart="([^"]+)"', page) == ["waves", "threshold-sweep"]
    waves = re.search(r'<svg data-chart="waves".*?</svg>', page, flags=re.S)[0]
    names = [w["name"] for w in documents()[1]["waves"]]
    assert re.findall(r"<title>wave ([a-z]+): ", waves) == names  # one bar per wave, in the plan's order
    assert "gate failed: abort at " in waves and "rolled back at " in waves  # the late region's gate caught it
    sweep = re.search(r'<svg data-chart="threshold-sweep".*?</svg>', page, flags=re.S)[0]
    assert sweep.count("<title>×1: clusters exposed (mean) ") == sweep.count("<title>×2: clusters exposed (mean) ") == 1


def test_the_html_report_marks_waves_that_never_started() -> None:
    code, page, _ = run(
        "fleet", "rehearse", PLAN, "--fleet", FLEET, "--scenario", "bad-bundle-region", "--seeds", "1", "--sweep", "1",
        "--format", "html",
    )  # fmt: skip
    waves = re.search(r'<svg data-chart="waves".*?</svg>', page, flags=re.S)[0]
    assert code == 0 and re.findall(r"<title>wave ([a-z]+): ", waves) == ["canary"]
    assert waves.count(">never started</text>") == 2  # caught at the canary: regional and global never ran
