"""The embeddable runtime: standard library only, never raises for bad events, deterministic.

Policies are compiled with `ballast.compile` (from the catalog or from source strings); bundles
are written with `ballast compile` and loaded with `ballast.runtime.load_bundle`.
"""

from __future__ import annotations

import copy
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

import ballast
from ballast.cli import main as cli_main

REPO = Path(__file__).resolve().parents[2]
MOTB = REPO / "catalog" / "motb.bal"
EVENTS = REPO / "catalog" / "events.jsonl"
EVENT_LINES = [line for line in EVENTS.read_text(encoding="utf-8").splitlines() if line.strip()]
HEAVY = frozenset({"lark", "ruamel", "simpy", "networkx", "numpy", "jsonschema", "yaml", "nacl"})
DIRECTIVE_FIELDS = [
    "directive_id",
    "policy",
    "rule",
    "action",
    "targets",
    "params",
    "priority",
    "impact",
    "reason",
    "rationale",
]

NESTED = """\
policy nested version "2" {
  input sample {
    name: string
    count: int
    total: float
    meta: { zone: string, weight: float in [0, 10] }
    tags?: list<string>
  }
  rule ratio_high {
    when total / count > 2.0
    then scale(targets: name, by: 1)
    priority 10
    reason "total {total:.2f} over {count}"
  }
  rule heavy {
    when meta.weight > 5.0 || "urgent" in tags
    then scale(targets: name, by: 2)
    priority 5
    reason "weight {meta.weight:.1f} in {meta.zone}"
  }
}
"""


def catalog_event(line: int) -> dict:
    return json.loads(EVENT_LINES[line - 1])


def nested_event(**changes: object) -> dict:
    ev = {"name": "n", "count": 2, "total": 10.0, "meta": {"zone": "z", "weight": 7.0}, "tags": ["a"]}
    ev.update(changes)
    return ev


@pytest.fixture(scope="module")
def motb() -> ballast.PolicySet:
    return ballast.compile([MOTB])


@pytest.fixture(scope="module")
def nested() -> ballast.PolicySet:
    return ballast.compile(["nested.bal"], sources={"nested.bal": NESTED})


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bundle") / "motb.bundle.json"
    assert cli_main(["compile", str(MOTB), "-o", str(path)], stdout=_Sink(), stderr=_Sink()) == 0
    return path


class _Sink:
    def write(self, text: str) -> int:
        return len(text)


def fresh_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env={**os.environ, "PYTHONUTF8": "1", **env},
        timeout=60,
    )


# ---- (a) the runtime imports nothing heavy ----

_FORBIDDEN = f"""
import sys
def forbidden():
    return sorted(m for m in sys.modules
                  if m.split(".")[0] in {sorted(HEAVY)!r}
                  or m.startswith(("ballast.compiler", "ballast.dsl")))
"""


def test_import_runtime_in_a_fresh_interpreter_imports_no_compiler_dependency() -> None:
    proc = fresh_python(_FORBIDDEN + "import ballast.runtime\nprint(forbidden())")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_loading_a_bundle_and_evaluating_imports_no_compiler_dependency(bundle: Path) -> None:
    code = _FORBIDDEN + (
        "import json\n"
        "from ballast.runtime import load_bundle\n"
        f"policies = load_bundle({str(bundle)!r}, allow_unsigned=True)\n"
        f"result = policies.evaluate(json.loads({EVENT_LINES[3]!r}))\n"
        "print(json.dumps(result.to_dict()))\n"  # reads ids, reasons and rationale too
        "print(forbidden())\n"
    )
    proc = fresh_python(code)
    assert proc.returncode == 0, proc.stderr
    result_line, modules_line = proc.stdout.strip().splitlines()
    assert [d["rule"] for d in json.loads(result_line)["directives"]] == ["downgrade_on_load_risk"]
    assert modules_line == "[]"


def test_the_forbidden_check_can_see_a_heavy_import() -> None:
    # guards the two tests above against a check that could never find anything
    proc = fresh_python(_FORBIDDEN + "import ballast.dsl.parser\nprint(forbidden())")
    assert proc.returncode == 0, proc.stderr
    found = eval(proc.stdout)  # a printed list of module names
    assert "lark" in found and "ballast.dsl.parser" in found


# ---- (b) bad events never raise ----


def _set(field: str, value: object):
    return lambda ev: {**ev, field: value}


def _drop(field: str):
    return lambda ev: {k: v for k, v in ev.items() if k != field}


