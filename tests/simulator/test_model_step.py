"""The mesh's step and the per-pool events, against plain reference models.

`Mesh.step` leaves out work it can prove changes nothing (masks when no pool is stopped, the
np.where over every pool when only a few are): the reference below is the model written out
plainly, every term over every pool, and the step must match it bit for bit. The event builder
refills one dict per pool at every tick: each tick's events must be exactly the ones built
afresh from that tick's columns, and what the simulator records must not change afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import ballast
from ballast.simulator.model import COLUMNS, Columns, Mesh
from ballast.simulator.run import Simulation
from ballast.simulator.scenario import load_scenario, parse_scenario
from ballast.simulator.signals import InputPlan, event_builder

SCENARIOS = Path(__file__).resolve().parents[2] / "catalog" / "scenarios"
SERVICE_MS = (20, 50, 80)
START_WORKERS = 10


@dataclass
class PoolState:
    service_ms: int
    workers: int
    paused: bool
    pause_ended: bool
    locked: bool
    scheduler_paused: bool
    queue: float
    arrival_rate: float
    demand: float
    latency_ms: float
    error: float


pool_states = st.builds(
    PoolState,
    service_ms=st.sampled_from(SERVICE_MS),
    workers=st.integers(0, 3 * START_WORKERS),
    paused=st.booleans(),
    pause_ended=st.booleans(),
    locked=st.booleans(),
    scheduler_paused=st.booleans(),
    queue=st.floats(0, 5000) | st.just(0.0),
    arrival_rate=st.floats(0, 1000),
    demand=st.integers(0, 400).map(float),
    latency_ms=st.sampled_from((0.0, 0.0, 300.0)),
    error=st.sampled_from((0.0, 0.0, 0.1)),
)


def mesh_of(pools: list[PoolState], now: float) -> Mesh:
    lines = [
        f"  - {{name: p{i}, workers: {START_WORKERS}, max_workers: {3 * START_WORKERS}, service_ms: {p.service_ms}}}"
        for i, p in enumerate(pools)
    ]
    text = "scenario: step\nduration: 1h\npools:\n" + "\n".join(lines) + "\n"
    mesh = Mesh(parse_scenario(text, "step.scenario.yaml"))
    for i, p in enumerate(pools):  # through the methods directives and faults use
        if p.workers < START_WORKERS:
            mesh.kill(i, START_WORKERS - p.workers)
        elif p.workers > START_WORKERS:
            mesh.scale(i, p.workers - START_WORKERS)
        if p.pause_ended:
            mesh.pause(i, now - 100.0, 10.0)
        if p.paused:
            mesh.pause(i, now - 1.0, 5.0)
    mesh.lockdown_pauses[:] = [p.locked for p in pools]
    mesh.scheduler_paused[:] = [p.scheduler_paused for p in pools]
    mesh.queue = np.array([p.queue for p in pools])
    mesh.arrival_rate = np.array([p.arrival_rate for p in pools])
    n = len(pools)
    mesh.set_effects(
        latency_ms=np.array([p.latency_ms for p in pools]),
        errors=np.array([p.error for p in pools]),
        flood_valid=np.zeros(n),
        flood_invalid=np.zeros(n),
        storm_rate=np.zeros(n),
        storm_task_share=np.zeros(n),
        cascade=np.zeros(n, dtype=bool),
    )
    return mesh


def reference_step(pools: list[PoolState], now: float, dt: float) -> dict[str, np.ndarray]:
    """One step of the model with every term computed for every pool (no reroute, shed, storm,
    flood or cascade), in the model's order of operations; the scenario's defaults: an SLO of
    250 ms, a queue limit of 10,000 and a client timeout of 30 s."""
    a = np.array
    mu = 1000.0 / a([p.service_ms for p in pools], dtype=float)
    workers = a([p.workers for p in pools], dtype=float)
    paused_until = a([now + 4.0 if p.paused else now - 90.0 if p.pause_ended else 0.0 for p in pools])
    locked, held = a([p.locked for p in pools]), a([p.scheduler_paused for p in pools])
    queue, arrival_rate = a([p.queue for p in pools]), a([p.arrival_rate for p in pools])
    demand = a([p.demand for p in pools])
    latency_s, error = a([p.latency_ms for p in pools]) / 1000.0, a([p.error for p in pools])
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        running = (paused_until <= now) & ~locked & ~held
        capacity_rate = workers * mu * running
        backlog = queue + demand
        served = np.minimum(backlog, capacity_rate * dt)
        queued = backlog - served
        overflow = np.maximum(queued - 10_000.0, 0.0)
        queue = queued - overflow
        alpha = min(1.0, dt / 10.0)
        arrival_rate = alpha * (demand / dt) + (1.0 - alpha) * arrival_rate
        working = capacity_rate > 0
        c = np.maximum(workers, 1.0)
        rho = np.where(working, arrival_rate / capacity_rate, np.inf)
        r = np.minimum(rho, 0.99)
        base = 1.0 / mu + np.where(working, queue / capacity_rate, 30.0)
        wait_share = np.where(working, r ** (np.sqrt(2.0 * (c + 1.0)) - 1.0), 1.0)
        decay = c * mu * (1.0 - r)
        base = np.where(latency_s > 0, base + latency_s, base)
        tail_slo = np.where(base >= 0.25, 1.0, wait_share * np.exp(decay * (base - 0.25)))
        timeouts = np.where(base >= 30.0, 1.0, wait_share * np.exp(decay * (base - 30.0)))
        mean_s = base + wait_share / decay
        p95_s = base + np.where(wait_share > 0.05, np.log(wait_share / 0.05) / decay, 0.0)
        failed_share = np.minimum(1.0, np.where(error > 0, error + timeouts, timeouts))
        ok = served * (1.0 - tail_slo) * (1.0 - failed_share)
        failed = served * failed_share
        load = np.where(queue > 0, 1.0, np.minimum(rho, 1.0))
        load = np.where(working, load, np.where(demand > 0, 1.0, 0.0))
        step_error = np.where(demand > 0.5, (failed + overflow) / np.maximum(demand, 1e-9), 0.0)
    zero = np.zeros(len(pools))
    return {
        "queue": queue,
        "arrival_rate": arrival_rate,
        "p95_ms": np.minimum(p95_s, 30.0) * 1000.0,
        "mean_ms": np.minimum(mean_s, 30.0) * 1000.0,
        "load": load,
        "step_error": step_error,
        "ok": zero + ok,
        "failed": zero + failed,
        "dropped": zero + overflow,
        "served": zero + served,
        "arrived": zero + demand,
        "latency_sum": zero + np.minimum(mean_s, 30.0) * 1000.0 * dt,
        "load_sum": zero + load * dt,
    }


def bits(values: np.ndarray) -> bytes:
    return np.asarray(values, dtype=float).tobytes()


@settings(max_examples=300, deadline=None)
@given(st.lists(pool_states, min_size=1, max_size=6), st.sampled_from((1.0, 0.5)))
def test_a_step_matches_the_reference_model_bit_for_bit(pools: list[PoolState], dt: float) -> None:
    now = 200.0
    mesh = mesh_of(pools, now)
    mesh.step(now, dt, np.array([p.demand for p in pools]))
    want = reference_step(pools, now, dt)
    got = {
        "queue": mesh.queue,
        "arrival_rate": mesh.arrival_rate,
        "p95_ms": mesh.p95_ms,
        "mean_ms": mesh.mean_ms,
        "load": mesh.load,
        "step_error": mesh.step_error,
        **{k: getattr(mesh.totals, k) for k in ("ok", "failed", "dropped", "served", "arrived")},
        "latency_sum": mesh.totals.latency_sum,
        "load_sum": mesh.totals.load_sum,
    }
    assert {k: bits(v) for k, v in got.items()} == {k: bits(v) for k, v in want.items()}


def test_a_pause_that_ends_lets_the_pool_run_again() -> None:
    """The step's shortcut for "nothing is paused" starts only once the latest pause has ended."""
    pools = [PoolState(50, 10, False, False, False, False, 0.0, 100.0, 100.0, 0.0, 0.0)] * 2
    mesh = mesh_of(pools, 0.0)
    mesh.pause(1, 10.0, 5.0)
    served = []
    for now in (12.0, 14.0, 15.0, 16.0):
        mesh.take_totals()
        mesh.step(now, 1.0, np.array([100.0, 100.0]))
        served.append(float(mesh.take_totals().served[1]))
    assert served[0] == served[1] == 0.0 and served[2] > 0 and served[3] > 0


