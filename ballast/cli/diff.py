"""`ballast diff`: what a change to a policy set means, for the reviewer of a pull request."""

from __future__ import annotations

import argparse
from argparse import Namespace
from typing import TYPE_CHECKING, TextIO

from ballast.cli.exits import EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE

if TYPE_CHECKING:
    from ballast.compiler.diff.report import Report
    from ballast.sides import Listing, Side

DESCRIPTION = """Compare two versions of a policy set by what they decide, not by
their text. Each side is a file, a folder or GIT_REF:PATH
(`ballast diff origin/main:catalog/ catalog/`). Conditions are compared by an
SMT solver: reordering, De Morgan or an inlined constant is cosmetic, and a
changed condition comes with inputs where the decisions differ. Simulator
scenarios on the sides are compared too, and so are JSON/YAML configuration
files under a JSON Schema (--schema, --config). Every finding has a documented
id and a level: breaking, behavioral or cosmetic (docs/diff.md)."""

EPILOG = """exit codes: 0 no finding at or above --fail-on; 1 findings at or above it
(or, with --require-justification, a loosened guard without a justification);
2 the diff could not run (a side does not compile, a scenario or configuration
file is invalid, a bad git ref, a malformed ignore file); 3 internal error."""


def add_arguments(diff: argparse.ArgumentParser) -> None:
    """Declare the arguments of `ballast diff`."""
    from ballast.compiler.diff.render import FORMATS  # no solver: render imports none
    from ballast.compiler.diff.report import FAIL_ON

    diff.epilog = EPILOG
    diff.add_argument("base", metavar="BASE", help="the version before: a file, a folder or GIT_REF:PATH")
    diff.add_argument("head", metavar="HEAD", help="the version after: a file, a folder or GIT_REF:PATH")
    diff.add_argument(
        "--schema",
        metavar="FILE",
        help="a JSON Schema (JSON or YAML): a side that is one file is a configuration file checked by it",
    )
    diff.add_argument(
        "--config",
        metavar="GLOB",
        action="append",
        default=[],
        help="with --schema: the configuration files of a folder side, by path under the folder (repeatable)",
    )
    diff.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    diff.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE instead of standard output")
    diff.add_argument(
        "--fail-on",
        choices=FAIL_ON,
        default="breaking",
        help="exit 1 when a finding is at or above this level, or (guard-loosened) loosens a guard (default: breaking)",
    )
    diff.add_argument(
        "--require-justification",
        action="store_true",
        help='exit 1 when a rule whose guard was loosened has no `justification "…"` clause',
    )
    diff.add_argument("--overrides", metavar="FILE", help="a severity-override file (YAML; docs/diff.md)")
    diff.add_argument("--ignore", metavar="FILE", help="an ignore file of accepted findings (YAML; docs/diff.md)")
    diff.add_argument(
        "--since", metavar="REPORT", help="report only findings that this previous JSON report did not have"
    )
    diff.add_argument(
        "--shadow",
        metavar="SCENARIO",
        help="run both sides on this simulator scenario and attach each rule's decision counts and the KPI differences",
    )
    diff.add_argument("--seeds", type=int, default=5, metavar="N", help="seeds of the --shadow run (default: 5)")
    diff.add_argument(
        "--replay",
        metavar="TELEMETRY",
        help="replay this recording (JSONL, CSV, Parquet or Arrow) through both sides and attach each rule's decision counts",
    )
    diff.add_argument("--input", metavar="NAME", help="with --replay: send every line to this input")
    diff.add_argument(
        "--engine",
        choices=("auto", "row", "columnar"),
        default=None,
        help="with --replay: the replay engine, as for `ballast replay` (default: auto). Same counts",
    )
    diff.add_argument(
        "--timeout-ms",
        type=int,
        default=2000,
        metavar="MS",
        help="the solver's time limit per question (default: 2000)",
    )