CATALOG_CASES = {
    "missing": (_drop("load"), "load", "required field 'load' is missing", "send 'load' as float"),
    "unknown": (
        _set("latency_p95", 140.0),
        "latency_p95",
        "unknown field 'latency_p95'",
        "did you mean 'latency_p95_ms'?",
    ),
    "wrong-type": (_set("load", "high"), "load", "'load' must be float, got the string 'high'", ""),
    "bool-for-int": (_set("workers", True), "workers", "'workers' must be int, got a bool", ""),
    "bool-for-float": (_set("risk", False), "risk", "'risk' must be float, got a bool", ""),
    "fraction-for-int": (_set("workers", 8.5), "workers", "'workers' must be int, got the number 8.5", ""),
    "out-of-range": (_set("load", 1.7), "load", "'load' = 1.7 is out of range [0, 1]", "widen the range"),
    "below-range": (_set("risk", -1), "risk", "'risk' = -1.0 is out of range [0, 100]", "fix the producer"),
    "nan": (_set("load", math.nan), "load", "'load' must be float, got the number nan", "finite"),
    "inf": (_set("risk", math.inf), "risk", "'risk' must be float, got the number inf", "finite"),
    "-inf": (_set("dispatch_rate", -math.inf), "dispatch_rate", "got the number -inf", "finite"),
    "null-required": (_set("risk", None), "risk", "required field 'risk' is null", "send 'risk' as float"),
    "enum": (
        _set("tier", "critcal"),
        "tier",
        '\'tier\' must be enum("critical", "standard", "batch"), got the string \'critcal\'',
        "did you mean 'critical'?",
    ),
    "enum-not-a-string": (_set("tier", 1), "tier", "'tier' must be enum(", ""),
}


@pytest.mark.parametrize("case", CATALOG_CASES, ids=str)
def test_bad_event_gives_one_invalid_event_problem(motb: ballast.PolicySet, case: str) -> None:
    change, field, message, hint = CATALOG_CASES[case]
    good = catalog_event(4)
    assert motb.evaluate(good).directives  # the unbroken event fires: losing it is the bad field's doing
    result = motb.evaluate(change(good))
    assert result.directives == []
    assert not result.ok
    (problem,) = result.errors
    assert isinstance(problem, ballast.Problem)
    assert (problem.kind, problem.policy, problem.field) == ("invalid-event", "motb.orchestration", field)
    assert message in problem.message
    assert hint in problem.hint


@pytest.mark.parametrize(
    ("event", "kind"), [([1, 2], "a list"), ("load", "the string 'load'"), (None, "null"), (42, "the number 42")]
)
def test_an_event_that_is_not_an_object(motb: ballast.PolicySet, event: object, kind: str) -> None:
    result = motb.evaluate(event)
    assert result.directives == []
    (problem,) = result.errors
    assert problem.kind == "invalid-event"
    assert problem.message == f"an event must be a JSON object, got {kind}"


def test_every_problem_of_an_event_is_reported(motb: ballast.PolicySet) -> None:
    ev = {**catalog_event(4), "load": 3.0, "tier": "gold", "extra": 1}
    del ev["risk"]
    result = motb.evaluate(ev)
    assert {p.field for p in result.errors} == {"load", "tier", "extra", "risk"}
    assert result.directives == []


NESTED_CASES = {
    "record-field-type": (
        lambda ev: {**ev, "meta": {"zone": "z", "weight": "heavy"}},
        {("meta.weight", "'meta.weight' must be float, got the string 'heavy'")},
    ),
    "record-field-missing": (
        lambda ev: {**ev, "meta": {"weight": 7.0}},
        {("meta.zone", "required field 'meta.zone' is missing")},
    ),
    "record-field-unknown-and-out-of-range": (
        lambda ev: {**ev, "meta": {"zone": "z", "weight": 70.0, "zome": "y"}},
        {
            ("meta.zome", "unknown field 'meta.zome'"),
            ("meta.weight", "'meta.weight' = 70.0 is out of range [0, 10]"),
        },
    ),
    "record-not-an-object": (
        lambda ev: {**ev, "meta": ["z", 7.0]},
        {("meta", "'meta' must be record, got a list")},
    ),
    "list-item": (
        lambda ev: {**ev, "tags": ["a", 3]},
        {("tags[1]", "'tags[1]' must be string, got the number 3")},
    ),
}


@pytest.mark.parametrize("case", NESTED_CASES, ids=str)
def test_nested_errors_name_the_full_path(nested: ballast.PolicySet, case: str) -> None:
    change, expected = NESTED_CASES[case]
    assert nested.evaluate(nested_event()).directives
    result = nested.evaluate(change(nested_event()))
    assert result.directives == []
    assert {(p.field, p.message) for p in result.errors} == expected
    assert {p.kind for p in result.errors} == {"invalid-event"}


def test_unknown_nested_field_gets_a_did_you_mean(nested: ballast.PolicySet) -> None:
    result = nested.evaluate(nested_event(meta={"zone": "z", "weight": 7.0, "wieght": 1}))
    (problem,) = result.errors
    assert problem.hint == "did you mean 'weight'?"


