"""Seed sweeps on executors: the same report from every executor, progress, retries, bad addresses."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest
from support import run_cli

import ballast.simulator.shadow as shadow_module
from ballast.cli.simulation import seed_progress
from ballast.runtime.errors import UsageError
from ballast.simulator.executors import Dask, Processes, Sequential, executor_for
from ballast.simulator.scenario import load_scenario
from ballast.simulator.shadow import Side, shadow

REPO = Path(__file__).resolve().parents[2]
CATALOG = REPO / "catalog"
MOTB, GTBE = str(CATALOG / "motb.bal"), str(CATALOG / "gtbe.bal")
SCENARIO = CATALOG / "scenarios" / "load-risk-spike.scenario.yaml"
CANDIDATE = str(CATALOG / "tests" / "shadow" / "motb-candidate.bal")
FLEET = CATALOG / "fleet" / "edge.fleet.bal"
PLAN = CATALOG / "fleet" / "policy-2026-12.rollout.bal"


def slower_first(x: int) -> int:
    """Finishes in the reverse order of its inputs, so an executor that returns results as they
    complete (not in task order) gets them wrong."""
    time.sleep(0.05 * (4 - x))
    return x * x


@pytest.mark.parametrize(
    "executor", [Sequential(), Processes(2), Dask(workers=3)], ids=["sequential", "processes", "dask"]
)
def test_results_come_back_in_task_order_with_progress_per_task(executor: object) -> None:
    seen: list[tuple[int, int]] = []
    results = executor.map(slower_first, [0, 1, 2, 3], lambda done, total: seen.append((done, total)))  # type: ignore[attr-defined]
    assert results == [0, 1, 4, 9]
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]


def shadow_argv(executor: str) -> list[str]:
    argv = ["shadow", "--scenario", SCENARIO, "--baseline", MOTB, GTBE, "--candidate", CANDIDATE, GTBE]
    return [*argv, "--seeds", "3", "--duration", "10m", "--format", "json", "--executor", executor]


def test_shadow_on_dask_writes_the_local_report_byte_for_byte() -> None:
    local, dask = run_cli(*shadow_argv("local")), run_cli(*shadow_argv("dask"))
    assert local[0] == dask[0] and local[0] in (0, 1), local[2]
    assert json.loads(local[1])["seeds"] == [7, 8, 9]
    assert local[1] == dask[1]


def test_fleet_rehearse_on_dask_writes_the_local_report_byte_for_byte() -> None:
    argv = ["fleet", "rehearse", PLAN, "--fleet", FLEET, "--scenario", "bad-bundle-region", "--seeds", "3"]
    argv += ["--sweep", "0.5,1,2", "--format", "json"]
    local, dask = run_cli(*argv), run_cli(*argv, "--executor", "dask", "--workers", "2")
    assert local[0] == dask[0] == 0, local[2] + dask[2]
    report = json.loads(local[1])
    assert report["seeds"] == [0, 1, 2] and [s["factor"] for s in report["sweep"]] == [0.5, 1.0, 2.0]
    assert local[1] == dask[1]


def test_simulate_seeds_holds_each_seeds_own_report_on_every_executor() -> None:
    argv = ["simulate", SCENARIO, "--policy", MOTB, GTBE, "--duration", "10m", "--format", "json"]
    local, dask = run_cli(*argv, "--seeds", "2"), run_cli(*argv, "--seeds", "2", "--executor", "dask")
    assert local[0] == dask[0] and local[1] == dask[1], local[2] + dask[2]
    sweep = json.loads(local[1])
    assert sweep["format"] == "ballast.simulate-sweep/1" and sweep["seeds"] == [7, 8]
    # each run is exactly what `simulate --seed S` reports alone
    for seed, run in zip((7, 8), sweep["runs"], strict=True):
        alone = run_cli(*argv, "--seed", seed)
        assert json.loads(alone[1]) == run


ATTEMPTS: list[int] = []  # the seeds flaky_run_pair was called with, in order
REAL_RUN_PAIR = shadow_module.run_pair


def flaky_run_pair(*args: object) -> object:
    """run_pair, but the first attempt at seed 8 fails as a lost worker would. Module-level (dask
    pickles it by reference) with module-level state: the local cluster's workers are threads of
    this process."""
    seed = args[-1]
    ATTEMPTS.append(seed)  # type: ignore[arg-type]
    if seed == 8 and ATTEMPTS.count(8) == 1:
        raise ConnectionResetError("worker lost (injected)")
    return REAL_RUN_PAIR(*args)  # type: ignore[arg-type]


def test_a_task_that_fails_once_is_retried_on_dask_and_the_report_is_unchanged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scenario = load_scenario(SCENARIO, overrides={"duration": 600.0})
    sides = Side((MOTB, GTBE)), Side((CANDIDATE, GTBE))
    expected = shadow(scenario, *sides, seeds=3)
    ATTEMPTS.clear()
    monkeypatch.setattr(shadow_module, "run_pair", flaky_run_pair)
    retried = shadow(scenario, *sides, seeds=3, executor=Dask(workers=2))
    assert ATTEMPTS.count(8) == 2, "the injected failure did not happen: the test checked nothing"
    assert json.dumps(retried, sort_keys=True) == json.dumps(expected, sort_keys=True)


def test_a_task_that_keeps_failing_fails_the_sweep_with_its_own_error() -> None:
    def broken(x: int) -> int:
        raise ValueError(f"seed {x} is broken")

    with pytest.raises(ValueError, match="seed 1 is broken"):
        Dask(workers=1, retries=1).map(broken, [1])


def test_an_unreachable_scheduler_is_a_usage_error_naming_it() -> None:
    with pytest.raises(UsageError, match=r"tcp://127\.0\.0\.1:9.*dask scheduler"):
        Dask("tcp://127.0.0.1:9", connect_timeout=1).map(slower_first, [1])


def test_the_command_line_refuses_a_scheduler_without_dask() -> None:
    code, out, err = run_cli(*shadow_argv("local"), "--scheduler", "tcp://127.0.0.1:8786")
    assert code == 2 and out == ""
    assert "--scheduler is the address of a Dask scheduler: add --executor dask" in err
    with pytest.raises(UsageError, match="--executor spark"):
        executor_for("spark")


def test_simulate_seeds_asks_for_json() -> None:
    code, _, err = run_cli("simulate", SCENARIO, "--policy", MOTB, GTBE, "--seeds", "2")
    assert code == 2 and "--seeds 2 writes one report per seed: add --format json" in err


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_drawn_on_a_terminal_as_seeds_complete_and_never_into_a_pipe() -> None:
    err = Terminal()
    Dask(workers=2).map(slower_first, [0, 1, 2, 3], seed_progress(err, "shadow"))
    drawn = err.getvalue()
    assert [f"{p}%" in drawn for p in (25, 50, 75)] == [True, True, True]
    assert drawn.endswith("\rshadow [#########################] 100%\n")
    assert seed_progress(io.StringIO(), "shadow") is None
