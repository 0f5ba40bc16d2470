"""Fleet and rollout documents: both forms, their checks at the right place, fmt, the schema.

The safety rules are compile errors here; tests/fleet/test_safety_property.py checks them against
a reference model over random fleets and plans.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from fleet_documents import FLEET, PLAN, cluster, compile_pair, fleet, plan, refused
from ruamel.yaml import YAML

from ballast.compiler.pipeline import compile_paths
from ballast.dsl import ast
from ballast.dsl.format import format_document
from ballast.dsl.parser import parse_document
from ballast.dsl.yaml_fleet import CLUSTER_KEYS, FLEET_KEYS, GATE_KEYS, ROLLOUT_KEYS, WAVE_KEYS
from ballast.runtime.fleet import Fleet, Plan

REPO = Path(__file__).resolve().parents[2]
CATALOG = REPO / "catalog" / "fleet"
SIX = [cluster(f"eu-{i}", "eu", "prod" if i else "staging") for i in range(3)] + [
    cluster(f"us-{i}", "us", "prod" if i else "staging") for i in range(3)
]
WAVES = """  select env == "prod"
  wave canary { select id == "eu-1" max_update 1 }
  wave rest { max_update 2 }
"""
ALL_PROD = '"eu-1", "eu-2", "us-1", "us-2"'


def test_the_catalog_plan_compiles_into_canary_regional_global_waves() -> None:
    compilation = compile_paths(
        [str(CATALOG / "edge.fleet.bal"), str(CATALOG / "policy-2026-12.rollout.bal")], stop_after="optimize"
    )
    edge = Fleet.from_ir(compilation.ir["fleets"][0])
    rollout = Plan.from_ir(compilation.ir["rollouts"][0])
    assert len(edge.clusters) == 12
    assert {c.region for c in edge.clusters} == {"eu-west", "us-east", "ap-south"}
    assert {c.env for c in edge.clusters} == {"staging", "prod"}
    waves = {w.name: w.clusters for w in rollout.waves}
    assert list(waves) == ["canary", "regional", "global"]
    assert waves["canary"] == ("eu-west-1",)
    assert set(waves["regional"]) == {"eu-west-2", "eu-west-3"}
    prod = [c.id for c in edge.clusters if c.env == "prod"]
    assert sorted(rollout.targets()) == sorted(prod)  # every prod cluster, once
    assert rollout.gates["health"].count == 5 and rollout.gates["health"].consecutive_success_limit == 3


def test_a_plan_assigns_each_target_to_the_first_wave_that_selects_it() -> None:
    compilation = compile_pair(fleet(SIX), plan(WAVES, allow=ALL_PROD))
    waves = {w["name"]: w["clusters"] for w in compilation.ir["rollouts"][0]["waves"]}
    assert waves == {"canary": ["eu-1"], "rest": ["eu-2", "us-1", "us-2"]}


def test_the_yaml_form_compiles_to_the_same_ir_as_the_bal_form() -> None:
    bal_fleet = fleet([cluster("eu-1", extra='capabilities ["wasm"] slo { p95_ms: 250 }', group="g")])
    bal_plan = plan(
        '  select env == "prod"\n  rollback "always"\n'
        "  gate health { pass when error_budget_burn < 1.0 fail when rule_faults > 0 interval 30s count 2 }\n"
        "  wave all { max_update 1 bake 5m gates [health] }\n",
        allow='"eu-1"',
        ceiling="1",
    )
    yaml_fleet = """fleet: f
version: "1"
clusters:
  eu-1: {region: eu, env: prod, group: g, control_plane: "1.8.2", capabilities: [wasm], slo: {p95_ms: 250}}
"""
    yaml_plan = """rollout: r
version: "1"
fleet: f
profile: prod
ceiling: 1
allow: [eu-1]
select: env == "prod"
rollback: always
gates:
  health: {pass: error_budget_burn < 1.0, fail: rule_faults > 0, interval: 30s, count: 2}
waves:
  - {name: all, max_update: 1, bake: 5m, gates: [health]}
