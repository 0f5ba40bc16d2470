"""`ballast simulate`: a scenario in the SimPy mesh (`ballast.simulator`) with a policy set in the loop."""

from __future__ import annotations

import argparse
from argparse import Namespace
from typing import Any, TextIO

from ballast.cli.progress import progress_bar
from ballast.cli.simulation import (
    EXIT_BAD_INPUT,
    EXIT_FINDINGS,
    EXIT_OK,
    common_options,
    compile_side,
    emit,
    executor_of,
    executor_options,
    load_scenario,
    observable,
    positive_int,
    seed_progress,
)
from ballast.cli.trust import add_trust_arguments, read_trust, require_bundle
from ballast.runtime.errors import UsageError

DESCRIPTION = """Run a scenario (catalog/scenarios/*.scenario.yaml) in the simulated mesh with a policy set's
Engine in the loop, and report the KPIs: SLA adherence, time to mitigate, directives per kind,
directive latency from KPI breach (p50/p95/p99), false lockdowns, the ThreatIndex and mode over
time, and whether the steady-state hypothesis held (docs/simulator.md). Same scenario, policies
and seed → the same report, byte for byte. With --seeds N, the scenario runs on N seeds (on
--executor) and the JSON report holds every seed's report in seed order. Exits 0 when the hypothesis held, 1 when it did not or
a stop condition ended the run, 2 on bad input (with the file, line and column)."""


def add_arguments(sim: argparse.ArgumentParser) -> None:
    """Declare the arguments of `ballast simulate`."""
    sim.add_argument("scenario", metavar="SCENARIO", help="a scenario file (*.scenario.yaml)")
    sim.add_argument(
        "--policy", nargs="+", metavar="PATH", help="policy files, directories or a bundle (default: the scenario's)"
    )
    common_options(sim)
    sim.add_argument(
        "--seeds",
        type=positive_int,
        default=1,
        metavar="N",
        help="run N seeds, the first one and the next ones (default: 1); N > 1 needs --format json",
    )
    executor_options(sim)
    add_trust_arguments(sim)
    sim.add_argument(
        "--check", action="store_true", help="check the scenario and its policies, and stop before running"
    )


def run(args: Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    """Run the scenario; exit 1 when the hypothesis did not hold or a stop condition ended the run."""
    from ballast.simulator.render.numbers import plural
    from ballast.simulator.run import Simulation
    from ballast.simulator.shadow import Side, compiled
    from ballast.simulator.signals import plan_inputs

    scenario = load_scenario(args.scenario, args, err)
    if scenario is None:
        return EXIT_BAD_INPUT
    paths = tuple(args.policy or scenario.policies)
    if not paths:
        raise UsageError(f"{args.scenario}: the scenario names no policies; give them with --policy")
    given = "--policy" if args.policy else "the scenario's policies"
    require_bundle(args, [paths], "--policy names" if args.policy else "the scenario names")
    read_trust(args.trust)  # its problems before any policy is read
    policies = compile_side(given, Side(paths, args.trust, args.allow_unsigned), compiled, err)
    if policies is None:
        return EXIT_BAD_INPUT
    plan_inputs(policies)  # an input the mesh cannot feed is an error before the run
    if not observable(args.scenario, scenario, policies, given, err):
        return EXIT_BAD_INPUT
    if args.seeds > 1 and not args.check:
        return _sweep(args, scenario, Side(paths, args.trust, args.allow_unsigned), out, err)
    if args.check:
        err.write(
            f"ok: {scenario.name}, {plural(len(scenario.pools), 'pool')}, {plural(len(scenario.faults), 'fault')}\n"
        )
        return EXIT_OK
    progress = progress_bar(err, "simulate")
    result = Simulation(scenario, policies).run(progress=(lambda share: progress(share, 1.0)) if progress else None)
    if progress:
        progress(1.0, 1.0, final=True)
    report = result.report
    emit(report, args, out, err)
    held = report["outcome"]["hypothesis_held"] and report["outcome"]["stopped"] is None
    return EXIT_OK if held else EXIT_FINDINGS


def _sweep(args: Namespace, scenario: Any, side: Any, out: TextIO, err: TextIO) -> int:
    """--seeds N: every seed's report, run on the executor; exit 1 unless the hypothesis held on every seed."""
    from ballast.simulator.sweep import sweep

    if args.format != "json":
        raise UsageError(f"--seeds {args.seeds} writes one report per seed: add --format json")
    report = sweep(scenario, side, args.seeds, executor=executor_of(args), progress=seed_progress(err, "simulate"))
    emit(report, args, out, err)
    return EXIT_OK if not report["summary"]["not_held"] else EXIT_FINDINGS


__all__ = ["DESCRIPTION", "add_arguments", "run"]
