"""What `ballast simulate` and `ballast shadow` share: the scenario options, reading the scenario
and the policies, where the seeds run (also for `ballast fleet rehearse`), and writing the report."""

from __future__ import annotations

import argparse
import json
from argparse import Namespace
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TextIO

from ballast.cli.output import print_diagnostics
from ballast.runtime.errors import CompileError, UsageError
from ballast.runtime.values import parse_duration

EXIT_OK, EXIT_FINDINGS, EXIT_BAD_INPUT = 0, 1, 2
FORMATS = ("markdown", "json", "html")


def common_options(parser: argparse.ArgumentParser) -> None:
    """Declare the options `simulate` and `shadow` both take: seed, duration, report format and file."""
    parser.add_argument("--seed", type=seed_number, metavar="N", help="the (first) seed (default: the scenario's)")
    parser.add_argument(
        "--duration", type=positive_duration, metavar="DURATION", help="override the duration (e.g. 24h)"
    )
    parser.add_argument("--format", choices=FORMATS, default="markdown", help="report format (default: markdown)")
    parser.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE instead of standard output")


def executor_options(parser: argparse.ArgumentParser) -> None:
    """Declare where a seed sweep runs: --executor, --scheduler and --workers (simulator/executors.py)."""
    parser.add_argument(
        "--executor",
        choices=("local", "dask"),
        default="local",
        help="where the seeds run: local (this machine; --workers processes) or dask (a dask.distributed "
        "cluster: --scheduler, else a local one); the report is the same byte for byte (default: local)",
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="the Dask scheduler to run on, e.g. tcp://10.0.0.5:8786 (--executor dask)",
    )
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        metavar="N",
        help="worker processes, or local Dask threads (default: 1)",
    )


def executor_of(args: Namespace) -> Any:
    """The executor --executor, --scheduler and --workers name."""
    from ballast.simulator.executors import executor_for

    return executor_for(args.executor, workers=args.workers, scheduler=args.scheduler)


def seed_progress(err: TextIO, label: str) -> Callable[[int, int], None] | None:
    """`show(done, total)` as seeds complete: a bar on standard error when it is a terminal, else None."""
    from ballast.cli.progress import progress_bar

    bar = progress_bar(err, label)
    if bar is None:
        return None
    draw = bar

    def show(done: int, total: int) -> None:
        draw(done, total, final=done == total)

    return show


def _whole_number(low: int, what: str) -> Callable[[str], int]:
    """An argparse type: a whole number of at least `low`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{what}, got {value}")
        return value

    return parse


positive_int = _whole_number(1, "must be at least 1")
seed_number = _whole_number(0, "a seed is zero or more")


def gate_list(text: str) -> tuple[Any, ...]:
    """An argparse type: `--gate KPI:CRITERION,...` as gates (`ballast.simulator.gates`)."""
    from ballast.simulator.gates import GateError, parse_gates

    try:
        return parse_gates(text)
    except GateError as exc:
        raise argparse.ArgumentTypeError(f"{exc} ({exc.hint})") from None


def positive_duration(text: str) -> float:
    """An argparse type: a positive duration such as 90m or 24h, in seconds."""
    seconds = parse_duration(text)
    if seconds is None or seconds <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive duration such as 90m or 24h, got {text!r}")
    return seconds


def load_scenario(path: str, args: Namespace, err: TextIO) -> Any:
    """The scenario with --seed and --duration applied, or None once its problems are printed to err."""
    from ballast.simulator import scenario as scenarios

    try:
        return scenarios.load_scenario(path, overrides={"seed": args.seed, "duration": args.duration})
    except CompileError as exc:
        err.write(f"ballast: the scenario {path} has problems:\n")
        print_diagnostics(exc.diagnostics, "text", err)
        return None


def observable(path: str, scenario: Any, policies: Any, given: str, err: TextIO) -> bool:
    """Whether every probe and stop condition reads something `policies` runs (else the problems go to err)."""
    from ballast.simulator.run import check_observable

    try:
        check_observable(scenario, policies, given)
    except CompileError as exc:
        err.write(f"ballast: the scenario {path} has problems:\n")
        print_diagnostics(exc.diagnostics, "text", err)
        return False
    return True


def compile_side(option: str, side: Any, compiled: Callable[..., Any], err: TextIO) -> Any:
    """The policy set of `side` compiled (or loaded, for a bundle) by `compiled`, or None once its
    compile errors are printed to err."""
    try:
        return compiled(side.paths, side.trust, side.allow_unsigned)
    except UsageError as exc:
        raise UsageError(f"{option}: {exc}") from None
    except CompileError as exc:
        err.write(f"ballast: {option} do not compile:\n")
        print_diagnostics(exc.diagnostics, "text", err)
        return None


def emit(report: Mapping[str, Any], args: Namespace, out: TextIO, err: TextIO) -> None:
    """Write the report in --format to --output, else to out."""
    if args.format == "json":
        text = json.dumps(report, indent=2, sort_keys=True) + "\n"
    elif args.format == "html":
        from ballast.simulator.render.html import render_html

        text = render_html(report)
    else:
        from ballast.simulator.render.markdown import render_markdown

        text = render_markdown(report)
    if not args.output:
        out.write(text)
        return
    try:
        Path(args.output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    err.write(f"wrote {args.output}\n")


__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_FINDINGS",
    "EXIT_OK",
    "FORMATS",
    "common_options",
    "compile_side",
    "emit",
    "executor_of",
    "executor_options",
    "gate_list",
    "load_scenario",
    "observable",
    "positive_duration",
    "positive_int",
    "seed_number",
    "seed_progress",
]
