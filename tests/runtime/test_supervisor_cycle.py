"""The supervisor's cycle: routing through the approval matrix, verification and rollback,
alerts, confidence gating, the ledger, and determinism."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ballast.compiler.pipeline import compile_paths
from ballast.runtime.audit import AuditLog
from ballast.runtime.errors import UsageError
from ballast.runtime.supervisor import ParameterTable, Supervisor, SupervisorState
from ballast.runtime.supervisor_kpis import outcome_entry
from ballast.runtime.supervisor_model import IMPACTS, SupervisorDocument
from ballast.runtime.supervisor_summary import markdown

T0 = 1_796_306_400.0  # 2026-12-03T16:00:00Z
ROUTES = ("auto", "auto_notify", "approval_in_prod", "approval", "block_review")


def document(
    impact: str = "low", environment: str = "prod", extra: str = "", alert_gap_cycles: int = 5
) -> SupervisorDocument:
    matrix = "".join(
        f'  approval {level} {{ route "{route}" }}\n' for level, route in zip(IMPACTS, ROUTES, strict=True)
    )
    text = (
        'supervisor s version "1" {\n'
        f'  window 5m\n  environment "{environment}"\n'
        "  goal overall_success_rate { target 95% min_samples 10 }\n"
        "  goal mean_recovery_seconds { target 30 tolerance 5 min_samples 5 }\n"
        "  meta_policy improve {\n"
        "    when gap.overall_success_rate > 0.05\n"
        '    directive adjust_threshold { parameter "retry.min_confidence" step 0.05 max 0.9 }\n'
        f"    impact {impact}\n    confidence 80%\n  }}\n"
        f"{extra}{matrix}"
        f"  verify {{ alert_failures 2 alert_gap_cycles {alert_gap_cycles} }}\n"
        "}\n"
    )
    ir = compile_paths(["s.bal"], sources={"s.bal": text}).ir["supervisors"][0]
    return SupervisorDocument.from_ir(ir)


def window(end: float, successes: int, failures: int, recovery: float = 20.0) -> list[dict[str, Any]]:
    """Outcomes spread over the 5 minutes before `end`."""
    total = successes + failures
    return [
        outcome_entry(
            f"a{end:.0f}-{i}",
            succeeded=i < successes,
            when=end - 290 + i * (280 / max(total, 1)),
            actor="executor",
            recovery_seconds=recovery,
        )
        for i in range(total)
    ]


@pytest.mark.parametrize(
    ("impact", "environment", "status", "applied"),
    [
        ("minimal", "prod", "applied", True),
        ("low", "prod", "applied", True),
        ("moderate", "prod", "awaiting_approval", False),
        ("moderate", "staging", "applied", True),
        ("high", "staging", "awaiting_approval", False),
        ("critical", "staging", "blocked", False),
    ],
)
def test_each_impact_level_goes_the_way_the_matrix_says(
    impact: str, environment: str, status: str, applied: bool
) -> None:
    table = ParameterTable({"retry.min_confidence": 0.7})
    cycle = Supervisor(document(impact, environment), actuator=table).cycle(window(T0, 8, 2), T0)
    [directive] = cycle.directives
    assert (directive.route, directive.status) == (ROUTES[IMPACTS.index(impact)], status)
    assert table.parameters["retry.min_confidence"] == pytest.approx(0.75 if applied else 0.7)
    assert directive.notify == (impact in ("low", "moderate", "high"))


def test_a_directive_that_helped_is_verified_and_stays() -> None:
    table = ParameterTable({"retry.min_confidence": 0.7})
    supervisor = Supervisor(document(), actuator=table)
    first = supervisor.cycle(window(T0, 8, 2), T0)
    assert first.directives[0].status == "applied" and first.directives[0].verify_at == T0 + 300
    second = supervisor.cycle(window(T0, 8, 2) + window(T0 + 300, 10, 0), T0 + 300)
    [check] = second.verifications
    assert check.passed and (check.before, check.after) == (0.8, 1.0)
    assert second.directives == [] and table.parameters["retry.min_confidence"] == pytest.approx(0.75)
    assert supervisor.state.failures_in_row == 0


def test_a_directive_that_did_not_help_is_rolled_back_and_logged(tmp_path: Any) -> None:
    trail = tmp_path / "ledger.jsonl"
    table = ParameterTable({"retry.min_confidence": 0.7})
    log = AuditLog.append_to(trail, measure=False)
    supervisor = Supervisor(document(), actuator=table, ledger=log)
    supervisor.cycle(window(T0, 8, 2), T0)
    second = supervisor.cycle(window(T0 + 300, 7, 3), T0 + 300)
    log.close()
    [check] = second.verifications
    assert not check.passed and check.reasons[0] == "overall_success_rate did not improve: 0.8 → 0.7"
    [rollback] = second.directives
    assert (rollback.type, rollback.status, rollback.params) == (
        "rollback_change",
        "applied",
        {"change": check.directive},
    )
    assert table.parameters["retry.min_confidence"] == pytest.approx(0.7)
    kinds = [json.loads(line)["kind"] for line in trail.read_text().splitlines()]
    assert kinds == ["SupervisorDirective", "SupervisorVerification", "SupervisorRollback"]


def test_a_goal_degraded_beyond_its_tolerance_rolls_back_a_change_that_met_its_own() -> None:
    table = ParameterTable({"retry.min_confidence": 0.7})
    supervisor = Supervisor(document(), actuator=table)
    supervisor.cycle(window(T0, 8, 2, recovery=20), T0)
    second = supervisor.cycle(window(T0 + 300, 10, 0, recovery=26), T0 + 300)
    [check] = second.verifications
    assert not check.passed
    assert check.reasons == (
        "overall_success_rate improved: 0.8 → 1",
        "mean_recovery_seconds degraded by 6, beyond its tolerance 5: 20 → 26",
    )
    assert second.directives[0].type == "rollback_change" and table.parameters["retry.min_confidence"] == 0.7


def test_no_data_after_the_change_is_a_failed_verification_not_a_pass() -> None:
    supervisor = Supervisor(document(), actuator=ParameterTable())
    supervisor.cycle(window(T0, 8, 2), T0)
    second = supervisor.cycle([], T0 + 300)
    assert (
        second.verifications[0].reasons[0]
        == "overall_success_rate has no data after the change: nothing shows it helped"
    )
    assert not second.verifications[0].passed and second.directives[0].type == "rollback_change"
    quiet = Supervisor(document(), actuator=ParameterTable()).cycle([], T0)
    assert quiet.skipped[0].reason == "no data for overall_success_rate: the condition is not evaluated"
    assert quiet.snapshot.gaps[0].open and "| overall_success_rate | 95.0% | no data | no data | 0 |" in markdown(quiet)


def test_repeated_failures_and_a_lasting_gap_raise_alerts() -> None:
    supervisor = Supervisor(document(alert_gap_cycles=3), actuator=ParameterTable())
    cycles = [supervisor.cycle(window(T0 + 300 * n, 8 - n, 2 + n), T0 + 300 * n) for n in range(5)]
    # 1 applies; 2 fails its verification and rolls back; 3 applies again; 4 fails again; 5 applies
    assert [[d.type for d in c.directives] for c in cycles] == [
        ["adjust_threshold"],
        ["rollback_change"],
        ["adjust_threshold"],
        ["rollback_change"],
        ["adjust_threshold"],
    ]
    assert (
        cycles[1].skipped[0].reason == f"waiting: its change was rolled back this cycle ({cycles[1].directives[0].id})"
    )
    assert [c.alerts for c in cycles] == [
        [],
        [],
        ["goal overall_success_rate has been open for 3 cycles (gap 0.35)"],
        [f"verification failed 2 times in a row (last: {cycles[2].directives[0].id})"],
        [],
    ]


def test_too_few_samples_do_not_reach_the_confidence_threshold() -> None:
    cycle = Supervisor(document(), actuator=ParameterTable()).cycle(window(T0, 5, 2), T0)  # 7 of 10 samples
    assert cycle.directives == []
    assert cycle.skipped[0].reason == "confidence 70% is below its threshold 80%"


def test_a_policy_waits_while_its_directive_is_verified_or_approved() -> None:
    supervisor = Supervisor(document("high"), actuator=ParameterTable())
    first = supervisor.cycle(window(T0, 8, 2), T0)
    held = first.directives[0]
    second = supervisor.cycle(window(T0 + 60, 8, 2), T0 + 60)
    assert second.directives == [] and second.skipped[0].reason == f"waiting: {held.id} awaits approval"
    approved = supervisor.approve(held.id, "sre-lead", T0 + 120)
    assert approved.status == "applied" and approved.verify_at == T0 + 420
    assert supervisor.actuator.offsets == {"retry.min_confidence": 0.05}  # type: ignore[attr-defined]
    with pytest.raises(UsageError, match="no directive nope awaits approval"):
        supervisor.approve("nope", "sre-lead", T0 + 120)


class BrokenSink:
    def write(self, text: str) -> None:
        raise OSError("disk full")

    def flush(self) -> None:
        pass


def test_nothing_is_applied_that_the_ledger_cannot_hold() -> None:
    table = ParameterTable({"retry.min_confidence": 0.7})
    cycle = Supervisor(document(), actuator=table, ledger=AuditLog(BrokenSink(), measure=False)).cycle(
        window(T0, 8, 2), T0
    )
    assert cycle.directives[0].status == "refused"
    assert table.parameters["retry.min_confidence"] == 0.7


def test_the_same_trail_and_state_give_the_same_cycle_byte_for_byte() -> None:
    def run() -> str:
        supervisor = Supervisor(document(), actuator=ParameterTable({"retry.min_confidence": 0.7}))
        cycles = [supervisor.cycle(window(T0 + 300 * n, 8, 2), T0 + 300 * n) for n in range(3)]
        return json.dumps([c.to_json() for c in cycles], sort_keys=True) + "".join(markdown(c) for c in cycles)

    assert run() == run()


def test_the_state_survives_a_round_trip_through_json() -> None:
    supervisor = Supervisor(document(), actuator=ParameterTable())
    supervisor.cycle(window(T0, 8, 2), T0)
    saved = json.loads(json.dumps(supervisor.state.to_json()))
    restored = SupervisorState.from_json(saved)
    assert restored.to_json() == supervisor.state.to_json()
    with pytest.raises(UsageError, match="not a supervisor state"):
        SupervisorState.from_json({"format": 99})
    with pytest.raises(UsageError, match="damaged"):
        SupervisorState.from_json({**saved, "open": [{"id": 3}]})
    with pytest.raises(UsageError, match="damaged"):
        SupervisorState.from_json({**saved, "open": [{**saved["open"][0], "at": "teatime"}]})


def test_a_rollback_held_for_approval_undoes_the_change_once_approved() -> None:
    table = ParameterTable({"retry.min_confidence": 0.7})
    doc = document()
    doc = SupervisorDocument(**{**{f: getattr(doc, f) for f in doc.__dataclass_fields__}, "rollback_impact": "high"})
    supervisor = Supervisor(doc, actuator=table)
    supervisor.cycle(window(T0, 8, 2), T0)
    second = supervisor.cycle(window(T0 + 300, 7, 3), T0 + 300)
    [rollback] = second.directives
    assert (rollback.type, rollback.status) == ("rollback_change", "awaiting_approval")
    assert table.parameters["retry.min_confidence"] == pytest.approx(0.75)  # still in force
    done = supervisor.approve(rollback.id, "sre-lead", T0 + 360)
    assert (done.status, done.note) == ("applied", "retry.min_confidence back to 0.7")
    assert table.parameters["retry.min_confidence"] == 0.7 and supervisor.state.open == []


def test_a_meta_policy_can_roll_back_another_policys_change_in_force() -> None:
    extra = (
        "  meta_policy undo_on_recovery_slip {\n"
        "    when gap.mean_recovery_seconds > 0\n"
        '    directive rollback_change { change "improve" }\n'
        "    impact minimal\n  }\n"
    )
    table = ParameterTable({"retry.min_confidence": 0.7})
    supervisor = Supervisor(document(extra=extra), actuator=table)
    first = supervisor.cycle(window(T0, 8, 2, recovery=20), T0)
    assert [d.type for d in first.directives] == ["adjust_threshold"]
    assert first.skipped[-1].reason == "gap.mean_recovery_seconds > 0 does not hold"
    second = supervisor.cycle(window(T0 + 60, 8, 2, recovery=40), T0 + 60)
    [undo] = second.directives
    assert (undo.type, undo.params, undo.status) == ("rollback_change", {"change": first.directives[0].id}, "applied")
    assert table.parameters["retry.min_confidence"] == 0.7
    third = supervisor.cycle(window(T0 + 120, 8, 2, recovery=40), T0 + 120)
    assert [d.type for d in third.directives] == ["adjust_threshold"]  # a change of this cycle is not undone in it
    assert third.skipped[-1].reason == "gap.mean_recovery_seconds > 0 holds, but no change of improve is in force"
