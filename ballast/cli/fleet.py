"""`ballast fleet`: plan, apply and steer a rollout of a bundle over a fleet (docs/rollouts.md).

The clusters are reached through the local adapter (`--clusters DIR`, one directory per cluster,
`ballast.fleet.local`); each cluster's runtime loads what it is sent through `--trust KEYRING`
(or `--allow-unsigned`, for development). A run's state lives in `--state DB` (SQLite), so every
command after `apply` names the run and the database, and `resume` after a crash continues it.
"""

from __future__ import annotations

import argparse
import json
from argparse import Namespace
from pathlib import Path
from typing import Any, TextIO

from ballast.cli.exits import EXIT_OK, EXIT_PROBLEMS
from ballast.cli.simulation import executor_of, executor_options, seed_progress
from ballast.cli.trust import add_trust_arguments
from ballast.runtime.errors import CompileError, UsageError

DESCRIPTION = """Roll a bundle out over a fleet, wave by wave, behind metric gates and
blast-radius ceilings (docs/rollouts.md). `plan` shows what would happen, with
the semantic diff of each cluster's bundle, and changes nothing; `apply` runs
it; `status`, `pause`, `resume`, `abort` and `rollback` steer a run kept in
--state; `drift` compares what clusters run with the fleet document;
`init-local` sets up local cluster directories for demos and tests; `rehearse`
runs the plan in the simulator first."""

PLAN = """Show what applying PLAN would do: its waves, the clusters of each, and the
semantic diff from the bundle each cluster runs to BUNDLE. Writes nothing.
Exit 1 when the run would be refused (a safety rule, or a loosened guard
without a justification)."""
APPLY = """Start run RUN of PLAN with BUNDLE and drive it until it succeeds, fails,
or pauses for a person. Refused, before anything is pushed, for the reasons
`plan` gives. Exit 0 when the run succeeded, 1 otherwise (status says why)."""
STATUS = "Show a run's state, its reason, and each cluster's state."
PAUSE = "Pause a running run: it pushes nothing more until `resume`."
RESUME = """Continue a paused run, or one whose process died (kill -9, a reboot): it picks
up at the step it was in, and pushes nothing twice."""
ABORT = """Stop a run: nothing more is pushed. With `rollback "always"`, the clusters it
pushed to get their previous bundle back."""
ROLLBACK = "Give every cluster a run pushed to its previous bundle back."
DRIFT = """Compare each cluster's inventory with the fleet document, and its bundle with
BUNDLE when given: a line per drift (fingerprint, semver, capability,
unreachable) with its reason. Exit 1 when anything drifted."""
INIT_LOCAL = """Create one directory per cluster of the fleet under --clusters: its inventory
as the fleet document says, BUNDLE as the bundle it runs, and healthy
telemetry every 30 s for --hours from --start (for demos and tests)."""

REHEARSE = """Rehearse PLAN in the simulator: the same engine and gate code against
synthetic telemetry, once per seed, under scenario S (healthy, bad-bundle-region,
bad-bundle-late, noisy-metric, slow-cluster, silent-cluster). Reports time to
promote, time to detect and roll back, the false-abort rate, the clusters
exposed to a bad bundle, and a sweep of the gates' thresholds; --format html
draws the first seed's waves over time and the sweep as charts. The same seeds
give a byte-identical report."""

CLOCKS = ("wall", "manual")