def test_an_int_where_a_float_is_declared_is_promoted(motb: ballast.PolicySet) -> None:
    result = motb.evaluate({**catalog_event(4), "risk": 83, "latency_p95_ms": 140})
    assert result.errors == []
    (directive,) = result.directives
    assert directive.rule == "downgrade_on_load_risk"
    assert directive.reason == "load 0.92 and risk 83 above 0.8 / 80 on standard pool B"
    risk_check = next(c for c in directive.rationale if c["check"] == "risk > risk_limit")
    assert risk_check["inputs"] == {"risk": 83.0}
    assert type(risk_check["inputs"]["risk"]) is float


def test_optional_field_may_be_absent_or_null(nested: ballast.PolicySet) -> None:
    without = {k: v for k, v in nested_event().items() if k != "tags"}
    assert nested.evaluate(without).errors == []
    assert nested.evaluate({**without, "tags": None}).errors == []


# ---- (c) a faulting rule ----


def test_a_faulting_condition_is_reported_and_the_other_rules_still_fire(nested: ballast.PolicySet) -> None:
    result = nested.evaluate(nested_event(count=0))
    (problem,) = result.errors
    assert (problem.kind, problem.policy, problem.rule) == ("evaluation", "nested", "ratio_high")
    assert "division by zero" in problem.message
    assert "did not fire" in problem.hint
    assert [d.rule for d in result.directives] == ["heavy"]
    assert result.to_dict()["errors"] == [problem.to_dict()]
    # with a count that does not fault, both rules fire
    assert [d.rule for d in nested.evaluate(nested_event(count=2)).directives] == ["ratio_high", "heavy"]


# ---- (d) determinism ----


def _all_results(policies: ballast.PolicySet) -> str:
    return "\n".join(json.dumps(policies.evaluate(json.loads(line)).to_dict(), sort_keys=True) for line in EVENT_LINES)


def test_same_bundle_and_event_give_identical_output_across_loads(bundle: Path) -> None:
    first, second = ballast.load(bundle, allow_unsigned=True), ballast.load(bundle, allow_unsigned=True)
    assert first is not second
    out = _all_results(first)
    assert out == _all_results(second)
    ids = [d["directive_id"] for line in out.splitlines() for d in json.loads(line)["directives"]]
    assert len(ids) > 5 and all(len(i) == 20 and int(i, 16) >= 0 for i in ids)
    assert len(set(ids)) == len(ids)  # every directive of the sample is distinct


def test_same_bundle_and_event_give_identical_bytes_across_processes(bundle: Path) -> None:
    code = (
        "import json, sys\n"
        "from ballast.runtime import load_bundle\n"
        f"policies = load_bundle({str(bundle)!r}, allow_unsigned=True)\n"
        f"for line in open({str(EVENTS)!r}, encoding='utf-8'):\n"
        "    if line.strip():\n"
        "        print(json.dumps(policies.evaluate(json.loads(line)).to_dict(), sort_keys=True))\n"
    )
    one = fresh_python(code, PYTHONHASHSEED="1")
    two = fresh_python(code, PYTHONHASHSEED="2")
    assert one.returncode == two.returncode == 0, one.stderr + two.stderr
    assert one.stdout.encode() == two.stdout.encode()
    assert one.stdout.strip() == _all_results(ballast.load(bundle, allow_unsigned=True))


def test_directive_id_depends_on_the_event(motb: ballast.PolicySet) -> None:
    a = motb.evaluate(catalog_event(4)).directives[0]
    b = motb.evaluate({**catalog_event(4), "agent": "agent-b2"}).directives[0]
    assert (a.rule, a.action) == (b.rule, b.action)
    assert a.directive_id != b.directive_id


# ---- (e) directives ----

EVERYTHING = {
    "agent": "agent-x",
    "pool": "X",
    "region": "eu-west",
    "tier": "standard",
    "load": 0.95,
    "risk": 90.0,
    "latency_p95_ms": 400.0,
    "error_rate": 0.08,
    "sla_adherence": 99.0,
    "htm_queue_depth": 6000,
    "workers": 8,
    "subscriptions": 3,
    "dispatch_rate": 0.5,
    "policy_depth": 12,
}


def test_directives_come_in_priority_order(motb: ballast.PolicySet) -> None:
    result = motb.evaluate(EVERYTHING)
    assert result.errors == []
    got = [(d.priority, d.rule, d.action) for d in result.directives]
    assert got == [
        (100, "downgrade_on_load_risk", "downgrade"),
        (99, "policy_cascade_limit", "pause"),
        (95, "htm_queue_critical", "scale"),
        (95, "htm_queue_critical", "reroute"),  # one rule's actions stay in the order written
        (85, "error_budget_burn", "reroute"),
        (80, "sla_breach", "scale"),
        (75, "scheduler_stalled", "reroute"),
        (70, "latency_breach", "scale"),
        (50, "trigger_mesh_starved", "pause"),
    ]


