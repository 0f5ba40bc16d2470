"""Supervisor documents: the catalog's meta-loop compiles to what the seed asks, and mistakes are
reported where they are written, with a hint."""

from __future__ import annotations

from pathlib import Path

import pytest

from ballast.compiler.kinds import without_positions
from ballast.compiler.pipeline import compile_paths
from ballast.dsl.format import format_document
from ballast.dsl.parser import parse_document
from ballast.runtime.errors import CompileError
from ballast.runtime.supervisor_model import IMPACTS, SupervisorDocument

REPO = Path(__file__).resolve().parents[2]
META_LOOP = REPO / "catalog" / "supervisor" / "meta-loop.bal"
META_LOOP_YAML = META_LOOP.with_suffix(".yaml")
MATRIX = "".join(
    f'  approval {level} {{ route "{route}" }}\n'
    for level, route in zip(
        IMPACTS, ("auto", "auto_notify", "approval_in_prod", "approval", "block_review"), strict=True
    )
)
HEAD = 'supervisor s version "1" {\n  window 10m\n  goal overall_success_rate { target 95% }\n'


def compile_supervisor(tmp_path: Path, body: str, matrix: str = MATRIX) -> dict:
    path = tmp_path / "s.bal"
    path.write_text(HEAD + body + matrix + "}\n")
    return compile_paths([str(path)], stop_after="optimize").ir["supervisors"][0]


def errors(tmp_path: Path, body: str, matrix: str = MATRIX, head: str = HEAD) -> list[str]:
    path = tmp_path / "s.bal"
    path.write_text(head + body + matrix + "}\n")
    with pytest.raises(CompileError) as caught:
        compile_paths([str(path)], stop_after="optimize")
    found = sorted(caught.value.diagnostics, key=lambda d: (d.span.line, d.span.column))
    return [f"{d.span.line}:{d.span.column} {d.code} {d.message} | {d.hint}" for d in found]


def test_the_catalog_meta_loop_has_the_seeds_goals_and_matrix() -> None:
    ir = compile_paths([str(META_LOOP)], stop_after="optimize").ir["supervisors"][0]
    doc = SupervisorDocument.from_ir(ir)
    targets = {g.kpi: g.target for g in doc.goals}
    assert targets == {
        "overall_success_rate": 0.95,
        "mean_recovery_seconds": 30.0,
        "autonomy_rate": 0.80,
        "compliance_score": 95.0,
        "human_intervention_rate": 0.15,
    }
    assert dict(doc.approvals) == {
        "minimal": "auto",
        "low": "auto_notify",
        "moderate": "approval_in_prod",
        "high": "approval",
        "critical": "block_review",
    }
    assert doc.window_seconds == 300 and doc.environment == "prod"
    improve = doc.policies[0]
    assert (improve.type, improve.impact, improve.confidence) == ("adjust_threshold", "low", 0.7)
    assert improve.params == {"parameter": "retry.min_confidence", "step": 0.05, "max": 0.95}
    assert improve.reads == ("overall_success_rate",) and improve.metric == "overall_success_rate"
    assert doc.policies[1].reads == ("mean_recovery_seconds", "overall_success_rate")


def test_defaults_are_filled_in(tmp_path: Path) -> None:
    ir = compile_supervisor(
        tmp_path,
        "  meta_policy p {\n    when gap.overall_success_rate > 0.05\n"
        '    directive enable_probe { probe "synthetic" interval 1m }\n    impact minimal\n  }\n',
    )
    policy = ir["policies"][0]
    assert policy["confidence"] == 0.7 and policy["verify_after"] == 600 and policy["metric"] == "overall_success_rate"
    assert policy["directive"] == {"type": "enable_probe", "params": {"probe": "synthetic", "interval": 60.0}}
    assert ir["environment"] == "prod" and ir["verify"] == {
        "alert_failures": 2,
        "alert_gap_cycles": 5,
        "rollback_impact": "low",
    }