# ---- the events of a per-pool input ----

PLAN = InputPlan(
    "telemetry",
    True,
    (("pool", "@name"), ("tier", "@class"), ("load", "load"), ("risk", "trp_risk"), ("ts", "@time"),
     ("queue", "htm_queue_depth"), ("agent", "@agent")),
)  # fmt: skip
NAMES, CLASSES, REGIONS = ["a", "b", "c"], ["critical", "batch", "standard"], ["r1", "r1", "r2"]


def columns_of(loads: list[float], queues: list[int]) -> Columns:
    arrays = {name: np.zeros(len(NAMES)) for name in COLUMNS}
    arrays["load"] = np.array(loads)
    arrays["htm_queue_depth"] = np.array(queues, dtype=np.int64)
    return Columns(arrays)


def fresh_events(loads: list[float], queues: list[int], risk: float, time: float) -> list[dict[str, Any]]:
    return [
        {"pool": n, "tier": c, "load": lo, "risk": risk, "ts": time, "queue": q, "agent": f"{n}-agent"}
        for n, c, lo, q in zip(NAMES, CLASSES, loads, queues, strict=True)
    ]


ticks = st.tuples(
    st.lists(st.floats(0, 1), min_size=3, max_size=3),
    st.lists(st.integers(0, 10**6), min_size=3, max_size=3),
    st.floats(0, 100),
)


