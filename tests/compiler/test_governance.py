"""Governance documents: the catalog's tier table compiles, and mistakes are reported where they are."""

from __future__ import annotations

from pathlib import Path

import pytest

from ballast.compiler.pipeline import compile_paths
from ballast.runtime.errors import CompileError
from ballast.runtime.governance import Governance

REPO = Path(__file__).resolve().parents[2]
ROUTER = REPO / "catalog" / "governance" / "router.bal"
HEAD = 'governance g version "1" {\n'


def compile_governance(tmp_path: Path, body: str) -> dict:
    path = tmp_path / "g.bal"
    path.write_text(HEAD + body + "}\n")
    return compile_paths([str(path)], stop_after="optimize").ir["governance"][0]


def errors(tmp_path: Path, body: str) -> list[str]:
    path = tmp_path / "g.bal"
    path.write_text(HEAD + body + "}\n")
    with pytest.raises(CompileError) as caught:
        compile_paths([str(path)], stop_after="optimize")
    return [f"{d.span.line}:{d.span.column} {d.code} {d.message}" for d in caught.value.diagnostics]


def test_the_catalog_tier_table_is_the_charters() -> None:
    ir = compile_paths([str(ROUTER)], stop_after="optimize").ir["governance"][0]
    g = Governance.from_ir(ir)
    assert [t.number for t in g.tiers] == [0, 1, 2, 3, 4]
    assert g.tier_of("extend_grace").number == 3
    assert g.tier_of("emergency_recovery").number == 4
    assert g.tier_of("grant_permissions").routed_to == "human_review"
    assert g.tier_of("never_heard_of").number == 0
    assert g.alignment({"revenue_impact": True}) == (0.8, ["revenue"])
    assert g.ballot is not None and g.ballot.quorum == 2 and g.ballot.deadline_seconds == 600


def test_defaults_are_filled_in(tmp_path: Path) -> None:
    ir = compile_governance(tmp_path, 'tier 2 { intents ["q"] }\n')
    assert ir["tiers"] == [
        {"tier": 2, "intents": ["q"], "routed_to": "direct", "min_alignment": 0.0, "at": ir["tiers"][0]["at"]}
    ]
    assert ir["vote"] is None


def test_mistakes_are_reported_where_they_are(tmp_path: Path) -> None:
    found = errors(
        tmp_path,
        '  tier 5 { intents ["a"] }\n'
        '  tier 3 { intents ["b"] rooted_to "x" }\n'
        '  tier 1 { intents ["b"] }\n'
        '  tier 1 { intents ["c"] }\n'
        '  priority rev { weight 1.5 signal "r" }\n'
        '  priority rev { weight 0.5 signal "r" }\n'
        '  priority ops { signal "o" }\n'
        '  vote { voters ["a", "a"] quorum 3 deadline 1m ties "maybe" }\n',
    )
    assert found == [
        "2:8 range tier 5 does not exist",
        "3:26 name tier 3 has no setting 'rooted_to'",
        f"4:20 duplicate intent type 'b' is in tier 3 (at {tmp_path / 'g.bal'}:3:20) and tier 1",
        f"5:8 duplicate tier 1 is declared twice (first at {tmp_path / 'g.bal'}:4:8)",
        "6:25 range priority 'rev' weighs 1.5: weights are in [0, 1]",
        f"7:12 duplicate priority 'rev' is declared twice (first at {tmp_path / 'g.bal'}:6:12)",
        "8:12 missing priority 'ops' has no weight",
        "9:17 voters the vote's voters must be listed, each once",
        "9:35 range a quorum of 3 out of 2 voters can never be reached",
        "9:55 ties ties 'maybe' is not one of approve, reject",
    ]


def test_a_voting_tier_needs_a_vote(tmp_path: Path) -> None:
    assert errors(tmp_path, '  tier 3 { intents ["self_improve"] }\n') == [
        "2:8 missing tier 3 lists intents but the document declares no vote"
    ]


def test_a_document_without_tiers_is_refused(tmp_path: Path) -> None:
    assert errors(tmp_path, "") == ["1:1 missing governance 'g' declares no tier"]


def test_a_syntax_error_is_positioned(tmp_path: Path) -> None:
    found = errors(tmp_path, "  tier three { }\n")
    assert found and found[0].startswith("2:8 ")


def test_the_yaml_form_is_the_same_governance() -> None:
    bal = compile_paths([str(ROUTER)], stop_after="optimize").ir["governance"][0]
    yaml = compile_paths([str(ROUTER.with_suffix(".yaml"))], stop_after="optimize").ir["governance"][0]
    assert Governance.from_ir(yaml) == Governance.from_ir(bal)


def test_yaml_mistakes_are_reported_where_they_are(tmp_path: Path) -> None:
    path = tmp_path / "g.yaml"
    path.write_text('governance: g\nversion: "1"\ntiers:\n  two: {intents: [b]}\nextra: 1\n')
    with pytest.raises(CompileError) as caught:
        compile_paths([str(path)], stop_after="optimize")
    assert [f"{d.span.line}:{d.span.column} {d.message}" for d in caught.value.diagnostics] == [
        "4:3 tier 'two' is not a number",
        "5:1 unknown key 'extra' in a governance document",
    ]
    path.write_text('governance: g\nversion: "1"\ntiers:\n  7: {intents: [a]}\n  3: {intents: [c], rooted_to: x}\n')
    with pytest.raises(CompileError) as caught:
        compile_paths([str(path)], stop_after="optimize")
    assert [f"{d.span.line}:{d.span.column} {d.code} {d.message}" for d in caught.value.diagnostics] == [
        "4:3 range tier 7 does not exist",
        "5:3 missing tier 3 lists intents but the document declares no vote",
        "5:21 name tier 3 has no setting 'rooted_to'",
    ]


def test_a_vote_may_require_signatures(tmp_path: Path) -> None:
    body = '  tier 3 { intents ["x"] }\n  vote { voters ["a", "b"] quorum 1 deadline 1m signatures "required" }\n'
    ballot = Governance.from_ir(compile_governance(tmp_path, body)).ballot
    assert ballot is not None and ballot.signed
    unsigned = Governance.from_ir(compile_governance(tmp_path, body.replace('"required"', '"none"'))).ballot
    assert unsigned is not None and not unsigned.signed
    assert errors(tmp_path, body.replace('"required"', '"requred"')) == [
        "3:61 signatures signatures 'requred' is not one of required, none"
    ]
