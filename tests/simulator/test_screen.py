"""The simulator's columnar screen changes nothing but speed.

With the screen, the Engine counts the events proven quiet over columns and evaluates the rest
(`simulator.screen`); without it, it evaluates every event. Every catalog scenario, and random
scenarios through a policy whose rules fault (a division by a pool's workers, which a worker
dropout takes to 0), fall back to the row path (`has`) and meet pools of a class outside their
enum (`batch`: every such event is rejected), must give the same report, the same directives and the
same Engine counters both ways.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import ballast
from ballast.runtime.engine import Engine
from ballast.runtime.errors import UsageError
from ballast.simulator.run import Simulation
from ballast.simulator.scenario import Scenario, load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "catalog" / "scenarios").glob("*.scenario.yaml"))

# A rule the columnar back-end leaves to the row path (`has`): its rows are checked again there.
UNMARKED_RULE = """  rule unmarked {
    when !has(canary) && load > UNMARKED
    then downgrade(targets: pool, level: 1)
  }"""
POLICY = """policy t.screen version "1" {
  input telemetry {
    pool: string
    tier: enum("critical", "standard")
    load: float in [0, 1]
    workers: int
    latency_p95_ms: float in [0, 400]
    canary?: bool
  }
  rule per_worker {
    when latency_p95_ms / workers > PER_WORKER
    then scale(targets: pool, by: 1)
    reason "{latency_p95_ms} ms over {workers} workers"
  }
UNMARKED_RULE
  rule hot {
    when load > HOT && tier != "critical"
    then pause(targets: pool, duration: 1m)
  }
}
"""


def outcome(scenario: Scenario, policies: ballast.PolicySet, *, screen: bool) -> tuple[str, Simulation]:
    """Everything a run shows (its report, directives and Engine counters) as text, and the run."""
    sim = Simulation(scenario, policies, screen=screen)
    result = sim.run()
    shown: dict[str, Any] = {
        "report": result.report,
        "directives": [repr(d) for d in result.directives],
        "stats": sim.engine.stats,
    }
    return json.dumps(shown, sort_keys=True, default=str), sim


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name.removesuffix(".scenario.yaml"))
def test_every_catalog_scenario_runs_the_same_with_the_screen(path: Path) -> None:
    scenario = load_scenario(path)
    policies = ballast.compile(list(scenario.policies))
    screened, sim = outcome(scenario, policies, screen=True)
    plain, unscreened = outcome(scenario, policies, screen=False)
    assert screened == plain
    assert unscreened.screened == 0 and (sim.screened > 0) == bool(sim.screens)


def test_the_screen_counts_most_events_of_a_calm_fleet() -> None:
    scenario = load_scenario(ROOT / "catalog" / "scenarios" / "load-risk-spike.scenario.yaml")
    policies = ballast.compile(list(scenario.policies))
    assert not Simulation(scenario, policies).screens  # 3 pools: the screen would cost more than it saves
    sim = Simulation(scenario, policies, screen=True)
    sim.run()
    assert "telemetry" in sim.screens
    events = sim.engine.stats["motb.orchestration"]["events"]
    assert sim.screened > events // 2 and events > sim.screened  # most counted, some evaluated


@st.composite
def scenarios(draw: st.DrawFn) -> str:
    pools = []
    for i in range(draw(st.integers(1, 6))):
        cls = draw(st.sampled_from(["critical", "standard", "standard", "batch"]))  # batch: not in the enum
        workers = draw(st.integers(1, 6))
        rate = draw(st.integers(5, 120))
        replicas = draw(st.sampled_from([1, 1, 3, 40]))
        pools.append(
            f"  - {{name: p{i}, class: {cls}, workers: {workers}, service_ms: 50, rate: {rate}, replicas: {replicas}}}"
        )
    faults = draw(
        st.lists(
            st.sampled_from(
                [
                    "  - {kind: load-spike, at: 2m, duration: 3m, factor: 2.5}",
                    "  - {kind: kill-workers, at: 4m, duration: 2m, share: 1.0}",
                    "  - {kind: latency, at: 1m, duration: 4m, add_ms: 400}",
                ]
            ),
            max_size=3,
            unique=True,
        )
    )
    text = f"scenario: screen\nseed: {draw(st.integers(0, 50))}\nduration: 10m\ntelemetry: 15s\npools:\n"
    text += "\n".join(pools) + "\n"
    if faults:
        text += "faults:\n" + "\n".join(faults) + "\n"
    return text


# latencies above the field's range (400 ms): those events are rejected, and no rule fires on them
OUT_OF_RANGE = """scenario: screen
seed: 1
duration: 10m
telemetry: 15s
pools:
  - {name: p0, class: standard, workers: 2, service_ms: 50, rate: 30, replicas: 3}
  - {name: p1, class: batch, workers: 2, service_ms: 50, rate: 30, replicas: 3}
