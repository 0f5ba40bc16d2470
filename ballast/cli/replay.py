"""`ballast replay`: recorded telemetry through a baseline and a candidate set (`ballast.simulator.replay`)."""

from __future__ import annotations

import argparse
import json
from argparse import Namespace
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from ballast.cli.output import print_diagnostics
from ballast.cli.progress import progress_counter
from ballast.cli.trust import add_trust_arguments, is_bundle, load_trusted, read_trust, require_bundle
from ballast.runtime.errors import CompileError, UsageError

EXIT_SAME, EXIT_DIFFERENT, EXIT_BAD_INPUT = 0, 1, 2
FINGERPRINT_SHOWN = 12  # hex digits of a set's fingerprint in messages: enough to tell two apart

DESCRIPTION = """Replay recorded telemetry (JSONL, CSV, Parquet or Arrow IPC) through a baseline and a candidate
policy set, open loop: both see the same events, and their directives are compared rule by rule
(how often each rule fired, when it first decided differently, on which event). Prints a
ballast.replay/1 report (docs/replay.md). Sets run on the columnar engine when ballast[columnar] is
installed (--engine, --explain-plan; with event time, every event still goes to the Engine, which
skips the rules proven quiet); the report is the same on every engine.
Exits 0 when every rule decided the same, 1 when some rule's decisions differ (like diff) or when
the replay proves nothing (no line evaluated, or more lines rejected than --max-rejected allows), 2
when the telemetry or the policies cannot be read."""


def add_arguments(replay: argparse.ArgumentParser) -> None:
    """Declare the arguments of `ballast replay`."""
    replay.add_argument(
        "--telemetry",
        required=True,
        metavar="FILE",
        help="recorded events: .jsonl or .csv (optionally .gz), .parquet, or .arrow/.feather (Arrow IPC)",
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
        "--max-rejected",
        type=rejected_share,
        metavar="SHARE",
        help="the share of lines that may be rejected (unreadable, or refused by every policy) before the "
        "replay fails: a fraction (0.01) or a percentage (1%%); default 0.1%%",
    )
    replay.add_argument(
        "--format", choices=("json", "markdown"), default="json", help="json: the report (default); markdown: a summary"
    )
    replay.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE instead of standard output")
    replay.add_argument(
        "--engine",
        choices=("auto", "row", "columnar"),
        default="auto",
        help="row: every event through both sets; columnar: whole chunks as column operations, the rest "
        "row by row (needs ballast[columnar]); auto (default): columnar where it applies. Same report",
    )
    replay.add_argument(
        "--explain-plan",
        action="store_true",
        help="print which engine would run and which rules run as columns (and why not), then stop",
    )
    add_trust_arguments(replay)


def rejected_share(text: str) -> float:
    """`--max-rejected`: `0.01` or `1%` as the fraction 0.01; argparse reports anything else."""
    percent = text.strip().endswith("%")
    try:
        value = float(text.strip().removesuffix("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a share: write a fraction (0.01) or a percentage (1%)"
        ) from None
    fraction = value / 100 if percent else value
    if not 0 <= fraction <= 1:
        example = f"{value:g}%" if not percent and 1 < value <= 100 else "1%"
        raise argparse.ArgumentTypeError(
            f"{text!r} is outside 0 to 1 (0 % to 100 %); for a percentage add %, as in {example}"
        )
    return fraction


def run(args: Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    """Replay the telemetry through both sets; exit 1 when a rule decided differently or the replay proves nothing."""
    from ballast.simulator.replay import DEFAULT_MAX_REJECTED, replay

    require_bundle(args, [args.baseline, args.candidate], "--baseline and --candidate name")
    keyring = read_trust(args.trust)
    baseline = _load("--baseline", args.baseline, err, args, keyring)
    candidate = _load("--candidate", args.candidate, err, args, keyring)
    if baseline is None or candidate is None:
        return EXIT_BAD_INPUT
    if args.explain_plan:
        from ballast.simulator.replay import explain_engine

        out.write(explain_engine(args.telemetry, baseline[0], candidate[0], input=args.input, engine=args.engine))
        return EXIT_SAME
    progress = progress_counter(err, "replay", "lines")  # on a terminal only; never in piped output
    report = replay(
        args.telemetry,
        baseline[0],
        candidate[0],
        input=args.input,
        max_rejected=DEFAULT_MAX_REJECTED if args.max_rejected is None else args.max_rejected,
        origins=(baseline[1], candidate[1]),
        progress=progress,
        engine=args.engine,
    )
    if progress is not None:
        progress(report["telemetry"]["lines"], final=True)
    text = json.dumps(report, indent=2, sort_keys=True) + "\n" if args.format == "json" else _markdown(report)
    changed = sum(1 for r in report["rules"] if r["change"] != "same")
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write {args.output}: {exc.strerror or exc}") from None
        err.write(
            f"wrote {args.output}: {_counts(report)}; {changed} of {len(report['rules'])} rules decided differently\n"
        )
    else:
        out.write(text)
    failure = report["failure"]
    if failure is not None:
        err.write(f"ballast replay: FAILED: {failure['reason']} ({_counts(report)})\n  hint: {failure['hint']}\n")
    return EXIT_DIFFERENT if changed or failure is not None else EXIT_SAME


def _counts(report: Mapping[str, Any]) -> str:
    telemetry = report["telemetry"]
    return f"{telemetry['lines']} lines read, {telemetry['evaluated']} evaluated, {telemetry['rejected']} rejected"


def _load(
    option: str, paths: list[str], err: TextIO, args: Namespace, keyring: Any
) -> tuple[Any, dict[str, Any]] | None:
    """The policy set named by an option and where it came from (paths, fingerprint), or None
    once its compile errors are printed. A bundle must pass the trust options."""
    from ballast.compiler.pipeline import compile_paths
    from ballast.paths import expand_policies
    from ballast.runtime.errors import BundleError

    try:
        if is_bundle(paths):
            policies, bundle = load_trusted(paths[0], args, keyring)
        else:
            compilation = compile_paths(expand_policies(paths))
            policies, bundle = compilation.program, compilation.bundle
    except BundleError as exc:
        raise BundleError(f"{option}: {exc}", reason=exc.reason) from None
    except UsageError as exc:
        raise UsageError(f"{option}: {exc}") from None
    except CompileError as exc:
        err.write(f"ballast replay: the {option} policies do not compile:\n")
        print_diagnostics(exc.diagnostics, "text", err)
        return None
    return policies, {"paths": list(paths), "fingerprint": bundle["manifest"]["fingerprint"]["hash"]}


def _markdown(report: Mapping[str, Any]) -> str:
    from ballast.simulator.render.markdown import render_markdown

    return render_markdown(report)


__all__ = ["DESCRIPTION", "add_arguments", "rejected_share", "run"]
