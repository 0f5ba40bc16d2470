"""`ballast confirm`: record one fulfilled control on a preflight's ticket."""

from __future__ import annotations

import argparse
from argparse import Namespace
from typing import TextIO

from ballast.cli.gate import add_gate_arguments, compiled, load_catalog, opened_gate, read_action, refused

DESCRIPTION = """Record one fulfilled control on the ticket of a preflight: an approval
(--approve --by NAME --role ROLE…), the requester's justification (--justify
TEXT --by NAME), or a signed override of `enforce soft` classes (--override
CLASS… --why TEXT --key KEYFILE --overrides KEYRING; the key must hold the
keyring role safety-override). The descriptor must be the one the ticket was
booked for; the requester cannot approve their own action, and one person
counts once.
Exit 0: recorded; 1: refused (the reason is printed)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of `ballast confirm`."""
    add_gate_arguments(parser, store_required=True)
    parser.add_argument("--ticket", required=True, metavar="TOKEN", help="the ticket `ballast preflight` printed")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--approve", action="store_true", help="approve the action as --by, holding the --role roles")
    what.add_argument("--justify", metavar="TEXT", help="the requester's justification (--by is the requester)")
    what.add_argument("--override", nargs="+", metavar="CLASS", help="waive these soft classes (signed with --key)")
    parser.add_argument("--why", metavar="TEXT", help="an override's justification")
    parser.add_argument("--by", metavar="NAME", default="", help="who confirms (an override is by its key's name)")
    parser.add_argument(
        "--role", action="append", default=[], metavar="ROLE", help="a role the approver holds (repeat)"
    )
    parser.add_argument("--key", metavar="KEYFILE", help="the private key that signs an override")
    parser.add_argument("--overrides", metavar="KEYRING", help="the keyring that says which keys may sign overrides")


@compiled
def run(args: Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    """Record the confirmation; exit 1 when refused."""
    from ballast.cli.exits import EXIT_OK, EXIT_PROBLEMS
    from ballast.cli.trust import read_trust
    from ballast.runtime.approvals import Refused, sign_override
    from ballast.runtime.errors import UsageError

    catalog = load_catalog(args, err)
    action = read_action(args.action)
    keyring = signature = None
    if args.override:
        if not (args.key and args.overrides and args.why):
            raise UsageError("--override needs --key KEYFILE, --overrides KEYRING and --why TEXT")
        from ballast.runtime.keyfiles import read_private_key

        keyring = read_trust(args.overrides)
        signature = sign_override(args.ticket, args.override, args.why, read_private_key(args.key))
        kind = "override"
    elif args.approve:
        kind = "approve"
    else:
        kind = "justify"
    with opened_gate(args, catalog, overrides=keyring) as gate:
        try:
            confirmation = gate.confirm(
                args.ticket,
                action,
                kind,
                by=args.by,
                roles=args.role,
                text=(args.why if kind == "override" else args.justify) or "",
                classes=args.override or (),
                signature=signature,
            )
        except Refused as exc:
            refused(exc, args.format, out)
            return EXIT_PROBLEMS
    if args.format == "json":
        import json

        record = {"kind": confirmation.kind, "by": confirmation.by, "roles": list(confirmation.roles)}
        out.write(json.dumps({**record, "classes": list(confirmation.classes)}, indent=2) + "\n")
    else:
        out.write(f"recorded: {confirmation.kind} by {confirmation.by}\n")
    return EXIT_OK


__all__ = ["DESCRIPTION", "add_arguments", "run"]
