"""The semantic diff of fleets and rollouts: loosened one way is tightened the other way, a
plan's justification answers --require-justification, and gate conditions go to the solver.

The gold fixtures (tests/diff/gold/fleet-*/, rollout-*/) pin each check's report; these tests
check what the fixtures cannot: the direction of every change, read both ways.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from support import run_cli

from ballast.compiler.diff.rollout import _limit_looser

GOLD = Path(__file__).parent / "gold"
PAIRED = sorted(
    p.name
    for p in GOLD.iterdir()
    if (p.name.startswith("rollout-") and p.name.endswith(("-loosened", "-tightened")))
    or p.name in ("rollout-wave-removed", "rollout-wave-added", "rollout-gate-removed", "rollout-gate-added")
)
MIRROR = {
    "loosened": "tightened",
    "tightened": "loosened",
    "removed": "added",
    "added": "removed",
}


def findings(base: Path, head: Path, *more: str) -> tuple[int, dict]:
    code, out, err = run_cli("diff", base, head, "--format", "json", *more)
    assert err == "", err
    return code, json.loads(out)


@pytest.mark.parametrize("check", PAIRED)
def test_a_change_read_backwards_is_its_mirror(check: str) -> None:
    fixture = GOLD / check
    _, forward = findings(fixture / "base", fixture / "head")
    _, backward = findings(fixture / "head", fixture / "base")
    stem, _, way = check.rpartition("-")
    mirror = f"{stem}-{MIRROR[way]}"
    subjects = {f["subject"] for f in forward["findings"] if f["id"] == check}
    assert subjects, f"{check} is not raised by its own fixture"
    assert subjects <= {f["subject"] for f in backward["findings"] if f["id"] == mirror}
    for report, tag in ((forward, way), (backward, MIRROR[way])):
        for f in report["findings"]:
            if f["id"].endswith(("-loosened", "-removed")) and f["kind"] == "rollout":
                assert "guard-loosened" in f["tags"] and f["level"] == "breaking", f
            if f["id"].endswith(("-tightened", "-added")) and f["kind"] == "rollout":
                assert "guard-tightened" in f["tags"] and f["level"] == "behavioral", f
        assert tag in MIRROR


def test_the_plans_justification_answers_require_justification(tmp_path: Path) -> None:
    fixture = GOLD / "rollout-ceiling-loosened"
    code, report = findings(fixture / "base", fixture / "head", "--require-justification")
    assert code == 1
    assert report["summary"]["failed"] is True
    assert [f.get("justification") for f in report["findings"]] == ["missing"]
    justified = tmp_path / "head"
    shutil.copytree(fixture / "head", justified)
    plan = justified / "ship.rollout.bal"
    plan.write_text(
        plan.read_text(encoding="utf-8").replace(
            'owner "sre"', 'owner "sre"\n  justification "CHG-7: a wider ceiling"'
        ),
        encoding="utf-8",
    )
    code, report = findings(fixture / "base", justified, "--require-justification")
    assert [f["id"] for f in report["findings"]] == ["rollout-ceiling-loosened", "rollout-metadata-changed"]
    assert all("justification" not in f for f in report["findings"]) and code == 1  # breaking still fails


def test_a_gate_condition_is_decided_by_the_solver(tmp_path: Path) -> None:
    """Rewritten alike: no finding; stricter: tightened; both ways: loosened with both listed."""
    fixture = GOLD / "rollout-gate-loosened"
    plan = (fixture / "base" / "ship.rollout.bal").read_text(encoding="utf-8")
    old = "pass when error_budget_burn < 1.0 && rule_faults == 0"
    cases = {
        "pass when rule_faults == 0 && error_budget_burn < 1.0": None,  # the same condition
        "pass when error_budget_burn < 0.5 && rule_faults == 0": "rollout-gate-tightened",
        "pass when error_budget_burn < 2.0 && rule_faults <= 0": "rollout-gate-loosened",
    }
    assert old in plan
    for new, expected in cases.items():
        head = tmp_path / f"head-{len(new)}-{expected}"
        shutil.copytree(fixture / "base", head)
        (head / "ship.rollout.bal").write_text(plan.replace(old, new), encoding="utf-8")
        _, report = findings(fixture / "base", head)
        ids = [f["id"] for f in report["findings"]]
        assert ids == ([expected] if expected else []), (new, ids)


def test_a_cluster_that_leaves_prod_loosens_its_guards(tmp_path: Path) -> None:
    fixture = GOLD / "fleet-cluster-changed"
    head = tmp_path / "head"
    shutil.copytree(fixture / "base", head)
    fleet = head / "mini.fleet.bal"
    text = fleet.read_text(encoding="utf-8")
    # eu-2 becomes staging: the plan no longer targets it, and the allowlist no longer guards it
    text = text.replace(
        '  cluster "eu-2" {\n    region "eu"\n    env "prod"', '  cluster "eu-2" {\n    region "eu"\n    env "staging"'
    )
    fleet.write_text(text, encoding="utf-8")
    _, report = findings(fixture / "base", head)
    changed = [f for f in report["findings"] if f["id"] == "fleet-cluster-changed"]
    assert len(changed) == 1 and changed[0]["subject"] == "eu-2"
    assert changed[0]["tags"] == ["guard-loosened"] and "leaves prod" in changed[0]["message"]


@pytest.mark.parametrize(
    ("before", "after", "looser"),
    [
        ({"count": 1}, {"count": 2}, True),
        ({"count": 2}, {"count": 1}, False),
        ({"percent": 25.0}, {"percent": 50.0}, True),
        ({"percent": 50.0}, {"percent": 25.0}, False),
        ({"count": 1}, None, True),  # no limit at all
        (None, {"count": 1}, False),
        ({"count": 1}, {"percent": 10.0}, True),  # cannot be ranked without the fleet: reviewed as loosened
    ],
)
def test_limits_rank_as_a_reviewer_would(before: dict | None, after: dict | None, looser: bool) -> None:
    assert _limit_looser(before, after) is looser
