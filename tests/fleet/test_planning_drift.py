"""`plan_rollout` (the dry run, the semantic diff per cluster, guard-loosened needs a
justification) and drift fixtures (fingerprint, semver delta, missing capability)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from fleet_world import World

from ballast.compiler.pipeline import compile_paths
from ballast.fleet.drift import detect_drift, semver_delta
from ballast.fleet.planning import plan_rollout
from ballast.runtime.bundle import dump_bundle
from ballast.runtime.errors import BundleError
from ballast.runtime.fleet import Fleet, Plan, RolloutRefused

GUARD = """policy shop.guards version "{version}" {{
  input telemetry {{ pool: string, load: float in [0, 1] }}
  action shed(targets: selector)
  rule shed_on_load {{
    when load > {limit}
    then shed(targets: pool)
    {justification}
  }}
}}
"""


def guard_bundle(limit: float, version: str, justification: str = "") -> bytes:
    text = GUARD.format(limit=limit, version=version, justification=justification)
    return dump_bundle(compile_paths(["guard.bal"], sources={"guard.bal": text}).bundle)


@pytest.fixture(autouse=True)
def quiet_unsigned_warnings(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="ballast.runtime.signing")


@pytest.fixture
def world(tmp_path: Path) -> World:
    w = World(tmp_path)
    w.old, w.new = guard_bundle(0.8, "1.0.0"), guard_bundle(0.9, "1.1.0")  # 0.9: fires on fewer inputs
    for cid in w.adapter.root.iterdir():
        (cid / "bundle.json").write_bytes(w.old)
    return w


def test_plan_lists_each_wave_and_cluster_with_its_diff_and_mutates_nothing(world: World) -> None:
    before = {p.name: (p / "bundle.json").read_bytes() for p in world.root.iterdir()}
    rollout = plan_rollout(Plan.from_ir(world.plan), Fleet.from_ir(world.fleet), world.new, world.adapter)
    report = rollout.to_json()
    assert [w["name"] for w in report["waves"]] == ["canary", "regional", "global"]
    assert [c["cluster"] for c in report["waves"][0]["clusters"]] == ["eu-west-1"]
    canary = report["waves"][0]["clusters"][0]
    checks = {f["id"] for f in canary["findings"]}
    assert "rule-condition-narrowed" in checks and canary["guard_loosened"]
    assert {p.name: (p / "bundle.json").read_bytes() for p in world.root.iterdir()} == before
    assert all(world.pushes(p.name) == [] for p in world.root.iterdir())


def unjustified(world: World) -> Plan:
    return Plan.from_ir(dict(world.plan, justification=""))


def test_a_loosened_guard_without_justification_refuses_the_run(world: World) -> None:
    rollout = plan_rollout(unjustified(world), Fleet.from_ir(world.fleet), world.new, world.adapter)
    [reason] = rollout.refused
    assert "the bundle loosens guards" in reason and "against what 9 cluster(s) run" in reason
    with pytest.raises(RolloutRefused, match="no justification"):
        rollout.require_allowed()


def test_a_justification_in_the_rollout_or_on_the_rule_allows_it(world: World) -> None:
    justified_plan = Plan.from_ir(dict(world.plan, justification="CHG-77: load shedding too eager"))
    assert plan_rollout(justified_plan, Fleet.from_ir(world.fleet), world.new, world.adapter).refused == []
    on_rule = guard_bundle(0.9, "1.1.0", 'justification "CHG-78"')
    assert plan_rollout(unjustified(world), Fleet.from_ir(world.fleet), on_rule, world.adapter).refused == []


def test_a_tightened_guard_needs_no_justification(world: World) -> None:
    tighter = guard_bundle(0.7, "1.1.0")
    assert plan_rollout(unjustified(world), Fleet.from_ir(world.fleet), tighter, world.adapter).refused == []


def test_plan_refuses_a_bundle_that_is_not_one(world: World) -> None:
    with pytest.raises(BundleError, match="not a bundle"):
        plan_rollout(Plan.from_ir(world.plan), Fleet.from_ir(world.fleet), b"{nope", world.adapter)


# ---- drift ----


def test_no_drift_when_every_cluster_is_as_the_fleet_says(world: World) -> None:
    assert detect_drift(Fleet.from_ir(world.fleet), world.adapter, world.old) == []


def test_drift_names_fingerprint_semver_delta_and_missing_capability(world: World) -> None:
    (world.root / "us-east-1" / "bundle.json").write_bytes(world.new)
    inventory = world.root / "ap-south-2" / "inventory.json"
    inventory.write_text(json.dumps({"control_plane": "1.9.0", "capabilities": ["mtls"]}), encoding="utf-8")
    (world.root / "eu-west-stg" / "bundle.json").unlink()
    drifts = detect_drift(Fleet.from_ir(world.fleet), world.adapter, world.old)
    found = {(d.cluster_id, d.kind): d for d in drifts}
    assert set(found) == {
        ("us-east-1", "fingerprint"),
        ("eu-west-stg", "fingerprint"),
        ("ap-south-2", "semver"),
        ("ap-south-2", "capability"),
    }
    assert found[("eu-west-stg", "fingerprint")].reason == "runs no bundle"
    assert found[("ap-south-2", "semver")].reason == "control plane 1.9.0, the fleet says 1.7.9 (minor +2)"
    assert found[("ap-south-2", "capability")].reason == "missing capability wasm, ratelimit"


def test_an_unreachable_cluster_is_drift_with_its_reason(world: World) -> None:
    world.fault("us-east-3", unreachable=True)
    [drift] = detect_drift(Fleet.from_ir(world.fleet), world.adapter, world.old)
    assert (drift.cluster_id, drift.kind) == ("us-east-3", "unreachable") and "injected" in drift.reason


@pytest.mark.parametrize(
    ("expected", "actual", "delta"),
    [
        ("1.8.2", "1.8.2", "same"),
        ("1.8.2", "1.8.3", "patch +1"),
        ("1.8.2", "1.6.9", "minor -2"),
        ("1.8.2", "2.0.0", "major +1"),
        ("1.8.2", "1.8.2-rc1", "same"),
        ("1.8.2", "", "unreadable"),
    ],
)
def test_semver_delta(expected: str, actual: str, delta: str) -> None:
    assert semver_delta(expected, actual) == delta
