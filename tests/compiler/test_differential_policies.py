"""Differential test of the fused, indexed policy evaluator against a rule-by-rule reference.

Random small policies (dispatchable equalities on a string and an enum, threshold chains on
numeric fields, shared sub-expressions, conjuncts that fault) are compiled by the whole pipeline;
for random events `PolicySet.evaluate` must report exactly what a naive evaluation reports: each
rule's *unfolded* condition (the IR after check-types, before optimize) evaluated by the reference
interpreter in rule order; a rule fires when its condition is true and faults when evaluation
raises EvaluationError or yields something other than a bool (an absent optional bool);
directives come in (-priority, rule order).
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ballast import EvaluationError
from ballast.compiler.pipeline import compile_paths
from ballast.runtime.interpret import evaluate
from ballast.runtime.validate import validate

PATH = "gen.bal"
SERVICES = ["api", "web", "db", "cache"]
TIERS = ["gold", "silver", "bronze"]
HEADER = f"""policy gen version "1" {{
  input ev {{
    svc: string
    tier: enum({", ".join(f'"{t}"' for t in TIERS)})
    n: int
    k: int
    load: float
    lat: float
    ok?: bool
    opt?: int
    tags: list<string>
  }}
  const limit = 5
  let hot = load > 0.5 && n > 1
  let maybe = ok
  action act(n: int)
"""

svc_lit = st.sampled_from(SERVICES).map(lambda v: f'"{v}"')
tier_lit = st.sampled_from(TIERS).map(lambda v: f'"{v}"')
number = st.sampled_from(["0", "1", "2", "5", "10", "2.5", "0.5", "(-1)", "limit"])
ordering = st.sampled_from(["<", "<=", ">", ">="])
numeric_field = st.sampled_from(["n", "k", "load", "lat"])


def fmt(template: str, *parts: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(*parts).map(lambda values: template.format(*values))


dispatch_atoms = st.one_of(
    fmt("svc == {}", svc_lit),
    fmt("{} == svc", svc_lit),
    fmt("svc in [{}, {}]", svc_lit, svc_lit),
    fmt("svc != {}", svc_lit),
    fmt("tier == {}", tier_lit),
    fmt("tier in [{}, {}]", tier_lit, tier_lit),
    fmt("tier != {}", tier_lit),
    fmt("n == {}", st.sampled_from(["0", "1", "2", "limit"])),
)
threshold_atoms = st.one_of(
    fmt("{} {} {}", numeric_field, ordering, number),
    fmt("{} {} {}", number, ordering, numeric_field),
)
other_atoms = st.sampled_from(
    [
        # faulting parts
        "n / k > 1",
        "n % k == 0",
        'tags[0] == "x"',
        'tags[n] == "a"',
        "opt > 3",
        "opt + n > 2",
        "ok",
        "not ok",
        "!ok",
        "maybe",
        "lat / load > 2.0",
        "len(tags) > 1",
        "k * load > 1.0",
        "n * 1.5 > lat",
        "load + n > 3.0",
        "n - lat < 0.5",
        "(n > 0 ? ok : true)",
        "(ok ? n : k) > 2",
        "abs(n) > 3",
        # cannot fault; shared between rules, so hoisted
        "n + k > 10",
        "n + k < 3",
        "load * 2.0 > lat",
        "(n > 1 || k > 1)",
        "!(n > 1)",
        "hot",
        "has(opt)",
        "!has(ok)",
        "has(ok) && ok",
        "svc in tags",
        'startswith(svc, "c")',
        'matches(svc, "^d")',
        "true",
        "false",
    ]
)
atom = st.one_of(dispatch_atoms, dispatch_atoms, threshold_atoms, threshold_atoms, other_atoms)
condition = st.lists(atom, min_size=1, max_size=4).flatmap(
    lambda atoms: st.sampled_from([" && ", " and "]).map(lambda joiner: joiner.join(atoms))
)
rule_spec = st.tuples(condition, st.sampled_from([None, 0, 1, 5, 10, -1]))


def policy_source(rules: list[tuple[str, int | None]]) -> str:
    out = [HEADER]
    for index, (when, priority) in enumerate(rules):
        out.append(f"  rule r{index} {{\n    when {when}\n    then act(n: {index})\n")
        if priority is not None:
            out.append(f"    priority {priority}\n")
        out.append("  }\n")
    out.append("}\n")
    return "".join(out)


ints = st.one_of(
    st.sampled_from([0, 1, -1, 2, 5, 10]),
    st.sampled_from([2**1100, -(2**1100)]),  # beyond the float range: `n * 1.5` overflows
    st.integers(-12, 12),
    st.integers(),
)
floats = st.one_of(
    st.sampled_from([0.0, -0.0, 0.5, 1.0, 2.5, 5.0, 10.0, 1e300, -1e300]),
    st.floats(-20, 20),
    st.floats(allow_nan=False, allow_infinity=False),
)
events = st.fixed_dictionaries(
    {
        "svc": st.sampled_from([*SERVICES, "zzz", ""]),
        "tier": st.sampled_from(TIERS),
        "n": ints,
        "k": ints,
        "load": floats,
        "lat": floats,
        "tags": st.lists(st.sampled_from(["x", "a", "api", "db", ""]), max_size=3),
    },
    optional={"ok": st.one_of(st.none(), st.booleans()), "opt": st.one_of(st.none(), ints)},
)


def reference(rules: list[dict[str, Any]], data: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(fired rule names in directive order, faulted rule names in rule order), rule by rule."""
    fired: list[int] = []
    faulted: list[str] = []
    for index, rule in enumerate(rules):
        try:
            value = evaluate(rule["when"], data)
        except EvaluationError:
            faulted.append(rule["name"])
            continue
        if value is True:
            fired.append(index)
        elif value is not False:
            faulted.append(rule["name"])  # a condition must be a bool: null here is a fault
    fired.sort(key=lambda i: (-rules[i]["priority"], i))
    return [rules[i]["name"] for i in fired], faulted


def check_policy(source: str, evs: list[dict[str, Any]]) -> None:
    compilation = compile_paths([PATH], sources={PATH: source})
    unfolded = compile_paths([PATH], sources={PATH: source}, stop_after="check-types")
    naive_rules = unfolded.ir["policies"][0]["rules"]
    fields = compilation.ir["policies"][0]["input"]["fields"]
    for ev in evs:
        data, problems = validate(ev, fields)
        assert data is not None, problems
        result = compilation.program.evaluate(ev)
        kinds = {e.kind for e in result.errors}
        assert kinds <= {"evaluation"}, f"on {ev}: {[e.to_dict() for e in result.errors]}"
        got = ([d.rule for d in result.directives], [e.rule for e in result.errors])
        want = reference(naive_rules, data)
        assert got == want, (
            f"on {ev}:\n  fused:     fired {got[0]}, faulted {got[1]}\n  reference: fired {want[0]}, "
            f"faulted {want[1]}\n{source}\n{compilation.program.python_source()}"
        )


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(rules=st.lists(rule_spec, min_size=3, max_size=40), evs=st.lists(events, min_size=1, max_size=8))
def test_fused_evaluator_matches_rule_by_rule(rules: list[tuple[str, int | None]], evs: list[dict[str, Any]]) -> None:
    check_policy(policy_source(rules), evs)


# ---- the layouts the generator is meant to reach, as fast regressions ----

BASE_EVENT = {"svc": "api", "tier": "gold", "n": 3, "k": 0, "load": 0.75, "lat": 2.0, "tags": []}


def test_plan_uses_dispatch_chains_and_hoisting() -> None:
    rules = [
        ('svc == "api" && n > 1 && n + k > 2', 0),
        ('svc == "api" && n > 2 && n + k > 2', 5),
        ('svc == "web" && load > 0.5', None),
        ('svc in ["db", "api"] && n >= 3 && n / k > 1', 1),
        ("n > 2 && lat < 10", None),
        ("n > 5 && lat < 10", None),
    ]
    source = policy_source(rules)
    compilation = compile_paths([PATH], sources={PATH: source})
    plan = compilation.ir["policies"][0]["plan"]
    assert plan["groups"][0]["key_path"] == ["svc"]
    assert any(group["chains"] for group in plan["groups"])
    assert any(group["shared"] for group in plan["groups"])
    evs = [BASE_EVENT, {**BASE_EVENT, "k": 1}, {**BASE_EVENT, "svc": "db", "n": 7, "k": 2}, {**BASE_EVENT, "n": 2}]
    check_policy(source, evs)


def test_has_of_an_absent_field_in_a_rule() -> None:
    # Was: the matcher read `ev["opt"]` for the local of has(opt) -> KeyError, an internal error
    # that dropped every rule of the policy.
    check_policy(policy_source([("has(opt)", None), ("n > 0", None), ("!has(ok)", None)]), [BASE_EVENT])


def test_mixed_int_float_overflow_faults_only_its_rule() -> None:
    # Was: `n * 1.5` counted as unable to fault, so it ran unguarded (hoisted or in a chain) and
    # an int beyond the float range made the whole matcher raise: an internal error.
    rules = [("n * 1.5 > 3.0", None), ("n > 0", None), ('n * 1.5 > 2.0 && svc == "api"', None), ("k * load > 1.0", 3)]
    check_policy(policy_source(rules), [{**BASE_EVENT, "n": 2**1100, "k": -(2**1100)}])


def test_absent_optional_bool_faults_its_rule() -> None:
    rules = [("ok", None), ("not ok", None), ("(n > 0 ? ok : true)", None), ("maybe && n > 0", None), ("n > 0", 2)]
    check_policy(policy_source(rules), [BASE_EVENT, {**BASE_EVENT, "ok": True}, {**BASE_EVENT, "ok": False}])
