"""`ballast route`: route an intent through a governance document's autonomy tiers."""

from __future__ import annotations

import argparse
import contextlib
import json
from argparse import Namespace
from collections.abc import Iterator
from typing import Any, TextIO

from ballast.cli.audit_file import opened_audit
from ballast.cli.gate import clock, compiled

DESCRIPTION = """Route an intent through a governance document: its autonomy tier, mission
alignment, whether it waits for a vote, the reasoning, and where it goes.
Tiers 3 and 4 wait for a quorum of votes (`ballast vote`) recorded in --votes;
route the intent again once they are cast. Every routing is written to --audit.
Exit 0: approved; 1: not approved (a human decides, the vote is pending or
refused, or the intent was refused)."""


def add_governance_arguments(parser: argparse.ArgumentParser) -> None:
    """CATALOG…, --governance, --votes, --audit, --now, --format: what `route` and `vote` share."""
    parser.add_argument("paths", nargs="+", metavar="CATALOG", help="governance document files (.bal)")
    parser.add_argument("--governance", metavar="NAME", help="the document to use when the files hold several")
    parser.add_argument(
        "--votes", metavar="FILE", help="the vote store (SQLite) holding ballots and votes; created if missing"
    )
    parser.add_argument(
        "--audit",
        metavar="FILE",
        help="append every routing and vote (5W1H) to FILE: an audit ledger when FILE ends in .sqlite or .db, "
        "else JSON lines",
    )
    parser.add_argument(
        "--trust",
        metavar="KEYRING",
        help="the voter keyring (YAML or JSON): given, a vote counts only signed by a key of its voter; "
        "needed when the document's vote says signatures \"required\"",
    )
    parser.add_argument(
        "--now", metavar="TIME", help="the time of this step (RFC 3339 or epoch seconds); default: the clock"
    )
    parser.add_argument("--format", choices=("text", "json"), default="text", help="text (default) or one JSON object")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of `ballast route`."""
    add_governance_arguments(parser)
    parser.add_argument("--intent", required=True, metavar="JSON|@FILE", help="the intent: JSON, or @FILE holding it")


def load_governance(args: Namespace) -> Any:
    """The `Governance` the arguments name; raises CompileError or UsageError."""
    from ballast.cli.chosen import chosen_document
    from ballast.runtime.governance import Governance

    return Governance.from_ir(chosen_document(args.paths, "governance", "governance", args.governance))


@contextlib.contextmanager
def opened_router(args: Namespace, governance: Any) -> Iterator[Any]:
    """A `Router` over the arguments' vote store and audit trail, closed on the way out."""
    from ballast.cli.trust import read_trust
    from ballast.runtime.errors import UsageError
    from ballast.runtime.governance import Router
    from ballast.runtime.vote_store import MemoryVoteStore, SqliteVoteStore

    voter_keys = read_trust(args.trust)
    if voter_keys is None and governance.ballot is not None and governance.ballot.signed:
        raise UsageError(
            f'governance {governance.name} counts only signed votes (signatures "required"): '
            "give the voter keyring with --trust KEYRING"
        )
    store: Any = SqliteVoteStore(args.votes) if args.votes else MemoryVoteStore()
    try:
        with opened_audit(args.audit) as audit:
            yield Router(governance, store=store, ledger=audit, clock=clock(args.now), voter_keys=voter_keys)
    finally:
        if args.votes:
            store.close()


@compiled
def run(args: Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    """Route --intent; exit 1 when it is not approved."""
    from ballast.cli.events import read_event_argument
    from ballast.cli.exits import EXIT_OK, EXIT_PROBLEMS

    governance = load_governance(args)
    intent = read_event_argument(args.intent, "intent")
    with opened_router(args, governance) as router:
        routing = router.route(intent)
    report = routing.to_json()
    if args.format == "json":
        out.write(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    else:
        verdict = "approved" if routing.approved else "not approved"
        vote = ", waits for a vote" if routing.requires_vote else ""
        out.write(f"{intent['id']}: {verdict}, tier {routing.tier}{vote}, routed to {routing.routed_to}\n")
        for line in routing.reasoning:
            out.write(f"  {line}\n")
    return EXIT_OK if routing.approved else EXIT_PROBLEMS


__all__ = ["DESCRIPTION", "add_arguments", "run"]
