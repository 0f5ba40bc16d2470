"""`ballast shadow`: a baseline and a candidate policy set on the same simulated worlds, compared."""

from __future__ import annotations

import argparse
from argparse import Namespace
from typing import TextIO

from ballast.cli.simulation import (
    EXIT_BAD_INPUT,
    EXIT_FINDINGS,
    EXIT_OK,
    common_options,
    compile_side,
    emit,
    executor_of,
    executor_options,
    gate_list,
    load_scenario,
    observable,
    positive_int,
    seed_progress,
)
from ballast.cli.trust import add_trust_arguments, read_trust, require_bundle

DESCRIPTION = """Run a scenario with a baseline and a candidate policy set on the same seeded worlds
(common random numbers) and compare: every KPI's difference with a 95% confidence interval over
the seeds and a verdict (better, worse, or inconclusive with how many seeds would decide it), and
a per-rule decision diff with the first divergence. The verdict is the gates' (--gate, else the
scenario's `gates:`, else every KPI but `directives` not worse). Exits 0 when every gate passes,
1 when one fails, 2 on bad input."""


def add_arguments(sh: argparse.ArgumentParser) -> None:
    """Declare the arguments of `ballast shadow`."""
    sh.add_argument("--scenario", required=True, metavar="SCENARIO", help="a scenario file (*.scenario.yaml)")
    sh.add_argument("--baseline", required=True, nargs="+", metavar="PATH", help="the policies in force")
    sh.add_argument("--candidate", required=True, nargs="+", metavar="PATH", help="the proposed policies")
    sh.add_argument("--seeds", type=positive_int, default=20, metavar="N", help="seeds to run (default: 20)")
    executor_options(sh)
    sh.add_argument(
        "--gate",
        action="append",
        type=gate_list,
        metavar="KPI:CRITERION,...",
        help="the gates that decide the verdict, e.g. sla:better-or-same,error_rate:not-worse "
        "(criteria: better, better-or-same, not-worse, within:X%%; default: the scenario's `gates:`)",
    )
    common_options(sh)
    add_trust_arguments(sh)


def run(args: Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    """Run both sets over the seeds; exit 1 when a gate fails."""
    from ballast.simulator.shadow import Side, compiled, shadow

    scenario = load_scenario(args.scenario, args, err)
    if scenario is None:
        return EXIT_BAD_INPUT
    require_bundle(args, [args.baseline, args.candidate], "--baseline and --candidate name")
    read_trust(args.trust)  # its problems before any policy is read
    sides = []
    for option, paths in (("--baseline", args.baseline), ("--candidate", args.candidate)):
        side = Side(tuple(paths), args.trust, args.allow_unsigned)
        policies = compile_side(option, side, compiled, err)
        if policies is None or not observable(args.scenario, scenario, policies, option, err):
            return EXIT_BAD_INPUT
        sides.append(side)
    gates = tuple(g for group in args.gate or () for g in group) or None
    report = shadow(
        scenario,
        sides[0],
        sides[1],
        seeds=args.seeds,
        executor=executor_of(args),
        gates=gates,
        progress=seed_progress(err, "shadow"),
    )
    emit(report, args, out, err)
    return EXIT_OK if report["outcome"]["passed"] else EXIT_FINDINGS


__all__ = ["DESCRIPTION", "add_arguments", "run"]