faults:
  - {kind: latency, at: 1m, duration: 4m, add_ms: 400}
"""


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@example(text=OUT_OF_RANGE, per_worker="5000", unmarked=None, hot="0.8")
@given(
    text=scenarios(),
    per_worker=st.sampled_from(["20", "60", "200", "5000"]),
    unmarked=st.sampled_from(["0.5", "0.9", "2", None]),
    hot=st.sampled_from(["0.3", "0.8"]),
)
def test_random_scenarios_run_the_same_with_the_screen(
    tmp_path: Path, text: str, per_worker: str, unmarked: str | None, hot: str
) -> None:
    rule = "" if unmarked is None else UNMARKED_RULE.replace("UNMARKED", unmarked)
    source = POLICY.replace("PER_WORKER", per_worker).replace("UNMARKED_RULE", rule).replace("HOT", hot)
    policies = ballast.compile(["p.bal"], sources={"p.bal": source})
    scenario = parse_scenario(textwrap.dedent(text), str(tmp_path / "s.scenario.yaml"), base=tmp_path)
    screened, _ = outcome(scenario, policies, screen=True)
    plain, _ = outcome(scenario, policies, screen=False)
    assert screened == plain


def test_count_quiet_refuses_inputs_where_processing_does_more() -> None:
    timed = ballast.compile([str(ROOT / "catalog" / "watchdog.bal")])
    engine = Engine(timed)
    assert not engine.counts_quiet("layer2")
    with pytest.raises(UsageError, match="each of its events must be processed"):
        engine.count_quiet(3, "layer2")
    threat = ballast.compile([str(ROOT / "catalog" / "motb.bal"), str(ROOT / "catalog" / "gtbe.bal")])
    engine = Engine(threat)
    assert engine.counts_quiet("telemetry") and not engine.counts_quiet("signals")
    for wrong in (-1, "3", 2.0, True, None):
        with pytest.raises(UsageError, match="a number of events"):
            engine.count_quiet(wrong, "telemetry")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="no policy or threat in this set reads the input 'humidity'"):
        engine.count_quiet(1, "humidity")
    engine.count_quiet(5, "telemetry")
    assert engine.stats["motb.orchestration"]["events"] == 5
    with engine.observing(on_decide=lambda policy, event: None):  # an observer sees every event
        assert not engine.counts_quiet("telemetry")
    assert engine.counts_quiet("telemetry")


STATELESS_AUTOSCALE = """policy sim.autoscale version "1" {
  input pool_telemetry {
    pool: string
    tier: enum("critical", "standard", "batch")
    load: float in [0, 1]
  }
  const scale_at = 0.9
  rule scale_out {
    when load > scale_at
    then scale(targets: pool, by: 2)
    reason "load {load:.2f} above {scale_at} on {pool}"
  }
}
"""


def test_the_screen_follows_a_supervisor_that_retunes_the_policies() -> None:
    """The supervisor reloads the Engine with a lower threshold mid-run: the screen must prove
    quiet rows for the policies running now, not for those it started with."""
    scenario = load_scenario(ROOT / "catalog" / "scenarios" / "supervisor-tunes-autoscale.scenario.yaml")
    sources = {"autoscale.bal": STATELESS_AUTOSCALE, "tuner.bal": (ROOT / "catalog/supervisor/tuner.bal").read_text()}
    policies = ballast.compile(list(sources), sources=sources)
    screened, sim = outcome(scenario, policies, screen=True)
    plain, _ = outcome(scenario, policies, screen=False)
    assert sim.supervision is not None and sim.supervision.actuator.changed  # the threshold was retuned
    assert sim.screened > 0 and "pool_telemetry" in sim.screens
    assert screened == plain


# ---- the screen's claim, event by event, on adversarial columns ----

# a calm pool's signals, which fire no rule of catalog/motb.bal (at a low risk)
CALM = {
    "load": 0.3,
    "latency_p95_ms": 50.0,
    "latency_ms": 40.0,
    "error_rate": 0.0,
    "sla_adherence": 100.0,
    "dispatch_rate": 10.0,
    "htm_queue_depth": 1,
    "workers": 4,
    "subscriptions": 20,
    "tasks_dispatched": 100,
    "policy_depth": 1,
}
INT_SIGNALS = frozenset({"htm_queue_depth", "workers", "subscriptions", "tasks_dispatched", "policy_depth"})
ODD_FLOATS = [-0.5, -0.0, 0.8, 0.81, 1.0, 1.5, 99.0, 100.5, 1e9, float("nan"), float("inf"), -float("inf")]
ODD_INTS = [-1, 0, 999, 1000, 1001, 5000, 10**7, 10**7 + 1, 2**62]


def motb_screen(names: list[str], classes: list[str]) -> tuple[Any, Any, ballast.PolicySet]:
    from ballast.compiler.columnar import ColumnarPolicy
    from ballast.simulator.screen import TickScreen
    from ballast.simulator.signals import event_builder, plan_inputs, pool_constants

    policies = ballast.compile([str(ROOT / "catalog" / "motb.bal")])
    plan = next(p for p in plan_inputs(policies) if p.name == "telemetry")
    regions = ["eu"] * len(names)
    build = event_builder(plan, names, classes, regions)
    constants = pool_constants(names, classes, regions)
    return TickScreen([ColumnarPolicy(policies.policies[0])], plan, constants, build), build, policies


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), pools=st.integers(1, 12), risk=st.sampled_from([35.0, 79.9, 80.0, 85.0, 100.0]))
def test_every_event_the_screen_calls_quiet_does_nothing_in_the_engine(
    data: st.DataObject, pools: int, risk: float
) -> None:
    """Calm pools, each with one signal now and then at an odd value (NaN, an infinity, out of
    its range, at a threshold, a huge int): an event the screen calls quiet, processed by the
    Engine, issues nothing, reports nothing, and counts as one event."""
    import numpy as np

    from ballast.simulator.model import COLUMNS, Columns

    names = [f"p{i}" for i in range(pools)]
    classes = data.draw(st.lists(st.sampled_from(["critical", "standard", "batch"]), min_size=pools, max_size=pools))
    screen, build, policies = motb_screen(names, classes)
    values = {name: [CALM.get(name, 1.0)] * pools for name in COLUMNS}
    for i in range(pools):
        if data.draw(st.booleans()):
            name = data.draw(st.sampled_from(sorted(CALM)))
            values[name][i] = data.draw(st.sampled_from(ODD_INTS if name in INT_SIGNALS else ODD_FLOATS))
    arrays = {n: np.array(v, dtype=np.int64 if n in INT_SIGNALS else np.float64) for n, v in values.items()}
    columns, fleet = Columns(arrays), {"trp_risk": risk, "cve_score": 0.0}
    quiet = screen.quiet(columns, fleet, 1_763_200_800.0, 1)
    assert quiet is not None
    for event, is_quiet in zip(list(build(columns, fleet, 1_763_200_800.0, 1)), quiet.tolist(), strict=True):
        if is_quiet:
            engine = Engine(policies)
            result = engine.process(dict(event), "telemetry")
            assert not (result.directives or result.errors or result.events or result.held), (event, result)
            assert engine.stats["motb.orchestration"]["events"] == 1


def test_the_screen_calls_calm_pools_quiet_and_busy_ones_not() -> None:
    """The property above is only worth something if the screen calls some events quiet."""
    import numpy as np

    from ballast.simulator.model import COLUMNS, Columns

    screen, _, _ = motb_screen(["a", "b"], ["standard", "standard"])
    arrays = {n: np.array([CALM.get(n, 1.0)] * 2, dtype=np.int64 if n in INT_SIGNALS else np.float64) for n in COLUMNS}
    arrays["load"] = np.array([0.3, 0.99])  # the second pool is overloaded, at a risk of 90
    quiet = screen.quiet(Columns(arrays), {"trp_risk": 90.0, "cve_score": 0.0}, 1_763_200_800.0, 1)
    assert quiet.tolist() == [True, False]
