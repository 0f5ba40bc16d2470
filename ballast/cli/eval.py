"""`ballast eval`: evaluate a JSONL stream of events, one JSON line (or text lines) of decisions each."""

from __future__ import annotations

import argparse
import contextlib
import json
from argparse import Namespace
from collections import Counter
from typing import Any, TextIO

from ballast.cli.audit_file import is_ledger
from ballast.cli.events import open_events
from ballast.cli.exits import EXIT_OK, EXIT_PROBLEMS
from ballast.cli.output import print_diagnostics
from ballast.cli.trust import add_trust_arguments, is_bundle, load_trusted, require_bundle
from ballast.paths import expand_policies
from ballast.runtime.enforcement import held_counts
from ballast.runtime.errors import CompileError, UsageError
from ballast.runtime.reading import loads

DESCRIPTION = "Evaluate a JSONL stream of events; print one JSON line of decisions per event."
AUDIT_FORMATS = ("jsonl", "ledger")


def add_arguments(ev: argparse.ArgumentParser) -> None:
    """Declare the arguments of `ballast eval`."""
    ev.add_argument("paths", nargs="+", metavar="PATH|BUNDLE", help="policy files, or one compiled bundle (.json)")
    ev.add_argument(
        "--events", required=True, metavar="FILE", help="JSONL events, one object per line; '-' reads standard input"
    )
    ev.add_argument(
        "--audit",
        metavar="FILE",
        help="also append the audit trail (DirectiveIssued, TelemetryGap, … with a 5W1H narrative) to FILE: "
        "JSON lines, or an audit ledger when FILE ends in .sqlite or .db; "
        "each event's entries are written before its line is printed",
    )
    ev.add_argument(
        "--audit-format",
        choices=AUDIT_FORMATS,
        help="jsonl or ledger (hash-chained SQLite, `ballast audit verify`), whatever FILE's name",
    )
    ev.add_argument(
        "--audit-sync",
        action="store_true",
        help="fsync the audit file after each event's entries (survives a power loss; slower); a ledger always does",
    )
    ev.add_argument(
        "--audit-key",
        metavar="KEY",
        help="sign the ledger's checkpoints with this private key (a .key file of `ballast key new`)",
    )
    ev.add_argument(
        "--input",
        metavar="NAME",
        help="evaluate only the policies whose input has this name (for sets that read several streams)",
    )
    ev.add_argument(
        "--format",
        choices=("json", "text"),
        default="json",
        help="json: one line per event (default); text: one line per directive",
    )
    add_trust_arguments(ev)


