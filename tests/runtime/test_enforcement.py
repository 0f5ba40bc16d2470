"""Graded enforcement on policy rules: `mode warn | dryrun` rules are computed and held back, and
counted wherever directives are reported (evaluation, the Engine, `ballast eval`, the audit
trail, the simulator); `enforce` travels with the directive; bad values are compile errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import run_cli

import ballast
from ballast.compiler.pipeline import compile_paths
from ballast.dsl.format import format_document
from ballast.dsl.parser import parse_document
from ballast.runtime.audit import AuditLog

POLICY = """policy graded version "1" {
  input telemetry { pool: string, load: float in [0, 1] }
  rule scale_up {
    when load > 0.8
    then scale(targets: [pool], by: 1)
    enforce soft
  }
  rule trial_pause {
    when load > 0.9
    then pause(targets: [pool], duration: 30s)
    mode dryrun
  }
  rule warn_busy {
    when load > 0.5
    then downgrade(targets: [pool])
    mode warn
  }
}
"""


@pytest.fixture(scope="module")
def graded() -> ballast.PolicySet:
    return ballast.compile(["graded.bal"], sources={"graded.bal": POLICY})


def test_warn_and_dryrun_directives_are_held_back(graded: ballast.PolicySet) -> None:
    result = graded.evaluate({"pool": "a", "load": 0.95})
    assert [(d.rule, d.enforce) for d in result.directives] == [("scale_up", "soft")]
    assert [(d.rule, d.mode, d.action) for d in result.held] == [
        ("trial_pause", "dryrun", "pause"),
        ("warn_busy", "warn", "downgrade"),
    ]
    out = result.to_dict()
    assert out["directives"][0]["enforce"] == "soft" and "mode" not in out["directives"][0]
    assert [d["mode"] for d in out["held"]] == ["dryrun", "warn"]
    assert graded.evaluate({"pool": "a", "load": 0.1}).to_dict() == {"directives": [], "errors": []}


def test_rules_without_the_clauses_print_what_they_always_printed() -> None:
    plain = ballast.compile(["catalog/motb.bal"])
    assert not plain.graded
    for d in plain.evaluate(json.loads(Path("catalog/events.jsonl").read_text().splitlines()[0])).directives:
        assert "enforce" not in d.to_dict() and "mode" not in d.to_dict()


def test_the_engine_holds_back_and_the_audit_counts(graded: ballast.PolicySet) -> None:
    entries: list[dict] = []
    engine = ballast.Engine(graded, audit=AuditLog(entries.append, measure=False))
    result = engine.process({"pool": "b", "load": 0.6})
    assert result.directives == [] and [d.rule for d in result.held] == ["warn_busy"]
    assert [(e["kind"], e["outcome"]) for e in entries] == [
        ("DirectiveHeld", "held (warn): would have issued downgrade")
    ]


def test_ballast_eval_reports_and_counts_held_directives(tmp_path: Path) -> None:
    policy = tmp_path / "graded.bal"
    policy.write_text(POLICY, encoding="utf-8")
    events = tmp_path / "ev.jsonl"
    events.write_text('{"pool":"a","load":0.95}\n{"pool":"b","load":0.6}\n', encoding="utf-8")
    code, out, err = run_cli("eval", policy, "--events", events, "--format", "text")
    assert code == 0
    assert out.splitlines()[1:] == [
        "line 1: held (dryrun): pause a [graded/trial_pause] rule trial_pause fired",
        "line 1: held (warn): downgrade a [graded/warn_busy] rule warn_busy fired",
        "line 2: held (warn): downgrade b [graded/warn_busy] rule warn_busy fired",
    ]
    assert err == (
        "ballast: dryrun: rule graded/trial_pause held back 1 directive\n"
        "ballast: warn: rule graded/warn_busy held back 2 directives\n"
    )


def test_unknown_levels_are_compile_errors_with_a_suggestion() -> None:
    bad = POLICY.replace("enforce soft", "enforce sfot").replace("mode dryrun", "mode dry")
    with pytest.raises(ballast.CompileError) as caught:
        compile_paths(["g.bal"], sources={"g.bal": bad})
    assert [(d.code, d.span.line, d.span.column, d.hint) for d in caught.value.diagnostics] == [
        ("enforce", 6, 13, "did you mean 'soft'?"),
        ("mode", 11, 10, "did you mean 'dryrun'?"),
    ]


def test_the_clauses_format_canonically() -> None:
    document = parse_document(POLICY, "g.bal")
    text = format_document(document)
    assert "    enforce soft\n" in text and "    mode dryrun\n" in text
    assert format_document(parse_document(text, "g.bal")) == text


def test_a_bundle_with_an_unknown_mode_is_refused(graded: ballast.PolicySet) -> None:
    from ballast.runtime.policy import CompiledPolicy

    ir = compile_paths(["g.bal"], sources={"g.bal": POLICY}).ir["policies"][0]
    ir["rules"][1]["mode"] = "sometimes"
    with pytest.raises(ValueError, match="unknown enforce 'hard' or mode 'sometimes'"):
        CompiledPolicy(ir)


def test_the_ledger_counts_what_each_warn_or_dryrun_rule_held_back(tmp_path: Path) -> None:
    policy = tmp_path / "graded.bal"
    policy.write_text(POLICY, encoding="utf-8")
    events = tmp_path / "ev.jsonl"
    events.write_text('{"pool":"a","load":0.95}\n{"pool":"b","load":0.6}\n', encoding="utf-8")
    ledger = tmp_path / "audit.sqlite"
    assert run_cli("eval", policy, "--events", events, "--audit", ledger)[0] == 0
    code, out, _ = run_cli("audit", "query", ledger, "--kind", "DirectiveHeld", "--count")
    assert code == 0
    assert out.splitlines() == [
        "     1  DirectiveHeld  graded/trial_pause  held (dryrun): would have issued pause",
        "     2  DirectiveHeld  graded/warn_busy  held (warn): would have issued downgrade",
        "3 of 4 entries match",
    ]
    code, out, _ = run_cli("audit", "query", ledger, "--count", "--format", "json")
    counted = [json.loads(line) for line in out.splitlines()]
    assert {(c["kind"], c["count"]) for c in counted} == {
        ("DirectiveHeld", 1),
        ("DirectiveHeld", 2),
        ("DirectiveIssued", 1),
    }
