"""What `ballast preflight`, `confirm` and `execute` share: the catalog, the action descriptor,
the approval store, the audit trail and the clock, from their common arguments.

None of the three commands keeps state of its own: the ticket a preflight books lives in the
`--store` file (SQLite), so the steps may run in different processes, by different people.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from typing import Any, TextIO

from ballast.cli.audit_file import opened_audit
from ballast.runtime.errors import CompileError, UsageError


def add_gate_arguments(parser: argparse.ArgumentParser, *, store_required: bool) -> None:
    """Declare CATALOG…, --catalog, --action, --store, --audit, --now, --format and the trust options."""
    from ballast.cli.trust import add_trust_arguments

    parser.add_argument(
        "paths", nargs="+", metavar="CATALOG", help="safety catalog files, or one compiled bundle (.json)"
    )
    parser.add_argument("--catalog", metavar="NAME", help="the catalog to use when the files hold several")
    parser.add_argument(
        "--action", required=True, metavar="JSON|@FILE", help="the action descriptor: JSON, or @FILE holding it"
    )
    parser.add_argument(
        "--store",
        required=store_required,
        metavar="FILE",
        help="the approval store (SQLite) holding tickets and confirmations; created if missing",
    )
    parser.add_argument(
        "--audit",
        metavar="FILE",
        help="append every step and refusal (5W1H) to FILE: an audit ledger when FILE ends in .sqlite or .db, "
        "else JSON lines",
    )
    parser.add_argument(
        "--now", metavar="TIME", help="the time of this step (RFC 3339 or epoch seconds); default: the clock"
    )
    parser.add_argument("--format", choices=("text", "json"), default="text", help="text (default) or one JSON object")
    add_trust_arguments(parser)


def load_catalog(args: argparse.Namespace, err: TextIO) -> Any:
    """The `SafetyCatalog` the arguments name; raises CompileError or UsageError."""
    from ballast.cli.trust import is_bundle, load_trusted, require_bundle
    from ballast.runtime.safety import SafetyCatalog

    require_bundle(args, [args.paths], "the paths name")
    if is_bundle(args.paths):
        program = load_trusted(args.paths[0], args)[0]
    else:
        from ballast.compiler.pipeline import compile_paths
        from ballast.paths import expand_policies

        program = compile_paths(expand_policies(args.paths)).program
    catalogs = {entry["name"]: entry for entry in program.safety}
    if not catalogs:
        raise UsageError(f'{", ".join(args.paths)}: no safety catalog (a `safety NAME version "…" {{ … }}` document)')
    if args.catalog is not None:
        if args.catalog not in catalogs:
            raise UsageError(f"--catalog {args.catalog}: no such catalog; catalogs are {', '.join(sorted(catalogs))}")
        return SafetyCatalog(catalogs[args.catalog])
    if len(catalogs) > 1:
        raise UsageError(
            f"the files hold several catalogs ({', '.join(sorted(catalogs))}): choose one with --catalog NAME"
        )
    return SafetyCatalog(next(iter(catalogs.values())))


def read_action(value: str) -> Any:
    """`--action JSON` or `--action @FILE`."""
    from ballast.cli.events import read_event_argument

    return read_event_argument(value, "action")


def clock(now: str | None) -> Any:
    """The gate's clock: fixed at `--now`, else the system clock."""
    import time

    from ballast.runtime.values import parse_timestamp

    if now is None:
        return time.time
    moment = parse_timestamp(now)
    if moment is None:
        raise UsageError(f"--now {now}: not a time; write 2026-12-03T16:00:00Z or epoch seconds")
    return lambda: moment


@contextlib.contextmanager
def opened_gate(args: argparse.Namespace, catalog: Any, *, overrides: Any = None) -> Iterator[Any]:
    """A `Gate` over the arguments' store and audit trail, closed on the way out."""
    from ballast.runtime.approval_store import MemoryApprovalStore, SqliteApprovalStore
    from ballast.runtime.approvals import Gate

    store: Any = SqliteApprovalStore(args.store) if args.store else MemoryApprovalStore()
    try:
        with opened_audit(args.audit) as audit:
            yield Gate(catalog, store, ledger=audit, overrides=overrides, clock=clock(args.now))
    finally:
        if args.store:
            store.close()


def compiled(run: Any) -> Any:
    """Run a command body, printing compile errors of the catalog as `ballast check` does (exit 1)."""

    def wrapped(args: argparse.Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
        from ballast.cli.exits import EXIT_PROBLEMS
        from ballast.cli.output import print_diagnostics

        try:
            return int(run(args, out, err, stdin))
        except CompileError as exc:
            print_diagnostics(exc.diagnostics, "text", err)
            return EXIT_PROBLEMS

    return wrapped


def refused(exc: Any, fmt: str, out: TextIO) -> None:
    """Print a `Refused` as text or JSON."""
    import json

    if fmt == "json":
        out.write(json.dumps({"refused": exc.reason, "message": str(exc), "missing": exc.missing}, indent=2) + "\n")
        return
    if not exc.missing:
        out.write(f"refused ({exc.reason}): {exc}\n")
        return
    out.write(f"refused ({exc.reason}): controls not met\n")
    for line in exc.missing:
        out.write(f"  missing: {line}\n")