def add_arguments(fleet: argparse.ArgumentParser) -> None:
    """Declare `ballast fleet plan|apply|status|pause|resume|abort|rollback|drift|init-local`."""
    sub = fleet.add_subparsers(dest="fleet_command", metavar="SUBCOMMAND", required=True, parser_class=type(fleet))
    common = {"epilog": fleet.epilog, "formatter_class": fleet.formatter_class}

    def documents(p: argparse.ArgumentParser) -> None:
        p.add_argument("plan", metavar="PLAN", help="the rollout document (.bal or .yaml)")
        p.add_argument("--fleet", required=True, metavar="FLEET", help="the fleet document it selects from")
        p.add_argument("--bundle", required=True, metavar="BUNDLE", help="the bundle to roll out")

    def clusters(p: argparse.ArgumentParser) -> None:
        p.add_argument("--clusters", required=True, metavar="DIR", help="the local clusters, one directory each")
        add_trust_arguments(p)

    def state(p: argparse.ArgumentParser, run: bool = True) -> None:
        if run:
            p.add_argument("run", metavar="RUN", help="the run's id")
        p.add_argument("--state", required=True, metavar="DB", help="the runs database (SQLite; created by apply)")

    def driving(p: argparse.ArgumentParser) -> None:
        p.add_argument("--ledger", metavar="LEDGER", help="append every step to this audit ledger (docs/ledger.md)")
        p.add_argument(
            "--clock",
            choices=CLOCKS,
            default="wall",
            help="wall: wait out bakes and intervals; manual: jump to each next step at once, "
            "from --now (demos and tests; default: wall)",
        )
        p.add_argument("--now", type=float, default=0.0, metavar="T", help="the manual clock's start (default: 0)")

    def fmt(p: argparse.ArgumentParser) -> None:
        p.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")

    plan = sub.add_parser("plan", help="what a rollout would do, with each cluster's diff", description=PLAN, **common)
    documents(plan)
    clusters(plan)
    fmt(plan)
    apply = sub.add_parser("apply", help="run a rollout", description=APPLY, **common)
    documents(apply)
    clusters(apply)
    state(apply, run=False)
    apply.add_argument("--run", required=True, metavar="RUN", help="an id for the run")
    driving(apply)
    status = sub.add_parser("status", help="a run's state and its clusters'", description=STATUS, **common)
    state(status)
    fmt(status)
    for name, text, help_ in (
        ("pause", PAUSE, "pause a run"),
        ("resume", RESUME, "continue a paused or interrupted run"),
        ("abort", ABORT, "stop a run"),
        ("rollback", ROLLBACK, "restore the previous bundle where a run pushed"),
    ):
        p = sub.add_parser(name, help=help_, description=text, **common)
        state(p)
        if name != "pause":
            clusters(p)
            driving(p)
    drift = sub.add_parser("drift", help="inventory against the fleet document", description=DRIFT, **common)
    drift.add_argument("--fleet", required=True, metavar="FLEET", help="the fleet document")
    drift.add_argument("--bundle", metavar="BUNDLE", help="the bundle every cluster should run")
    drift.add_argument("--clusters", required=True, metavar="DIR", help="the local clusters, one directory each")
    drift.add_argument("--ledger", metavar="LEDGER", help="append a DriftDetected entry per drift to this ledger")
    fmt(drift)
    rehearse = sub.add_parser("rehearse", help="rehearse a rollout in the simulator", description=REHEARSE, **common)
    rehearse.add_argument("plan", metavar="PLAN", help="the rollout document (.bal or .yaml)")
    rehearse.add_argument("--fleet", required=True, metavar="FLEET", help="the fleet document it selects from")
    rehearse.add_argument("--scenario", required=True, metavar="S", help="what goes wrong (see above)")
    rehearse.add_argument("--seeds", type=int, default=20, metavar="N", help="how many seeds (default: 20)")
    rehearse.add_argument("--first-seed", type=int, default=0, metavar="N", help="the first seed (default: 0)")
    rehearse.add_argument(
        "--sweep",
        default="0.5,0.75,1,1.5,2",
        metavar="F,…",
        help="factors to scale the gates' thresholds by (default: 0.5,0.75,1,1.5,2)",
    )
    rehearse.add_argument(
        "--format", choices=("markdown", "json", "html"), default="markdown", help="report format (default: markdown)"
    )
    rehearse.add_argument("-o", "--output", metavar="FILE", help="write the report here instead of standard output")
    executor_options(rehearse)
    init = sub.add_parser("init-local", help="set up local cluster directories", description=INIT_LOCAL, **common)
    init.add_argument("--fleet", required=True, metavar="FLEET", help="the fleet document")
    init.add_argument("--bundle", required=True, metavar="BUNDLE", help="the bundle every cluster starts with")
    init.add_argument("--clusters", required=True, metavar="DIR", help="where to create the directories")
    init.add_argument("--hours", type=float, default=4.0, metavar="H", help="telemetry to write (default: 4)")
    init.add_argument("--start", type=float, default=0.0, metavar="T", help="the first sample's time (default: 0)")