def test_directives_of_several_policies_are_merged_by_priority() -> None:
    def policy(name: str, rules: dict[str, int]) -> str:
        body = "".join(
            f'  rule {rule} {{\n    when x > 0\n    then scale(targets: "{rule}", by: 1)\n    priority {p}\n  }}\n'
            for rule, p in rules.items()
        )
        return f'policy {name} version "1" {{\n  input ev {{\n    x: int\n  }}\n{body}}}\n'

    sources = {"one.bal": policy("one", {"low": 1, "high": 10}), "two.bal": policy("two", {"middle": 5})}
    policies = ballast.compile(list(sources), sources=sources)
    directives = policies.evaluate({"x": 1}).directives
    assert [(d.policy, d.rule, d.priority) for d in directives] == [
        ("one", "high", 10),
        ("two", "middle", 5),
        ("one", "low", 1),
    ]


def test_directive_fields_match_the_documentation(motb: ballast.PolicySet) -> None:
    (directive,) = motb.evaluate(catalog_event(4)).directives
    as_dict = directive.to_dict()
    assert list(as_dict) == DIRECTIVE_FIELDS
    assert {name: getattr(directive, name) for name in DIRECTIVE_FIELDS} == as_dict
    assert as_dict["policy"] == "motb.orchestration"
    assert as_dict["rule"] == "downgrade_on_load_risk"
    assert as_dict["action"] == "downgrade"
    assert as_dict["targets"] == ["B"]
    assert as_dict["params"] == {"level": 1}
    assert (as_dict["priority"], as_dict["impact"]) == (100, "low")
    assert as_dict["reason"] == "load 0.92 and risk 83 above 0.8 / 80 on standard pool B"
    json.dumps(as_dict, allow_nan=False)  # plain JSON


def test_rationale_lists_the_checks_that_made_the_condition_true(motb: ballast.PolicySet) -> None:
    (directive,) = motb.evaluate(catalog_event(4)).directives
    assert directive.rationale == [
        {"check": "load > load_limit", "value": True, "inputs": {"load": 0.92}},
        {"check": "risk > risk_limit", "value": True, "inputs": {"risk": 83.0}},
        {"check": 'tier != "critical"', "value": True, "inputs": {"tier": "standard"}},
    ]


def test_rationale_of_an_or_names_only_the_true_side(nested: ballast.PolicySet) -> None:
    light_but_urgent = nested_event(meta={"zone": "z", "weight": 1.0}, tags=["urgent"])
    (directive,) = [d for d in nested.evaluate(light_but_urgent).directives if d.rule == "heavy"]
    assert [c["check"] for c in directive.rationale] == ['"urgent" in tags']
    assert directive.rationale[0]["inputs"] == {"tags": ["urgent"]}


@pytest.mark.parametrize(("load", "shown"), [(0.919, "0.92"), (0.8001, "0.80"), (1, "1.00"), (0.996, "1.00")])
def test_reason_formats_values_with_their_spec(motb: ballast.PolicySet, load: float, shown: str) -> None:
    (directive,) = motb.evaluate({**catalog_event(4), "load": load, "risk": 80.4}).directives
    assert directive.reason == f"load {shown} and risk 80 above 0.8 / 80 on standard pool B"


def test_reason_with_nested_values(nested: ballast.PolicySet) -> None:
    (directive,) = [d for d in nested.evaluate(nested_event()).directives if d.rule == "heavy"]
    assert directive.reason == "weight 7.0 in z"


# ---- (f) the caller's event may change afterwards ----


def test_mutating_a_flat_event_after_evaluate_changes_nothing(motb: ballast.PolicySet) -> None:
    expected = motb.evaluate(catalog_event(4)).to_dict()
    ev = catalog_event(4)
    result = motb.evaluate(ev)
    ev.update(load=0.1, risk=1.0, pool="MUTATED", tier="batch")
    del ev["agent"]
    assert result.to_dict() == expected


def test_mutating_a_nested_event_after_evaluate_changes_nothing(nested: ballast.PolicySet) -> None:
    original = nested_event()
    expected = nested.evaluate(copy.deepcopy(original)).to_dict()
    assert any(d["rule"] == "heavy" for d in expected["directives"])
    result = nested.evaluate(original)
    original["meta"]["zone"] = "MUTATED"
    original["meta"]["weight"] = 9.5
    original["tags"].append("urgent")
    original["name"] = "other"
    assert result.to_dict() == expected