@settings(max_examples=100, deadline=None)
@given(st.lists(ticks, min_size=1, max_size=4))
def test_every_tick_s_events_are_the_ones_built_afresh(series: list[tuple[list[float], list[int], float]]) -> None:
    build = event_builder(PLAN, NAMES, CLASSES, REGIONS)
    for seq, (loads, queues, risk) in enumerate(series, start=1):
        time = 1.7e9 + 10.0 * seq
        events = list(build(columns_of(loads, queues), {"trp_risk": risk}, time, seq))
        want = fresh_events(loads, queues, risk, time)
        assert events == want
        assert [list(e) for e in events] == [list(e) for e in want]  # the fields in the input's order
        assert all(type(e["load"]) is float and type(e["queue"]) is int for e in events)


def test_a_recorded_directive_keeps_the_event_it_was_decided_on() -> None:
    """The builder refills its dicts at every tick; a record keeps the values of its own tick,
    which its reason (rendered by the runtime when the rule fired) shows."""
    scenario = load_scenario(SCENARIOS / "load-risk-spike.scenario.yaml")
    result = Simulation(scenario, ballast.compile(list(scenario.policies))).run()
    shown = {  # what a rule's reason (catalog/motb.bal) shows of its event
        "downgrade_on_load_risk": lambda e: f"load {e['load']:.2f} and risk {e['risk']:.0f}",
        "sla_breach": lambda e: f"SLA adherence {e['sla_adherence']:.2f}%",
        "latency_breach": lambda e: f"p95 latency {e['latency_p95_ms']:.0f} ms",
    }
    checked = 0
    for record in result.directives:
        if record.rule in shown:
            assert shown[record.rule](record.event) in record.reason
            assert record.event["pool"] in record.targets
            checked += 1
    assert checked > 20
    ticks_of = {}
    for record in result.directives:
        ticks_of.setdefault(id(record.event), set()).add(record.seq)
    assert all(len(seqs) == 1 for seqs in ticks_of.values())  # no event dict is shared across ticks