"""
    from_bal = compile_paths(["f.bal", "r.bal"], sources={"f.bal": bal_fleet, "r.bal": bal_plan}, stop_after="optimize")
    from_yaml = compile_paths(
        ["f.yaml", "r.yaml"], sources={"f.yaml": yaml_fleet, "r.yaml": yaml_plan}, stop_after="optimize"
    )

    def plain(ir: object) -> object:  # positions and file names differ between the forms
        if isinstance(ir, dict):
            return {k: plain(v) for k, v in ir.items() if k not in ("at", "file")}
        if isinstance(ir, list):
            return [plain(v) for v in ir]
        return ir

    for key in ("fleets", "rollouts"):
        assert plain(from_yaml.ir[key]) == plain(from_bal.ir[key])


def test_the_yaml_catalog_compiles_and_matches_the_schema() -> None:
    schema = json.loads((REPO / "dsl" / "fleet.schema.json").read_text(encoding="utf-8"))
    for path in sorted(CATALOG.glob("*.yaml")):
        jsonschema.Draft202012Validator(schema).validate(YAML(typ="safe").load(path.read_text(encoding="utf-8")))
    compile_paths([str(CATALOG / "eu-west.fleet.yaml"), str(CATALOG / "eu-west.rollout.yaml")], stop_after="optimize")


def test_the_schema_and_the_yaml_reader_take_the_same_keys() -> None:
    defs = json.loads((REPO / "dsl" / "fleet.schema.json").read_text(encoding="utf-8"))["$defs"]
    for name, keys in (
        ("fleet", FLEET_KEYS),
        ("cluster", CLUSTER_KEYS),
        ("rollout", ROLLOUT_KEYS),
        ("gate", GATE_KEYS),
        ("wave", WAVE_KEYS),
    ):
        assert set(defs[name]["properties"]) == set(keys), name


@pytest.mark.parametrize("path", sorted(CATALOG.glob("*.bal")), ids=lambda p: p.name)
def test_fmt_is_idempotent_and_keeps_the_meaning(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    document = parse_document(text, str(path))
    once = format_document(document)
    assert once == text  # the catalog is kept formatted
    again = parse_document(once, str(path))
    assert format_document(again) == once
    assert [type(i) for i in again.items] == [type(i) for i in document.items]


# ---- errors at the place to change ----


def test_an_unknown_setting_is_named_with_did_you_mean() -> None:
    [error] = refused(fleet([cluster("a", extra='regoin "x"')]), plan(WAVES), "name")
    assert "has no setting 'regoin'" in error.message and "did you mean 'region'" in error.hint
    assert (error.span.file, error.span.line) == (FLEET, 2)


def test_a_value_of_the_wrong_form_says_what_to_write() -> None:
    [error] = refused(fleet(SIX), plan(WAVES.replace("max_update 2", "max_update 2m"), allow=ALL_PROD), "type")
    assert error.message == "'max_update' takes a percentage or a number, got a duration"
    assert error.span.file == PLAN and error.hint == "write `max_update 25%`"


def test_an_env_typo_cannot_hide_a_prod_cluster() -> None:
    [error] = refused(fleet([cluster("a", env="production")]), plan(WAVES), "env")
    assert "did you mean 'prod'" in error.hint


def test_duplicate_clusters_and_bad_versions_are_refused() -> None:
    refused(fleet([cluster("a"), cluster("a")]), plan(WAVES), "duplicate")
    refused(fleet([cluster("a").replace('"1.8.2"', '"v1.8"')]), plan(WAVES), "version")


def test_a_non_prod_profile_never_selects_prod() -> None:
    [error] = refused(fleet(SIX), plan('  select region == "eu"\n  wave all { }\n', profile="staging"), "safety")
    assert "profile 'staging' selects prod clusters: eu-1, eu-2" in error.message
    assert error.span.file == PLAN and error.span.line == 5  # the select
    compile_pair(fleet(SIX), plan('  select env == "staging"\n  wave all { }\n', profile="staging"))


def test_prod_targets_need_the_allowlist() -> None:
    [error] = refused(fleet(SIX), plan(WAVES, allow='"eu-1", "eu-2", "us-1"'), "safety")
    assert error.message == "prod clusters targeted without being allowed: us-2"
    assert error.span.line == 5  # the allow list
    [error] = refused(fleet(SIX), plan(WAVES, allow='"eu-1", "nope"'), "name")
    assert "'nope'" in error.message


def test_a_ceiling_that_lets_no_cluster_of_a_group_move_is_refused() -> None:
    errors = refused(fleet(SIX), plan(WAVES, ceiling="10%", allow=ALL_PROD), "safety")
    assert [e.message.split(":")[0] for e in errors] == [
        "the ceiling 10% lets none of the 3 clusters of group 'eu' update at once",
        "the ceiling 10% lets none of the 3 clusters of group 'us' update at once",
    ]
    assert "at least 34%" in errors[0].hint and errors[0].span.line == 4
    compile_pair(fleet(SIX), plan(WAVES, ceiling="34%", allow=ALL_PROD))


def test_a_wave_that_selects_nothing_and_targets_in_no_wave_are_refused() -> None:
    body = '  select env == "staging"\n  wave none { select region == "mars" }\n  wave all { }\n'
    [error] = refused(fleet(SIX), plan(body, profile="staging"), "wave")
    assert error.message == "wave 'none' selects no cluster"
    body = '  select env == "prod"\n  wave eu { select region == "eu" }\n'
    [error] = refused(fleet(SIX), plan(body, allow=ALL_PROD), "wave")
    assert "2 targeted cluster(s) are in no wave: us-1, us-2" in error.message


def test_gates_are_typed_over_the_telemetry() -> None:
    [error] = refused(fleet(SIX), plan("  gate g { pass when p95_latncy_ms < 3 }\n" + WAVES, allow=ALL_PROD), "name")
    assert "did you mean 'p95_latency_ms'" in error.hint
    [error] = refused(fleet(SIX), plan("  gate g { pass when p95_latency_ms }\n" + WAVES, allow=ALL_PROD), "type")
    assert "must be a bool, got float" in error.message
    [error] = refused(fleet(SIX), plan("  gate g { interval 1m }\n" + WAVES, allow=ALL_PROD), "missing")
    assert "gate 'g' has no condition" in error.message
    body = WAVES.replace("max_update 1", "max_update 1 gates [helth]")
    [error] = refused(fleet(SIX), plan("  gate health { pass when rule_faults == 0 }\n" + body, allow=ALL_PROD), "name")
    assert "did you mean 'health'" in error.hint


def test_a_selector_that_faults_on_a_cluster_is_reported_at_the_selector() -> None:
    body = '  select env == "prod"\n  wave c { select labels["tier"] == "canary" }\n  wave rest { }\n'
    [error] = refused(fleet(SIX), plan(body, allow=ALL_PROD), "select")
    assert error.span.line == 7 and "cluster 'eu-0'" in error.message
    fixed = body.replace('select labels["tier"]', 'select "tier" in labels && labels["tier"]')
    labelled = [c.replace('"eu-1" {', '"eu-1" { labels { tier: "canary" }') for c in SIX]
    compilation = compile_pair(fleet(labelled), plan(fixed, allow=ALL_PROD))
    assert compilation.ir["rollouts"][0]["waves"][0]["clusters"] == ["eu-1"]


def test_the_plan_must_be_compiled_with_its_fleet() -> None:
    [error] = refused(fleet(SIX, name="g"), plan(WAVES, allow=ALL_PROD), "fleet")
    assert "fleet 'f' is not among the files given" in error.message


def test_the_ast_of_a_setting_keeps_the_form_written() -> None:
    document = parse_document(plan('  wave w { max_update 25% bake 1m30s gates [a, "b"] }\n'), PLAN)
    [wave] = document.of(ast.Wave)
    forms = {s.name: (s.kind, s.value) for s in wave.settings}
    assert forms["max_update"] == ("percent", ast.Percent(25.0, "25%"))
    assert forms["bake"][0] == "duration" and forms["bake"][1].seconds == 90
    assert forms["gates"] == ("list", ("a", "b"))