def run(args: Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    """Run the subcommand."""
    command = args.fleet_command
    try:
        if command == "plan":
            return _plan(args, out)
        if command == "apply":
            return _apply(args, out)
        if command == "drift":
            return _drift(args, out)
        if command == "init-local":
            return _init_local(args, out)
        if command == "rehearse":
            return _rehearse(args, out, err)
    except CompileError as exc:
        from ballast.cli.output import print_diagnostics

        print_diagnostics(exc.diagnostics, "text", err)
        return EXIT_PROBLEMS
    return _steer(args, out)


# ---- reading the inputs ----


def _documents(fleet_path: str, plan_path: str | None = None) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The fleet's IR and the plan's, compiled together (so the plan's checks run)."""
    from ballast.compiler.pipeline import compile_paths

    paths = [fleet_path] + ([plan_path] if plan_path else [])
    compilation = compile_paths(paths, stop_after="optimize")
    fleets, rollouts = compilation.ir.get("fleets", []), compilation.ir.get("rollouts", [])
    if len(fleets) != 1:
        raise UsageError(f"{fleet_path}: expected one fleet document, found {len(fleets)}")
    if plan_path and len(rollouts) != 1:
        raise UsageError(f"{plan_path}: expected one rollout document, found {len(rollouts)}")
    return fleets[0], (rollouts[0] if plan_path else None)


def _bundle_bytes(path: str) -> bytes:
    from ballast.fleet.planning import bundle_ir

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the bundle: {exc.strerror or exc}") from None
    bundle_ir(data, path)  # refuse a file that is not a bundle before anything reads it
    return data


def _adapter(args: Namespace) -> Any:
    from ballast.cli.trust import read_trust
    from ballast.fleet.local import LocalAdapter, trusted_loader

    if not args.trust and not args.allow_unsigned:
        raise UsageError(
            "the clusters load bundles through the trust checks: give --trust KEYRING (or --allow-unsigned, for development)"
        )
    if not Path(args.clusters).is_dir():
        raise UsageError(f"--clusters {args.clusters}: no such directory (create one with `ballast fleet init-local`)")
    return LocalAdapter(args.clusters, trusted_loader(read_trust(args.trust), allow_unsigned=args.allow_unsigned))


def _clock(args: Namespace) -> Any:
    from ballast.fleet.clock import ManualClock, SystemClock

    return ManualClock(args.now) if args.clock == "manual" else SystemClock()


def _audit(args: Namespace) -> Any:
    if not getattr(args, "ledger", None):
        return None
    from ballast.runtime.audit import AuditLog
    from ballast.runtime.ledger import Ledger

    return AuditLog(Ledger.open(args.ledger))


# ---- subcommands ----


def _plan(args: Namespace, out: TextIO) -> int:
    from ballast.fleet.planning import plan_rollout
    from ballast.runtime.fleet import Fleet, Plan

    fleet_ir, plan_ir = _documents(args.fleet, args.plan)
    report = plan_rollout(Plan.from_ir(plan_ir), Fleet.from_ir(fleet_ir), _bundle_bytes(args.bundle), _adapter(args))
    if args.format == "json":
        out.write(json.dumps(report.to_json(), indent=2, sort_keys=True) + "\n")
    else:
        out.write(_plan_text(report.to_json()))
    return EXIT_PROBLEMS if report.refused else EXIT_OK


def _plan_text(report: dict[str, Any]) -> str:
    """Waves and clusters, then the diff once per bundle the targets run (most run the same)."""
    lines = [
        f"rollout {report['plan']} {report['version']} over fleet {report['fleet']}: bundle {report['bundle'][:12]}",
        f"ceiling {report['ceiling']} per group, rollback {report['rollback']}",
    ]
    diffs: dict[str, tuple[list[str], list[dict[str, Any]]]] = {}
    for wave in report["waves"]:
        gates = ", ".join(wave["gates"]) or "none"
        lines.append(
            f"wave {wave['name']}: {len(wave['clusters'])} cluster(s), max_update {wave['max_update']}, "
            f"max_unavailable {wave['max_unavailable']}, bake {wave['bake_seconds']:g}s, gates {gates}"
        )
        for c in wave["clusters"]:
            current = c["current"][:12] if c["current"] not in ("", "unreachable") else c["current"] or "none"
            changes = f"{len(c['findings'])} finding(s)"
            if c["guard_loosened"]:
                changes += f", {len(c['guard_loosened'])} guard-loosened"
            lines.append(f"  {c['cluster']:<14} group {c['group']:<10} runs {current:<12} {changes}")
            if c["note"]:
                lines.append(f"    {c['note']}")
            if c["findings"]:
                diffs.setdefault(current, ([], c["findings"]))[0].append(c["cluster"])
    for current, (clusters, findings) in diffs.items():
        lines.append(f"diff from bundle {current} (run by {len(clusters)} cluster(s)) to {report['bundle'][:12]}:")
        for f in findings:
            tags = "".join(f" [{t}]" for t in f["tags"])
            lines.append(f"  {f['level']:<10} {f['id']}{tags}: {f['message']}")
    if report["refused"]:
        lines.extend(f"refused: {reason}" for reason in report["refused"])
    else:
        lines.append("ok: apply would start this run")
    return "\n".join(lines) + "\n"


def _apply(args: Namespace, out: TextIO) -> int:
    from ballast.fleet.engine import ActionRun
    from ballast.fleet.planning import plan_rollout
    from ballast.fleet.store import RunStore
    from ballast.runtime.fleet import Fleet, Plan

    fleet_ir, plan_ir = _documents(args.fleet, args.plan)
    bundle = _bundle_bytes(args.bundle)
    adapter = _adapter(args)
    assert plan_ir is not None  # _documents was given the plan
    plan_rollout(Plan.from_ir(plan_ir), Fleet.from_ir(fleet_ir), bundle, adapter).require_allowed()
    store = RunStore(args.state)
    action = ActionRun.start(store, args.run, plan_ir, fleet_ir, bundle, adapter, _clock(args), audit=_audit(args))
    return _drive(action, out)


def _drive(action: Any, out: TextIO) -> int:
    state = action.run()
    out.write(_status_text(action.store, action.run_id))
    return EXIT_OK if state == "succeeded" else EXIT_PROBLEMS


def _steer(args: Namespace, out: TextIO) -> int:
    from ballast.fleet.engine import ActionRun
    from ballast.fleet.store import RunStore

    if not Path(args.state).is_file():
        raise UsageError(f"--state {args.state}: no such runs database (`ballast fleet apply` creates it)")
    store = RunStore(args.state)
    if args.fleet_command == "status":
        store.run(args.run)  # says which runs there are when this one is not
        if args.format == "json":
            out.write(json.dumps(_status_json(store, args.run), indent=2, sort_keys=True) + "\n")
        else:
            out.write(_status_text(store, args.run))
        return EXIT_OK
    if args.fleet_command == "pause":
        import time

        from ballast.fleet.engine import pause_run

        pause_run(store, args.run, time.time())
        out.write(_status_text(store, args.run))
        return EXIT_OK
    action = ActionRun(store, args.run, _adapter(args), _clock(args), audit=_audit(args))
    if args.fleet_command == "resume":
        if action.state == "paused":
            action.resume()
        return _drive(action, out)
    if args.fleet_command == "abort":
        action.abort()
    else:
        action.rollback()
    out.write(_status_text(store, args.run))
    return EXIT_OK


def _status_json(store: Any, run_id: str) -> dict[str, Any]:
    run = store.run(run_id)
    plan = run["plan"]
    waves = [w["name"] for w in plan["waves"]]
    return {
        "run": run_id,
        "plan": plan["name"],
        "state": run["state"],
        "reason": run["reason"],
        "clusters": [
            {"cluster": c.cluster_id, "wave": waves[c.wave], "state": c.state, "attempts": c.attempts, "error": c.error}
            for c in store.clusters(run_id)
        ],
    }


def _status_text(store: Any, run_id: str) -> str:
    status = _status_json(store, run_id)
    lines = [
        f"run {run_id} of {status['plan']}: {status['state']}" + (f": {status['reason']}" if status["reason"] else "")
    ]
    for c in status["clusters"]:
        error = f"  ({c['error']})" if c["error"] else ""
        lines.append(f"  {c['cluster']:<14} {c['wave']:<10} {c['state']}{error}")
    return "\n".join(lines) + "\n"


def _drift(args: Namespace, out: TextIO) -> int:
    from ballast.fleet.drift import detect_drift
    from ballast.fleet.local import LocalAdapter
    from ballast.runtime.fleet import Fleet

    fleet_ir, _ = _documents(args.fleet)
    desired = _bundle_bytes(args.bundle) if args.bundle else None
    if not Path(args.clusters).is_dir():
        raise UsageError(f"--clusters {args.clusters}: no such directory")
    adapter = LocalAdapter(args.clusters, loader=_never_loads)  # drift reads inventories only
    drifts = detect_drift(Fleet.from_ir(fleet_ir), adapter, desired, audit=_audit(args))
    if args.format == "json":
        out.write(json.dumps({"drift": [d.to_json() for d in drifts]}, indent=2, sort_keys=True) + "\n")
    else:
        for d in drifts:
            out.write(f"{d.cluster_id:<14} {d.kind:<11} {d.reason}\n")
        count = len({d.cluster_id for d in drifts})
        out.write(f"{len(drifts)} drift(s) on {count} cluster(s)\n" if drifts else "ok: no drift\n")
    return EXIT_PROBLEMS if drifts else EXIT_OK


def _rehearse(args: Namespace, out: TextIO, err: TextIO) -> int:
    try:
        from ballast.simulator.rehearsal import rehearse, render_markdown
    except ImportError as exc:
        raise UsageError(f"rehearsing needs the simulator: pip install 'ballast[sim]' ({exc})") from None
    try:
        sweep = [float(f) for f in args.sweep.split(",") if f.strip()]
    except ValueError:
        raise UsageError(f"--sweep {args.sweep}: write factors separated by commas, e.g. 0.5,1,2") from None
    if any(f <= 0 for f in sweep):
        raise UsageError(f"--sweep {args.sweep}: factors must be positive")
    fleet_ir, plan_ir = _documents(args.fleet, args.plan)
    assert plan_ir is not None  # _documents was given the plan
    report = rehearse(
        plan_ir,
        fleet_ir,
        args.scenario,
        args.seeds,
        first_seed=args.first_seed,
        sweep=sweep,
        executor=executor_of(args),
        progress=seed_progress(err, "rehearse"),
    )
    if args.format == "json":
        text = json.dumps(report, indent=2, sort_keys=True) + "\n"
    elif args.format == "html":
        from ballast.simulator.render.html import render_html

        text = render_html(report)
    else:
        text = render_markdown(report)
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"{args.output}: cannot write the report: {exc.strerror or exc}") from None
    else:
        out.write(text)
    return EXIT_OK


def _never_loads(path: Path) -> Any:
    raise UsageError(f"drift never pushes: nothing should load {path}")


def _init_local(args: Namespace, out: TextIO) -> int:
    from ballast.fleet.local import make_cluster, write_healthy_telemetry

    fleet_ir, _ = _documents(args.fleet)
    bundle = _bundle_bytes(args.bundle)
    for c in fleet_ir["clusters"]:
        where = make_cluster(
            args.clusters, c["id"], {"control_plane": c["control_plane"], "capabilities": c["capabilities"]}, bundle
        )
        write_healthy_telemetry(where, args.start, args.start + args.hours * 3600)
    out.write(f"{len(fleet_ir['clusters'])} cluster directories under {args.clusters}\n")
    return EXIT_OK


__all__ = ["DESCRIPTION", "add_arguments", "run"]
