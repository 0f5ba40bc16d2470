"""`ballast fmt`: rewrite .bal files in their canonical form, or report the files that are not."""

from __future__ import annotations

import argparse
import difflib
import json
from argparse import Namespace
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from ballast.cli.exits import EXIT_OK, EXIT_PROBLEMS
from ballast.paths import expand_policies
from ballast.runtime.errors import Diagnostic, UsageError
from ballast.runtime.reading import read_text

DESCRIPTION = "Rewrite .bal files in their canonical form (idempotent; comments are kept)."


def add_arguments(fmt: argparse.ArgumentParser) -> None:
    """Declare the arguments of `ballast fmt`."""
    fmt.add_argument("paths", nargs="+", metavar="PATH", help=".bal files or directories")
    fmt.add_argument("--check", action="store_true", help="write nothing; exit 1 if any file is not formatted")
    fmt.add_argument("--diff", action="store_true", help="write nothing; print a unified diff of the changes")
    fmt.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="json: one report of every file, its diagnostics and whether it was formatted (default: text)",
    )
    fmt.add_argument("--with-text", action="store_true", help="with --format json: add each file's canonical text")


@dataclass
class FormatResult:
    """One file through `fmt`: its text, its canonical form (None when it does not parse)."""

    path: str
    text: str
    formatted: str | None
    diagnostics: list[Diagnostic]

    @property
    def changed(self) -> bool:
        return self.formatted is not None and self.formatted != self.text


def run(args: Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    """Format the .bal files in place, or with --check / --diff only report; exit 1 on a change or an error."""
    if args.format == "json" and args.diff:
        raise UsageError("--diff prints a unified diff: use it without --format json")
    if args.with_text and args.format != "json":
        raise UsageError("--with-text adds each file's formatted text to the JSON report: add --format json")
    results = []
    for path in expand_policies(args.paths, (".bal",)):
        if not path.endswith(".bal"):
            err.write(f"{path}: skipped: fmt formats .bal files\n")
            continue
        result = format_file(path)
        results.append(result)
        written = result.changed and not (args.check or args.diff)
        if written:
            Path(path).write_text(result.formatted or "", encoding="utf-8")
        if args.format == "text":
            _print_format_result(result, args, written, out, err)
    if args.format == "json":
        out.write(json.dumps(_format_report(results, args), indent=2, ensure_ascii=False) + "\n")
    if any(r.diagnostics for r in results):
        return EXIT_PROBLEMS
    if any(r.changed for r in results) and (args.check or args.diff):
        return EXIT_PROBLEMS
    return EXIT_OK


def format_file(path: str) -> FormatResult:
    """Read and format one .bal file; a syntax error is kept as diagnostics, not raised."""
    from ballast.compiler.passes.parse import bundle_diagnostic
    from ballast.compiler.pipeline import attach_source_lines
    from ballast.dsl.format import format_document
    from ballast.dsl.parser import SyntaxProblem, parse_document

    text = read_source(path)
    bundle = bundle_diagnostic(path, text)
    if bundle is not None:
        return FormatResult(path, text, None, attach_source_lines([bundle], {path: text}))
    try:
        return FormatResult(path, text, format_document(parse_document(text, path)), [])
    except SyntaxProblem as problem:
        return FormatResult(path, text, None, attach_source_lines(problem.diagnostics, {path: text}))


def read_source(path: str) -> str:
    """The text of a policy file named on the command line; UsageError says why it cannot be read."""
    return read_text(path, "policy file")


def _print_format_result(result: FormatResult, args: Namespace, written: bool, out: TextIO, err: TextIO) -> None:
    for d in result.diagnostics:
        err.write(d.render() + "\n")
    if not result.changed:
        return
    if args.diff:
        out.writelines(
            difflib.unified_diff(
                result.text.splitlines(True),
                (result.formatted or "").splitlines(True),
                result.path,
                result.path + " (formatted)",
            )
        )
    elif written:
        out.write(f"reformatted {result.path}\n")
    else:
        out.write(f"would reformat {result.path}\n")


def _format_report(results: list[FormatResult], args: Namespace) -> dict[str, Any]:
    """`fmt --format json`: per file whether it was canonical and what was done, then totals."""
    files = []
    for r in results:
        entry: dict[str, Any] = {
            "path": r.path,
            "formatted": None if r.formatted is None else not r.changed,
            "written": r.changed and not args.check,
            "diagnostics": [d.to_json() for d in r.diagnostics],
        }
        if args.with_text and r.formatted is not None:
            entry["text"] = r.formatted
        files.append(entry)
    return {
        "files": files,
        "summary": {
            "files": len(results),
            "unformatted": sum(1 for r in results if r.changed),
            "failed": sum(1 for r in results if r.diagnostics),
        },
    }


__all__ = ["DESCRIPTION", "FormatResult", "add_arguments", "format_file", "read_source", "run"]
