"""`ballast check`'s proofs (compiler/prove.py): never, shadowed and conflict, each with a witness.

Every finding is checked against the runtime: the witness input, evaluated by the reference
interpreter, really makes both rules fire (shadowed, conflict), and a rule the solver says never
fires does not fire on a sweep of its inputs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ballast.compiler import prove
from ballast.compiler.pipeline import compile_paths
from ballast.paths import expand_policies
from ballast.runtime.interpret import evaluate_condition
from ballast.runtime.ir import IR

REPO = Path(__file__).resolve().parents[2]

HEADER = """policy t.p version "1.0.0" {
  input telemetry {
    ts: timestamp
    pool: string
    tier: enum("critical", "standard", "batch")
    load: float in [0, 1]
    queue: int in [0, 100000]
    depth: int
    seq: int
    canary?: bool
  }
  stream { time ts }
"""
# A complete event, for the fields a witness leaves free.
BASE = {"ts": 0.0, "pool": "p", "tier": "standard", "load": 0.5, "queue": 0, "depth": 0, "seq": 0}


def compile_body(body: str) -> Any:
    source = HEADER + body + "}\n"
    return compile_paths(["t.bal"], stop_after="optimize", sources={"t.bal": source}), source


def check(body: str, timeout_ms: int = prove.TIMEOUT_MS) -> tuple[list[Any], list[Any], IR, str]:
    """(the optimizer's warnings, the solver's new ones, the policy's IR, the source)."""
    compilation, source = compile_body(body)
    (policy,) = compilation.ir["policies"]
    return compilation.warnings, prove.prove(compilation, timeout_ms), policy, source


def position(source: str, text: str) -> tuple[int, int]:
    """1-based line and column of the first occurrence of `text`."""
    before = source[: source.index(text)]
    return before.count("\n") + 1, len(before) - before.rfind("\n")


def rule_ir(policy: IR, name: str) -> IR:
    return next(r for r in policy["rules"] if r["name"] == name)


def witness_event(message: str) -> dict[str, Any]:
    """The input a message's `(both fire on a = 1, b = "x")` names, completed from BASE."""
    text = message.split("both fire on ", 1)[1].rsplit(")", 1)[0].split(", assuming")[0]
    event: dict[str, Any] = dict(BASE)
    for item in text.split(", "):
        if item.endswith(" absent"):
            event.pop(item[: -len(" absent")], None)
            continue
        name, value = item.split(" = ", 1)
        key = name if "(" not in name else "@" + name  # a window aggregate: the Engine's slot
        event[key] = json.loads(value)
    return event


# ---------------------------------------------------------------- never


def test_a_rule_that_cannot_fire_within_the_ranges_is_reported_with_why() -> None:
    body = "  rule doubled {\n    when load * 2 > 3 && queue > 1\n    then scale(targets: pool)\n  }\n"
    syntactic, found, policy, source = check(body)
    assert syntactic == []  # `load * 2` is beyond the optimizer's bounds
    (d,) = found
    assert d.code == "never" and (d.span.line, d.span.column) == position(source, "load * 2 > 3")
    assert d.message == "rule 'doubled' can never fire: load * 2 > 3 cannot hold (load is declared in [0, 1])"
    when = rule_ir(policy, "doubled")["when"]
    for step in range(101):
        assert not evaluate_condition(when, {**BASE, "load": step / 100, "queue": 5})


def test_integer_arithmetic_is_exact() -> None:
    body = "  rule between {\n    when depth > 3 && depth < 4\n    then scale(targets: pool)\n  }\n"
    _, found, _, _ = check(body)
    assert [d.message for d in found] == ["rule 'between' can never fire: depth > 3 && depth < 4 contradict each other"]


def test_a_rule_the_optimizer_already_found_is_not_reported_twice() -> None:
    body = "  rule out_of_range {\n    when load > 1.5\n    then pause(targets: pool)\n  }\n"
    syntactic, found, policy, _ = check(body)
    assert [d.code for d in syntactic] == ["never"] and found == []
    # the solver agrees: its own finding is the same warning at the same place
    (confirmed,) = prove.findings(policy)
    assert (confirmed.code, confirmed.span) == (syntactic[0].code, syntactic[0].span)


def test_a_stateful_rule_never_fires_when_its_window_value_cannot_hold() -> None:
    body = (
        "  rule hot {\n    group by pool\n    when avg(load, 1m) > 2\n    for 1m\n    then scale(targets: pool)\n  }\n"
    )
    _, found, _, source = check(body)
    (d,) = found
    assert (d.span.line, d.span.column) == position(source, "avg(load, 1m) > 2")
    assert d.message.endswith("avg(load, 1m) > 2 cannot hold (avg(load, 1m) is in [0, 1], as load is)")


def test_a_condition_that_always_faults_never_fires() -> None:
    body = "  rule divided {\n    when queue / (depth - depth) > 1\n    then scale(targets: pool)\n  }\n"
    _, found, _, _ = check(body)
    assert [d.code for d in found] == ["never"]


# ---------------------------------------------------------------- shadowed


SHADOWING = """  rule busy {
    when queue > 100 || load > 0.9
    then scale(targets: pool, by: 2)
  }
  rule very_busy {
    when queue * 2 > 400 && tier == "critical"
    then scale(targets: pool, by: 2)
  }
"""


def test_a_rule_implied_by_an_earlier_one_with_the_same_actions_is_shadowed() -> None:
    syntactic, found, policy, source = check(SHADOWING)
    assert syntactic == []  # `queue * 2 > 400` is beyond the optimizer's implication check
    (d,) = found
    assert d.code == "shadowed" and (d.span.line, d.span.column) == position(source, "rule very_busy")
    assert d.message.startswith(
        "rule 'very_busy' is shadowed by rule 'busy': whenever it fires, 'busy' fires with the same actions"
    )
    event = witness_event(d.message)
    assert evaluate_condition(rule_ir(policy, "very_busy")["when"], event)
    assert evaluate_condition(rule_ir(policy, "busy")["when"], event)


def test_a_rule_of_higher_priority_is_not_shadowed_by_a_lower_one() -> None:
    # very_busy comes first in the directives, and a queue keeps its priority: it is not redundant
    body = SHADOWING.replace('tier == "critical"\n', 'tier == "critical"\n    priority 5\n')
    syntactic, found, _, _ = check(body)
    assert syntactic == [] and found == []


def test_priority_decides_which_rule_shadows_which() -> None:
    # the narrower rule comes first in the file, the wider one ranks ahead of it
    body = """  rule narrow {
    when queue > 500
    then pause(targets: pool)
  }
  rule wide {
    when queue > 100
    then pause(targets: pool)
    priority 10
  }
"""
    syntactic, found, _, _ = check(body)
    (d,) = syntactic  # the optimizer ranks rules the same way
    assert d.code == "shadowed" and d.message.startswith("rule 'narrow' is shadowed by rule 'wide'")
    assert found == []  # the solver agrees and does not say it again


def test_rules_whose_actions_differ_are_not_shadowed() -> None:
    _, found, _, _ = check(SHADOWING.replace("by: 2)\n  }\n", "by: 3)\n  }\n", 1))
    assert found == []


def test_a_fault_in_the_earlier_rule_keeps_the_later_one_useful() -> None:
    # whenever `late` holds, `early` holds too, unless depth is 0: then `early` faults, `late` fires
    body = """  rule early {
    when queue / depth >= 0 && queue > 10
    then pause(targets: pool)
  }
  rule late {
    when queue > 20
    then pause(targets: pool)
  }
"""
    _, found, _, _ = check(body)
    assert found == []


def test_stateful_rules_are_never_shadowed() -> None:
    body = (
        "  rule a {\n    when queue > 100\n    for 1m\n    then pause(targets: pool)\n  }\n"
        "  rule b {\n    when queue > 500\n    for 1m\n    then pause(targets: pool)\n  }\n"
    )
    _, found, _, _ = check(body)
    assert found == []


# ---------------------------------------------------------------- conflict


CONFLICT = """  rule grow {
    when load > 0.8
    then scale(targets: pool, by: 2)
  }
  rule shrink {
    when queue < 10 && tier != "critical"
    then scale(targets: [pool, "spare"], by: -1)
  }
"""


def test_two_rules_scaling_the_same_targets_both_ways_on_one_input_conflict() -> None:
    _, found, policy, source = check(CONFLICT)
    (d,) = found
    assert d.code == "conflict"
    assert (d.span.line, d.span.column) == position(source, 'scale(targets: [pool, "spare"], by: -1)')
    assert d.message.startswith(
        "rules 'grow' and 'shrink' scale pool in opposite directions on the same input: 'grow' by 2, 'shrink' by -1"
    )
    event = witness_event(d.message)
    assert evaluate_condition(rule_ir(policy, "grow")["when"], event)
    assert evaluate_condition(rule_ir(policy, "shrink")["when"], event)


@pytest.mark.parametrize(
    "change",
    [
        ("when queue < 10", "when load < 0.5 && queue < 10"),  # never on the same input
        ("by: -1", "by: 1"),  # the same direction
        ('[pool, "spare"]', '"spare"'),  # other targets
    ],
    ids=["exclusive", "same-direction", "other-targets"],
)
def test_no_conflict_without_overlap_opposition_and_a_common_target(change: tuple[str, str]) -> None:
    _, found, _, _ = check(CONFLICT.replace(*change))
    assert found == []


def test_a_computed_amount_conflicts_where_it_has_the_other_sign() -> None:
    body = CONFLICT.replace("by: -1", "by: 5 - depth")
    _, found, policy, _ = check(body)
    (d,) = found
    event = witness_event(d.message)
    assert 5 - event["depth"] < 0
    assert evaluate_condition(rule_ir(policy, "shrink")["when"], event)


def test_a_witness_that_rests_on_an_unmodelled_function_says_so() -> None:
    body = CONFLICT.replace('tier != "critical"', 'lower(pool) == "edge"')
    _, found, _, _ = check(body)
    (d,) = found
    assert "assuming lower(pool) can be as shown" in d.message


# ---------------------------------------------------------------- limits


def test_a_question_the_solver_cannot_answer_in_time_gives_no_warning() -> None:
    # x³ + y³ = z³ has no positive solution (Fermat), which the solver cannot prove in 50 ms
    body = (
        "  rule cubes {\n    when queue > 0 && depth > 0 && seq > 0 && "
        "queue * queue * queue + depth * depth * depth == seq * seq * seq\n"
        "    then scale(targets: pool)\n  }\n"
    )
    compilation, _ = compile_body(body)
    (policy,) = compilation.ir["policies"]
    proof = prove.Prover(policy, 50).run()
    assert not proof.complete and proof.diagnostics == []


def test_too_many_pairs_skip_the_pairwise_questions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prove, "MAX_PAIRS", 0)
    _, found, _, _ = check(CONFLICT + SHADOWING)
    assert found == []


def test_the_catalog_has_no_findings() -> None:
    compilation = compile_paths(expand_policies([str(REPO / "catalog")]), stop_after="optimize")
    for policy in compilation.ir["policies"]:
        proof = prove.Prover(policy, prove.TIMEOUT_MS).run()
        assert proof.complete and proof.diagnostics == [], policy["name"]


def test_the_solver_confirms_the_optimizers_warnings_of_the_golden_file() -> None:
    path = REPO / "tests" / "golden" / "dsl" / "warnings.bal"
    compilation = compile_paths([str(path)], stop_after="optimize")
    (policy,) = compilation.ir["policies"]
    proven = {(d.code, d.span) for d in prove.findings(policy)}
    syntactic = {(d.code, d.span) for d in compilation.warnings if d.code in ("never", "shadowed")}
    assert syntactic and syntactic <= proven
    assert prove.prove(compilation) == []  # nothing else, so `check`'s golden output is unchanged


# ---------------------------------------------------------------- the cache


def test_cached_findings_equal_computed_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BALLAST_CACHE_DIR", str(tmp_path))
    compilation, _ = compile_body(CONFLICT + SHADOWING.replace("busy", "b"))
    (policy,) = compilation.ir["policies"]
    first = prove.findings(policy)
    assert {d.code for d in first} == {"shadowed", "conflict"}
    assert len(list((tmp_path / "proofs").iterdir())) == 1
    assert prove.findings(policy) == first
    other = json.loads(json.dumps(policy))
    other["rules"][0]["when"]["r"]["v"] = 0.7  # another IR is another entry
    assert prove.findings(other) != [] and len(list((tmp_path / "proofs").iterdir())) == 2


def test_an_unanswered_question_is_not_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BALLAST_CACHE_DIR", str(tmp_path))
    compilation, _ = compile_body(CONFLICT)
    (policy,) = compilation.ir["policies"]

    def unknown(self: prove.Prover, *formulas: Any) -> Any:
        self.proof.complete = False
        return self.z3.unknown

    monkeypatch.setattr(prove.Prover, "ask", unknown)
    assert prove.findings(policy) == []
    assert not (tmp_path / "proofs").exists() or not list((tmp_path / "proofs").iterdir())


WARM = """
import io, json, sys
from ballast.cli import main
out = io.StringIO()
code = main(["check", *sys.argv[1:]], stdout=out, stderr=io.StringIO())
print(json.dumps({"code": code, "out": out.getvalue(), "z3": "z3" in sys.modules}))
"""


def test_a_warm_check_imports_no_z3_and_prints_the_same(tmp_path: Path) -> None:
    policy = tmp_path / "p.bal"
    policy.write_text(HEADER + CONFLICT + "}\n", encoding="utf-8")
    env = {**os.environ, "BALLAST_CACHE_DIR": str(tmp_path / "cache"), "PYTHONUTF8": "1"}

    def run(*paths: str) -> dict[str, Any]:
        done = subprocess.run(
            [sys.executable, "-c", WARM, *paths], capture_output=True, text=True, cwd=REPO, env=env, timeout=120
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    for paths in (["catalog/"], [str(policy)]):
        cold, warm = run(*paths), run(*paths)
        assert cold["z3"] and not warm["z3"]
        assert warm["out"] == cold["out"] and warm["code"] == cold["code"]
    assert "warning[conflict]" in warm["out"]


def test_a_number_the_solver_cannot_represent_leaves_the_rule_unmodelled() -> None:
    # 1e999 is infinite: no exact rational, so the rule is not asked about (and nothing crashes)
    _, found, _, _ = check(CONFLICT.replace("load > 0.8", "load * 1e999 > 0.8"))
    assert found == []
