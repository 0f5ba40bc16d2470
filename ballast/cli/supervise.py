"""`ballast supervise`: one cycle of the meta-loop supervisor over an audit trail."""

from __future__ import annotations

import argparse
import json
import os
from argparse import Namespace
from typing import Any, TextIO

from ballast.cli.audit_file import opened_audit
from ballast.cli.gate import clock, compiled

DESCRIPTION = """Run one cycle of a supervisor document over an audit trail: the snapshot of
its KPIs and goal gaps over the document's window ending at --now, the
verification of earlier directives whose window is over (with their rollback
when they did not help), the directives its meta-policies issue with their
route through the approval matrix, alerts, and a Markdown summary (--format
md). --state keeps what carries between cycles (directives awaiting
verification, open goal streaks, parameter offsets); --ledger appends every
directive, verification, rollback and alert. --approve ID --by NAME applies a
directive held for approval (kept in --state) before the cycle. Exit 0: the
cycle ran with no alert and no failed verification; 1: it raised an alert or a
verification failed."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of `ballast supervise`."""
    parser.add_argument("paths", nargs="+", metavar="SUPERVISOR", help="supervisor document files (.bal, .yaml)")
    parser.add_argument("--supervisor", metavar="NAME", help="the document to use when the files hold several")
    parser.add_argument(
        "--audit",
        required=True,
        metavar="TRAIL",
        help="the audit trail to snapshot: JSON lines, or an audit ledger (SQLite)",
    )
    parser.add_argument(
        "--ledger",
        metavar="FILE",
        help="append the supervisor's decisions to FILE: an audit ledger when FILE ends in .sqlite or .db, "
        "else JSON lines",
    )
    parser.add_argument(
        "--state", metavar="FILE", help="the state carried between cycles (JSON): read if it exists, then written"
    )
    parser.add_argument(
        "--now", metavar="TIME", help="the end of the snapshot window (RFC 3339 or epoch seconds); default: the clock"
    )
    parser.add_argument("--format", choices=("text", "json", "md"), default="text", help="text (default), json or md")
    parser.add_argument("--approve", metavar="ID", help="apply the directive ID held for approval, before the cycle")
    parser.add_argument("--by", metavar="NAME", help="who approves (with --approve)")


def load_supervisor(args: Namespace) -> Any:
    """The `SupervisorDocument` the arguments name; raises CompileError or UsageError."""
    from ballast.cli.chosen import chosen_document
    from ballast.runtime.supervisor_model import SupervisorDocument

    return SupervisorDocument.from_ir(chosen_document(args.paths, "supervisors", "supervisor", args.supervisor))


def read_state(path: str | None) -> tuple[Any, Any]:
    """The saved state and parameter table at `path` (fresh ones when there is none yet)."""
    from ballast.runtime.errors import UsageError
    from ballast.runtime.supervisor import ParameterTable, SupervisorState

    if path is None or not os.path.exists(path):
        return SupervisorState(), ParameterTable()
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"--state {path}: cannot be read ({exc}): remove it to start afresh") from None
    if not isinstance(data, dict):
        raise UsageError(f"--state {path}: not a supervisor state: remove it to start afresh")
    return SupervisorState.from_json(data.get("state")), ParameterTable.from_json(data.get("actuator") or {})


def write_state(path: str, state: Any, table: Any) -> None:
    """Save the state atomically: a crash leaves the old state or the new one, never half of one."""
    temporary = f"{path}.tmp"
    with open(temporary, "w", encoding="utf-8") as f:
        json.dump({"state": state.to_json(), "actuator": table.to_json()}, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(temporary, path)


@compiled
def run(args: Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    """One cycle; exit 1 when it raised an alert, a verification failed, or the window held no entry."""
    from ballast.cli.exits import EXIT_OK, EXIT_PROBLEMS
    from ballast.runtime.errors import UsageError
    from ballast.runtime.supervisor import Supervisor
    from ballast.runtime.supervisor_summary import markdown, text
    from ballast.runtime.trail import read_trail

    if (args.approve is None) != (args.by is None):
        raise UsageError("--approve ID and --by NAME go together: who approves which directive")
    if args.approve is not None and args.state is None:
        raise UsageError("--approve needs --state: the directives held for approval are kept there")
    document = load_supervisor(args)
    now = clock(args.now)()
    state, table = read_state(args.state)
    with opened_audit(args.ledger) as ledger:
        supervisor = Supervisor(document, actuator=table, ledger=ledger, state=state)
        if args.approve is not None:
            approved = supervisor.approve(args.approve, args.by, now)
            if args.format == "text":
                out.write(
                    f"approved {approved.id} by {args.by}: {approved.status}"
                    + (f" ({approved.note})" if approved.note else "")
                    + "\n"
                )
        cycle = supervisor.cycle(read_trail(args.audit), now)
    if args.state:
        write_state(args.state, state, table)
    if args.format == "json":
        out.write(json.dumps({**cycle.to_json(), "summary": markdown(cycle)}, indent=2, ensure_ascii=False) + "\n")
    elif args.format == "md":
        out.write(markdown(cycle))
    else:
        out.write(text(cycle))
    if not cycle.snapshot.entries:
        # no KPI was measured: the cycle decided nothing, and saying "ok" would claim it checked the loop
        err.write(f"ballast: {args.audit} holds no entry in the cycle's window: no KPI was measured\n")
        return EXIT_PROBLEMS
    troubled = cycle.alerts or any(not v.passed for v in cycle.verifications)
    return EXIT_PROBLEMS if troubled else EXIT_OK


__all__ = ["DESCRIPTION", "add_arguments", "run"]