def run(args: Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    """Evaluate each line of --events; exit 1 when an event has errors."""
    require_bundle(args, [args.paths], "the paths name")
    try:
        program = _load_program(args)
    except CompileError as exc:
        print_diagnostics(exc.diagnostics, "text", err)
        return EXIT_PROBLEMS
    if args.input is not None and args.input not in program.inputs:
        raise UsageError(f"--input {args.input}: no policy reads that input; inputs are {', '.join(program.inputs)}")
    stream = open_events(args.events, stdin)
    problems = 0
    held: Counter[tuple[str, str, str]] = Counter()  # what warn and dryrun rules held back
    evaluate = program.evaluate
    audit = ledger = None
    for option in ("audit_sync", "audit_format", "audit_key"):
        if getattr(args, option) and not args.audit:
            raise UsageError(f"--{option.replace('_', '-')} needs --audit FILE")
    if args.audit or program.threats or any(p.timing_ir["stream"].get("time") for p in program.policies):
        from ballast.runtime.audit import AuditLog
        from ballast.runtime.engine import Engine

        if args.audit and _audit_format(args) == "ledger":
            ledger = _open_ledger(args.audit, args.audit_key)
            audit = AuditLog(ledger, measure=False)
        elif args.audit:
            if args.audit_key:
                raise UsageError(
                    f"--audit-key signs a ledger's checkpoints, and {args.audit} is a JSONL trail: "
                    "name the ledger FILE.sqlite, or add --audit-format ledger"
                )
            # Appended like a log, never truncated: re-running must not destroy an earlier trail.
            # measure=False: a file of decisions stays reproducible.
            audit = AuditLog.append_to(args.audit, measure=False, sync=args.audit_sync)
        # Event time: state carries from line to line. The Engine writes (and flushes) the audit
        # entries of an event before `process` returns, so before its line is printed.
        evaluate = Engine(program, audit=audit).process
    failed = True
    try:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                event = loads(line.rstrip("\r\n"))  # columns count within the line; limits kept
            except json.JSONDecodeError as exc:
                problems += 1
                record = {
                    "line": number,
                    "directives": [],
                    "errors": [
                        {
                            "kind": "invalid-json",
                            "message": f"line {number}, column {exc.colno}: {exc.msg}",
                            "hint": "each line must be one JSON object",
                        }
                    ],
                }
                _write_record(record, args.format, out)
                continue
            try:
                result = evaluate(event, input=args.input)
            except UsageError as exc:
                if audit is None:
                    raise
                raise UsageError(f"{exc}; stopped at line {number} of {args.events}, which was not reported") from None
            if result.errors:
                problems += 1
            if result.held:
                held.update(held_counts(result.held))
            _write_record({"line": number, **result.to_dict()}, args.format, out)
        failed = False
    except UnicodeDecodeError as exc:
        raise UsageError(f"{args.events}: not UTF-8 text ({exc.reason})") from None
    finally:
        stream.close()
        # After a failure, an error closing the trail would hide the one raised already, with its line.
        with contextlib.suppress(*((UsageError,) if failed else ())):
            try:
                if audit is not None:
                    audit.close()
            finally:
                if ledger is not None:
                    ledger.close()  # signs the head when a key was given
    for (mode, policy, rule), n in sorted(held.items()):
        err.write(f"ballast: {mode}: rule {policy}/{rule} held back {n} directive{'s' if n != 1 else ''}\n")
    return EXIT_PROBLEMS if problems else EXIT_OK


def _audit_format(args: Namespace) -> str:
    """--audit-format, else the file's suffix: a .sqlite or .db FILE is a ledger, anything else JSONL."""
    if args.audit_format:
        return str(args.audit_format)
    return "ledger" if is_ledger(args.audit) else "jsonl"


def _open_ledger(path: str, key: str | None) -> Any:
    from ballast.runtime.keyfiles import read_private_key
    from ballast.runtime.ledger import Ledger

    signer = read_private_key(key) if key is not None else None
    return Ledger.open(path, signer=signer)


def _load_program(args: Namespace) -> Any:
    """A bundle (one .json file) the trust options admit, or policy sources compiled here."""
    if is_bundle(args.paths):
        return load_trusted(args.paths[0], args)[0]
    from ballast.compiler.pipeline import compile_paths

    return compile_paths(expand_policies(args.paths)).program


def _write_record(record: dict[str, Any], fmt: str, out: TextIO) -> None:
    if fmt == "json":
        out.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
        return
    for d in record["directives"]:
        out.write(
            f"line {record['line']}: {d['action']} {', '.join(d['targets'])} {json.dumps(d['params'], sort_keys=True)} [{d['policy']}/{d['rule']}, {d['impact']}] {d['reason']}\n"
        )
    for e in record.get("events", []):
        if e["type"] == "ThreatIndexUpdated":  # the rationale is in the JSON output and the audit trail
            detail = f"{e['threat']} index {e['index']} (raw {e['raw_index']}), mode {e['mode']}"
            if e.get("suppressed"):
                detail += f", {e['wanted']} held back by {e['suppressed']}"
            out.write(f"line {record['line']}: ThreatIndexUpdated: {detail}\n")
            continue
        detail = ", ".join(f"{k}={v}" for k, v in e.items() if k not in ("type", "policy"))
        out.write(f"line {record['line']}: {e['type']}: {detail}\n")
    for d in record.get("held", []):
        out.write(
            f"line {record['line']}: held ({d['mode']}): {d['action']} {', '.join(d['targets'])} [{d['policy']}/{d['rule']}] {d['reason']}\n"
        )
    for e in record["errors"]:
        where = "/".join(x for x in (e.get("policy", ""), e.get("rule", "")) if x)
        hint = f" (hint: {e['hint']})" if e.get("hint") else ""
        out.write(f"line {record['line']}: error: {where + ': ' if where else ''}{e['message']}{hint}\n")


__all__ = ["DESCRIPTION", "add_arguments", "run"]
