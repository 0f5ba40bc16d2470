"""`ballast audit`: verify, query and export an audit ledger (runtime/ledger.py)."""

from __future__ import annotations

import argparse
import json
import os
from argparse import Namespace
from typing import Any, TextIO

from ballast.cli import EPILOG
from ballast.cli.exits import EXIT_OK, EXIT_PROBLEMS
from ballast.cli.trust import read_at, read_trust
from ballast.runtime.errors import UsageError

DESCRIPTION = """Verify, query and export an audit ledger: the SQLite file that `ballast eval
--audit FILE.sqlite` (or `AuditLog(Ledger.open(…))`) appends to, hash-chained,
with signed checkpoints."""

_SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "verify": (
        "check the hash chain and the signed checkpoints",
        """Check that no entry of a ledger was edited, deleted, inserted or moved, and
that its tail was not cut off, and name the first bad sequence number. With
--trust, also check that each checkpoint is signed by a key the keyring trusts
for the ledger role (LedgerWriter unless --role names another): not revoked,
within its validity dates at --at (default: now). A JSONL export is verified
too (its chain only: an export carries no checkpoints).""",
    ),
    "query": (
        "print the entries that match: who, what, when",
        """Print the entries that match every filter given, oldest first. A filter
with * ? or [ is a glob pattern (--actor 'motb.orchestration/*'). --since is
inclusive, --until exclusive; each takes an RFC 3339 time
(2025-11-15T12:00:00Z), a date (midnight UTC), today, yesterday, or a duration
ago (90s, 15m, 2h, 7d), compared with the time each entry was appended.""",
    ),
    "export": (
        "write the entries as JSON lines, for a SIEM",
        """Write every entry as one JSON line: the stored canonical JSON with "hash"
as its last member, so a SIEM can index the fields and re-verify the chain
(each line's prev is the hash of the line before; the hash is the SHA-256 of
the line without its last member).""",
    ),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare `ballast audit verify|query|export` and their arguments."""
    sub = parser.add_subparsers(dest="audit_command", metavar="SUBCOMMAND", required=True)
    commands = {}
    for name, (help_line, description) in _SUBCOMMANDS.items():
        commands[name] = sub.add_parser(
            name,
            help=help_line,
            description=description,
            epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    verify = commands["verify"]
    verify.add_argument("ledger", metavar="LEDGER", help="the ledger (.sqlite), or a JSONL export of one")
    verify.add_argument(
        "--trust",
        metavar="KEYRING",
        help="check the checkpoint signatures against this keyring (YAML or JSON; docs/security.md)",
    )
    verify.add_argument(
        "--role", metavar="ROLE", help="the role checkpoint signers must hold in the keyring (default: LedgerWriter)"
    )
    verify.add_argument(
        "--key",
        action="append",
        metavar="PUBLIC_KEY",
        help="instead of --trust, trust only the key of this key file (a .pub of `ballast key new`); repeat for several",
    )
    verify.add_argument("--at", metavar="TIME", help="judge validity dates at this RFC 3339 time (default: now)")
    verify.add_argument("--format", choices=("text", "json"), default="text", help="text (default) or one JSON object")
    query = commands["query"]
    query.add_argument("ledger", metavar="LEDGER", help="the ledger (.sqlite)")
    query.add_argument(
        "--kind",
        metavar="K",
        help="DirectiveIssued, ThreatIndexUpdated, ModeChanged, TelemetryGap, Stale, "
        "PolicyChangeCommitted, PolicyChangeRejected",
    )
    query.add_argument("--actor", metavar="A", help="who decided: policy/rule, the engine, the threat document")
    query.add_argument("--subject", metavar="S", help="what it was about: the targets, the source, ThreatIndex")
    query.add_argument("--outcome", metavar="O", help="what was decided: the action (scale, pause, …), the new mode")
    query.add_argument("--since", metavar="T", help="appended at or after T")
    query.add_argument("--until", metavar="T", help="appended before T")
    query.add_argument("--limit", metavar="N", type=int, help="only the newest N matches")
    query.add_argument(
        "--count",
        action="store_true",
        help="print how many matching entries there are of each kind, actor and outcome instead of the entries "
        "(--kind DirectiveHeld: what each warn or dryrun rule held back)",
    )
    query.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text: one line per entry (default); json: JSON lines",
    )
    export = commands["export"]
    export.add_argument("ledger", metavar="LEDGER", help="the ledger (.sqlite)")
    export.add_argument("--out", metavar="FILE", help="write to FILE instead of standard output")
    export.add_argument("--from-seq", metavar="N", type=int, default=1, help="start at entry N (default 1)")


def run(args: Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    """Run the subcommand; verify exits 1 when it finds tampering (or nothing to verify)."""
    if args.audit_command == "verify":
        return _verify(args, out)
    if args.audit_command == "query":
        return _query(args, out)
    return _export(args, out, err)


def _verify(args: Namespace, out: TextIO) -> int:
    from ballast.runtime.ledger_read import LedgerReader, is_sqlite, verify_export

    path = args.ledger
    export = os.path.isfile(path) and not is_sqlite(path) and _starts_like_json(path)
    if export and (args.trust or args.key):
        raise UsageError(
            f"{path}: a JSONL export carries no checkpoints, so {'--trust' if args.trust else '--key'} has no "
            "signature to check; verify the ledger it was exported from"
        )
    trust = _checkpoint_trust(args)
    if export:
        with open(path, encoding="utf-8", errors="replace") as lines:
            try:
                report = verify_export(lines, path)
            except UsageError as exc:
                raise UsageError(
                    f"{exc}; a JSONL audit trail (`--audit FILE.jsonl`) has no hash chain to verify: "
                    "write a ledger with `--audit FILE.sqlite`"
                ) from None
        signed_note = "an export carries no checkpoints: it shows the lines are consistent, not who wrote them"
    else:
        with LedgerReader.open(path) as ledger:
            report = ledger.verify(trust)
        signed_note = ""
    if args.format == "json":
        checked = {"keyring": trust.keyring.source, "role": trust.role} if trust is not None else None
        out.write(json.dumps({**report.to_dict(), "trust": checked}, sort_keys=True) + "\n")
    else:
        out.write(_verify_text(report, signed_note, trust))
    return EXIT_OK if report.ok and report.entries else EXIT_PROBLEMS


def _checkpoint_trust(args: Namespace) -> Any:
    """The CheckpointTrust of --trust/--role or of --key, judged at --at; None without either."""
    from ballast.runtime.ledger_keys import checkpoint_trust, trust_public_keys

    if args.trust and args.key:
        raise UsageError("give --trust KEYRING or --key PUBLIC_KEY, not both: --key is a keyring of its keys alone")
    if not (args.trust or args.key):
        for option in ("role", "at"):
            if getattr(args, option) is not None:
                raise UsageError(f"--{option} says how to judge checkpoint signatures: give --trust KEYRING too")
        return None
    if args.key and args.role is not None:
        raise UsageError("--role names a role of the --trust keyring; keys given with --key sign as LedgerWriter")
    now = read_at(args.at)
    if args.key:
        return trust_public_keys(args.key, now=now)
    return checkpoint_trust(read_trust(args.trust), role=args.role, now=now)


def _verify_text(report: Any, export_note: str, trust: Any) -> str:
    src = report.source
    if not report.ok:
        verdict = "TAMPERED" if report.tampered else "UNTRUSTED"
        lines = [f"{src}: {verdict}: the first bad entry is seq {report.first_bad}"]
        lines += [f"  seq {f.seq}: {f.kind}: {f.message}" for f in report.findings[:20]]
        hidden = len(report.findings) - 20 + report.more_findings
        if hidden > 0:
            lines.append(f"  … and {hidden} more")
        return "\n".join(lines) + "\n"
    if not report.entries:
        return f"{src}: EMPTY: the ledger holds no entries; nothing was verified\n"
    span = f"seq {report.first_seq}–{report.head_seq}" if report.entries > 1 else f"seq {report.head_seq}"
    lines = [f"{src}: OK: {report.entries} entries ({span}), the hash chain is intact"]
    if export_note:
        lines.append(export_note)
    elif not report.checkpoints:
        lines.append(
            "checkpoints: none: the ledger is not signed, so a rewritten chain or a cut tail cannot be detected"
        )
    else:
        if trust is not None:
            how = f"{report.verified_checkpoints} verified against {trust.keyring.source} (role {trust.role})"
        else:
            how = "their signatures NOT checked (give --trust KEYRING)"
        lines.append(f"checkpoints: {report.checkpoints}, {how}; signed through entry {report.signed_through}")
        for s in report.signers.values():
            who = f"{s.name} ({s.key_id})" if s.name else s.key_id
            count = "1 checkpoint" if s.checkpoints == 1 else f"{s.checkpoints} checkpoints"
            lines.append(
                f"  {'signed' if trust is not None else 'claimed'} by {who}: {count}, the newest at entry {s.last_seq}"
            )
        if report.unsigned:
            first = report.signed_through + 1
            tail = f"entry {first} is" if report.unsigned == 1 else f"entries {first}–{report.head_seq} are"
            lines.append(
                f"{tail} chained but not yet signed: written after the last checkpoint "
                "(the writer crashed or is still running, or the ledger was cut back to a checkpoint)"
            )
    return "\n".join(lines) + "\n"


def _query(args: Namespace, out: TextIO) -> int:
    from ballast.runtime.ledger_read import LedgerReader

    with LedgerReader.open(args.ledger) as ledger:
        total = len(ledger)
        found = ledger.query(
            kind=args.kind,
            actor=args.actor,
            subject=args.subject,
            outcome=args.outcome,
            since=args.since,
            until=args.until,
            limit=args.limit,
        )
        if args.count:
            return _counts(found, total, args.format, out)
        count = 0
        for entry in found:
            count += 1
            if args.format == "json":
                out.write(json.dumps(entry, sort_keys=True, ensure_ascii=False) + "\n")
            else:
                out.write(_entry_text(entry) + "\n")
    if args.format == "text":
        out.write(f"{count} of {total} entries match\n")
    return EXIT_OK


def _counts(found: Any, total: int, format: str, out: TextIO) -> int:
    """`query --count`: the matching entries counted by kind, actor and outcome, in that order."""
    from collections import Counter

    counts = Counter((e.get("kind"), e.get("actor"), e.get("outcome")) for e in found)
    rows = sorted(counts.items(), key=lambda item: tuple(str(x) for x in item[0]))
    if format == "json":
        for (kind, actor, outcome), n in rows:
            out.write(json.dumps({"kind": kind, "actor": actor, "outcome": outcome, "count": n}, sort_keys=True) + "\n")
        return EXIT_OK
    for (kind, actor, outcome), n in rows:
        out.write(f"{n:>6}  {kind}  {actor}  {outcome}\n")
    out.write(f"{sum(counts.values())} of {total} entries match\n")
    return EXIT_OK


def _entry_text(entry: dict[str, Any]) -> str:
    what = " ".join(str(x) for x in (entry.get("outcome"), entry.get("subject")) if x)
    return f"{entry.get('seq')}  {entry.get('time')}  {entry.get('kind')}  {entry.get('actor')}  {what}: {entry.get('reason')}"


def _export(args: Namespace, out: TextIO, err: TextIO) -> int:
    from ballast.runtime.ledger_read import LedgerReader

    with LedgerReader.open(args.ledger) as ledger:
        if args.out is None:
            ledger.export(out, from_seq=args.from_seq)
            return EXIT_OK
        try:
            with open(args.out, "w", encoding="utf-8") as target:
                count = ledger.export(target, from_seq=args.from_seq)
        except OSError as exc:
            raise UsageError(f"cannot write {args.out}: {exc.strerror or exc}") from None
    err.write(f"exported {count} entries to {args.out}\n")
    return EXIT_OK


def _starts_like_json(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4096).lstrip()[:1] == b"{"
    except OSError:
        return False


__all__ = ["DESCRIPTION", "add_arguments", "run"]
