"""What a run measures: SLO breaches, directive latency, modes, probes, stop conditions, the report.

A pool is in breach while its p95 latency is above the scenario's SLO or its error share above
the SLO's error rate, sampled at every model step. A breach episode ends after 30 s without
breach (so one good second does not split it). Time to mitigate is an episode's length; the
directive latency is the time from the episode's start to the first directive naming the pool.
A lockdown is false when no real threat (a risk spike or a CVE, not noise) was in force during
it or in the five minutes before it.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import numpy as np

from ballast.simulator.decisions import policy_list
from ballast.simulator.scenario import RISK_FAULTS, Probe, Scenario, StopCondition

if TYPE_CHECKING:
    from ballast.simulator.faults import Faults
    from ballast.simulator.model import Columns, Mesh, StepTotals
    from ballast.simulator.run import DirectiveRecord, Simulation

REPORT_FORMAT = "ballast.simulation/1"
BREACH_CLEAR_S = 30.0
THREAT_MARGIN_S = 300.0
SETTLE_S = 300.0  # the `after` phase starts this long after the last fault ends
MAX_PROBLEM_EXAMPLES = 5  # the report lists this many of the runtime's problems (all are counted)


def rounded(value: float | None) -> float | None:
    """Six significant digits: enough to read, and stable across platforms' last-bit noise."""
    if value is None:
        return None
    return float(f"{value:.6g}")


def percentiles(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"count": 0, "p50": None, "p95": None, "p99": None}
    ordered = sorted(values)

    def pick(q: float) -> float | None:
        return rounded(ordered[min(len(ordered) - 1, int(q * len(ordered)))])

    return {"count": len(ordered), "p50": pick(0.5), "p95": pick(0.95), "p99": pick(0.99)}


class _ProbeState:
    def __init__(self, probe: Probe) -> None:
        self.probe = probe
        self.samples = 0
        self.held = True
        self.worst: float | None = None
        self.worst_t: float | None = None
        self.worst_badness = -np.inf

    def sample(self, value: float, t: float) -> None:
        p = self.probe
        self.samples += 1
        badness = max(
            (p.low - value) if p.low is not None else -np.inf,
            (value - p.high) if p.high is not None else -np.inf,
        )
        if badness > 0:
            self.held = False
        if badness > self.worst_badness:
            self.worst_badness, self.worst, self.worst_t = badness, value, t

    @property
    def passed(self) -> bool:
        """Held on every sample, and sampled at all unless the probe allows no data."""
        return self.held and (self.samples > 0 or self.probe.allow_empty)

    def to_json(self) -> dict[str, Any]:
        p = self.probe
        tolerance = {k: v for k, v in (("min", p.low), ("max", p.high)) if v is not None}
        return {
            "probe": p.name,
            "metric": p.metric,
            "pool": p.pool,
            "phase": p.phase,
            "tolerance": tolerance,
            "held": self.passed,
            "result": "no data" if self.samples == 0 else "held" if self.held else "failed",
            "allow_empty": p.allow_empty,
            "worst": rounded(self.worst),
            "worst_t_s": self.worst_t,
            "samples": self.samples,
        }


