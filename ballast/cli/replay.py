"""`ballast replay`: recorded telemetry through a baseline and a candidate set (`ballast.simulator.replay`)."""

from __future__ import annotations

import argparse
import json
from argparse import Namespace
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TextIO

from ballast.runtime.errors import CompileError, UsageError

EXIT_SAME, EXIT_DIFFERENT, EXIT_BAD_INPUT = 0, 1, 2

DESCRIPTION = """Replay recorded telemetry (JSONL or CSV) through a baseline and a candidate policy
set, open loop: both see the same events, and their directives are compared rule by rule (how
often each rule fired, when it first decided differently, on which event). Prints a
ballast.replay/1 report (docs/replay.md). Exits 0 when every rule decided the same, 1 when some
rule's decisions differ (like diff), 2 when the telemetry or the policies cannot be read; lines
that cannot be read are reported as problems and skipped."""


def add_parser(command: Callable[[str, str, str], argparse.ArgumentParser]) -> None:
    """Declare `ballast replay` with the CLI's `command(name, help, description)` factory."""
    replay = command("replay", "compare two policy sets on recorded telemetry", DESCRIPTION)
    replay.add_argument(
        "--telemetry", required=True, metavar="FILE", help="recorded events: .jsonl or .csv (optionally .gz)"
    )
    replay.add_argument(
        "--baseline",
        required=True,
        nargs="+",
        metavar="PATH",
        help="the policies in force: files, directories or one bundle (.json)",
    )
    replay.add_argument(
        "--candidate",
        required=True,
        nargs="+",
        metavar="PATH",
        help="the proposed policies: files, directories or one bundle",
    )
    replay.add_argument("--input", metavar="NAME", help="send every line to this input (for sets that read several)")
    replay.add_argument(
        "--format", choices=("json", "markdown"), default="json", help="json: the report (default); markdown: a summary"
    )
    replay.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE instead of standard output")


def run_replay(args: Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    from ballast.simulator.replay import replay

    baseline = _load("--baseline", args.baseline, err)
    candidate = _load("--candidate", args.candidate, err)
    if baseline is None or candidate is None:
        return EXIT_BAD_INPUT
    report = replay(args.telemetry, baseline, candidate, input=args.input)
    text = json.dumps(report, indent=2, sort_keys=True) + "\n" if args.format == "json" else _markdown(report)
    changed = sum(1 for r in report["rules"] if r["change"] != "same")
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write {args.output}: {exc.strerror or exc}") from None
        events = report["telemetry"]["events"]
        err.write(
            f"wrote {args.output}: {events} events, {changed} of {len(report['rules'])} rules decided differently\n"
        )
    else:
        out.write(text)
    return EXIT_DIFFERENT if changed else EXIT_SAME


def _load(option: str, paths: list[str], err: TextIO) -> Any:
    """The policy set named by an option, or None once its compile errors are printed."""
    from ballast.cli.commands import _load_program, _print_diagnostics

    try:
        return _load_program(paths)
    except UsageError as exc:
        raise UsageError(f"{option}: {exc}") from None
    except CompileError as exc:
        err.write(f"ballast replay: the {option} policies do not compile:\n")
        _print_diagnostics(exc.diagnostics, "text", err)
        return None


def _markdown(report: Mapping[str, Any]) -> str:
    from ballast.simulator.render.markdown import render_markdown

    return render_markdown(report)


__all__ = ["add_parser", "run_replay"]
