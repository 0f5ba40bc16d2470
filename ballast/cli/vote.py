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
is reported as forged. With --trust KEYRING (required when the document's vote
says signatures "required") a vote counts only when signed, with --key
KEYFILE, by a key the keyring gives the voter (by name or role) over this
ballot, voter, choice and time. Every vote is written to --audit with its
reason. Exit 0: the vote counts; 1: it does not."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of `ballast vote`."""
    add_governance_arguments(parser)
    parser.add_argument("--intent-id", required=True, metavar="ID", help="the id of the intent voted on")
    parser.add_argument("--voter", required=True, metavar="NAME", help="who votes (a declared voter)")
    parser.add_argument("--choice", required=True, choices=("approve", "reject"), help="approve or reject")
    parser.add_argument("--key", metavar="KEYFILE", help="the voter's private key (`ballast key new`): signs the vote")


@compiled
def run(args: Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    """Cast the vote; exit 1 when it does not count."""
    from ballast.cli.exits import EXIT_OK, EXIT_PROBLEMS
    from ballast.runtime.errors import UsageError

    if not args.votes:
        raise UsageError("a vote is recorded in a vote store: give --votes FILE (the one `ballast route` uses)")
    if args.key and not args.trust:
        raise UsageError(
            "--key signs the vote, and only a voter keyring checks the signature: give --trust KEYRING too"
        )
    governance = load_governance(args)
    with opened_router(args, governance) as router:
        at = router.clock()
        signature = None
        if args.key:
            from ballast.runtime.keyfiles import read_private_key
            from ballast.runtime.vote_signing import sign_vote

            ballot = router.ballot(args.intent_id)
            # With no ballot open there is nothing to sign for: the router says the vote does not count.
            if ballot is not None:
                key = read_private_key(args.key)
                signature = sign_vote(args.intent_id, ballot[1], args.voter, args.choice, at, key)
        counted, reason = router.vote(args.intent_id, args.voter, args.choice, at, signature=signature)
    if args.format == "json":
        out.write(json.dumps({"counted": counted, "reason": reason}, indent=2) + "\n")
    else:
        out.write(f"{args.voter} {args.choice} on {args.intent_id}: {reason}\n")
    return EXIT_OK if counted else EXIT_PROBLEMS


__all__ = ["DESCRIPTION", "add_arguments", "run"]
