"""`ballast preflight`: what a safety catalog requires of an action, and its ticket."""

from __future__ import annotations

import argparse
import json
from argparse import Namespace
from typing import Any, TextIO

from ballast.cli.gate import add_gate_arguments, compiled, load_catalog, opened_gate, read_action

DESCRIPTION = """Assess an action descriptor against a safety catalog: its risk level, the
controls it requires, blocking errors, and the rationale of every class that
fired. When controls are required, a ticket bound to the exact descriptor is
booked in --store (print it, then `ballast confirm` and `ballast execute` it).
--simulate predicts the same without booking anything.
Exit 0: allowed, or controls required (ticket booked); 1: blocked."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of `ballast preflight`."""
    add_gate_arguments(parser, store_required=False)
    parser.add_argument(
        "--simulate", action="store_true", help="predict the requirements without booking a ticket, hold or approval"
    )


@compiled
def run(args: Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    """Preflight --action; exit 1 when it is blocked."""
    from ballast.cli.exits import EXIT_OK, EXIT_PROBLEMS
    from ballast.runtime.errors import UsageError

    if not args.store and not args.simulate:
        raise UsageError("preflight books its ticket in an approval store: give --store FILE, or --simulate to predict")
    catalog = load_catalog(args, err)
    action = read_action(args.action)
    with opened_gate(args, catalog) as gate:
        result = gate.preflight(action, simulate=args.simulate)
    report = result.to_dict()
    if args.format == "json":
        out.write(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    else:
        write_text(report, out)
    return EXIT_PROBLEMS if result.decision == "blocked" else EXIT_OK


def write_text(report: dict[str, Any], out: TextIO) -> None:
    """A preflight report as text: the decision, each class with its rationale, what to do next."""
    simulated = " (simulated)" if report["simulated"] else ""
    out.write(f"{report['catalog']}: {report['decision']}{simulated}, risk {report['risk']}\n")
    for fired in report["fired"]:
        out.write(
            f"  class {fired['class']} [{fired['risk']}, enforce {fired['enforce']}, mode {fired['mode']}]: {fired['reason']}\n"
        )
        for check in fired["rationale"]:
            inputs = ", ".join(f"{k}={json.dumps(v)}" for k, v in check["inputs"].items())
            out.write(
                f"    {check['check']} was {json.dumps(check['value'])}" + (f" ({inputs})" if inputs else "") + "\n"
            )
    if report["required"]:
        out.write(f"  requires: {', '.join(report['required'])}\n")
    for line in report["blocking"]:
        out.write(f"  blocking: {line}\n")
    for line in report["warnings"]:
        out.write(f"  warning: {line}\n")
    for line in report["dry_run"]:
        out.write(f"  dry run: {line}\n")
    for line in report["notes"]:
        out.write(f"  note: {line}\n")
    if report["hold_until"]:
        out.write(f"  hold until: {report['hold_until']}\n")
    if report["ticket"]:
        out.write(f"  ticket: {report['ticket']}\n  expires: {report['expires_at']}\n")


__all__ = ["DESCRIPTION", "add_arguments", "run"]
