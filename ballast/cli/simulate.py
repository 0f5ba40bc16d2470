"""`ballast simulate` and `ballast shadow`: scenarios in the SimPy mesh (`ballast.simulator`)."""

from __future__ import annotations

import argparse
import json
from argparse import Namespace
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TextIO

from ballast.cli.progress import progress_bar
from ballast.runtime.errors import CompileError, UsageError
from ballast.runtime.values import parse_duration

EXIT_OK, EXIT_FINDINGS, EXIT_BAD_INPUT = 0, 1, 2
FORMATS = ("markdown", "json", "html")

SIMULATE = """Run a scenario (catalog/scenarios/*.scenario.yaml) in the simulated mesh with a policy set's
Engine in the loop, and report the KPIs: SLA adherence, time to mitigate, directives per kind,
directive latency from KPI breach (p50/p95/p99), false lockdowns, the ThreatIndex and mode over
time, and whether the steady-state hypothesis held (docs/simulator.md). Same scenario, policies
and seed → the same report, byte for byte. Exits 0 when the hypothesis held, 1 when it did not or
a stop condition ended the run, 2 on bad input (with the file, line and column)."""

SHADOW = """Run a scenario with a baseline and a candidate policy set on the same seeded worlds
(common random numbers) and compare: every KPI's difference with a 95% confidence interval over
the seeds and a verdict (better, worse, or inconclusive with how many seeds would decide it), and
a per-rule decision diff with the first divergence. The verdict is the gates' (--gate, else the
scenario's `gates:`, else every KPI but `directives` not worse). Exits 0 when every gate passes,
1 when one fails, 2 on bad input."""


def add_parser(command: Callable[[str, str, str], argparse.ArgumentParser]) -> None:
    """Declare `ballast simulate` and `ballast shadow` with the CLI's command factory."""
    sim = command("simulate", "run a scenario in the simulated mesh and report its KPIs", SIMULATE)
    sim.add_argument("scenario", metavar="SCENARIO", help="a scenario file (*.scenario.yaml)")
    sim.add_argument(
        "--policy", nargs="+", metavar="PATH", help="policy files, directories or a bundle (default: the scenario's)"
    )
    _common(sim)
    sim.add_argument(
        "--check", action="store_true", help="check the scenario and its policies, and stop before running"
    )

    sh = command("shadow", "compare two policy sets on the same simulated worlds", SHADOW)
    sh.add_argument("--scenario", required=True, metavar="SCENARIO", help="a scenario file (*.scenario.yaml)")
    sh.add_argument("--baseline", required=True, nargs="+", metavar="PATH", help="the policies in force")
    sh.add_argument("--candidate", required=True, nargs="+", metavar="PATH", help="the proposed policies")
    sh.add_argument("--seeds", type=_positive_int, default=20, metavar="N", help="seeds to run (default: 20)")
    sh.add_argument("--workers", type=_positive_int, default=1, metavar="N", help="worker processes (default: 1)")
    sh.add_argument(
        "--gate",
        action="append",
        type=_gates,
        metavar="KPI:CRITERION,...",
        help="the gates that decide the verdict, e.g. sla:better-or-same,error_rate:not-worse "
        "(criteria: better, better-or-same, not-worse, within:X%%; default: the scenario's `gates:`)",
    )
    _common(sh)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=_seed, metavar="N", help="the (first) seed (default: the scenario's)")
    parser.add_argument("--duration", type=_duration, metavar="DURATION", help="override the duration (e.g. 24h)")
    parser.add_argument("--format", choices=FORMATS, default="markdown", help="report format (default: markdown)")
    parser.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE instead of standard output")


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


_positive_int = _whole_number(1, "must be at least 1")
_seed = _whole_number(0, "a seed is zero or more")


def _gates(text: str) -> tuple[Any, ...]:
    from ballast.simulator.gates import GateError, parse_gates

    try:
        return parse_gates(text)
    except GateError as exc:
        raise argparse.ArgumentTypeError(f"{exc} ({exc.hint})") from None


def _duration(text: str) -> float:
    seconds = parse_duration(text)
    if seconds is None or seconds <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive duration such as 90m or 24h, got {text!r}")
    return seconds


