"""Scoring documents: the catalog compiles in both forms, mistakes are reported where they are, and
the bias guard refuses a weight set where one signal decides a badge alone unless justified."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from ruamel.yaml import YAML

from ballast.compiler.kinds import without_positions
from ballast.compiler.pipeline import compile_paths
from ballast.dsl.format import format_document
from ballast.dsl.parser import parse_document
from ballast.dsl.yaml_scoring import SCORING_KEYS
from ballast.runtime.errors import CompileError
from ballast.runtime.scoring import Badge, Scoring, decisive_signals, largest_fair_share

REPO = Path(__file__).resolve().parents[2]
CATALOG = REPO / "catalog" / "scoring"
SIGNALS = (
    '  signal a { metric "m.a" stale_after 30d }\n'
    '  signal b { metric "m.b" stale_after 30d }\n'
    '  signal c { metric "m.c" stale_after 30d }\n'
    '  signal d { metric "m.d" stale_after 30d }\n'
    '  signal e { metric "m.e" stale_after 30d }\n'
)


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "s.bal"
    path.write_text('scoring s version "1" {\n' + body + "}\n")
    return path


def compile_scoring(tmp_path: Path, body: str) -> dict:
    return compile_paths([str(write(tmp_path, body))], stop_after="optimize").ir["scoring"][0]


def errors(tmp_path: Path, body: str) -> list[str]:
    with pytest.raises(CompileError) as caught:
        compile_paths([str(write(tmp_path, body))], stop_after="optimize")
    return [f"{d.span.line}:{d.span.column} {d.code} {d.message}" for d in caught.value.diagnostics]


def test_the_catalog_has_the_three_profiles_and_the_seven_signals() -> None:
    ir = compile_paths([str(CATALOG / "tenants.bal")], stop_after="optimize").ir["scoring"][0]
    scoring = Scoring.from_ir(ir)
    assert sorted(scoring.profiles) == ["csm", "regulator", "tech_ops"]
    assert sorted(scoring.signals) == [
        "automation_adoption",
        "data_quality",
        "feature_coverage",
        "governance_health",
        "incident_history",
        "response_slas",
        "training_completion",
    ]
    assert scoring.profile("regulator").justification  # it is the one whose governance weight decides
    assert not scoring.profile("csm").justification and not scoring.profile("tech_ops").justification
    assert scoring.signals["incident_history"].better == "lower"
    assert scoring.signals["incident_history"].missing == "zero"
    assert scoring.signals["training_completion"].stale_after == 90 * 86400
    assert [b.name for b in scoring.profile("regulator").badges] == ["bronze", "silver", "gold"]


def test_the_yaml_form_compiles_to_the_same_signals_profiles_and_badges() -> None:
    def plain(path: Path) -> dict:
        ir = without_positions(compile_paths([str(path)], stop_after="optimize").ir["scoring"][0])
        for entry in (*ir["signals"], *ir["profiles"]):
            entry.pop("about")  # the YAML catalog leaves out the prose
        return ir

    assert plain(CATALOG / "tenants.yaml") == plain(CATALOG / "tenants.bal")


def test_the_yaml_catalog_matches_the_schema_and_the_schema_takes_the_readers_keys() -> None:
    schema = json.loads((REPO / "dsl" / "scoring.schema.json").read_text(encoding="utf-8"))
    document = YAML(typ="safe").load((CATALOG / "tenants.yaml").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(document)
    assert set(schema["properties"]) == set(SCORING_KEYS)
    broken = {**document, "profiles": {"p": {"weights": {"a": -1}, "badges": {"g": {"enter": 80, "exit": 70}}}}}
    assert not jsonschema.Draft202012Validator(schema).is_valid(broken)


def test_fmt_keeps_the_meaning_and_is_idempotent() -> None:
    text = (CATALOG / "tenants.bal").read_text(encoding="utf-8")
    once = format_document(parse_document(text, "tenants.bal"))
    assert once == text  # the catalog is written canonically
    twice = format_document(parse_document(once, "tenants.bal"))
    assert twice == once


def test_defaults_are_filled_in(tmp_path: Path) -> None:
    ir = compile_scoring(
        tmp_path,
        '  signal a { metric "m.a" stale_after 1d }\n'
        '  profile p {\n    weights { a: 1 }\n    justification "one signal"\n'
        "    badge gold { enter 80 exit 70 }\n  }\n",
    )
    signal, profile = ir["signals"][0], ir["profiles"][0]
    assert (signal["low"], signal["high"], signal["better"], signal["decay_seconds"], signal["missing"]) == (
        0.0,
        1.0,
        "higher",
        None,
        None,
    )
    assert (profile["version"], profile["missing"], profile["badges"]) == (
        "1",
        "renormalise",
        [{"name": "gold", "enter": 80.0, "exit": 70.0}],
    )


def test_mistakes_are_reported_where_they_are(tmp_path: Path) -> None:
    found = errors(
        tmp_path,
        '  signal a { metric "m.a" stale_after 30d better "hihger" }\n'
        '  signal b { metric "m.b" low 1 high 0 stale_after 0s missing "drop" }\n'
        '  signal a { metric "x" stale_after 1d }\n'
        '  signal c { stale_after 1d colour "red" }\n'
        "  profile p {\n"
        "    weights { a: 1, zz: 2, c: -1 }\n"
        "    badge gold { enter 80 exit 85 }\n"
        "    badge x { enter 101 exit 1 }\n"
        "  }\n"
        "  profile q { weights { a: 0 } }\n"
        '  profile r { weights { a: 1 } justification "x" justification "y" badge g { enter 50 exit 40 } }\n'
        '  profile s { weights { a: 1 } justification "x" badge g { enter 50 exit 40 } badge h { enter 60 exit 40 } }\n',
    )
    assert found == [
        "2:51 scoring signal 'a': better 'hihger' is not one of higher, lower",
        "3:38 range signal 'b' reads its metric on 1..0: low must be under high",
        "3:52 range signal 'b': stale_after must be longer than 0s",
        "3:64 scoring signal 'b': missing 'drop' is not one of renormalise, zero, block",
        "4:10 duplicate signal 'a' is declared twice (first at " + str(tmp_path / "s.bal") + ":2:10)",
        "5:10 missing signal 'c' has no metric",
        "5:29 name signal 'c' has no setting 'colour'",
        "7:21 name profile 'p' weighs 'zz', which is not a signal of the document",
        "7:28 type profile 'p': the weight of 'c' is '-1': a weight is a number, at least 0",
        "8:32 hysteresis badge 'gold' of profile 'p' exits at 85, not below its enter level 80",
        "9:21 range badge 'x' of profile 'p' enters at 101: scores are 0 to 100",
        "11:11 missing profile 'q' awards no badge",
        "11:23 range profile 'q' gives no signal a weight above 0: it could never score",
        "12:50 duplicate profile 'r' has a second justification (the first is at "
        + str(tmp_path / "s.bal")
        + ":12:32)",
        "13:85 hysteresis badges 'g' (50/40) and 'h' (60/40) overlap: ordered by enter level, enter and exit levels must both rise",
    ]


def test_a_document_without_signals_or_profiles_says_so(tmp_path: Path) -> None:
    assert errors(tmp_path, "") == [
        "1:1 missing scoring 's' declares no signal",
        "1:1 missing scoring 's' declares no profile",
    ]


# --- the bias guard ---------------------------------------------------------------------------------

BADGES = "    badge bronze { enter 50 exit 45 }\n    badge gold { enter 80 exit 75 }\n"


def test_balanced_weights_pass_the_bias_guard(tmp_path: Path) -> None:
    # five equal signals: each is 20%; without it the others still make 80 (gold), alone it makes 20 (< 50)
    ir = compile_scoring(
        tmp_path, SIGNALS + "  profile p {\n    weights { a: 1, b: 1, c: 1, d: 1, e: 1 }\n" + BADGES + "  }\n"
    )
    assert ir["profiles"][0]["justification"] == ""


def test_a_signal_that_can_veto_a_badge_alone_needs_a_justification(tmp_path: Path) -> None:
    # a is 2/6 = 33.3%: with a at 0 and the rest perfect the score is 66.7, under gold's 80
    body = SIGNALS + "  profile p {\n    weights { a: 2, b: 1, c: 1, d: 1, e: 1 }\n" + BADGES + "  }\n"
    assert errors(tmp_path, body) == [
        "8:15 bias profile 'p': signal 'a' is 33.33% of the weight: at its worst, with every other signal at its best, "
        "the score is 66.67, under 'gold' (enter 80), so it decides the badge alone"
    ]
    justified = body.replace("    weights", '    justification "a is a gate"\n    weights')
    assert compile_scoring(tmp_path, justified)["profiles"][0]["justification"] == "a is a gate"


def test_a_signal_that_can_grant_a_badge_alone_needs_a_justification(tmp_path: Path) -> None:
    # a is 6/10 = 60%: alone at its best it makes 60, enough for bronze (50) — and it can veto gold too
    body = SIGNALS + "  profile p {\n    weights { a: 6, b: 1, c: 1, d: 1, e: 1 }\n" + BADGES + "  }\n"
    (message,) = errors(tmp_path, body)
    assert "signal 'a' is 60% of the weight" in message
    assert (
        "at its best, with every other signal at its worst, the score is 60, enough for 'bronze' (enter 50)" in message
    )
    assert "the score is 40, under 'bronze' (enter 50), 'gold' (enter 80)" in message


def test_the_bias_guard_hint_gives_the_largest_fair_share(tmp_path: Path) -> None:
    body = SIGNALS + "  profile p {\n    weights { a: 2, b: 1, c: 1, d: 1, e: 1 }\n" + BADGES + "  }\n"
    with pytest.raises(CompileError) as caught:
        compile_paths([str(write(tmp_path, body))], stop_after="optimize")
    assert caught.value.diagnostics[0].hint.startswith("weigh it at most 20% of the total")


@pytest.mark.parametrize(
    ("weights", "decisive"),
    [
        ({"a": 1, "b": 1, "c": 1, "d": 1, "e": 1}, []),  # 20% each: exactly at the veto limit, not over
        ({"a": 1, "b": 1, "c": 1, "d": 1}, ["a", "b", "c", "d"]),  # 25% each: any one vetoes gold
        ({"a": 5, "b": 5, "c": 0}, ["a", "b"]),  # a zero weight is not a factor
        ({"a": 1}, ["a"]),
    ],
)
def test_decisive_signals_follow_the_definition(weights: dict[str, float], decisive: list[str]) -> None:
    badges = [Badge("bronze", 50, 45), Badge("gold", 80, 75)]
    assert [d.signal for d in decisive_signals(weights, badges)] == decisive
    fair = largest_fair_share(badges)
    assert fair == pytest.approx(0.2)
    for d in decisive_signals(weights, badges):
        assert d.share > fair  # nothing within the fair share is ever reported


def test_values_of_the_wrong_type_are_reported_at_the_value(tmp_path: Path) -> None:
    found = errors(
        tmp_path,
        '  signal a { metric 3 stale_after "30d" }\n'
        '  profile p { weights { a: "high" } missing 0 badge g { enter "80" exit 70 } }\n',
    )
    assert found == [
        "2:21 type 'metric' takes a string, got a number",
        "2:36 type 'stale_after' takes a duration, got a string",
        "3:25 type profile 'p': the weight of 'a' is 'high': a weight is a number, at least 0",
        "3:45 type 'missing' takes a string, got a number",
        "3:64 type 'enter' takes a number, got a string",
    ]


def test_the_yaml_form_reports_mistakes_at_the_yaml_position(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        'scoring: s\nversion: "1"\nsignalz: {}\n'
        "signals:\n  a: {metric: m.a, stale_after: 30d, better: up}\n"
        "profiles:\n  p:\n    weights: {a: 1, b: 2}\n    badges:\n      gold: {enter: 80, exit: 90}\n",
        encoding="utf-8",
    )
    with pytest.raises(CompileError) as caught:
        compile_paths([str(path)], stop_after="optimize")
    assert [(d.span.line, d.span.column, d.code) for d in caught.value.diagnostics] == [(3, 1, "yaml")]
    path.write_text(path.read_text(encoding="utf-8").replace("signalz: {}\n", ""), encoding="utf-8")
    with pytest.raises(CompileError) as caught:
        compile_paths([str(path)], stop_after="optimize")
    assert [f"{d.span.line}:{d.span.column} {d.code}" for d in caught.value.diagnostics] == [
        "4:46 scoring",  # better: up
        "7:21 name",  # weighs b, which is not a signal
        "9:31 hysteresis",  # exit 90 above enter 80
    ]
