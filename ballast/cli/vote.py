"""`ballast vote`: cast a vote on the ballot of a tier 3 or 4 intent."""

from __future__ import annotations

import argparse
import json
from argparse import Namespace
from typing import TextIO

from ballast.cli.gate import compiled
from ballast.cli.route import add_governance_arguments, load_governance, opened_router

DESCRIPTION = """Cast a vote on an intent's ballot, recorded in --votes whether it counts or
not. A vote counts when its voter is declared in the governance document's
vote, it is the voter's first, and it is cast by the ballot's deadline (which
runs from the intent's first `ballast route`); a vote from an undeclared voter
is reported as forged. Every vote is written to --audit with its reason.
Exit 0: the vote counts; 1: it does not."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of `ballast vote`."""
    add_governance_arguments(parser)
    parser.add_argument("--intent-id", required=True, metavar="ID", help="the id of the intent voted on")
    parser.add_argument("--voter", required=True, metavar="NAME", help="who votes (a declared voter)")
    parser.add_argument("--choice", required=True, choices=("approve", "reject"), help="approve or reject")


@compiled
def run(args: Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    """Cast the vote; exit 1 when it does not count."""
    from ballast.cli.exits import EXIT_OK, EXIT_PROBLEMS
    from ballast.runtime.errors import UsageError

    if not args.votes:
        raise UsageError("a vote is recorded in a vote store: give --votes FILE (the one `ballast route` uses)")
    governance = load_governance(args)
    with opened_router(args, governance) as router:
        counted, reason = router.vote(args.intent_id, args.voter, args.choice)
    if args.format == "json":
        out.write(json.dumps({"counted": counted, "reason": reason}, indent=2) + "\n")
    else:
        out.write(f"{args.voter} {args.choice} on {args.intent_id}: {reason}\n")
    return EXIT_OK if counted else EXIT_PROBLEMS


__all__ = ["DESCRIPTION", "add_arguments", "run"]
