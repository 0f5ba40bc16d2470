"""`ballast test`: run policy unit tests (the logic is in `ballast.policytest`)."""

from __future__ import annotations

import argparse
import json
from argparse import Namespace
from pathlib import Path
from typing import TextIO

from ballast.cli.progress import progress_bar
from ballast.runtime.errors import UsageError

DESCRIPTION = """Run policy unit tests: every *.test.yaml file named or found under a directory.
Each test feeds series of samples to the policies on a grid of event times and checks the
directives, rule states, engine events, errors and threat modes it expects (docs/testing.md).
Prints PASS or FAIL per test, each failure with the actual directives and the closest mismatch,
then the totals. Exits 0 when every test passes, 1 when one fails, 2 when a test file is
malformed or its policies do not compile."""


def add_arguments(test: argparse.ArgumentParser) -> None:
    """Declare the arguments of `ballast test`."""
    test.add_argument("paths", nargs="+", metavar="PATH", help="test files, or directories to search for *.test.yaml")
    test.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    test.add_argument(
        "--coverage", action="store_true", help="report per rule: fired, seen false, thresholds exercised on both sides"
    )
    test.add_argument("--coverage-json", metavar="FILE", help="write the coverage report as JSON to FILE")
    test.add_argument("-q", "--quiet", action="store_true", help="text output: print only failures and the totals")


def run(args: Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    """Run the tests; the exit code is the report's (0 all pass, 1 a failure, 2 a malformed file)."""
    from ballast.policytest import Report, run_paths
    from ballast.policytest.report import render_json, render_text

    progress = progress_bar(err, "test")  # long runs on a terminal only; never in piped output
    report = run_paths(args.paths, coverage=bool(args.coverage or args.coverage_json), progress=progress)
    if progress is not None:
        progress(1, 1, final=True)
    # --coverage-json alone writes the file and leaves coverage out of what is printed
    shown = report if args.coverage else Report(report.files, None)
    out.write(render_json(shown) if args.format == "json" else render_text(shown, verbose=not args.quiet))
    if args.coverage_json and report.coverage is not None:
        try:
            Path(args.coverage_json).write_text(
                json.dumps(report.coverage.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
            )
        except OSError as exc:
            raise UsageError(f"cannot write {args.coverage_json}: {exc.strerror or exc}") from None
    return report.exit_code


__all__ = ["DESCRIPTION", "add_arguments", "run"]