def test_mistakes_in_goals_and_conditions_are_reported_where_they_are(tmp_path: Path) -> None:
    found = errors(
        tmp_path,
        "  goal overall_succes_rate { target 95% }\n"  # 4
        "  goal mean_recovery_seconds { target 95% }\n"  # 5
        "  goal autonomy_rate { target 1.5 }\n"  # 6
        "  meta_policy p {\n"  # 7
        "    when gap.autonomy_rat > 0.05 || gap.compliance_score > 1 || kpi.nope > 1 || load > 2\n"  # 8
        '    directive adjust_threshold { parameter "x" step 0.05 }\n'
        "    impact low\n"
        "  }\n",
    )
    assert found == [
        "4:8 kpi unknown KPI 'overall_succes_rate' | did you mean 'overall_success_rate'?",
        "5:39 unit mean_recovery_seconds is in seconds: its target is not a percentage | write a number: `target 30`",
        "6:31 range autonomy_rate's target 1.5 is above 1 | a share is a percentage (95%) or a fraction (0.95)",
        "8:14 kpi unknown KPI 'autonomy_rat' | the KPIs are overall_success_rate",
        "8:41 kpi KPI 'compliance_score' has no goal, so no gap | declare its goal: `goal compliance_score { target … }`, "
        "or read its value as `kpi.compliance_score`",
        "8:69 kpi unknown KPI 'nope' | the KPIs are overall_success_rate, mean_recovery_seconds, autonomy_rate, "
        "human_intervention_rate, compliance_score",
        "8:81 name unknown name 'load' | a condition reads `gap.KPI` and `kpi.KPI`",
    ]


def test_mistakes_in_directives_are_reported_where_they_are(tmp_path: Path) -> None:
    found = errors(
        tmp_path,
        "  meta_policy p {\n"  # 4
        "    when gap.overall_success_rate > 0.05\n"
        '    directive ajust_threshold { parameter "x" }\n'  # 6
        "    impact huge\n"  # 7
        "  }\n"
        "  meta_policy q {\n"  # 9
        "    when gap.overall_success_rate > 0.05\n"
        '    directive adjust_threshold { parameter 3 step "up" min 0.9 max 0.1 }\n'  # 11
        "    impact low\n"
        "    confidence 0.7\n"  # 13
        "  }\n"
        "  meta_policy r {\n"  # 15
        "    when gap.overall_success_rate > 0.05\n"
        '    directive rollback_change { change "nobody" }\n'  # 17
        "    impact low\n"
        "    verify_after 5m\n"  # 19
        "  }\n",
    )
    assert found == [
        "6:15 directive unknown directive type 'ajust_threshold' | did you mean 'adjust_threshold'?",
        "7:12 impact impact level 'huge' does not exist | the levels are minimal, low, moderate, high, critical",
        "11:44 type 'parameter' takes a string, got a number | write `parameter \"retry.min_confidence\"`",
        "11:52 type 'step' takes a number, got a string | write `step 0.05`",
        "11:60 range min 0.9 is above max 0.1 | swap them",
        "13:16 type 'confidence' takes a percentage, got a number | write `confidence 70%`",
        "17:41 name no other meta-policy 'nobody' to roll back | name the meta-policy whose change it undoes",
        "19:18 verify meta-policy 'r' is verified 5m after it is applied, less than the window (10m) | "
        "the post snapshot would still hold events from before the change: wait at least a window",
    ]


