"""The meta-loop supervisor in the simulator: the two catalog scenarios do what they are there
to show (from the real runs), the same seed gives the same report, and mistakes are refused."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

import ballast
from ballast.runtime.errors import CompileError, UsageError
from ballast.simulator.run import Simulation
from ballast.simulator.scenario import load_scenario, parse_scenario
from ballast.simulator.shadow import Side, shadow

CATALOG = Path(__file__).resolve().parents[2] / "catalog"
TUNES = CATALOG / "scenarios" / "supervisor-tunes-autoscale.scenario.yaml"
ROLLS_BACK = CATALOG / "scenarios" / "supervisor-rolls-back.scenario.yaml"
AUTOSCALE = str(CATALOG / "supervisor" / "autoscale.bal")
TUNER = str(CATALOG / "supervisor" / "tuner.bal")
INVERTED = str(CATALOG / "supervisor" / "tuner-inverted.bal")


@functools.cache
def report(scenario: Path, *paths: str) -> dict:
    return Simulation(load_scenario(scenario), ballast.compile(list(paths))).run().report


def test_the_supervisor_lowers_the_threshold_and_the_success_rate_rises() -> None:
    supervised = report(TUNES, AUTOSCALE, TUNER)
    sup = supervised["supervisor"]
    assert sup["parameters"] == {"sim.autoscale.scale_at": 0.8}
    first = next(c for c in sup["cycles"] if c["directives"])
    [directive] = first["directives"]
    assert directive["what"] == "adjust_threshold sim.autoscale.scale_at step -0.1 min 0.5"
    assert directive["note"] == "sim.autoscale.scale_at 0.9 → 0.8" and directive["status"] == "verified"
    after = [c for c in sup["cycles"] if c["t_s"] > first["t_s"]]
    assert after[0]["verifications"] == [
        {
            "directive": directive["id"],
            "passed": True,
            "reasons": [
                f"overall_success_rate improved: {first['kpis']['overall_success_rate']:g} → "
                f"{after[0]['kpis']['overall_success_rate']:g}"
            ],
        }
    ]
    assert first["kpis"]["overall_success_rate"] < 0.9
    assert all(c["kpis"]["overall_success_rate"] >= 0.95 for c in after)
    # the same world without a supervisor document: the late threshold stays, the SLA is worse
    alone = report(TUNES, AUTOSCALE)
    assert "supervisor" not in alone
    assert supervised["kpis"]["sla_adherence_pct"] > alone["kpis"]["sla_adherence_pct"]
    assert {"name": "sim.tuner", "version": "1", "kind": "supervisor"} in supervised["policies"]


def test_verification_rolls_back_the_wrong_way_adjustment() -> None:
    sup = report(ROLLS_BACK, AUTOSCALE, INVERTED)["supervisor"]
    assert sup["parameters"] == {"sim.autoscale.scale_at": 0.9}  # every change undone
    assert sup["directives"] == sup["rollbacks"] == sup["failed_verifications"] >= 1 and sup["verified"] == 0
    cycles = [c for c in sup["cycles"] if c["directives"]]
    applied, undone = cycles[0], cycles[1]
    assert applied["directives"][0]["status"] == "rolled_back"
    assert applied["directives"][0]["note"] == "sim.autoscale.scale_at 0.9 → 0.98"
    [verification] = undone["verifications"]
    assert not verification["passed"] and verification["reasons"][0].startswith("overall_success_rate did not improve")
    [rollback] = undone["directives"]
    assert rollback["what"] == f"rollback_change change {applied['directives'][0]['id']}"
    assert (rollback["status"], rollback["note"]) == ("applied", "sim.autoscale.scale_at back to 0.9")


def test_the_same_seed_gives_the_same_report_byte_for_byte() -> None:
    scenario = replace(load_scenario(ROLLS_BACK), duration=2400.0)
    runs = [
        json.dumps(Simulation(scenario, ballast.compile([AUTOSCALE, INVERTED])).run().report, sort_keys=True)
        for _ in range(2)
    ]
    assert runs[0] == runs[1] and '"rollback_change change sup-' in runs[0]


def test_a_meta_policy_change_is_shadow_tested_like_a_rule_change() -> None:
    scenario = replace(load_scenario(ROLLS_BACK), duration=2400.0)
    out = shadow(scenario, Side((AUTOSCALE, INVERTED)), Side((AUTOSCALE, TUNER)), seeds=1)
    sla = next(k for k in out["kpis"] if k["kpi"] == "sla_adherence_pct")
    assert sla["candidate_mean"] > sla["baseline_mean"]
    assert [p["kind"] for p in out["candidate"]["policies"]] == ["policy", "supervisor"]


def test_a_supervisor_the_scenario_does_not_run_or_cannot_apply_is_refused(tmp_path: Path) -> None:
    without = replace(load_scenario(TUNES), supervision=None)
    with pytest.raises(
        UsageError,
        match=re.escape("holds supervisor 'sim.tuner' but scenario supervisor.tunes-autoscale has no `supervisor:`"),
    ):
        Simulation(without, ballast.compile([AUTOSCALE, TUNER]))
    wrong = tmp_path / "wrong.bal"
    wrong.write_text(Path(TUNER).read_text().replace("sim.autoscale.scale_at", "sim.autoscale.scale_on"))
    with pytest.raises(
        UsageError, match=re.escape("tunes 'sim.autoscale.scale_on', which the policy set does not have")
    ):
        Simulation(load_scenario(TUNES), ballast.compile([AUTOSCALE, str(wrong)]))


def test_a_bad_supervisor_section_is_reported_at_its_place() -> None:
    text = TUNES.read_text().replace("judge_within: 2m", "judge_witin: 2m")
    with pytest.raises(CompileError) as caught:
        parse_scenario(text, str(TUNES))
    [problem] = caught.value.diagnostics
    assert problem.span.line == text.splitlines().index("  judge_witin: 2m") + 1
    assert "judge_witin" in problem.message
