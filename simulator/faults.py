"""Faults and exogenous signals: who a fault hits (its blast radius) and what it does meanwhile.

Every fault draws from a random stream of its own, spawned from the scenario seed by its
position in the file, so adding a rule, or a decision that changes the world, never shifts
another fault's draws.
"""

from __future__ import annotations

import math

import numpy as np

from ballast.simulator.model import Mesh
from ballast.simulator.scenario import Fault, LoadStep, Scenario, Target


def select(target: Target, scenario: Scenario, rng: np.random.Generator) -> list[int]:
    """The pool indices a blast radius picks, as Chaos Mesh's modes do (one, all, fixed, percent, max-percent)."""
    candidates = [
        i
        for i, p in enumerate(scenario.pools)
        if (not target.names or p.name in target.names)
        and (not target.classes or p.cls in target.classes)
        and (not target.regions or p.region in target.regions)
    ]
    n = len(candidates)
    if target.mode == "all" or n == 0:
        return candidates
    if target.mode == "one":
        count = 1
    elif target.mode == "fixed":
        count = min(n, int(target.value))
    elif target.mode == "percent":
        count = min(n, max(1, math.ceil(n * target.value / 100.0))) if target.value > 0 else 0
    else:  # max-percent: a random count from 1 up to the share
        top = max(1, math.floor(n * target.value / 100.0)) if target.value > 0 else 0
        count = int(rng.integers(1, top + 1)) if top else 0
    chosen = rng.choice(n, size=count, replace=False) if count else []
    return sorted(candidates[int(k)] for k in chosen)


def load_level(steps: tuple[LoadStep, ...], targets: list[list[int]], size: int, now: float) -> np.ndarray:
    """The demand multiplier of every pool from the scenario's load steps (each ramps from the level before)."""
    level = np.ones(size)
    for step, chosen in zip(steps, targets, strict=True):
        if now < step.at or not chosen:
            continue
        progress = 1.0 if step.ramp <= 0 else min(1.0, (now - step.at) / step.ramp)
        before = level[chosen]
        level[chosen] = before + (step.factor - before) * progress
    return level


def diurnal(amplitude: float, now: float) -> float:
    """A day-shaped demand curve: the trough at the start, the peak twelve hours in."""
    return 1.0 - amplitude * math.cos(2.0 * math.pi * now / 86_400.0)


def ramped(fault: Fault, now: float, full: float, rest: float) -> float:
    ramp = fault.params.get("ramp", 0.0)
    if ramp <= 0:
        return full
    return rest + (full - rest) * min(1.0, (now - fault.at) / ramp)


