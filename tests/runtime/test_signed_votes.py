"""Signed votes: a vote counts only with a valid signature by its voter's key over it and its ballot.

Each way of forging a vote (none, a bad signature, an unknown key, another voter's key, a revoked
key, a signature replayed onto another ballot, a signed vote moved in time) is recorded as not
counted, with its reason, in the ledger. The property test checks the count against a reference:
no tier 3 intent is approved without a quorum of votes signed by their own voters and a majority.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ballast.compiler.pipeline import compile_paths
from ballast.runtime.audit import AuditLog
from ballast.runtime.governance import Governance, Router
from ballast.runtime.keyring import keyring_from_data
from ballast.runtime.signing import PrivateKey
from ballast.runtime.vote_signing import sign_vote
from ballast.runtime.vote_store import SqliteVoteStore, Vote

REPO = Path(__file__).resolve().parents[2]
UNSIGNED = Governance.from_ir(
    compile_paths([str(REPO / "catalog" / "governance" / "router.bal")], stop_after="optimize").ir["governance"][0]
)
BOARD = Governance.from_ir(
    compile_paths([str(REPO / "docs" / "examples" / "board.bal")], stop_after="optimize").ir["governance"][0]
)
T0 = 1_800_000_000.0
KEYS = {name: PrivateKey.from_seed(bytes([i + 1]) * 32, name) for i, name in enumerate(("alice", "bob", "carol"))}
KEYS["mallory"] = PrivateKey.from_seed(bytes([9]) * 32, "mallory")  # in the keyring, not a voter
KEYS["stranger"] = PrivateKey.from_seed(bytes([7]) * 32, "stranger")  # not in the keyring
BOARD_KEY = PrivateKey.from_seed(bytes([5]) * 32, "")  # holds the role `carol`: votes as carol


def keyring(revoked: tuple[str, ...] = ()) -> Any:
    def entry(k: PrivateKey, roles: list[str]) -> dict[str, Any]:
        revoke = {"revoked": "lost"} if k.name in revoked else {}
        public = base64.b64encode(k.public_key).decode()
        return {"id": k.key_id, "name": k.name, "public_key": public, "roles": roles, **revoke}

    keys = [entry(KEYS[n], ["Voter"]) for n in ("alice", "bob", "carol", "mallory")]
    keys.append({**entry(BOARD_KEY, ["carol"]), "name": "board"})
    roles = {"Voter": {"threshold": 1}, "carol": {"threshold": 1}}
    return keyring_from_data({"keyring": "voters", "roles": roles, "default_role": "Voter", "keys": keys})


class Clock:
    now = T0

    def __call__(self) -> float:
        return self.now


def router(governance: Governance = BOARD, keys: Any = "default", store: Any = None) -> tuple[Router, list, Clock]:
    entries: list[dict] = []
    clock = Clock()
    extra = {"store": store} if store is not None else {}
    voter_keys = keyring() if keys == "default" else keys
    return (
        Router(governance, ledger=AuditLog(entries.append), clock=clock, voter_keys=voter_keys, **extra),
        entries,
        clock,
    )


INTENT = {"id": "i-1", "type": "extend_grace", "actor": "grace_architect"}


def signed(r: Router, voter: str, choice: str, key: PrivateKey, intent: str = "i-1") -> tuple[bool, str]:
    at = r.clock()
    ballot = r.ballot(intent)
    assert ballot is not None
    return r.vote(intent, voter, choice, at, signature=sign_vote(intent, ballot[1], voter, choice, at, key))


def test_votes_signed_by_their_voters_count_and_approve() -> None:
    r, entries, _ = router()
    r.route(INTENT)
    assert signed(r, "alice", "approve", KEYS["alice"]) == (True, "counted")
    assert signed(r, "bob", "approve", KEYS["bob"]) == (True, "counted")
    assert r.route(INTENT).approved
    assert entries[1]["reason"] == f"approve by a declared voter, in time, signed by key {KEYS['alice'].key_id}"


def test_a_key_holding_the_voters_role_votes_for_it() -> None:
    r, _, _ = router()
    r.route(INTENT)
    assert signed(r, "carol", "approve", BOARD_KEY) == (True, "counted")


def _unsigned(r: Router) -> tuple[bool, str]:
    return r.vote("i-1", "bob", "approve")


def _another_voters_key(r: Router) -> tuple[bool, str]:
    return signed(r, "bob", "approve", KEYS["alice"])


def _a_non_voters_key(r: Router) -> tuple[bool, str]:
    return signed(r, "bob", "approve", KEYS["mallory"])


def _unknown_key(r: Router) -> tuple[bool, str]:
    return signed(r, "bob", "approve", KEYS["stranger"])


def _changed_choice(r: Router) -> tuple[bool, str]:
    at, digest = r.clock(), r.ballot("i-1")[1]  # type: ignore[index]
    return r.vote("i-1", "bob", "approve", at, signature=sign_vote("i-1", digest, "bob", "reject", at, KEYS["bob"]))


def _moved_in_time(r: Router) -> tuple[bool, str]:
    at, digest = r.clock(), r.ballot("i-1")[1]  # type: ignore[index]
    sig = sign_vote("i-1", digest, "bob", "approve", at + 900, KEYS["bob"])  # signed after the deadline
    return r.vote("i-1", "bob", "approve", at, signature=sig)


def _replayed_from_another_ballot(r: Router) -> tuple[bool, str]:
    r.route({**INTENT, "id": "i-2"})
    at, digest = r.clock(), r.ballot("i-2")[1]  # type: ignore[index]
    return r.vote("i-1", "bob", "approve", at, signature=sign_vote("i-2", digest, "bob", "approve", at, KEYS["bob"]))


def _malformed_signature(r: Router) -> tuple[bool, str]:
    return r.vote("i-1", "bob", "approve", signature={"key_id": KEYS["bob"].key_id, "sig": "not base64!"})


NOT_BOBS = "forged: key {} is not bob's (neither its name nor one of its roles is bob)"
MISMATCH = (
    f"forged: the signature by key {KEYS['bob'].label} does not match this vote on this ballot "
    "(changed after signing, or made for another ballot)"
)


@pytest.mark.parametrize(
    ("attempt", "reason"),
    [
        (_unsigned, "forged: unsigned (this ballot needs votes signed by bob's key)"),
        (_another_voters_key, NOT_BOBS.format(KEYS["alice"].label)),
        (_a_non_voters_key, NOT_BOBS.format(KEYS["mallory"].label)),
        (_unknown_key, f"forged: key {KEYS['stranger'].key_id} is not in keyring"),
        (_changed_choice, MISMATCH),
        (_moved_in_time, MISMATCH),
        (_replayed_from_another_ballot, MISMATCH),
        (_malformed_signature, f"forged: the signature by key {KEYS['bob'].label} is malformed"),
    ],
)
def test_forged_votes_do_not_count_and_are_logged(attempt: Any, reason: str) -> None:
    r, entries, _ = router()
    r.route(INTENT)
    assert signed(r, "alice", "approve", KEYS["alice"]) == (True, "counted")
    assert attempt(r) == (False, reason)
    (logged,) = [e for e in entries if e["kind"] == "IntentVote" and e["outcome"] == "not counted"]
    assert (logged["actor"], logged["reason"]) == ("bob", reason)
    routing = r.route(INTENT)
    assert not routing.approved and routing.reasoning[-1].startswith("waiting: 1 of 2")
    # A forged vote under bob's name does not use up bob's turn: his own signed vote still counts.
    assert signed(r, "bob", "approve", KEYS["bob"]) == (True, "counted")
    assert r.route(INTENT).approved


def test_a_revoked_keys_votes_stop_counting() -> None:
    store = SqliteVoteStore(":memory:")
    r, _, _ = router(store=store)
    r.route(INTENT)
    signed(r, "alice", "approve", KEYS["alice"])
    signed(r, "bob", "approve", KEYS["bob"])
    assert r.route(INTENT).approved
    again, _, _ = router(keys=keyring(revoked=("bob",)), store=store)
    routing = again.route(INTENT)
    assert not routing.approved and routing.reasoning[-2] == "votes: 1 approve, 0 reject, 1 not counted"


def test_a_document_that_asks_for_signatures_counts_nothing_without_a_keyring() -> None:
    r, _, _ = router(keys=None)
    r.route(INTENT)
    counted, reason = r.vote("i-1", "alice", "approve")
    assert not counted and reason.startswith("unverified: this ballot needs signed votes")


def test_a_keyring_makes_signatures_required_for_any_document() -> None:
    r, _, _ = router(UNSIGNED)
    r.route({**INTENT, "type": "self_improve"})
    assert r.vote("i-1", "architect", "approve") == (
        False,
        "forged: unsigned (this ballot needs votes signed by architect's key)",
    )


def test_the_signature_columns_survive_the_sqlite_store(tmp_path: Path) -> None:
    path = str(tmp_path / "votes.db")
    r, _, _ = router(store=SqliteVoteStore(path))
    r.route(INTENT)
    signed(r, "alice", "approve", KEYS["alice"])
    signed(r, "bob", "approve", KEYS["bob"])
    assert router(store=SqliteVoteStore(path))[0].route(INTENT).approved


SIGNERS = ("alice", "bob", "carol", "mallory", "stranger", None)
VOTE = st.tuples(
    st.sampled_from(("alice", "bob", "carol", "mallory")),  # the name voted under
    st.sampled_from(SIGNERS),  # whose key signs (None: unsigned)
    st.sampled_from(("approve", "reject")),
    st.sampled_from(("i-1", "i-2")),  # the ballot it was signed for
    st.booleans(),  # written straight into the store, past `Router.vote`
)


@settings(max_examples=100, deadline=None)
@given(votes=st.lists(VOTE, max_size=7))
def test_no_intent_is_approved_without_a_quorum_of_votes_signed_by_their_voters(votes: list) -> None:
    r, _, clock = router()
    r.route(INTENT)
    r.route({**INTENT, "id": "i-2", "payload": {"other": True}})
    valid: dict[str, str] = {}
    for voter, signer, choice, signed_for, direct in votes:
        clock.now += 1
        signature = None
        if signer is not None:
            digest = r.ballot(signed_for)[1]  # type: ignore[index]
            signature = sign_vote(signed_for, digest, voter, choice, clock.now, KEYS[signer])
        if direct:
            sig = signature or {}
            r.store.cast(Vote("i-1", voter, choice, clock.now, sig.get("key_id", ""), sig.get("sig", "")))
        else:
            r.vote("i-1", voter, choice, clock.now, signature=signature)
        # The reference: a declared voter's first vote signed with their own key for this ballot.
        if voter != "mallory" and signer == voter and signed_for == "i-1" and voter not in valid:
            valid[voter] = choice
    yes = sum(c == "approve" for c in valid.values())
    assert r.route(INTENT).approved == (len(valid) >= 2 and yes > len(valid) - yes)