def run(args: Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    """Diff the two sides and print the report; the exit code follows --fail-on."""
    import datetime as dt
    import gc

    from ballast.cli.output import print_diagnostics
    from ballast.compiler.diff import diff_ir, place, sort_findings, unjustified
    from ballast.compiler.diff.documents import Options, active, diff_documents
    from ballast.compiler.diff.render import render
    from ballast.compiler.diff.report import Report, apply_ignores, apply_overrides, read_entries, since
    from ballast.runtime.errors import CompileError, UsageError
    from ballast.sides import SideFailed, list_side, load_side
    from ballast.simulator import scenario_diff

    if args.timeout_ms < 1:
        raise UsageError(f"--timeout-ms must be at least 1, got {args.timeout_ms}")
    if args.seeds < 1:
        raise UsageError(f"--seeds must be at least 1, got {args.seeds}")
    if args.input and not args.replay:
        raise UsageError("--input goes with --replay TELEMETRY")
    if args.engine and not args.replay:
        raise UsageError("--engine goes with --replay TELEMETRY")
    try:
        overrides = read_entries(args.overrides, "overrides") if args.overrides else []
        ignores = read_entries(args.ignore, "ignore") if args.ignore else []
    except CompileError as exc:
        print_diagnostics(exc.diagnostics, "text", err, None)
        return EXIT_USAGE
    scenario_diff.register()  # the simulator's document type (the compiler may not import it)
    types = active(Options(args.schema, tuple(args.config)))
    listings = list_side(args.base, types), list_side(args.head, types)
    _check_globs(args.config, *listings)
    # Compiling two sets allocates many small objects and few cycles, and the command is short
    # lived: the cyclic collector cost a quarter of a 1000-rule diff (docs/performance.md,
    # "Semantic diff"), so it pauses while the sides compile.
    gc.disable()
    try:
        base = load_side(args.base, "base", types, listings[0])
        head = load_side(args.head, "head", types, listings[1])
    except SideFailed as exc:
        err.write(
            f"ballast diff: the {exc.label} side ({args.base if exc.label == 'base' else args.head}) has errors:\n"
        )
        print_diagnostics(exc.error.diagnostics, "text", err, None)
        return EXIT_USAGE
    finally:
        gc.enable()
    if (args.shadow or args.replay) and not (base.files and head.files):
        raise UsageError("--shadow and --replay run policies: each side needs policy files")
    findings = diff_ir(base.ir, head.ir, timeout_ms=args.timeout_ms)
    place(findings, base.locate, head.locate)
    findings = sort_findings(
        findings + diff_documents(base.others, head.others, types, single=base.single and head.single)
    )
    notes: list[str] = []
    today = dt.date.today()
    apply_overrides(findings, overrides, today, notes)
    findings, ignored = apply_ignores(findings, ignores, today, notes)
    unchanged = 0
    if args.since:
        findings, unchanged = since(findings, args.since)
    report = Report(
        {"source": args.base, "documents": base.documents},
        {"source": args.head, "documents": head.documents},
        findings,
        ignored,
        unchanged,
        notes,
    )
    if args.require_justification:
        report.missing_justification = unjustified(report.findings, head.ir)
    if args.shadow or args.replay:
        report.evidence = _evidence(args, base, head, report)
    text = render(report, args.format, args.fail_on)
    if args.output:
        try:
            with open(args.output, "w", encoding="utf-8") as f:
                f.write(text)
        except OSError as exc:
            raise UsageError(f"{args.output}: cannot write the report: {exc.strerror or exc}") from None
        summary = text.rstrip("\n").rsplit("\n", 1)[-1] if args.format in ("text", "github") else ""
        if summary:
            err.write(summary + "\n")
    else:
        out.write(text)
    return EXIT_PROBLEMS if report.fails(args.fail_on) else EXIT_OK


def _check_globs(globs: list[str], base: Listing, head: Listing) -> None:
    """A --config glob that names no file of either folder side is a mistake, not an empty diff."""
    from fnmatch import fnmatchcase

    from ballast.runtime.errors import UsageError

    if base.single and head.single:
        return
    paths = [path for listing in (base, head) for t, path, _ in listing.claimed if t.name == "config"]
    for glob in globs:
        if not any(fnmatchcase(p, glob) for p in paths):
            raise UsageError(f"--config {glob}: no file of either side matches it (paths are relative to each side)")


def _evidence(args: Namespace, base: Side, head: Side, report: Report) -> dict[str, object]:
    """Run the sides in the simulator and/or over the recording; attach what they decided."""
    import tempfile

    from ballast.runtime.errors import UsageError
    from ballast.sides import on_disk
    from ballast.simulator.evidence import attach, replay_evidence, shadow_evidence

    with tempfile.TemporaryDirectory(prefix="ballast-diff-") as scratch:
        base_files = on_disk(base, scratch + "/base")
        head_files = on_disk(head, scratch + "/head")
        reports = {}
        if args.shadow:
            reports["shadow"] = shadow_evidence(args.shadow, base_files, head_files, args.seeds)
        if args.replay:
            reports["replay"] = replay_evidence(
                args.replay, base_files, head_files, args.input, engine=args.engine or "auto"
            )
            telemetry = reports["replay"]["telemetry"]
            if telemetry["evaluated"] == 0:  # evidence from no event is no evidence
                failure = reports["replay"]["failure"] or {}
                raise UsageError(
                    f"--replay {args.replay}: no event was evaluated: {failure.get('reason', '')}; {failure.get('hint', '')}"
                )
    return attach(report.findings, reports)


__all__ = ["DESCRIPTION", "add_arguments", "run"]
