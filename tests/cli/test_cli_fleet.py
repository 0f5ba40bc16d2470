"""`ballast fleet …` end to end on local clusters, in-process, with the manual clock."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import run_cli as run

REPO = Path(__file__).resolve().parents[2]
FLEET = REPO / "catalog" / "fleet" / "edge.fleet.bal"
PLAN = REPO / "catalog" / "fleet" / "policy-2026-12.rollout.bal"
PROD = 9


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    assert run("compile", REPO / "catalog" / "watchdog.bal", "-o", tmp_path / "old.json")[0] == 0
    assert run("compile", REPO / "catalog" / "motb.bal", "-o", tmp_path / "new.json")[0] == 0
    code, out, _ = run(
        "fleet", "init-local", "--fleet", FLEET, "--bundle", tmp_path / "old.json", "--clusters", tmp_path / "c"
    )
    assert code == 0 and out == f"12 cluster directories under {tmp_path / 'c'}\n"
    return tmp_path


def apply(demo: Path, *extra: object) -> tuple[int, str, str]:
    return run(
        "fleet", "apply", PLAN, "--fleet", FLEET, "--bundle", demo / "new.json", "--clusters", demo / "c",
        "--allow-unsigned", "--state", demo / "runs.db", "--run", "dec", "--clock", "manual", *extra,
    )  # fmt: skip


def test_plan_changes_nothing_and_apply_rolls_out_wave_by_wave(demo: Path) -> None:
    code, out, _ = run(
        "fleet", "plan", PLAN, "--fleet", FLEET, "--bundle", demo / "new.json", "--clusters", demo / "c",
        "--allow-unsigned", "--format", "json",
    )  # fmt: skip
    assert code == 0
    report = json.loads(out)
    assert [len(w["clusters"]) for w in report["waves"]] == [1, 2, 6] and report["refused"] == []
    assert not list((demo / "c").glob("*/pushes.jsonl"))
    code, out, _ = apply(demo)
    assert code == 0 and out.startswith("run dec of mesh.policy_2026_12: succeeded\n")
    assert len(list((demo / "c").glob("*/pushes.jsonl"))) == PROD
    code, out, _ = run("fleet", "status", "dec", "--state", demo / "runs.db", "--format", "json")
    assert code == 0 and {c["state"] for c in json.loads(out)["clusters"]} == {"succeeded"}
    code, out, _ = run("fleet", "drift", "--fleet", FLEET, "--clusters", demo / "c", "--bundle", demo / "new.json")
    assert code == 1 and out.endswith("3 drift(s) on 3 cluster(s)\n")  # the staging clusters, outside the plan


def test_a_failing_gate_exits_1_and_the_run_is_rolled_back(demo: Path) -> None:
    with open(demo / "c" / "eu-west-1" / "telemetry.jsonl", "a", encoding="utf-8") as f:
        for t in range(0, 4000, 30):
            f.write(json.dumps({"t": t + 1, "error_budget_burn": 5.0, "p95_latency_ms": 900.0, "error_rate": 0.2,
                                "directive_rate": 1.0, "rule_faults": 3, "requests": 10}) + "\n")  # fmt: skip
    code, out, _ = apply(demo)
    assert code == 1 and "rolled_back: wave canary: gate health failed" in out.splitlines()[0]
    code, out, _ = run(
        "fleet", "resume", "dec", "--state", demo / "runs.db", "--clusters", demo / "c", "--allow-unsigned"
    )
    assert code == 1 and "rolled_back" in out


def test_bad_inputs_say_what_to_fix(demo: Path) -> None:
    code, _, err = run("fleet", "status", "nope", "--state", demo / "runs.db")
    assert code == 2 and "no such runs database" in err
    apply(demo)
    code, _, err = run("fleet", "status", "nope", "--state", demo / "runs.db")
    assert code == 2 and err == f"ballast: no run 'nope' (runs in {demo / 'runs.db'}: dec)\n"
    code, _, err = run("fleet", "pause", "dec", "--state", demo / "runs.db")
    assert code == 2 and "cannot pause run 'dec': it is succeeded" in err
    code, _, err = apply(demo)
    assert code == 2 and "run 'dec' exists already" in err
    code, _, err = run("fleet", "plan", PLAN, "--fleet", FLEET, "--bundle", demo / "new.json", "--clusters", demo / "c")
    assert code == 2 and "give --trust KEYRING (or --allow-unsigned" in err
    code, _, err = run(
        "fleet", "plan", PLAN, "--fleet", FLEET, "--bundle", FLEET, "--clusters", demo / "c", "--allow-unsigned"
    )
    assert code == 2 and "not a bundle" in err
    (demo / "bad.bal").write_text(PLAN.read_text(encoding="utf-8").replace('profile "prod"', 'profile "dev"'))
    code, _, err = run(
        "fleet", "plan", demo / "bad.bal", "--fleet", FLEET, "--bundle", demo / "new.json", "--clusters", demo / "c",
        "--allow-unsigned",
    )  # fmt: skip
    assert code == 1 and "error[safety]: a plan from profile 'dev' selects prod clusters" in err
