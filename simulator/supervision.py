"""The meta-loop supervisor in a simulation (issue 14 §3): a scenario's `supervisor:` section runs
the policy set's supervisor document every `every` seconds of simulated time over the run's own
decision stream, and its `adjust_threshold` directives change the running policies.

The stream is what a deployment's audit trail would hold: a `DirectiveIssued` (or
`DirectiveHeld`) entry per rule decision, and an `ActionOutcome` per directive that acted on
pools. A directive's outcome asks whether it came in time: it *succeeded* when every pool it
targets stayed inside the scenario's SLO (error rate and p95 latency) on every telemetry tick
from its decision until `judge_within` later, and *failed* at the first tick where one did not
(a scale-out decided when its pool already breached the SLO came too late). Directives the mesh
cannot carry out, and pages, have no outcome; the simulated outcomes carry no recovery time.

`SimActuator` carries directives out: `adjust_threshold` and `adjust_confidence` change a
`POLICY.CONST` parameter of the running set (`ballast.compiler.parameters.retune`, then
`Engine.reload`, which keeps every timed rule's state); the other types change the supervisor's
own table (`ParameterTable`), as they have nothing to act on in the simulated mesh.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ballast.compiler.parameters import parameters, retune
from ballast.runtime.audit import Entry, directive_entry, held_entry
from ballast.runtime.errors import UsageError
from ballast.runtime.supervisor import Supervisor
from ballast.runtime.supervisor_actuator import ParameterTable, clamp
from ballast.runtime.supervisor_kpis import outcome_entry, rounded
from ballast.runtime.supervisor_model import SupervisorDocument
from ballast.runtime.supervisor_records import Cycle, Directive
from ballast.runtime.values import iso

if TYPE_CHECKING:
    from ballast.simulator.run import DirectiveRecord, Simulation

TUNING = ("adjust_threshold", "adjust_confidence")


class SimActuator:
    """Carries a supervisor's directives out on a running simulation; see the module docstring."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.table = ParameterTable()
        self.previous: dict[str, tuple[str, float]] = {}  # directive id → (parameter, value before)
        self.changed: dict[str, float] = {}  # parameter → its value now, for those the supervisor changed

    def apply(self, directive: Directive) -> str:
        if directive.type not in TUNING:
            return self.table.apply(directive)
        name = str(directive.params["parameter"])
        current = parameters(self.sim.engine.policies)
        if name not in current:
            raise UsageError(f"the running policies have no parameter '{name}' (they have {', '.join(current)})")
        old = current[name]
        new = clamp(old + float(directive.params["step"]), directive.params.get("min"), directive.params.get("max"))
        self._set(name, new)
        self.previous[directive.id] = (name, old)
        return f"{name} {old:g} → {new:g}"

    def undo(self, directive_id: str) -> str:
        if directive_id not in self.previous:
            return self.table.undo(directive_id)
        name, old = self.previous.pop(directive_id)
        self._set(name, old)
        return f"{name} back to {old:g}"

    def _set(self, name: str, value: float) -> None:
        engine = self.sim.engine
        engine.reload(retune(engine.policies, {name: value}))
        self.changed[name] = parameters(engine.policies)[name]


@dataclass
class _Pending:
    """A directive whose outcome is not judged yet."""

    action: str
    pools: list[int]
    deadline: float  # run seconds