def run_simulate(args: Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    from ballast.simulator.render.numbers import plural
    from ballast.simulator.run import Simulation
    from ballast.simulator.shadow import Side, compiled
    from ballast.simulator.signals import plan_inputs

    scenario = _scenario(args.scenario, args, err)
    if scenario is None:
        return EXIT_BAD_INPUT
    paths = tuple(args.policy or scenario.policies)
    if not paths:
        raise UsageError(f"{args.scenario}: the scenario names no policies; give them with --policy")
    given = "--policy" if args.policy else "the scenario's policies"
    policies = _compile(given, Side(paths), compiled, err)
    if policies is None:
        return EXIT_BAD_INPUT
    plan_inputs(policies)  # an input the mesh cannot feed is an error before the run
    if not _observable(args.scenario, scenario, policies, given, err):
        return EXIT_BAD_INPUT
    if args.check:
        err.write(f"ok: {scenario.name}, {plural(len(scenario.pools), 'pool')}, {plural(len(scenario.faults), 'fault')}\n")
        return EXIT_OK
    progress = progress_bar(err, "simulate")
    result = Simulation(scenario, policies).run(progress=(lambda share: progress(share, 1.0)) if progress else None)
    if progress:
        progress(1.0, 1.0, final=True)
    report = result.report
    _emit(report, args, out, err)
    held = report["outcome"]["hypothesis_held"] and report["outcome"]["stopped"] is None
    return EXIT_OK if held else EXIT_FINDINGS


def run_shadow(args: Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    from ballast.simulator.shadow import Side, compiled, shadow

    scenario = _scenario(args.scenario, args, err)
    if scenario is None:
        return EXIT_BAD_INPUT
    sides = []
    for option, paths in (("--baseline", args.baseline), ("--candidate", args.candidate)):
        side = Side(tuple(paths))
        policies = _compile(option, side, compiled, err)
        if policies is None or not _observable(args.scenario, scenario, policies, option, err):
            return EXIT_BAD_INPUT
        sides.append(side)
    gates = tuple(g for group in args.gate or () for g in group) or None
    progress = progress_bar(err, "shadow")
    report = shadow(
        scenario,
        sides[0],
        sides[1],
        seeds=args.seeds,
        workers=args.workers,
        gates=gates,
        progress=(lambda done, total: progress(done, total)) if progress else None,
    )
    if progress:
        progress(args.seeds, args.seeds, final=True)
    _emit(report, args, out, err)
    return EXIT_OK if report["outcome"]["passed"] else EXIT_FINDINGS


def _scenario(path: str, args: Namespace, err: TextIO) -> Any:
    from ballast.cli.commands import _print_diagnostics
    from ballast.simulator.scenario import load_scenario

    try:
        return load_scenario(path, overrides={"seed": args.seed, "duration": args.duration})
    except CompileError as exc:
        err.write(f"ballast: the scenario {path} has problems:\n")
        _print_diagnostics(exc.diagnostics, "text", err)
        return None


def _observable(path: str, scenario: Any, policies: Any, given: str, err: TextIO) -> bool:
    """Whether every probe and stop condition reads something `policies` runs (else the problems go to err)."""
    from ballast.cli.commands import _print_diagnostics
    from ballast.simulator.run import check_observable

    try:
        check_observable(scenario, policies, given)
    except CompileError as exc:
        err.write(f"ballast: the scenario {path} has problems:\n")
        _print_diagnostics(exc.diagnostics, "text", err)
        return False
    return True


def _compile(option: str, side: Any, compiled: Callable[[tuple[str, ...]], Any], err: TextIO) -> Any:
    from ballast.cli.commands import _print_diagnostics

    try:
        return compiled(side.paths)
    except UsageError as exc:
        raise UsageError(f"{option}: {exc}") from None
    except CompileError as exc:
        err.write(f"ballast: {option} do not compile:\n")
        _print_diagnostics(exc.diagnostics, "text", err)
        return None


def _emit(report: Mapping[str, Any], args: Namespace, out: TextIO, err: TextIO) -> None:
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


__all__ = ["add_parser", "run_shadow", "run_simulate"]
