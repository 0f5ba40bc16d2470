"""The intent router: tiers, mission alignment, votes and the ledger, through `Router`.

The property test checks the vote against a reference count: no intent of tier 3 or 4 is
approved without a quorum of valid (declared, in time, distinct) votes and a majority for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ballast.compiler.pipeline import compile_paths
from ballast.runtime.audit import AuditLog
from ballast.runtime.errors import UsageError
from ballast.runtime.governance import Governance, Router
from ballast.runtime.vote_store import SqliteVoteStore, Vote

REPO = Path(__file__).resolve().parents[2]
GOVERNANCE = Governance.from_ir(
    compile_paths([str(REPO / "catalog" / "governance" / "router.bal")], stop_after="optimize").ir["governance"][0]
)
VOTERS = ("architect", "sre-lead", "risk-officer")  # quorum 2, deadline 10m, ties reject
T0 = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def router(store: Any = None) -> tuple[Router, list[dict], Clock]:
    entries: list[dict] = []
    clock = Clock()
    kwargs = {"store": store} if store is not None else {}
    return Router(GOVERNANCE, ledger=AuditLog(entries.append), clock=clock, **kwargs), entries, clock


def intent(kind: str, id_: str = "i-1", **extra: Any) -> dict:
    return {"id": id_, "type": kind, "actor": "grace_architect", **extra}


def test_the_seed_example_waits_for_its_vote_then_is_approved() -> None:
    r, entries, clock = router()
    first = r.route(intent("extend_grace", mission_context={"revenue_impact": True}))
    assert first.to_json() == {
        "approved": False,
        "tier": 3,
        "requires_vote": True,
        "reasoning": [
            "Tier 3: high impact, requires a quorum vote",
            "Mission alignment: 80% (revenue)",
            "votes: 0 approve, 0 reject, 0 not counted",
            "waiting: 0 of 2 votes needed (ballot open until 2027-01-15T08:10:00Z)",
        ],
        "routed_to": "unified_logic_hub",
        "alignment": 0.8,
    }
    clock.now += 60
    assert r.vote("i-1", "architect", "approve") == (True, "counted")
    assert r.vote("i-1", "sre-lead", "approve") == (True, "counted")
    second = r.route(intent("extend_grace", mission_context={"revenue_impact": True}))
    assert second.approved and second.reasoning[-1] == "the majority approves"
    assert [(e["kind"], e["outcome"]) for e in entries] == [
        ("IntentRouted", "pending"),
        ("IntentVote", "counted"),
        ("IntentVote", "counted"),
        ("IntentRouted", "approved"),
    ]
    assert entries[-1]["narrative"]["who"] == "grace_architect"
    assert entries[-1]["narrative"]["how"] == "routed to unified_logic_hub by governance mesh.router"


@pytest.mark.parametrize(
    ("kind", "tier", "approved", "routed_to"),
    [
        ("grant_permissions", 0, False, "human_review"),
        ("deploy_model", 1, True, "direct"),
        ("query_knowledge", 2, True, "direct"),
        ("an_intent_nobody_declared", 0, False, "human_review"),
    ],
)
def test_each_tier_routes_as_declared(kind: str, tier: int, approved: bool, routed_to: str) -> None:
    r, entries, _ = router()
    routing = r.route(intent(kind))
    assert (routing.tier, routing.approved, routing.routed_to, routing.requires_vote) == (
        tier,
        approved,
        routed_to,
        False,
    )
    assert len(entries) == 1 and entries[0]["outcome"] == ("approved" if approved else "refused")


def test_low_risk_paths_stay_low_noise() -> None:
    r, entries, _ = router()
    routing = r.route(intent("query_knowledge", payload={"q": "x" * 1000}))
    assert routing.reasoning == ("Tier 2: fully autonomous, low risk", "Mission alignment: 0%")
    (entry,) = entries
    assert "x" * 1000 not in str(entry)  # only tier 4 logs the payload


def test_a_tie_breaks_as_declared() -> None:
    r, _, _ = router()
    r.route(intent("self_improve"))
    r.vote("i-1", "architect", "approve")
    r.vote("i-1", "sre-lead", "reject")
    routing = r.route(intent("self_improve"))
    assert not routing.approved and routing.reasoning[-1] == "tie: decided 'reject' as declared"


@pytest.mark.parametrize(
    ("voter", "delay", "reason"),
    [
        ("mallory", 1, "forged: 'mallory' is not a declared voter"),
        ("risk-officer", 601, "cast after the deadline (2027-01-15T08:10:00Z)"),
        ("architect", 1, "duplicate: 'architect' has voted on this intent already"),
    ],
)
def test_bypass_votes_do_not_count_and_are_logged(voter: str, delay: float, reason: str) -> None:
    r, entries, clock = router()
    r.route(intent("emergency_recovery", payload={"cluster": "eu-1"}))
    clock.now += 1
    assert r.vote("i-1", "architect", "approve") == (True, "counted")
    clock.now = T0 + delay
    assert r.vote("i-1", voter, "approve") == (False, reason)
    routing = r.route(intent("emergency_recovery", payload={"cluster": "eu-1"}))
    assert not routing.approved and routing.tier == 4
    assert "waiting: 1 of 2 votes needed" in routing.reasoning[-1]
    logged = [e for e in entries if e["kind"] == "IntentVote" and e["outcome"] == "not counted"]
    assert [e["reason"] for e in logged] == [reason]
    heavy = entries[-1]["narrative"]["why"]  # tier 4: the payload and every vote
    assert 'payload: {"cluster": "eu-1"}' in heavy
    assert any(line.startswith("vote not counted: ") and line.endswith(reason) for line in heavy)


def test_a_vote_before_the_ballot_opens_does_not_count() -> None:
    r, entries, _ = router()
    assert r.vote("i-9", "architect", "approve") == (False, "no ballot is open for this intent: route it first")
    assert entries[0]["outcome"] == "not counted"


def test_an_intent_cannot_choose_its_tier() -> None:
    r, entries, _ = router()
    routing = r.route(intent("self_improve", autonomy_tier=2))
    assert not routing.approved and routing.tier == 3
    assert routing.reasoning[-1].startswith("refused: the intent claims tier 2")
    assert entries[0]["outcome"] == "refused"


def test_a_malformed_intent_is_a_usage_error() -> None:
    r, _, _ = router()
    with pytest.raises(UsageError, match="the intent's 'actor' must be a non-empty string"):
        r.route({"id": "i", "type": "deploy_model"})


def test_a_ledger_that_fails_refuses_the_routing() -> None:
    def broken(entry: dict) -> None:
        raise OSError("disk full")

    r = Router(GOVERNANCE, ledger=AuditLog(broken))
    routing = r.route(intent("deploy_model"))
    assert not routing.approved and routing.reasoning[-1] == "refused: the ledger cannot be written"


def test_votes_survive_in_the_sqlite_store(tmp_path: Path) -> None:
    path = str(tmp_path / "votes.db")
    r, _, clock = router(SqliteVoteStore(path))
    r.route(intent("optimize_system"))
    r.vote("i-1", "architect", "approve")
    again, _, clock2 = router(SqliteVoteStore(path))
    clock2.now = clock.now
    again.vote("i-1", "risk-officer", "approve")
    assert again.route(intent("optimize_system")).approved


VOTE = st.tuples(
    st.sampled_from((*VOTERS, "mallory", "eve")),
    st.sampled_from(("approve", "reject", "abstain")),
    st.floats(min_value=-5, max_value=700),
    st.booleans(),  # written straight into the store, past `Router.vote`
)


@settings(max_examples=200, deadline=None)
@given(kind=st.sampled_from(("self_improve", "extend_grace", "critical_incident")), votes=st.lists(VOTE, max_size=8))
def test_no_high_tier_intent_is_approved_without_a_quorum_of_valid_votes(kind: str, votes: list) -> None:
    r, _, clock = router()
    r.route(intent(kind))
    valid: dict[str, str] = {}
    for voter, choice, delay, direct in votes:
        clock.now = T0 + delay
        if direct:
            r.store.cast(Vote("i-1", voter, choice, clock.now))
        else:
            r.vote("i-1", voter, choice)
        # The reference: a declared voter's first in-time vote for a real choice counts (a
        # malformed choice is no vote, so it does not use the voter's turn).
        if voter in VOTERS and delay <= 600 and voter not in valid and choice != "abstain":
            valid[voter] = choice
    counted = valid
    routing = r.route(intent(kind))
    yes = sum(c == "approve" for c in counted.values())
    assert routing.approved == (len(counted) >= 2 and yes > len(counted) - yes)


def test_votes_do_not_carry_over_to_a_changed_intent() -> None:
    r, entries, _ = router()
    r.route(intent("optimize_system", payload={"scope": "one cluster"}))
    r.vote("i-1", "architect", "approve")
    r.vote("i-1", "sre-lead", "approve")
    swapped = r.route(intent("critical_incident", payload={"scope": "the fleet"}))
    assert not swapped.approved and swapped.reasoning[-1].startswith("refused: intent 'i-1' differs")
    assert r.route(intent("optimize_system", payload={"scope": "one cluster"})).approved
    assert [e["outcome"] for e in entries if e["kind"] == "IntentRouted"] == ["pending", "refused", "approved"]


def test_a_majority_against_refuses() -> None:
    r, entries, _ = router()
    r.route(intent("self_improve"))
    for voter, choice in (("architect", "reject"), ("sre-lead", "reject"), ("risk-officer", "approve")):
        r.vote("i-1", voter, choice)
    routing = r.route(intent("self_improve"))
    assert not routing.approved and routing.reasoning[-1] == "the majority rejects"
    assert entries[-1]["outcome"] == "refused"


def test_a_ballot_past_its_deadline_without_quorum_is_refused() -> None:
    r, entries, clock = router()
    r.route(intent("self_improve"))
    clock.now += 601
    routing = r.route(intent("self_improve"))
    assert routing.reasoning[-1] == "waiting: 0 of 2 votes needed (ballot closed)"
    assert entries[-1]["outcome"] == "refused"


def test_a_tier_may_require_a_minimum_alignment(tmp_path: Path) -> None:
    path = tmp_path / "g.bal"
    path.write_text(
        'governance g version "1" {\n'
        '  tier 1 { intents ["deploy_model"] min_alignment 70% }\n'
        '  priority revenue { weight 0.8 signal "revenue_impact" }\n'
        '  priority learning { weight 0.6 signal "learning_impact" }\n'
        "}\n"
    )
    g = Governance.from_ir(compile_paths([str(path)], stop_after="optimize").ir["governance"][0])
    r = Router(g)
    low = r.route(intent("deploy_model", mission_context={"learning_impact": True}))
    assert not low.approved and low.reasoning[-1] == "refused: alignment 60% is below this tier's minimum 70%"
    both = r.route(intent("deploy_model", mission_context={"learning_impact": True, "revenue_impact": True}))
    assert both.approved and both.alignment == 0.8