class Faults:
    """The scenario's faults with their chosen targets, and their effect on the mesh at a time."""

    def __init__(self, scenario: Scenario, seed_sequence: np.random.SeedSequence) -> None:
        self.scenario = scenario
        streams = seed_sequence.spawn(len(scenario.faults) + len(scenario.load))
        self.rngs = [np.random.default_rng(s) for s in streams[: len(scenario.faults)]]
        self.targets = [select(f.target, scenario, rng) for f, rng in zip(scenario.faults, self.rngs, strict=True)]
        load_rngs = [np.random.default_rng(s) for s in streams[len(scenario.faults) :]]
        self.load_targets = [select(s.target, scenario, r) for s, r in zip(scenario.load, load_rngs, strict=True)]
        self.active: set[int] = set()

    def active_faults(self) -> list[tuple[Fault, list[int]]]:
        return [(self.scenario.faults[k], self.targets[k]) for k in sorted(self.active)]

    def start(self, k: int, mesh: Mesh, now: float) -> None:
        """The one-off part of a fault (workers killed, tasks queued); the rest is `apply`'s."""
        fault, chosen = self.scenario.faults[k], self.targets[k]
        self.active.add(k)
        if fault.kind == "kill-workers":
            rng = self.rngs[k]
            for i in chosen:
                mesh.kill(i, float(rng.binomial(round(mesh.workers[i]), fault.params["share"])))
        elif fault.kind == "scheduler-pause":
            for i in chosen:
                mesh.queue[i] += fault.params["tasks"]
                mesh.totals.arrived[i] += fault.params["tasks"]  # work the mesh was asked for
                mesh.scheduler_paused[i] = True
        self.apply(mesh, now)

    def end(self, k: int, mesh: Mesh, now: float) -> None:
        fault, chosen = self.scenario.faults[k], self.targets[k]
        self.active.discard(k)
        if fault.kind == "scheduler-pause":
            mesh.scheduler_paused[chosen] = False
        self.apply(mesh, now)

    def apply(self, mesh: Mesh, now: float) -> None:
        """Recompute the continuous effects of the faults in force."""
        n = mesh.size
        latency, errors = np.zeros(n), np.zeros(n)
        flood_valid, flood_invalid = np.zeros(n), np.zeros(n)
        storm, task_share = np.zeros(n), np.zeros(n)
        cascade = np.zeros(n, dtype=bool)
        for fault, chosen in self.active_faults():
            p = fault.params
            if fault.kind == "latency":
                latency[chosen] += p["add_ms"]
            elif fault.kind == "errors":
                errors[chosen] = np.minimum(1.0, errors[chosen] + p["rate"])
            elif fault.kind == "queue-flood" and chosen and now < fault.at + p["over"]:
                per_second = p["intents"] / p["over"] / len(chosen)
                flood_valid[chosen] += per_second * (1.0 - p["invalid"])
                flood_invalid[chosen] += per_second * p["invalid"]
            elif fault.kind == "trigger-storm" and chosen:
                storm[chosen] += p["rate"] / len(chosen)
                task_share[chosen] = p["task_share"]
            elif fault.kind == "policy-cascade":
                cascade[chosen] = True
                mesh.cascade_every[chosen] = p["every"]
                mesh.cascade_limit[chosen] = p["limit"]
        mesh.set_effects(
            latency_ms=latency,
            errors=errors,
            flood_valid=flood_valid,
            flood_invalid=flood_invalid,
            storm_rate=storm,
            storm_task_share=task_share,
            cascade=cascade,
        )

    def demand_factor(self, now: float) -> np.ndarray | None:
        """Load spikes in force, as demand multipliers per pool; None when there are none."""
        factor = None
        for fault, chosen in self.active_faults():
            if fault.kind == "load-spike":
                if factor is None:
                    factor = np.ones(self.scenario_size)
                factor[chosen] *= ramped(fault, now, fault.params["factor"], 1.0)
        return factor

    @property
    def scenario_size(self) -> int:
        return len(self.scenario.pools)

    def risk_level(self, now: float) -> tuple[float, float, float | None]:
        """The TRP riskScore the signal reverts to, its noise, and a one-tick blip (or None)."""
        level, sigma, blip = self.scenario.trp_base, self.scenario.trp_noise, None
        for fault, _ in self.active_faults():
            p = fault.params
            if fault.kind == "risk-spike":
                level = max(level, ramped(fault, now, p["value"], self.scenario.trp_base))
            elif fault.kind == "risk-noise":
                sigma = max(sigma, p["sigma"])
                if p["blip"] > 0 and (now - fault.at) % p["blip_every"] < self.scenario.telemetry_every:
                    blip = p["blip"]
        return level, sigma, blip

    def cve_score(self) -> float:
        score = self.scenario.cve_base
        for fault, _ in self.active_faults():
            if fault.kind == "cve":
                score = max(score, fault.params["score"])
        return score

    def risk_fault_near(self, start: float, end: float, margin: float) -> bool:
        """Was a real threat (a risk spike, a CVE) in force at some time in [start - margin, end]?"""
        for fault in self.scenario.faults:
            # noise is not a threat: a lockdown it causes is a false one
            if fault.kind in ("risk-spike", "cve") and fault.at <= end and fault.at + fault.duration >= start - margin:
                return True
        return False
