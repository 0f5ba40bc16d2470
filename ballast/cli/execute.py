"""`ballast execute`: let an action through once every control of its ticket is met."""

from __future__ import annotations

import argparse
import json
from argparse import Namespace
from typing import TextIO

from ballast.cli.gate import add_gate_arguments, compiled, load_catalog, opened_gate, read_action, refused

DESCRIPTION = """Check that every control the catalog requires of the action is met (approvals,
justification, hold, no block) on its ticket, then consume the ticket: it
executes once. The descriptor must be the one the ticket was booked for. An
action that needs no control executes without --ticket.
Exit 0: executed; 1: refused (the reason and what is missing are printed)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of `ballast execute`."""
    add_gate_arguments(parser, store_required=True)
    parser.add_argument("--ticket", metavar="TOKEN", help="the ticket `ballast preflight` printed")


@compiled
def run(args: Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    """Execute --action with --ticket; exit 1 when refused."""
    from ballast.cli.exits import EXIT_OK, EXIT_PROBLEMS
    from ballast.runtime.approvals import Refused

    catalog = load_catalog(args, err)
    action = read_action(args.action)
    with opened_gate(args, catalog) as gate:
        try:
            done = gate.execute(args.ticket, action)
        except Refused as exc:
            refused(exc, args.format, out)
            return EXIT_PROBLEMS
    report = done.to_dict()
    if args.format == "json":
        out.write(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        return EXIT_OK
    out.write(f"{report['catalog']}: executed at {report['executed_at']}, risk {report['risk']}\n")
    for c in report["confirmations"]:
        out.write(f"  {c['kind']} by {c['by']} at {c['at']}\n")
    for note in report["notes"]:
        out.write(f"  note: {note}\n")
    return EXIT_OK


__all__ = ["DESCRIPTION", "add_arguments", "run"]
