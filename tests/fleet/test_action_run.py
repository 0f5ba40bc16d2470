"""The ActionRun state machine on local clusters, with a manual clock (no test sleeps).

Every transition of docs/rollouts.md ("The run") is driven through the public API: start, step,
run, pause, resume, abort, rollback, and a new ActionRun on the same store (what `resume` after a
crash does). Clusters are directories (ballast.fleet.local); their push logs prove what was
written and how often.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import pytest
from fleet_world import World, bundle

from ballast.fleet.engine import RetryPolicy
from ballast.fleet.local import trusted_loader
from ballast.runtime.audit import AuditLog
from ballast.runtime.errors import UsageError
from ballast.runtime.fleet import RolloutRefused
from ballast.runtime.ledger import Ledger
from ballast.runtime.ledger_read import LedgerReader

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
STAGING = ["eu-west-stg", "us-east-stg", "ap-south-stg"]


@pytest.fixture(autouse=True)
def quiet_unsigned_warnings(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="ballast.runtime.signing")


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def states(run) -> dict[str, str]:
    return {c.cluster_id: c.state for c in run.clusters()}


def test_a_healthy_rollout_pushes_each_target_once_wave_by_wave_within_the_ceiling(world: World) -> None:
    world.healthy_everywhere()
    run = world.start()
    assert run.run() == "succeeded"
    assert states(run) == dict.fromkeys(PROD, "succeeded")
    for cid in PROD:
        assert world.pushes(cid) == ["push"] and world.runs_new(cid)
    for cid in STAGING:  # outside the plan: never touched
        assert world.pushes(cid) == [] and not world.runs_new(cid)
    started = [s[1] for s in world.store.steps("r1") if s[2] == "ClusterStarted"]
    assert started[0] == "eu-west-1" and set(started[1:3]) == {"eu-west-2", "eu-west-3"}
    groups = {c["id"]: c["group"] for c in world.fleet["clusters"]}
    for batch in world.store.batches("r1"):
        members = [c.cluster_id for c in run.clusters() if c.batch == batch.batch]
        assert max(Counter(groups[m] for m in members).values()) <= 2  # ceiling 50% of 4


def test_a_push_that_fails_is_retried_with_backoff_and_the_others_stay_consistent(world: World) -> None:
    world.healthy_everywhere()
    world.fault("us-east-2", fail_pushes=2)
    run = world.start()
    assert run.run() == "succeeded"
    failures = [s for s in world.store.steps("r1") if s[2] == "PushFailed"]
    assert [s[1] for s in failures] == ["us-east-2", "us-east-2"]
    pushed_at = next(s[0] for s in world.store.steps("r1") if s[2] == "Pushed" and s[1] == "us-east-2")
    assert pushed_at - failures[0][0] >= 10 + 20  # backoff 10 s, then 20 s
    assert world.pushes("us-east-2") == ["push"]
    assert all(world.pushes(cid) == ["push"] for cid in PROD)


def test_failures_in_a_row_open_the_clusters_circuit_breaker(world: World) -> None:
    world.healthy_everywhere()
    world.fault("ap-south-1", fail_pushes=3)
    run = world.start()
    assert run.run() == "succeeded"
    steps = world.store.steps("r1")
    opened = next(s for s in steps if s[2] == "BreakerOpened")
    pushed = next(s for s in steps if s[2] == "Pushed" and s[1] == "ap-south-1")
    assert opened[1] == "ap-south-1" and pushed[0] >= opened[0] + 120  # the cooldown, not the 40 s backoff


def test_a_cluster_that_stays_unreachable_fails_and_max_unavailable_decides(world: World) -> None:
    world.healthy_everywhere()
    world.fault("ap-south-3", unreachable=True)  # global wave: max_unavailable 1
    run = world.start(retry=RetryPolicy(max_attempts=3, backoff=10, breaker_threshold=10))
    assert run.run() == "succeeded"
    assert states(run)["ap-south-3"] == "failed" and "unreachable" in run.clusters()[-1].error
    assert "1 cluster(s) failed within max_unavailable: ap-south-3" in run.reason


def test_a_failed_push_beyond_max_unavailable_fails_the_run_without_rolling_back(world: World) -> None:
    world.healthy_everywhere()
    world.fault("eu-west-3", unreachable=True)  # regional wave: max_unavailable 0
    run = world.start(retry=RetryPolicy(max_attempts=2, backoff=10))
    assert run.run() == "failed"
    assert "wave regional: 1 cluster(s) failed (eu-west-3), max_unavailable is 0" in run.reason
    # on-deviation: a failed push is no deviation, so what was pushed stays; nothing more is pushed
    assert world.runs_new("eu-west-1") and world.runs_new("eu-west-2")
    assert all(world.pushes(cid) == [] for cid in PROD[3:])
    assert states(run)["us-east-1"] == "pending"


def test_a_gate_that_fails_rolls_back_every_cluster_the_run_pushed(world: World) -> None:
    world.healthy_everywhere()
    world.telemetry("eu-west-3", world.clock.now(), world.clock.now() + 4 * 3600, error_budget_burn=3.5)
    run = world.start()
    assert run.run() == "rolled_back"
    assert run.reason == "wave regional: gate health failed"
    for cid in ("eu-west-1", "eu-west-2", "eu-west-3"):
        assert world.pushes(cid) == ["push", "rollback"] and world.adapter.running(cid) == world.old
        assert states(run)[cid] == "rolled_back"
    assert all(world.pushes(cid) == [] for cid in PROD[3:])  # the bad bundle never left the region


def test_an_inconclusive_gate_pauses_for_a_person_who_resumes(world: World) -> None:
    world.healthy_everywhere()
    # burn 1.5: neither `pass when < 1.0` nor `fail when > 2.0`: inconclusive
    t0 = world.clock.now()
    world.telemetry("eu-west-1", t0, t0 + 700, error_budget_burn=1.5)
    run = world.start()
    assert run.run() == "paused"
    assert "gate health inconclusive" in run.reason and states(run)["eu-west-1"] == "paused"
    assert run.step() is None  # a paused run does nothing
    world.clock.advance(600)
    run.resume()
    assert run.run() == "succeeded"
    assert world.pushes("eu-west-1") == ["push"]


def test_a_paused_run_can_be_aborted_and_pushes_nothing_more(world: World) -> None:
    world.healthy_everywhere()
    run = world.start()
    while not any(c.state == "succeeded" for c in run.clusters()):
        world.clock.sleep_until(run.step())
    run.pause()
    assert run.state == "paused" and run.run() == "paused"
    run.abort("change freeze")
    assert run.state == "aborted" and run.reason == "change freeze"
    assert [cid for cid in PROD if world.pushes(cid)] == ["eu-west-1"]  # the canary only
    assert [c.state for c in run.clusters()].count("pending") == 8
    with pytest.raises(UsageError, match="cannot resume run 'r1': it is aborted"):
        run.resume()


def test_commands_are_refused_in_states_they_do_not_apply_to(world: World) -> None:
    world.healthy_everywhere()
    run = world.start()
    with pytest.raises(UsageError, match="cannot resume run 'r1': it is running"):
        run.resume()
    run.run()
    with pytest.raises(UsageError, match="cannot pause run 'r1': it is succeeded"):
        run.pause()
    with pytest.raises(UsageError, match="run 'r1' exists already"):
        world.start()
    with pytest.raises(UsageError, match="no run 'r2'"):
        world.reopen("r2")


def test_rollback_of_a_finished_run_restores_every_cluster_once(world: World) -> None:
    world.healthy_everywhere()
    run = world.start()
    run.run()
    assert sorted(run.rollback()) == sorted(PROD)
    assert run.state == "rolled_back" and run.rollback() == []
    assert all(world.pushes(cid) == ["push", "rollback"] for cid in PROD)


def test_a_cluster_that_never_reports_fails_its_gate_on_errors(world: World) -> None:
    world.healthy_everywhere()
    (world.root / "eu-west-2" / "telemetry.jsonl").unlink()
    run = world.start()
    assert run.run() == "rolled_back"
    measured = [s[3] for s in world.store.steps("r1") if s[2] == "GateMeasured" and "eu-west-2" in s[1]]
    assert len(measured) == 3 and all(": error None" in m for m in measured)  # consecutive_error_limit 2


def test_a_new_action_run_on_the_same_store_continues_where_the_old_one_stopped(world: World) -> None:
    world.healthy_everywhere()
    first = world.start()
    for _ in range(9):  # part way: the regional batch is pushed and verifying
        world.clock.sleep_until(first.step())
    done_before = {cid for cid, s in states(first).items() if s == "succeeded"}
    assert done_before and len(done_before) < len(PROD)
    second = world.reopen()  # what a new process does
    assert second.run() == "succeeded"
    assert all(world.pushes(cid) == ["push"] for cid in PROD)


def test_a_bundle_the_clusters_do_not_trust_is_never_left_running(world: World, tmp_path: Path) -> None:
    strict = World(tmp_path / "strict", loader=trusted_loader(tmp_path / "no-such-keyring.json"))
    strict.healthy_everywhere()
    run = strict.start(retry=RetryPolicy(max_attempts=2, backoff=1))
    assert run.run() == "failed"
    assert "refused the bundle" in run.clusters()[0].error
    assert strict.adapter.running("eu-west-1") == strict.old and strict.pushes("eu-west-1") == []


def test_a_plan_that_breaks_a_safety_rule_is_refused_at_run_time_too(world: World, tmp_path: Path) -> None:
    unsafe = dict(world.plan, profile="staging")  # as if the IR had been edited after `ballast check`
    with pytest.raises(RolloutRefused, match="profile 'staging' selects prod clusters"):
        World(tmp_path / "unsafe", plan=unsafe).start()


def test_every_step_is_in_the_audit_ledger_keyed_by_run_and_cluster(world: World, tmp_path: Path) -> None:
    world.healthy_everywhere()
    with Ledger.open(tmp_path / "audit.db") as ledger:
        run = world.start(audit=AuditLog(ledger))
        run.run()
    with LedgerReader.open(tmp_path / "audit.db") as reader:
        entries = list(reader.entries())
    assert entries and all(e["run_id"] == "r1" and e["action_id"] == f"r1-{e['seq']}" for e in entries)
    pushed = sorted(e["cluster_id"] for e in entries if e["kind"] == "FleetPushed")
    assert pushed == sorted(PROD)
    assert entries[0]["kind"] == "FleetRunStarted" and entries[-1]["kind"] == "FleetRunSucceeded"
    assert len(entries) == len(world.store.steps("r1"))


def test_bundles_of_the_world_differ() -> None:  # the tests above would prove nothing otherwise
    assert bundle("watchdog.bal") != bundle("motb.bal")


class _Died(BaseException):
    """The process dies: no handler of the engine may catch it."""


def test_a_push_that_landed_just_before_the_process_died_is_not_written_again(world: World) -> None:
    """The worst moment to die: the cluster has the bundle, the store does not know yet."""
    world.healthy_everywhere()
    real_push = world.adapter.push

    def push_then_die(cluster_id: str, bundle: bytes) -> bool:
        real_push(cluster_id, bundle)
        if cluster_id == "us-east-1":
            raise _Died
        return True

    world.adapter.push = push_then_die  # type: ignore[method-assign]
    run = world.start()
    with pytest.raises(_Died):
        run.run()
    assert (
        world.pushes("us-east-1") == ["push"]
        and not next(c for c in run.clusters() if c.cluster_id == "us-east-1").pushed
    )
    world.adapter.push = real_push  # type: ignore[method-assign]
    assert world.reopen().run() == "succeeded"
    assert all(world.pushes(cid) == ["push"] for cid in PROD)
    repeated = [s for s in world.store.steps("r1") if s[1] == "us-east-1" and s[2] == "Pushed"]
    assert [s[3] for s in repeated] == ["was running it already"]