class SupervisorLoop:
    """The supervisor of one simulation: its trail, its pending outcomes and its cycles."""

    def __init__(self, sim: Simulation, document: SupervisorDocument) -> None:
        self.sim = sim
        self.document = document
        self.actuator = SimActuator(sim)
        self.supervisor = Supervisor(document, actuator=self.actuator)
        self.trail: list[Entry] = []
        self.pending: list[_Pending] = []
        self.cycles: list[Cycle] = []

    # ---- the decision stream ----

    def decided(self, directive: Any, now: float, held: bool = False) -> None:
        """A rule's directive (or one a warn/dryrun rule held) at run time `now`."""
        when = iso(self.sim.scenario.start + now)
        self.trail.append(held_entry(directive, when) if held else directive_entry(directive, when))

    def carried_out(self, record: DirectiveRecord, pools: Sequence[int]) -> None:
        """A directive the mesh carries out on `pools`: its outcome is judged from the next tick on."""
        if not pools or record.action == "page":
            return
        action = f"{record.policy}/{record.rule}@{record.t_s:g}"
        within = self.sim.scenario.supervision.judge_within  # type: ignore[union-attr]  # the loop runs only with one
        self.pending.append(_Pending(action, list(pools), record.t_s + within))

    def judge(self, now: float, columns: Any) -> None:
        """Judge the pending outcomes on this telemetry tick."""
        s = self.sim.scenario
        errors, latency = columns.arrays["error_rate"], columns.arrays["latency_p95_ms"]
        left = []
        for p in self.pending:
            inside = all(errors[i] <= s.slo_error_rate and latency[i] <= s.slo_latency_ms for i in p.pools)
            if inside and now < p.deadline:
                left.append(p)
                continue
            self.trail.append(
                outcome_entry(p.action, succeeded=inside, when=s.start + now, actor="simulated-mesh", scope=s.name)
            )
        self.pending = left

    # ---- the loop ----

    def run(self) -> Any:
        """The SimPy process: a cycle every `every` seconds."""
        every = self.sim.scenario.supervision.every  # type: ignore[union-attr]
        env = self.sim.env
        while True:
            yield env.timeout(every)
            self.cycles.append(self.supervisor.cycle(self.trail, self.sim.scenario.start + env.now))

    def report(self) -> dict[str, Any]:
        """The supervisor's part of the run's report."""
        start = self.sim.scenario.start
        directives = [d for c in self.cycles for d in c.directives]
        verifications = [v for c in self.cycles for v in c.verifications]
        return {
            "name": self.document.name,
            "every_s": self.sim.scenario.supervision.every,  # type: ignore[union-attr]
            "directives": sum(1 for d in directives if d.type != "rollback_change"),
            "rollbacks": sum(1 for d in directives if d.type == "rollback_change"),
            "verified": sum(1 for v in verifications if v.passed),
            "failed_verifications": sum(1 for v in verifications if not v.passed),
            "alerts": sum(len(c.alerts) for c in self.cycles),
            "parameters": {k: rounded(v) for k, v in sorted(self.actuator.changed.items())},
            "cycles": [
                {
                    "t_s": rounded(c.at - start),
                    "kpis": {g.kpi: rounded(g.observed) for g in c.snapshot.gaps},
                    "samples": {g.kpi: g.samples for g in c.snapshot.gaps},
                    "directives": [
                        {"id": d.id, "policy": d.policy, "what": d.describe(), "status": d.status, "note": d.note}
                        for d in c.directives
                    ],
                    "verifications": [
                        {"directive": v.directive, "passed": v.passed, "reasons": list(v.reasons)}
                        for v in c.verifications
                    ],
                    "alerts": list(c.alerts),
                }
                for c in self.cycles
            ],
        }


def supervisor_of(sim: Simulation) -> SupervisorLoop | None:
    """The loop the scenario and the policy set ask for: None without a `supervisor:` section or
    without a supervisor document in the set (a baseline may run without one); `UsageError`
    when a document would be silently ignored or is ambiguous."""
    documents = sim.policies.supervisors
    if sim.scenario.supervision is None:
        if documents:
            raise UsageError(
                f"the policy set holds supervisor '{documents[0]['name']}' but scenario {sim.scenario.name} has no "
                "`supervisor:` section to run it: add `supervisor: {every: 5m}`"
            )
        return None
    if not documents:
        return None
    if len(documents) > 1:
        names = ", ".join(d["name"] for d in documents)
        raise UsageError(f"the policy set holds several supervisor documents ({names}): a simulation runs one")
    document = SupervisorDocument.from_ir(documents[0])
    known = parameters(sim.policies)
    for policy in document.policies:
        name = policy.params.get("parameter")
        if policy.type in TUNING and name not in known:
            raise UsageError(
                f"meta-policy '{policy.name}' of supervisor '{document.name}' tunes '{name}', which the policy set does "
                f"not have: name one of {', '.join(known) or '(none: the policies declare no const)'}"
            )
    return SupervisorLoop(sim, document)
