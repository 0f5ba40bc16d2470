"""`ballast route` and `ballast vote`: exit codes, the vote store across runs, the trail, bad input."""

from __future__ import annotations

import json
from pathlib import Path

from support import run_cli

REPO = Path(__file__).resolve().parents[2]
ROUTER = REPO / "catalog" / "governance" / "router.bal"
INTENT = '{"id": "i-1", "type": "optimize_system", "actor": "agent-7", "payload": {"x": 1}}'


def test_a_vote_across_runs_approves_the_intent_and_the_trail_has_every_step(tmp_path: Path) -> None:
    votes, trail = tmp_path / "votes.db", tmp_path / "trail.jsonl"
    common = ("--votes", votes, "--audit", trail)
    assert run_cli("route", ROUTER, "--intent", INTENT, *common, "--now", "2026-12-03T18:00:00Z")[0] == 1
    code, out, _ = run_cli(
        "vote",
        ROUTER,
        "--intent-id",
        "i-1",
        "--voter",
        "eve",
        "--choice",
        "approve",
        *common,
        "--now",
        "2026-12-03T18:01:00Z",
    )
    assert (code, out) == (1, "eve approve on i-1: forged: 'eve' is not a declared voter\n")
    for voter in ("architect", "sre-lead"):
        args = ("--intent-id", "i-1", "--voter", voter, "--choice", "approve")
        assert run_cli("vote", ROUTER, *args, *common, "--now", "2026-12-03T18:02:00Z")[0] == 0
    code, out, _ = run_cli(
        "route", ROUTER, "--intent", INTENT, *common, "--now", "2026-12-03T18:03:00Z", "--format", "json"
    )
    assert code == 0 and json.loads(out)["approved"] is True
    entries = [json.loads(line) for line in trail.read_text().splitlines()]
    assert [(e["kind"], e["outcome"]) for e in entries] == [
        ("IntentRouted", "pending"),
        ("IntentVote", "not counted"),
        ("IntentVote", "counted"),
        ("IntentVote", "counted"),
        ("IntentRouted", "approved"),
    ]


def test_bad_input_is_one_clear_line(tmp_path: Path) -> None:
    code, _, err = run_cli("route", ROUTER, "--intent", '{"id": "i", "type": "x"}')
    assert (code, err) == (2, "ballast: the intent's 'actor' must be a non-empty string\n")
    code, _, err = run_cli("vote", ROUTER, "--intent-id", "i", "--voter", "architect", "--choice", "approve")
    assert code == 2 and "give --votes FILE" in err
    broken = tmp_path / "g.bal"
    broken.write_text('governance g version "1" {\n  tier 7 { intents ["a"] }\n}\n')
    code, _, err = run_cli("route", broken, "--intent", INTENT)
    assert code == 1 and f"{broken}:2:8: error[range]: tier 7 does not exist" in err


def test_signed_votes_need_the_voter_keyring(tmp_path: Path) -> None:
    board = REPO / "docs" / "examples" / "board.bal"
    intent = '{"id": "i-1", "type": "extend_grace", "actor": "agent-7"}'
    code, _, err = run_cli("route", board, "--intent", intent)
    assert (code, err) == (
        2,
        'ballast: governance mesh.board counts only signed votes (signatures "required"): '
        "give the voter keyring with --trust KEYRING\n",
    )
    votes, keyring = tmp_path / "votes.db", REPO / "docs" / "examples" / "voters.yaml"
    assert run_cli("route", board, "--intent", intent, "--votes", votes, "--trust", keyring)[0] == 1
    unsigned = ("--intent-id", "i-1", "--voter", "alice", "--choice", "approve", "--votes", votes, "--trust", keyring)
    code, out, _ = run_cli("vote", board, *unsigned)
    assert (code, out) == (
        1,
        "alice approve on i-1: forged: unsigned (this ballot needs votes signed by alice's key)\n",
    )


def test_a_key_without_a_keyring_is_refused(tmp_path: Path) -> None:
    key = REPO / "docs" / "examples" / "alice.key"
    args = ("--intent-id", "i-1", "--voter", "architect", "--choice", "approve", "--votes", tmp_path / "v.db")
    code, _, err = run_cli("vote", ROUTER, *args, "--key", key)
    assert (code, err) == (
        2,
        "ballast: --key signs the vote, and only a voter keyring checks the signature: give --trust KEYRING too\n",
    )