class Tracker:
    def __init__(self, scenario: Scenario, faults: Faults) -> None:
        self.scenario = scenario
        self.faults = faults
        n = len(scenario.pools)
        self.onset = np.full(n, np.nan)
        self.last_bad = np.full(n, np.nan)
        self.first_directive: dict[int, float] = {}
        self.episodes: list[dict[str, Any]] = []
        self.timeline: dict[str, list[Any]] = {
            k: []
            for k in ("t_s", "threat_index", "mode", "sla_adherence_pct", "latency_p95_ms", "load", "workers", "queue")
        }
        self.modes: list[dict[str, Any]] = []
        self.lockdowns: list[list[float]] = []
        self.false_lockdowns = 0
        self.mode_changes = 0
        self.probes = [_ProbeState(p) for p in scenario.hypothesis]
        self.stop_since: dict[int, float] = {}
        self.totals = dict.fromkeys(("arrived", "ok", "served", "failed", "dropped", "degraded", "rejected"), 0.0)
        self.max_threat: float | None = None
        self.max_depth = 0
        self.directives: list[dict[str, Any]] = []
        self.by_action: dict[str, int] = {}
        # What warn and dryrun rules would have issued, by "mode policy/rule" (runtime/enforcement.py).
        self.held: Counter[str] = Counter()
        self.unactuated = 0
        self.latencies: list[float] = []
        self.problem_count = 0
        self.problem_examples: list[dict[str, Any]] = []
        fault_windows = [(f.at, f.at + f.duration) for f in scenario.faults]
        self.fault_windows = fault_windows
        self.first_fault = min((a for a, _ in fault_windows), default=np.inf)
        self.last_fault_end = max((b for _, b in fault_windows), default=-np.inf)
        self.index = {p.name: i for i, p in enumerate(scenario.pools)}

    # ---- every model step ----
    def step(self, now: float, mesh: Mesh) -> None:
        s = self.scenario
        bad = (mesh.p95_ms > s.slo_latency_ms) | (mesh.step_error > s.slo_error_rate)
        end = now + s.step
        if bad.any():
            starting = bad & np.isnan(self.onset)
            if starting.any():
                self.onset[starting] = now
            self.last_bad[bad] = end
        # last_bad is NaN (so never far enough behind) exactly when the pool has no open episode;
        # fmin skips the NaNs: when even the oldest last_bad is recent, no episode can close
        if not end - np.fmin.reduce(self.last_bad, initial=np.nan) >= BREACH_CLEAR_S:
            return
        clearing = ~bad & (end - self.last_bad >= BREACH_CLEAR_S)
        for i in np.flatnonzero(clearing):
            self._close(int(i), float(self.last_bad[i]))

    def _close(self, i: int, to: float | None) -> None:
        onset = float(self.onset[i])
        first = self.first_directive.pop(i, None)
        self.episodes.append(
            {"pool": self.scenario.pools[i].name, "from_s": onset, "to_s": to, "first_directive_s": first}
        )
        if first is not None:
            self.latencies.append((first - onset) * 1000.0)
        self.onset[i] = np.nan
        self.last_bad[i] = np.nan

    # ---- problems the runtime reported (an event it rejected, a rule that faulted) ----
    def problems(self, errors: list[Any], now: float) -> None:
        self.problem_count += len(errors)
        for problem in errors:
            if len(self.problem_examples) < MAX_PROBLEM_EXAMPLES:
                self.problem_examples.append({"t_s": now, **problem.to_dict()})

    # ---- every directive ----
    def directive(self, record: DirectiveRecord) -> None:
        self.by_action[record.action] = self.by_action.get(record.action, 0) + 1
        if not record.actuated:
            self.unactuated += 1
        self.directives.append(
            {
                "t_s": record.t_s,
                "policy": record.policy,
                "rule": record.rule,
                "action": record.action,
                "targets": list(record.targets),
                "reason": record.reason,
                "actuated": record.actuated,
            }
        )
        for target in record.targets:
            i = self.index.get(target)
            if i is not None and not np.isnan(self.onset[i]) and i not in self.first_directive:
                self.first_directive[i] = record.t_s

    # ---- every telemetry tick ----
    def tick(
        self, now: float, columns: Columns, totals: StepTotals, fleet: dict[str, Any], engine: Any, sim: Simulation
    ) -> None:
        for key in self.totals:
            self.totals[key] += float(getattr(totals, key).sum())
        threats = list(engine.threats.values())
        index = rounded(threats[0].index) if threats else None
        mode = threats[0].mode if threats else None
        arrays = columns.arrays  # sums and extremes of the int columns are exact on the arrays
        depth = int(arrays["policy_depth"].max()) if arrays["policy_depth"].size else 0
        self.max_depth = max(self.max_depth, depth)
        if index is not None:
            self.max_threat = index if self.max_threat is None else max(self.max_threat, index)
        self._mode(now, mode)
        tl = self.timeline
        tl["t_s"].append(now)
        tl["threat_index"].append(index)
        tl["mode"].append(mode)
        tl["sla_adherence_pct"].append(fleet["sla_adherence"])
        tl["latency_p95_ms"].append(fleet["latency_p95_ms"])
        tl["load"].append(fleet["load"])
        workers, queue = int(arrays["workers"].sum()), int(arrays["htm_queue_depth"].sum())
        tl["workers"].append(workers)
        tl["queue"].append(queue)
        values = self._metrics(arrays, fleet, index, depth, workers, queue)
        for state in self.probes:
            if self._in_phase(state.probe.phase, now):
                state.sample(self._value(state.probe.metric, state.probe.pool, values, columns), now)
        self.values = (values, columns)

    def _mode(self, now: float, mode: str | None) -> None:
        if mode is None:
            return
        if self.modes and self.modes[-1]["mode"] == mode:
            self.modes[-1]["to_s"] = now
            return
        if self.modes:
            self.mode_changes += 1
            self.modes[-1]["to_s"] = now
            if self.modes[-1]["mode"] == "lockdown":
                self.lockdowns[-1][1] = now
        start = self.modes[-1]["to_s"] if self.modes else 0.0
        self.modes.append({"mode": mode, "from_s": start, "to_s": now})
        if mode == "lockdown":
            self.lockdowns.append([now, now])
        self.false_lockdowns = self._false_lockdowns()  # it changes only when a lockdown starts or ends

    def _false_lockdowns(self) -> int:
        return sum(1 for a, b in self.lockdowns if not self.faults.risk_fault_near(a, b, THREAT_MARGIN_S))

    def _metrics(
        self, arrays: dict[str, np.ndarray], fleet: dict[str, Any], index: float | None, depth: int, workers: int, queue: int
    ) -> dict[str, Any]:
        return {
            "sla_adherence_pct": fleet["sla_adherence"],
            "error_rate": fleet["error_rate"],
            "load": fleet["load"],
            "latency_p95_ms": fleet["latency_p95_ms"],
            "queue": float(queue),
            "workers": float(workers),
            "policy_depth": float(depth),
            "subscriptions": float(arrays["subscriptions"].min()) if arrays["subscriptions"].size else 0.0,
            "threat_index": index if index is not None else 0.0,
            "lockdowns": float(len(self.lockdowns)),
            "false_lockdowns": float(self.false_lockdowns),
        }

    def _value(self, metric: str, pool: str | None, values: dict[str, Any], columns: Columns) -> float:
        if pool is None:
            return float(values[metric])
        return float(columns.arrays[_POOL_COLUMN.get(metric, metric)][self.index[pool]])

    def _in_phase(self, phase: str, now: float) -> bool:
        if phase == "continuous":
            return True
        if phase == "before":
            return now < self.first_fault  # the tick at the start may already hold its effect
        if phase == "during":
            return any(a < now <= b for a, b in self.fault_windows)
        return now >= self.last_fault_end + SETTLE_S

    def stop_reached(self, now: float) -> dict[str, Any] | None:
        values, columns = self.values
        for k, stop in enumerate(self.scenario.stop):
            value = self._value(stop.metric, stop.pool, values, columns)
            if _breaks(stop, value):
                since = self.stop_since.setdefault(k, now)
                if now - since >= stop.hold:
                    return {"t_s": now, "condition": stop.describe(), "value": rounded(value)}
            else:
                self.stop_since.pop(k, None)
        return None

    # ---- the report ----
    def report(self, sim: Simulation) -> dict[str, Any]:
        s = self.scenario
        end = sim.env.now
        for i in np.flatnonzero(~np.isnan(self.onset)):
            self._close(int(i), None)
        if self.lockdowns and self.modes and self.modes[-1]["mode"] == "lockdown":
            self.lockdowns[-1][1] = end
        self.false_lockdowns = self._false_lockdowns()
        t = self.totals
        arrived = t["arrived"]
        # an episode still open at the end counts until the end: leaving out the breaches a policy
        # never mitigates would make the worse policy look faster
        mitigated = [(e["to_s"] if e["to_s"] is not None else end) - e["from_s"] for e in self.episodes]
        for state in self.probes:  # a lockdown may be judged false only when it ends
            if state.probe.metric == "false_lockdowns" and state.probe.pool is None:
                state.sample(float(self.false_lockdowns), end)
        return {
            "format": REPORT_FORMAT,
            "scenario": scenario_header(s, sim.seed),
            "policies": policy_list(sim.policies),
            "outcome": {
                "hypothesis_held": all(p.passed for p in self.probes),
                "stopped": sim.stopped,
            },
            "kpis": {
                "sla_adherence_pct": rounded(min(100.0, t["ok"] / arrived * 100.0)) if arrived else 100.0,
                "requests": round(arrived),
                "served": round(t["served"]),
                "dropped": round(t["dropped"]),
                "degraded": round(t["degraded"]),
                "rejected_intents": round(t["rejected"]),
                # below a billionth the queueing tails' error shares are not real failures
                "error_rate": rounded(round((t["failed"] + t["dropped"]) / arrived, 9)) if arrived else 0.0,
                "time_to_mitigate_s": {
                    "count": len(mitigated),
                    "unmitigated": sum(1 for e in self.episodes if e["to_s"] is None),
                    "mean": rounded(sum(mitigated) / len(mitigated)) if mitigated else None,
                    "p50": rounded(sorted(mitigated)[len(mitigated) // 2]) if mitigated else None,
                    "max": rounded(max(mitigated)) if mitigated else None,
                },
                "directive_latency_ms": percentiles(self.latencies),
                "directives": len(self.directives),
                "directives_by_action": dict(sorted(self.by_action.items())),
                "unactuated_directives": self.unactuated,
                # only when some rule is warn or dryrun, so other reports stay as they were
                **({"held_directives": dict(sorted(self.held.items()))} if self.held else {}),
                "event_problems": self.problem_count,
                "lockdowns": len(self.lockdowns),
                "false_lockdowns": self.false_lockdowns,
                "mode_changes": self.mode_changes,
                "worker_hours": rounded(sim.mesh.worker_seconds / 3600.0),
                "worker_cost": rounded(sim.mesh.worker_cost),
                "max_threat_index": self.max_threat,
                "max_policy_depth": self.max_depth,
            },
            "hypothesis": [p.to_json() for p in self.probes],
            "problems": self.problem_examples,
            "timeline": self.timeline,
            "modes": self.modes,
            "faults": [
                {
                    "name": f.name,
                    "kind": f.kind,
                    "from_s": f.at,
                    "to_s": min(f.at + f.duration, s.duration),
                    "targets": [] if f.kind in RISK_FAULTS else [s.pools[i].name for i in targets],
                }
                for f, targets in zip(s.faults, self.faults.targets, strict=True)
            ],
            "directives": self.directives,
            "breaches": sorted(self.episodes, key=lambda e: (e["from_s"], e["pool"])),
        }


_POOL_COLUMN = {"sla_adherence_pct": "sla_adherence", "queue": "htm_queue_depth"}


def _breaks(stop: StopCondition, value: float) -> bool:
    if stop.above is not None:
        return value > stop.above
    return stop.below is not None and value < stop.below


def scenario_header(s: Scenario, seed: int) -> dict[str, Any]:
    from ballast.runtime.engine import iso

    return {
        "name": s.name,
        "description": s.description,
        "file": s.file,
        "seed": seed,
        "start": iso(s.start),
        "duration_s": s.duration,
        "telemetry_every_s": s.telemetry_every,
        "slo_latency_ms": s.slo_latency_ms,
        "pools": len(s.pools),
    }
