"""`ballast explain`: why a rule fires or not for an event, or a stateful rule's state after a history.

The explaining is `ballast.explain`'s; this module reads the arguments and prints its report.
"""

from __future__ import annotations

import argparse
import json
from argparse import Namespace
from typing import Any, TextIO

from ballast.cli.events import open_events, read_event_argument
from ballast.cli.exits import EXIT_OK, EXIT_PROBLEMS
from ballast.cli.output import print_diagnostics
from ballast.paths import expand_policies
from ballast.runtime.errors import BallastError, CompileError, UsageError

DESCRIPTION = (
    "Evaluate one rule for one event and print the value of every sub-condition.\n"
    "A rule with windows or time clauses is explained over a history instead:\n"
    "--events replays it through the Engine up to --at, then each key's state,\n"
    "timers, windows, cooldowns and rate limit are shown."
)


def add_arguments(ex: argparse.ArgumentParser) -> None:
    """Declare the arguments of `ballast explain`."""
    ex.add_argument("paths", nargs="+", metavar="PATH", help="policy files")
    ex.add_argument("--rule", required=True, help="the rule's name (policy/rule when names repeat)")
    source = ex.add_mutually_exclusive_group(required=True)
    source.add_argument("--event", metavar="JSON", help="the event as JSON, or @FILE to read it from a file")
    source.add_argument(
        "--events", metavar="FILE", help="a stateful rule: the JSONL history to replay; '-' reads standard input"
    )
    ex.add_argument(
        "--at", metavar="TIME", help="with --events: explain the state at this event time (default: the newest event)"
    )
    ex.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")


def run(args: Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    """Explain the rule for --event, or, with --events, its state after the history; exit 1 on a fault."""
    from ballast.compiler.pipeline import compile_paths
    from ballast.explain import explain_rule

    if args.events is not None:
        return _explain_history(args, out, err, stdin)
    if args.at is not None:
        raise UsageError("--at needs --events FILE (the history to replay up to that time)")
    event = read_event_argument(args.event)
    try:
        compilation = compile_paths(expand_policies(args.paths))
    except CompileError as exc:
        print_diagnostics(exc.diagnostics, "text", err)
        return EXIT_PROBLEMS
    try:
        _refuse_unexplainable(compilation, args.rule)
        report = explain_rule(compilation.ir, args.rule, event)
    except BallastError as exc:
        raise UsageError(str(exc)) from None
    if args.format == "json":
        out.write(json.dumps(report, indent=2, sort_keys=True, default=repr) + "\n")
    else:
        out.write(report["text"])
    return EXIT_PROBLEMS if report["error"] else EXIT_OK  # an invalid event or a fault is a problem


def _refuse_unexplainable(compilation: Any, name: str) -> None:
    """`--rule` naming a document of a kind that cannot be explained yet (a threat document) gets
    that kind's own message, not "no rule named …": each kind says through its `explain` hook."""
    for kind in compilation.kinds:
        for entry in compilation.ir.get(kind.ir_key, ()):
            if entry.get("name") == name:
                kind.explain(entry)


def _explain_history(args: Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    """`explain --events FILE [--at TIME]`: a stateful rule's state after replaying a history."""
    from ballast.compiler.pipeline import compile_paths
    from ballast.explain import explain_history
    from ballast.runtime.values import parse_timestamp

    at = None
    if args.at is not None:
        at = parse_timestamp(float(args.at) if _is_number(args.at) else args.at)
        if at is None:
            raise UsageError(f"--at {args.at}: not a time; write RFC 3339 (2025-11-15T12:03:30Z) or epoch seconds")
    try:
        compilation = compile_paths(expand_policies(args.paths))
    except CompileError as exc:
        print_diagnostics(exc.diagnostics, "text", err)
        return EXIT_PROBLEMS
    source = "<stdin>" if args.events == "-" else args.events
    stream = open_events(args.events, stdin)
    try:
        report = explain_history(compilation.ir, compilation.program, args.rule, stream, source, at)
    except UnicodeDecodeError as exc:
        raise UsageError(f"{source}: not UTF-8 text ({exc.reason})") from None
    finally:
        stream.close()
    if args.format == "json":
        out.write(json.dumps(report, indent=2, sort_keys=True, default=repr) + "\n")
    else:
        out.write(report["text"])
    return EXIT_PROBLEMS if report["error"] or report["problems"] else EXIT_OK


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


__all__ = ["DESCRIPTION", "add_arguments", "run"]