def test_a_missing_piece_is_named_with_what_to_add(tmp_path: Path) -> None:
    found = errors(
        tmp_path,
        "  meta_policy p {\n"  # 4
        "    directive request_review { }\n"  # 5
        "  }\n"
        "  meta_policy both {\n"  # 7
        "    when gap.overall_success_rate > 0.05 && kpi.autonomy_rate < 0.5\n"
        '    directive enable_playbook { playbook "fast-failover" }\n'
        "    impact low\n"
        "  }\n",
        matrix='  approval minimal { route "auto" }\n  approval low { route "autoo" }\n',
    )
    assert found == [
        "1:1 missing the approval matrix does not route impact levels moderate, high, critical | "
        'add `approval moderate { route "…" }` (routes: auto, auto_notify, approval_in_prod, approval, block_review); '
        "catalog/supervisor/meta-loop.bal has the seed's matrix",
        "4:15 missing meta-policy 'p' has no condition | add `when gap.overall_success_rate > 0.05`",
        "4:15 missing meta-policy 'p' has no impact level | add `impact low` (levels: minimal, low, moderate, high, critical)",
        '5:15 missing directive request_review has no reviewers | add `reviewers ["sre-lead"]`',
        "7:15 missing meta-policy 'both' reads 2 KPIs: say which one verification checks | "
        'add `metric "overall_success_rate"`',
        "13:25 route route 'autoo' is not one of auto, auto_notify, approval_in_prod, approval, block_review | "
        "did you mean 'auto'?",
    ]
    found = errors(
        tmp_path,
        "  meta_policy both {\n"
        "    when gap.overall_success_rate > 0.05 && kpi.autonomy_rate < 0.5\n"
        '    directive enable_playbook { playbook "fast-failover" }\n'
        "    impact low\n"
        "  }\n",
    )
    assert found == [
        "4:15 missing meta-policy 'both' reads 2 KPIs: say which one verification checks | "
        'add `metric "overall_success_rate"`'
    ]
    assert errors(tmp_path, "", head='supervisor s version "1" {\n') == [
        "1:1 missing supervisor 's' declares no window (the span of each snapshot) | add `window 10m`",
        "1:1 missing supervisor 's' declares no goal | add one: `goal overall_success_rate { target 95% }`",
    ]


def test_a_condition_must_be_a_bool(tmp_path: Path) -> None:
    found = errors(
        tmp_path,
        "  meta_policy p {\n    when gap.overall_success_rate + 1\n"
        '    directive enable_playbook { playbook "x" }\n    impact low\n  }\n',
    )
    assert len(found) == 1 and found[0].startswith("5:10 type a meta-policy condition must be a bool, got float")


def test_fmt_is_canonical_and_idempotent() -> None:
    text = META_LOOP.read_text()
    formatted = format_document(parse_document(text, str(META_LOOP)))
    assert formatted == text
    squeezed = text.replace("\n    route", " route").replace("\n  }\n\n  approval", " }\n  approval")
    assert squeezed != text
    assert format_document(parse_document(squeezed, str(META_LOOP))) == text


def test_the_yaml_form_compiles_to_the_same_ir() -> None:
    bal, yaml = (
        compile_paths([str(p)], stop_after="optimize").ir["supervisors"][0] for p in (META_LOOP, META_LOOP_YAML)
    )
    assert without_positions(bal) == without_positions(yaml)


def test_yaml_mistakes_are_reported_at_their_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        'supervisor: s\nversion: "1"\nwindow: 10m\n'
        "goals:\n  overall_success_rate: {target: 95%}\n"
        "meta_policies:\n"
        "  p:\n"
        "    when: gap.overal_success_rate > 0.05\n"  # 8
        "    directive: enable_playbook\n"  # 9
        "    confidnce: 70%\n"  # 10
        "    impact: low\n"
        "approvals: {minimal: auto, low: auto_notify, moderate: approval_in_prod, high: approval, critical: block_review}\n"
    )
    with pytest.raises(CompileError) as caught:
        compile_paths([str(path)], stop_after="optimize")
    found = [(d.span.line, d.span.column, d.message, d.hint) for d in caught.value.diagnostics]
    assert found == [
        (
            9,
            16,
            "a directive is a mapping with its `type`",
            "directive: {type: enable_playbook, playbook: fast-failover}",
        ),
        (10, 5, "unknown key 'confidnce' in meta-policy 'p'", "did you mean 'confidence'?"),
    ]
    path.write_text(
        path.read_text()
        .replace("directive: enable_playbook", "directive: {type: enable_playbook, playbook: x}")
        .replace("confidnce", "confidence")
    )
    with pytest.raises(CompileError) as caught:
        compile_paths([str(path)], stop_after="optimize")
    [problem] = caught.value.diagnostics
    assert (problem.span.line, problem.span.column, problem.message) == (8, 15, "unknown KPI 'overal_success_rate'")
