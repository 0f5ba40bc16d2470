"""`ballast score`: tenant maturity scores, badges and their factors (docs/scoring.md)."""

from __future__ import annotations

import argparse
import json
from argparse import Namespace
from pathlib import Path
from typing import Any, TextIO

from ballast.cli.gate import compiled

DESCRIPTION = """Score tenants with a scoring document: per tenant, the score (0 to 100), the
badge, and each factor's contribution with the metric it came from.
TENANTS is a metrics source: a .jsonl or .json file of metric documents, or a
directory of them (docs/scoring.md). --history keeps every score in SQLite for
trends, and badge hysteresis starts from the tenant's previous badge there.
`ballast score backfill --history DB --scoring DOC --profile P` re-scores the
history under the profile's current version and keeps the old rows.
-o DIR writes one report per tenant (DIR/TENANT.txt|.json|.md|.html); --format
html needs it. Exit 0: every tenant scored; 1: a tenant got no score (none of
its signals could be counted)."""

FORMATS = ("text", "json", "md", "html")
SUFFIX = {"text": ".txt", "json": ".json", "md": ".md", "html": ".html"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of `ballast score`."""
    parser.add_argument(
        "tenants", metavar="TENANTS|backfill", help="the tenants' metrics (file or directory), or `backfill`"
    )
    parser.add_argument("--scoring", required=True, metavar="DOC", help="the scoring document (.bal or .yaml)")
    parser.add_argument("--profile", required=True, metavar="NAME", help="the scoring profile: regulator, csm, …")
    parser.add_argument("--history", metavar="DB", help="keep scores in DB (SQLite; created if missing)")
    parser.add_argument(
        "--tenant", action="append", default=[], metavar="ID", help="score only this tenant (repeatable)"
    )
    parser.add_argument(
        "--now", metavar="TIME", help="score at this time (RFC 3339 or epoch seconds); default: the clock"
    )
    parser.add_argument("--format", choices=FORMATS, default="text", help="text (default), json, md or html")
    parser.add_argument("-o", "--output", metavar="DIR", help="write one report per tenant into DIR")


def load_scoring(path: str) -> Any:
    """The `Scoring` of the document at `path`; raises CompileError or UsageError."""
    from ballast.compiler.pipeline import compile_paths
    from ballast.paths import expand_policies
    from ballast.runtime.errors import UsageError
    from ballast.runtime.scoring import Scoring

    entries = compile_paths(expand_policies([path])).ir.get("scoring") or []
    if not entries:
        raise UsageError(f'--scoring {path}: no scoring document (a `scoring NAME version "…" {{ … }}`)')
    if len(entries) > 1:
        names = ", ".join(sorted(e["name"] for e in entries))
        raise UsageError(f"--scoring {path}: holds several scoring documents ({names}): name the file of one")
    return Scoring.from_ir(entries[0])


@compiled
def run(args: Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    """Score the tenants (or backfill the history); exit 1 when a tenant got no score."""
    from ballast.cli.exits import EXIT_OK, EXIT_PROBLEMS
    from ballast.cli.gate import clock
    from ballast.runtime.errors import UsageError
    from ballast.runtime.score_history import ScoreHistory
    from ballast.runtime.score_tenants import score_tenants
    from ballast.runtime.tenant_metrics import read_tenant_metrics

    scoring = load_scoring(args.scoring)
    profile = scoring.profile(args.profile)
    if args.tenants == "backfill":
        return _backfill(args, scoring, out)
    if args.format == "html" and not args.output:
        raise UsageError("--format html writes one page per tenant: give the directory with -o DIR")
    now = clock(args.now)()
    metrics = read_tenant_metrics(args.tenants)
    history = ScoreHistory(args.history) if args.history else None
    try:
        results = score_tenants(scoring, metrics, profile.name, now, history=history, tenants=args.tenant)
    finally:
        if history is not None:
            history.close()
    if args.output:
        _write_reports(Path(args.output), args.format, scoring, profile, now, results, out)
    else:
        _print(args.format, scoring, profile, now, results, out)
    return EXIT_PROBLEMS if any(r.score.score is None for r in results) else EXIT_OK


def _print(fmt: str, scoring: Any, profile: Any, now: float, results: list[Any], out: TextIO) -> None:
    from ballast.cli import score_report

    if fmt == "json":
        out.write(
            json.dumps(score_report.all_json(scoring, profile, now, results), indent=2, ensure_ascii=False) + "\n"
        )
    elif fmt == "md":
        out.write("\n".join(score_report.tenant_markdown(profile, now, r) for r in results))
    else:
        out.write(score_report.all_text(profile, now, results))


def _write_reports(
    directory: Path, fmt: str, scoring: Any, profile: Any, now: float, results: list[Any], out: TextIO
) -> None:
    from ballast.cli import score_report
    from ballast.runtime.errors import UsageError

    try:
        directory.mkdir(parents=True, exist_ok=True)
        for result in results:
            if fmt == "json":
                text = json.dumps(score_report.tenant_json(scoring, result), indent=2, ensure_ascii=False) + "\n"
            elif fmt == "md":
                text = score_report.tenant_markdown(profile, now, result)
            elif fmt == "html":
                text = score_report.tenant_html(scoring, profile, now, result)
            else:
                text = score_report.tenant_text(result)
            target = directory / f"{result.score.tenant}{SUFFIX[fmt]}"
            target.write_text(text, encoding="utf-8")
            out.write(f"{score_report.headline(result)}: {target}\n")
    except OSError as exc:
        raise UsageError(f"-o {directory}: cannot write the reports ({exc.strerror or exc})") from None


def _backfill(args: Namespace, scoring: Any, out: TextIO) -> int:
    from ballast.cli.exits import EXIT_OK
    from ballast.runtime.errors import UsageError
    from ballast.runtime.score_history import ScoreHistory
    from ballast.runtime.score_tenants import backfill

    if not args.history:
        raise UsageError("score backfill re-scores a history: give it with --history DB")
    if not Path(args.history).is_file():
        raise UsageError(f"--history {args.history}: no such file: run `ballast score TENANTS --history` first")
    with ScoreHistory(args.history) as history:
        done = backfill(scoring, args.profile, history)
    added = sum(done.added.values())
    if args.format == "json":
        report = {
            "profile": args.profile,
            "version": done.version,
            "from_versions": list(done.from_versions),
            "added": done.added,
            "already_scored": done.kept,
        }
        out.write(json.dumps(report, indent=2) + "\n")
    else:
        versions = ", ".join(done.from_versions) or "none"
        out.write(
            f"backfilled profile {args.profile} version {done.version} from version(s) {versions}: "
            f"{added} score(s) added for {len(done.added)} tenant(s), {done.kept} already scored\n"
        )
    return EXIT_OK


__all__ = ["DESCRIPTION", "add_arguments", "run"]
