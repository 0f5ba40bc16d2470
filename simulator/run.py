"""One simulation: a scenario's mesh in SimPy with a policy set's Engine in the loop.

SimPy schedules the discrete things: a model step every `step` seconds, a telemetry tick every
`telemetry` seconds (events → the real runtime `Engine` → directives), each fault's start and
end, and each directive's actuation after its delay (a scale waits for provisioning). Lockdown
pauses every pool the threat governor allows it to (never the critical ones).

Everything is driven by the scenario's seed through numpy SeedSequence streams spawned for
demand, risk and each fault, so the same scenario, policies and seed give the same report, byte
for byte, and a candidate policy set sees the same world as its baseline until their decisions
differ.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

from ballast.runtime.audit import AuditLog
from ballast.runtime.engine import Engine
from ballast.runtime.errors import CompileError, Diagnostic
from ballast.runtime.policy import PolicySet
from ballast.simulator.faults import Faults, diurnal, load_level
from ballast.simulator.model import Columns, Mesh
from ballast.simulator.scenario import THREAT_METRICS, Scenario
from ballast.simulator.screen import SCREEN_MIN_POOLS, tick_screens
from ballast.simulator.signals import event_builder, plan_inputs, pool_constants
from ballast.simulator.supervision import supervisor_of
from ballast.simulator.tracking import Tracker

COMPONENTS = ("event-policy", "standby-scheduler", "trigger-mesh")  # mesh parts a directive may name


@dataclass
class DirectiveRecord:
    t_s: float
    seq: int
    policy: str
    rule: str
    action: str
    targets: tuple[str, ...]
    params: dict[str, Any]
    reason: str
    event: dict[str, Any]
    actuated: bool = True
    note: str = ""


@dataclass
class RunResult:
    """What a run produced: the report (JSON-able) and the decisions (for shadow diffs)."""

    report: dict[str, Any]
    directives: list[DirectiveRecord] = field(default_factory=list)


def check_observable(scenario: Scenario, policies: PolicySet, given: str = "the policy set") -> None:
    """Raise CompileError when a probe or stop condition reads a metric nothing in `policies` produces.

    The threat metrics come from a threat document's Engine: without one they would read 0 and a
    probe on them would hold while watching nothing. `given` names the policies in the message.
    """
    if policies.threats:
        return
    problems = []
    for what, name, item in [
        *(("probe", repr(p.name), p) for p in scenario.hypothesis),
        *(("stop condition", repr(c.describe()), c) for c in scenario.stop),
    ]:
        if item.metric in THREAT_METRICS and item.span is not None:
            problems.append(
                Diagnostic(
                    "error",
                    "scenario",
                    f"{what} {name} reads {item.metric}, but {given} runs no threat document",
                    item.span,
                    f"add a threat document to {given} (catalog/gtbe.bal is one), or remove the {what}",
                    item.source_line,
                )
            )
    if problems:
        raise CompileError(problems)


class Simulation:
    def __init__(
        self,
        scenario: Scenario,
        policies: PolicySet,
        *,
        seed: int | None = None,
        audit: AuditLog | None = None,
        screen: bool | None = None,
    ) -> None:
        """`audit`: the Engine writes every decision of the run to this log (a JSONL trail or a ledger).
        `screen`: where it applies, prove over columns which pools' events would do nothing and
        have the Engine count them instead of evaluating them (`simulator.screen`); the run and
        its report are the same either way. None (the default): for a scenario of at least
        `screen.SCREEN_MIN_POOLS` pools, where it pays."""
        check_observable(scenario, policies)
        self.scenario = scenario
        self.policies = policies
        self.seed = scenario.seed if seed is None else seed
        root = np.random.SeedSequence(self.seed)
        demand_seq, risk_seq, fault_seq = root.spawn(3)
        self.demand_rng = np.random.default_rng(demand_seq)
        self.risk_rng = np.random.default_rng(risk_seq)
        self.mesh = Mesh(scenario)
        self.faults = Faults(scenario, fault_seq)
        self.engine = Engine(policies, audit=audit)
        self.plans = plan_inputs(policies)
        names = scenario.pool_names()
        classes, regions = [p.cls for p in scenario.pools], [p.region for p in scenario.pools]
        self.builders = [(plan.name, event_builder(plan, names, classes, regions)) for plan in self.plans]
        constants = pool_constants(names, classes, regions)
        if screen is None:
            screen = len(names) >= SCREEN_MIN_POOLS
        self.screens = tick_screens(self.engine, policies, self.plans, constants, self.builders) if screen else {}
        # The policies the screens prove quiet rows for: a supervisor's retune reloads the Engine
        # with others (new thresholds), and the screens must follow (`_screens_of_now`).
        self._screening = (self.engine.policies, constants) if screen else None
        self.screened = 0  # events the screen proved quiet, counted by the Engine without evaluating them
        self.tracker = Tracker(scenario, self.faults)
        self.env = simpy.Environment()
        self.trp = scenario.trp_base
        self.records: list[DirectiveRecord] = []
        self.tick = 0
        self.stopped: dict[str, Any] | None = None
        self.done = self.env.event()
        self.supervision = supervisor_of(self)  # the meta-loop supervisor, when the scenario runs one

    # ---- the run ----
    def run(self, progress: Callable[[float], None] | None = None) -> RunResult:
        env, s = self.env, self.scenario
        env.process(self._steps())
        env.process(self._telemetry(progress))
        for k, fault in enumerate(s.faults):
            env.process(self._fault(k, fault.at, fault.duration))
        env.process(self._end())
        if self.supervision is not None:
            env.process(self.supervision.run())
        env.run(until=self.done)
        report = self.tracker.report(self)
        if self.supervision is not None:
            report["supervisor"] = self.supervision.report()
        return RunResult(report, self.records)

    def _end(self) -> Any:
        yield self.env.timeout(self.scenario.duration)
        if not self.done.triggered:
            self.done.succeed()

    def _steps(self) -> Any:
        s, mesh, dt, env, faults = self.scenario, self.mesh, self.scenario.step, self.env, self.faults
        poisson, tracker = self.demand_rng.poisson, self.tracker
        while True:
            now = env.now
            # a level or factor of one is left out: x * 1 is x bit for bit
            level = diurnal(s.diurnal, now)
            if s.load:
                level = load_level(s.load, faults.load_targets, mesh.size, now) * level
            lam = mesh.base_rate * level
            factor = faults.demand_factor(now)
            if factor is not None:
                lam = lam * factor
            demand = poisson(lam if dt == 1.0 else lam * dt).astype(float)  # x * 1 is x
            mesh.step(now, dt, demand)
            self._risk_step(now, dt)
            tracker.step(now, mesh)
            yield env.timeout(dt)

    def _risk_step(self, now: float, dt: float) -> None:
        """TRP riskScore: an Ornstein-Uhlenbeck walk around the level the risk faults set."""
        level, sigma, _ = self.faults.risk_level(now)
        tau = self.scenario.trp_reversion
        noise = float(self.risk_rng.standard_normal())
        self.trp += (level - self.trp) * min(1.0, dt / tau) + sigma * math.sqrt(2.0 * dt / tau) * noise
        self.trp = min(100.0, max(0.0, self.trp))

    def _fault(self, k: int, at: float, duration: float) -> Any:
        yield self.env.timeout(at)
        self.faults.start(k, self.mesh, self.env.now)
        fault = self.scenario.faults[k]
        if fault.kind == "queue-flood" and fault.params["over"] < duration:
            # the intents are all sent before the fault's window ends (its probes still see it)
            yield self.env.timeout(fault.params["over"])
            self.faults.apply(self.mesh, self.env.now)
            duration -= fault.params["over"]
        yield self.env.timeout(duration)
        self.faults.end(k, self.mesh, self.env.now)

    def _telemetry(self, progress: Callable[[float], None] | None) -> Any:
        s, mesh = self.scenario, self.mesh
        every = s.telemetry_every
        process_many = self.engine.process_many
        yield self.env.timeout(every)  # the first tick reports the first interval
        while True:
            now = self.env.now
            self.tick += 1
            totals = mesh.take_totals()
            columns = mesh.columns(totals)
            _level, _, blip = self.faults.risk_level(now)
            trp = blip if blip is not None else self.trp
            fleet = self._fleet(columns, totals, trp)
            time = s.start + now
            screens = self._screens_of_now()
            for name, build in self.builders:
                screen = screens.get(name)
                quiet = screen.quiet(columns, fleet, time, self.tick) if screen is not None else None
                if quiet is None or not self.engine.counts_quiet(name):
                    events = build(columns, fleet, time, self.tick)
                else:  # only the pools whose events may do something are built and evaluated
                    busy = np.flatnonzero(~quiet)
                    self.engine.count_quiet(len(quiet) - len(busy), name)
                    self.screened += len(quiet) - len(busy)
                    events = build(columns, fleet, time, self.tick, busy)
                # one batch per input and tick; only the events that produced something come back
                for index, result in process_many(events, name):
                    if result.errors:
                        self.tracker.problems(result.errors, now)
                    if result.directives:
                        event = dict(events[index])  # the builder refills its events at the next tick
                        for directive in result.directives:
                            self._directive(directive, now, event)
                    for directive in result.held:  # warn and dryrun rules: counted, never actuated
                        self.tracker.held[f"{directive.mode} {directive.policy}/{directive.rule}"] += 1
                        if self.supervision is not None:
                            self.supervision.decided(directive, now, held=True)
            if self.supervision is not None:
                self.supervision.judge(now, columns)
            self._threat_effects()
            self.tracker.tick(now, columns, totals, fleet, self.engine, self)
            condition = self.tracker.stop_reached(now)
            if condition is not None:
                self.stopped = condition
                self.done.succeed()
                return
            if progress is not None:
                progress(now / s.duration)
            yield self.env.timeout(every)

    def _screens_of_now(self) -> dict[str, Any]:
        """The screens for the policies the Engine runs now: built again after a reload."""
        if self._screening is None:
            return self.screens
        policies, constants = self._screening
        if self.engine.policies is not policies:
            self.screens = tick_screens(self.engine, self.engine.policies, self.plans, constants, self.builders)
            self._screening = (self.engine.policies, constants)
        return self.screens

    def _fleet(self, columns: Columns, totals: Any, trp: float) -> dict[str, Any]:
        arrived = float(totals.arrived.sum())
        ok = float(totals.ok.sum())
        bad = float(totals.failed.sum() + totals.dropped.sum())
        load = columns.arrays["load"]
        p95 = columns.arrays["latency_p95_ms"]
        weights = totals.arrived
        latency = float(np.average(p95, weights=weights)) if arrived > 0 else float(np.mean(p95))
        return {
            "trp_risk": round(trp, 4),
            "cve_score": round(self.faults.cve_score(), 4),
            "load": round(float(np.mean(load)), 6),
            "error_rate": round(min(1.0, bad / arrived), 6) if arrived > 0 else 0.0,
            "sla_adherence": round(min(100.0, ok / arrived * 100.0), 4) if arrived > 0 else 100.0,
            "latency_p95_ms": round(latency, 3),
        }

    def _threat_effects(self) -> None:
        """Lockdown pauses every pool the governor allows it to pause; critical ones keep running."""
        threats = list(self.engine.threats.values())
        lockdown = any(t.mode == "lockdown" for t in threats)
        if not lockdown:
            self.mesh.lockdown_pauses[:] = False
            return
        allowed = {c: all(t.allows_pause(c) for t in threats if t.mode == "lockdown") for c in set(self.mesh.cls)}
        self.mesh.lockdown_pauses[:] = [allowed[c] for c in self.mesh.cls]

    # ---- directives ----
    def _directive(self, directive: Any, now: float, event: dict[str, Any]) -> None:
        record = DirectiveRecord(
            t_s=now,
            seq=self.tick,
            policy=directive.policy,
            rule=directive.rule,
            action=directive.action,
            targets=tuple(directive.targets),
            params=dict(directive.params),
            reason=directive.reason,
            event=event,
        )
        plan = self._actuation(record)
        if plan is None:
            record.actuated = False
        else:
            delay, act = plan
            self.env.process(self._after(delay, act))
        if self.supervision is not None:
            self.supervision.decided(directive, now)
            if plan is not None:
                pools = [self.mesh.index[t] for t in record.targets if t in self.mesh.index]
                self.supervision.carried_out(record, pools)
        self.records.append(record)
        self.tracker.directive(record)

    def _after(self, delay: float, act: Callable[[float], None]) -> Any:
        yield self.env.timeout(delay)
        act(self.env.now)

    def _actuation(self, r: DirectiveRecord) -> tuple[float, Callable[[float], None]] | None:
        """What the directive does to the mesh and after what delay; None when nothing can carry it out."""
        a, mesh = self.scenario.actuation, self.mesh
        pools = [mesh.index[t] for t in r.targets if t in mesh.index]
        components = [t for t in r.targets if t in COMPONENTS]
        p = r.params
        if r.action == "page":
            return 0.0, lambda now: None  # a page reaches a person; the mesh is unchanged
        if r.action == "scale" and pools:
            by = int(p.get("by", 1))

            def scale(now: float) -> None:
                for i in pools:
                    mesh.scale(i, by)

            return a.scale_delay, scale
        if r.action == "pause" and (pools or "event-policy" in components):
            duration = float(p.get("duration") or a.pause_duration)

            def pause(now: float) -> None:
                for i in pools:
                    mesh.pause(i, now, duration)
                if "event-policy" in components:
                    mesh.event_policy_paused_until = max(mesh.event_policy_paused_until, now + duration)

            return a.pause_delay, pause
        if r.action == "downgrade":
            sheddable = [i for i in pools if mesh.cls[i] != "critical"]
            if not sheddable:
                r.note = "critical pools are never downgraded" if pools else ""
                return None
            level = int(p.get("level", 1))

            def downgrade(now: float) -> None:
                for i in sheddable:
                    mesh.downgrade(i, now, level, a.hold)

            return a.downgrade_delay, downgrade
        if r.action == "reroute" and pools:
            to = str(p.get("to", ""))
            share = float(p.get("percent", 100.0)) / 100.0

            def reroute(now: float) -> None:
                for i in pools:
                    if to == "standby-scheduler":  # the standby scheduler takes over the paused one's queue
                        mesh.scheduler_paused[i] = False
                    else:
                        mesh.reroute(i, mesh.index[to], now, share, a.hold)

            if to == "standby-scheduler" or to in mesh.index:
                return a.reroute_delay, reroute
            r.note = f"no pool named {to!r} to reroute to"
            return None
        if not r.note:
            r.note = f"no pool or component named {', '.join(r.targets)}" if not pools else f"the mesh cannot {r.action}"
        return None
