"""The simulator: scenarios, the mesh model, the Engine in the loop, KPIs, shadow runs, the CLI."""

from __future__ import annotations

import io
import json
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import run_cli

import ballast
from ballast.cli import main
from ballast.runtime.errors import CompileError, UsageError
from ballast.simulator.faults import select
from ballast.simulator.run import Simulation
from ballast.simulator.scenario import Target, load_scenario, parse_scenario
from ballast.simulator.shadow import Side, shadow
from ballast.simulator.signals import plan_inputs
from ballast.simulator.stats import compare, t975

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "catalog"
SCENARIOS = CATALOG / "scenarios"
MOTB = str(CATALOG / "motb.bal")
GTBE = str(CATALOG / "gtbe.bal")

SMALL = """\
scenario: test.small
seed: 3
duration: 20m
telemetry: 15s
pools:
  - {name: api, class: critical, workers: 8, service_ms: 50, rate: 80}
  - {name: jobs, class: batch, workers: 4, service_ms: 100, rate: 20}
"""


def run(argv: list[str]) -> tuple[int, str, str]:
    return run_cli(*argv)


def write(tmp_path: Path, text: str, name: str = "s.scenario.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def simulate(scenario_text: str, policies: list[str], tmp_path: Path, **kw: object) -> dict:
    scenario = parse_scenario(textwrap.dedent(scenario_text), str(tmp_path / "s.scenario.yaml"), base=tmp_path)
    return Simulation(scenario, ballast.compile(policies), **kw).run().report  # type: ignore[arg-type]


# ---- scenario documents: every problem at its line and column ----


@pytest.mark.parametrize(
    ("text", "line", "column", "needle"),
    [
        ("scenario: x\nduration: 1h\npools:\n  - {name: a, wrkers: 3}\n", 4, 15, "unknown key 'wrkers'"),
        ("scenario: x\nduration: -5m\npools:\n  - {name: a}\n", 2, 11, "positive"),
        ("scenario: x\nduration: 1h\npools:\n  - {name: a, rate: -3}\n", 4, 21, "out of range"),
        ("scenario: x\nduration: 1h\npools: []\n", 3, 1, "at least one pool"),
        (
            "scenario: x\nduration: 1h\npools:\n  - {name: a}\nfaults:\n  - {kind: latency, at: 5m, target: {pools: [b]}}\n",
            6,
            38,
            "unknown pool 'b'",
        ),
        ("scenario: x\nduration: 1h\npools:\n  - {name: a}\nfaults:\n  - {kind: meteor, at: 5m}\n", 6, 12, "unknown value"),
        ("scenario: x\nduration: 1h\npools:\n  - {name: a}\nfaults:\n  - {kind: latency, at: 2h}\n", 6, 25, "after the scenario ends"),
        ("scenario: x\nduration: 1h\npools:\n  - {name: a}\nhypothesis:\n  - {metric: happiness, min: 1}\n", 6, 14, "unknown value"),
        ("scenario: x\nduration: 1h\npools:\n  - {name: a}\nhypothesis:\n  - {metric: load}\n", 6, 14, "needs a tolerance"),
        ("scenario: x\nduration: 1h\npools:\n  - {name: a, class: vip}\n", 4, 22, "unknown value 'vip'"),
        ("scenario: x\nduration: 1h\npools:\n  - {name: a}\n  - {name: a}\n", 5, 5, "declared twice"),
        ("scenario: [x\n", 2, 1, "invalid YAML"),
    ],
)
def test_scenario_problems_have_positions(text: str, line: int, column: int, needle: str) -> None:
    with pytest.raises(CompileError) as caught:
        parse_scenario(text, "s.yaml")
    first = caught.value.diagnostics[0]
    assert needle in first.message
    assert (first.span.line, first.span.column) == (line, column), first.render()


def test_a_policy_path_that_does_not_exist_is_reported_at_its_position(tmp_path: Path) -> None:
    text = "scenario: x\nduration: 1h\npolicies: [../motb.bal, nowhere.bal]\npools:\n  - {name: a}\n"
    with pytest.raises(CompileError) as caught:
        parse_scenario(text, str(tmp_path / "s.yaml"), base=CATALOG / "scenarios")
    first = caught.value.diagnostics[0]
    assert "policy path 'nowhere.bal' does not exist" in first.message
    assert (first.span.line, first.span.column) == (3, 25)


def test_every_problem_of_a_file_is_reported_at_once() -> None:
    text = "scenario: x\nduration: 1h\nstep: 0s\npools:\n  - {name: a, rate: -1, class: vip}\n"
    with pytest.raises(CompileError) as caught:
        parse_scenario(text, "s.yaml")
    assert len(caught.value.diagnostics) == 3


def test_unknown_key_hint_suggests_the_close_one() -> None:
    with pytest.raises(CompileError) as caught:
        parse_scenario("scenario: x\nduraton: 1h\npools:\n  - {name: a}\n", "s.yaml")
    assert any("did you mean 'duration'?" in d.hint for d in caught.value.diagnostics)


def test_replicas_expand_pool_names() -> None:
    scenario = parse_scenario("scenario: x\nduration: 1h\npools:\n  - {name: svc, replicas: 12}\n", "s.yaml")
    assert [p.name for p in scenario.pools][:2] == ["svc-01", "svc-02"]
    assert len(scenario.pools) == 12


def test_every_catalog_scenario_loads_and_its_policies_feed() -> None:
    files = sorted(SCENARIOS.glob("*.scenario.yaml"))
    assert len(files) >= 7
    for path in files:
        scenario = load_scenario(path)
        assert scenario.policies, path
        plan_inputs(ballast.compile(list(scenario.policies)))


# ---- blast radius ----


@given(st.integers(0, 2**32 - 1), st.sampled_from(["one", "all", "fixed", "percent", "max-percent"]), st.floats(0, 100))
@settings(max_examples=60, deadline=None)
def test_blast_radius_counts(seed: int, mode: str, value: float) -> None:
    scenario = parse_scenario("scenario: x\nduration: 1h\npools:\n  - {name: svc, replicas: 20}\n", "s.yaml")
    target = Target(mode=mode, value=value if mode != "fixed" else round(value / 4))
    chosen = select(target, scenario, np.random.default_rng(seed))
    assert chosen == sorted(set(chosen))
    again = select(target, scenario, np.random.default_rng(seed))
    assert chosen == again  # the same seed picks the same pools
    expected = {"one": 1, "all": 20, "fixed": min(20, round(value / 4))}
    if mode in expected:
        assert len(chosen) == expected[mode]
    elif mode == "percent":
        assert len(chosen) == (min(20, max(1, -(-20 * value // 100))) if value > 0 else 0)
    else:
        assert (1 if value > 0 else 0) <= len(chosen) <= max(1, int(20 * value / 100))


def test_blast_radius_filters_by_class_and_region() -> None:
    text = "scenario: x\nduration: 1h\npools:\n  - {name: a, class: batch, region: eu}\n  - {name: b, region: us}\n  - {name: c, class: batch, region: us}\n"
    scenario = parse_scenario(text, "s.yaml")
    rng = np.random.default_rng(0)
    assert select(Target(classes=("batch",)), scenario, rng) == [0, 2]
    assert select(Target(classes=("batch",), regions=("us",)), scenario, rng) == [2]


# ---- the model follows from queueing ----


def test_latency_grows_with_load_and_stopped_pools_queue(tmp_path: Path) -> None:
    def p95(rate: float) -> float:
        text = SMALL.replace("rate: 80", f"rate: {rate}")
        return max(simulate(text, [MOTB], tmp_path)["timeline"]["load"])

    assert p95(40) < p95(100) < p95(150)


def test_worker_dropout_is_seen_and_answered(tmp_path: Path) -> None:
    report = load_and_run("l2-worker-dropout")
    fault = report["faults"][0]
    assert fault["kind"] == "kill-workers"
    workers = report["timeline"]["workers"]
    start = report["timeline"]["t_s"].index(fault["from_s"] + 15.0)
    assert workers[start] < workers[0] * 0.8  # half of the eu-west workers died
    rules = {d["rule"] for d in report["directives"]}
    assert "workers_lost" in rules
    assert report["outcome"]["hypothesis_held"]


def load_and_run(name: str, **kw: object) -> dict:
    scenario = load_scenario(SCENARIOS / f"{name}.scenario.yaml")
    return Simulation(scenario, ballast.compile(list(scenario.policies)), **kw).run().report  # type: ignore[arg-type]


# ---- the catalog scenarios tell their stories ----


def test_load_and_risk_spike_downgrades_goes_heightened_and_never_locks_down() -> None:
    report = load_and_run("load-risk-spike")
    downgrades = [d for d in report["directives"] if d["rule"] == "downgrade_on_load_risk"]
    assert downgrades and all(d["targets"] == ["search"] for d in downgrades)  # never the critical pool
    assert "heightened" in {m["mode"] for m in report["modes"]}
    assert report["kpis"]["lockdowns"] == 0
    assert 40 <= report["kpis"]["max_threat_index"] < 75
    assert report["outcome"] == {"hypothesis_held": True, "stopped": None}


def test_noisy_threat_makes_no_false_lockdown() -> None:
    report = load_and_run("noisy-threat")
    assert report["kpis"]["false_lockdowns"] == 0
    assert report["kpis"]["max_threat_index"] > 40  # the noise is real: heightened, not lockdown
    assert report["outcome"]["hypothesis_held"]


TWITCHY = """\
threat test.twitchy version "1" {
  input signals { ts: timestamp, trp_risk?: float in [0, 100] }
  stream { time ts }
  source trp weight 1.0 from trp_risk
  mode heightened when index >= 40 exit below 35
  mode lockdown when index >= 60 exit below 50
  governor { floor 30 }
}
"""


def test_false_lockdowns_are_counted_when_the_threat_has_no_smoothing(tmp_path: Path) -> None:
    (tmp_path / "twitchy.bal").write_text(TWITCHY, encoding="utf-8")
    scenario = load_scenario(SCENARIOS / "noisy-threat.scenario.yaml")
    report = Simulation(scenario, ballast.compile([MOTB, str(tmp_path / "twitchy.bal")])).run().report
    assert report["kpis"]["lockdowns"] > 0
    assert report["kpis"]["false_lockdowns"] == report["kpis"]["lockdowns"]
    assert not report["outcome"]["hypothesis_held"]


@pytest.mark.parametrize(
    "name", ["l2-htm-queue-flood", "l2-trigger-mesh-storm", "l2-scheduler-pause", "l2-event-policy-cascade", "l2-worker-dropout"]
)
def test_layer2_chaos_scenarios_hold_their_hypothesis(name: str) -> None:
    report = load_and_run(name)
    failed = [p for p in report["hypothesis"] if not p["held"]]
    assert not failed, failed
    assert report["outcome"]["stopped"] is None


def test_cascade_recursion_limit_holds_and_the_event_policy_engine_is_paused() -> None:
    report = load_and_run("l2-event-policy-cascade")
    assert report["kpis"]["max_policy_depth"] == 10
    pauses = [d for d in report["directives"] if d["rule"] == "policy_cascade"]
    assert pauses and all(d["targets"] == ["event-policy"] for d in pauses)
    assert len([d for d in pauses if d["t_s"] < pauses[0]["t_s"] + 600]) <= 3  # at most 3 per 10m


def test_queue_flood_rejects_invalid_intents_and_scheduler_pause_is_rerouted() -> None:
    flood = load_and_run("l2-htm-queue-flood")
    assert flood["kpis"]["rejected_intents"] == 5000
    assert max(flood["timeline"]["queue"]) > 1000
    paused = load_and_run("l2-scheduler-pause")
    reroutes = [d for d in paused["directives"] if d["rule"] == "scheduler_stalled"]
    assert reroutes and reroutes[0]["actuated"]


# ---- stop conditions, unactuated directives ----


def test_a_stop_condition_ends_the_run(tmp_path: Path) -> None:
    text = SMALL + "faults:\n  - {kind: errors, at: 5m, rate: 0.9}\nstop:\n  - {metric: error_rate, above: 0.5, for: 1m}\n"
    report = simulate(text, [MOTB], tmp_path)
    stopped = report["outcome"]["stopped"]
    assert stopped is not None and stopped["condition"] == "error_rate > 0.5 for 60s"
    assert 360 <= stopped["t_s"] <= 420
    assert report["timeline"]["t_s"][-1] == stopped["t_s"]


def test_directives_that_nothing_can_carry_out_are_counted(tmp_path: Path) -> None:
    text = SMALL + "faults:\n  - {kind: errors, at: 2m, duration: 5m, rate: 0.2}\n"
    report = simulate(text, [MOTB], tmp_path)
    unactuated = [d for d in report["directives"] if not d["actuated"]]
    assert unactuated  # error_budget_burn reroutes to "standby", which this mesh does not have
    assert report["kpis"]["unactuated_directives"] == len(unactuated)


def test_two_schemas_for_one_input_are_an_error(tmp_path: Path) -> None:
    policy = tmp_path / "p.bal"
    policy.write_text(
        'policy t.p version "1" {\n  input telemetry { pool: string, load: float }\n'
        "  rule r { when load > 0.5 then scale(targets: pool) }\n}\n",
        encoding="utf-8",
    )
    with pytest.raises(UsageError, match="both read the input 'telemetry'"):
        plan_inputs(ballast.compile([MOTB, str(policy)]))


def test_events_the_runtime_rejects_are_counted(tmp_path: Path) -> None:
    policy = tmp_path / "p.bal"
    policy.write_text(
        'policy t.p version "1" {\n  input x { pool: string, load: float in [0, 0.5] }\n'
        "  rule r { when load > 0.4 then scale(targets: pool) }\n}\n",
        encoding="utf-8",
    )
    report = simulate(SMALL, [str(policy)], tmp_path)
    assert report["kpis"]["event_problems"] > 0  # loads above 0.5 are outside the declared range
    assert report["problems"][0]["kind"] == "invalid-event"


def test_an_input_the_mesh_cannot_feed_is_an_error(tmp_path: Path) -> None:
    policy = tmp_path / "p.bal"
    policy.write_text(
        'policy t.p version "1" {\n  input x { pool: string, humidity: float }\n'
        "  rule r { when humidity > 1.0 then scale(targets: pool) }\n}\n",
        encoding="utf-8",
    )
    with pytest.raises(UsageError, match="'humidity'"):
        plan_inputs(ballast.compile([str(policy)]))


# ---- determinism and common random numbers ----


def test_same_scenario_policies_and_seed_give_byte_identical_reports(tmp_path: Path) -> None:
    path = write(tmp_path, SMALL + "faults:\n  - {kind: load-spike, at: 5m, duration: 5m, factor: 1.8}\n")
    first = run(["simulate", str(path), "--policy", MOTB, GTBE, "--format", "json"])
    second = run(["simulate", str(path), "--policy", MOTB, GTBE, "--format", "json"])
    assert first[0] == second[0] and first[1] == second[1]
    other = run(["simulate", str(path), "--policy", MOTB, GTBE, "--format", "json", "--seed", "4"])
    assert other[1] != first[1]


def test_a_rule_that_acts_on_nothing_leaves_the_world_unchanged(tmp_path: Path) -> None:
    """Common random numbers: a candidate rule that only pages sees exactly the baseline's world."""
    extra = tmp_path / "pager.bal"
    extra.write_text(
        'policy t.pager version "1" {\n  input pager { pool: string, load: float }\n'
        '  action page(targets: selector)\n  rule hot { when load > 0.5 then page(targets: pool) }\n}\n',
        encoding="utf-8",
    )
    text = SMALL + "faults:\n  - {kind: load-spike, at: 5m, duration: 5m, factor: 1.6}\n"
    base = simulate(text, [MOTB], tmp_path)
    cand = simulate(text, [MOTB, str(extra)], tmp_path)
    assert any(d["rule"] == "hot" for d in cand["directives"])
    assert cand["timeline"] == base["timeline"]
    assert cand["kpis"]["sla_adherence_pct"] == base["kpis"]["sla_adherence_pct"]


# ---- shadow ----


def test_shadow_finds_the_better_candidate_and_the_rule_that_changed() -> None:
    scenario = load_scenario(SCENARIOS / "batch-surge.scenario.yaml", overrides={"duration": 3000.0})
    candidate = str(CATALOG / "tests" / "shadow" / "motb-candidate.bal")
    report = shadow(scenario, Side((MOTB, GTBE)), Side((candidate, GTBE)), seeds=3)
    kpis = {k["kpi"]: k for k in report["kpis"]}
    assert kpis["sla_adherence_pct"]["verdict"] == "better"
    assert kpis["false_lockdowns"]["verdict"] == "inconclusive"
    assert kpis["false_lockdowns"]["reason"] == "identical on every seed"
    rules = {(r["policy"], r["rule"]): r for r in report["rules"]}
    changed = rules[("motb.orchestration", "batch_shed_on_load")]
    assert changed["change"] == "less"
    divergence = changed["first_divergence"]
    assert divergence["seed"] == scenario.seed
    assert divergence["baseline"] == [{"action": "pause", "targets": ["reports"]}]
    assert divergence["event"]["pool"] == "reports" and divergence["event"]["load"] > 0.9


def test_shadow_of_a_set_against_itself_changes_nothing() -> None:
    scenario = load_scenario(SCENARIOS / "load-risk-spike.scenario.yaml", overrides={"duration": 1800.0})
    report = shadow(scenario, Side((MOTB, GTBE)), Side((MOTB, GTBE)), seeds=2)
    assert all(r["change"] == "same" and r["first_divergence"] is None for r in report["rules"])
    assert all(k["verdict"] == "inconclusive" for k in report["kpis"])


def test_shadow_workers_do_not_change_the_report(tmp_path: Path) -> None:
    path = SCENARIOS / "load-risk-spike.scenario.yaml"
    argv = ["shadow", "--scenario", str(path), "--baseline", MOTB, GTBE, "--candidate", MOTB, GTBE]
    argv += ["--seeds", "2", "--duration", "10m", "--format", "json"]
    one = run(argv)
    two = run([*argv, "--workers", "2"])
    assert one[0] == two[0] == 0
    assert one[1] == two[1]
    assert json.loads(one[1])["seeds"] == [7, 8]


# ---- statistics ----


def test_t_quantiles() -> None:
    assert t975(1) == 12.706 and t975(19) == 2.093
    assert 2.021 > t975(50) > 2.000
    assert 1.960 < t975(10_000) < 1.962


def test_compare_verdicts() -> None:
    better = compare([1.0, 2.0, 3.0, 4.0], [2.0, 3.1, 3.9, 5.0], "higher")
    assert better["verdict"] == "better" and better["ci95"][0] > 0
    worse = compare([1.0, 2.0, 3.0, 4.0], [2.0, 3.1, 3.9, 5.0], "lower")
    assert worse["verdict"] == "worse"
    unsure = compare([1.0, 2.0, 3.0], [1.5, 1.6, 3.2], "higher")
    assert unsure["verdict"] == "inconclusive" and unsure["reason"] == "the interval spans zero"
    assert unsure["more_seeds"] > 3
    single = compare([1.0], [2.0], "higher")
    assert single["verdict"] == "inconclusive" and "too few" in single["reason"]
    missing = compare([None, 1.0], [2.0, None], "higher")
    assert missing["reason"] == "no seed gave this KPI a value"


@given(st.lists(st.tuples(st.floats(-1e3, 1e3), st.floats(-1e3, 1e3)), min_size=2, max_size=30))
@settings(max_examples=100, deadline=None)
def test_compare_interval_contains_the_mean_and_sides_mirror(pairs: list[tuple[float, float]]) -> None:
    base = [b for b, _ in pairs]
    cand = [c for _, c in pairs]
    result = compare(base, cand, "higher")
    low, high = result["ci95"]
    assert low - 1e-9 <= result["difference"] <= high + 1e-9
    mirrored = compare(cand, base, "higher")
    flip = {"better": "worse", "worse": "better", "inconclusive": "inconclusive"}
    assert mirrored["verdict"] == flip[result["verdict"]]


# ---- the CLI ----


def test_simulate_cli_exit_codes_and_formats(tmp_path: Path) -> None:
    held = write(tmp_path, SMALL + "hypothesis:\n  - {metric: lockdowns, max: 0}\n", "held.scenario.yaml")
    code, out, _ = run(["simulate", str(held), "--policy", MOTB, GTBE])
    assert code == 0 and "Hypothesis held" in out
    failing = write(tmp_path, SMALL + "hypothesis:\n  - {metric: load, min: 0.99}\n", "fails.scenario.yaml")
    code, out, _ = run(["simulate", str(failing), "--policy", MOTB, "--format", "json"])
    assert code == 1 and json.loads(out)["outcome"]["hypothesis_held"] is False
    html = tmp_path / "r.html"
    code, _, err = run(["simulate", str(held), "--policy", MOTB, GTBE, "--format", "html", "-o", str(html)])
    assert code == 0 and "wrote" in err and 'data-chart="threat-index"' in html.read_text(encoding="utf-8")


def test_simulate_cli_bad_input(tmp_path: Path) -> None:
    bad = write(tmp_path, "scenario: x\nduration: 1h\npools:\n  - {name: a, rate: -3}\n")
    code, _, err = run(["simulate", str(bad), "--policy", MOTB])
    assert code == 2 and f"{bad}:4:21: error[scenario]" in err and "Traceback" not in err
    code, _, err = run(["simulate", str(bad), "--policy", MOTB, "--duration=-1h"])
    assert code == 2 and "positive duration" in err
    code, _, err = run(["simulate", str(tmp_path / "missing.yaml"), "--policy", MOTB])
    assert code == 2 and "cannot read the scenario" in err
    good = write(tmp_path, SMALL, "good.scenario.yaml")
    code, _, err = run(["simulate", str(good)])
    assert code == 2 and "names no policies" in err
    code, _, err = run(["simulate", str(good), "--policy", MOTB, "--check"])
    assert code == 0 and "ok: test.small, 2 pools" in err
    code, _, err = run(["shadow", "--scenario", str(good), "--baseline", MOTB, "--candidate", MOTB, "--seeds", "0"])
    assert code == 2 and "at least 1" in err


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal_only(tmp_path: Path) -> None:
    path = write(tmp_path, SMALL)
    terminal = _Terminal()
    assert main(["simulate", str(path), "--policy", MOTB, "--format", "json"], stdout=io.StringIO(), stderr=terminal) == 0
    assert "simulate [" in terminal.getvalue() and "100%" in terminal.getvalue()
    code, _, err = run(["simulate", str(path), "--policy", MOTB, "--format", "json"])
    assert code == 0 and err == ""


def test_a_dryrun_rule_is_counted_and_never_actuated() -> None:
    """Graded enforcement in the simulated mesh: the rule's directives are held back, counted."""
    scenario = load_scenario(SCENARIOS / "load-risk-spike.scenario.yaml")
    motb = next(p for p in scenario.policies if p.endswith("motb.bal"))
    text = Path(motb).read_text(encoding="utf-8")
    trial = text.replace("  rule downgrade_on_load_risk {\n", "  rule downgrade_on_load_risk {\n    mode dryrun\n", 1)
    assert trial != text
    program = ballast.compile(list(scenario.policies), sources={motb: trial})
    report = Simulation(scenario, program).run().report
    assert not [d for d in report["directives"] if d["rule"] == "downgrade_on_load_risk"]
    held = report["kpis"]["held_directives"]
    (key,) = held
    assert key == "dryrun motb.orchestration/downgrade_on_load_risk" and held[key] > 0
