"""Policy parameters: read a compiled set's consts, change them, and the change reaches every
place the const is read, the evaluator's plan included; bad names and values are refused."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ballast
from ballast.compiler.parameters import parameters, retune
from ballast.runtime.engine import Engine
from ballast.runtime.errors import UsageError
from ballast.runtime.policy import PolicySet

POLICY = """policy p version "1" {
  input telemetry {
    pool: string
    load: float in [0, 1]
    queue: int in [0, 100000]
  }
  const load_limit = 0.8
  const queue_limit = 100
  rule hot {
    when load > load_limit && pool == "a"
    then pause(targets: pool)
  }
  rule cool {
    when load > load_limit && pool == "b"
    then pause(targets: pool)
  }
  rule deep {
    when queue >= queue_limit
    then pause(targets: pool)
  }
}
"""


def compiled() -> PolicySet:
    return ballast.compile(["p.bal"], sources={"p.bal": POLICY})


def fired(policies: PolicySet, event: dict) -> list[str]:
    return sorted(d.rule for d in policies.evaluate(event).directives)


def test_the_parameters_are_the_consts_by_policy() -> None:
    assert parameters(compiled()) == {"p.load_limit": 0.8, "p.queue_limit": 100}


@settings(max_examples=40, deadline=None)
@given(st.floats(min_value=0, max_value=1), st.floats(min_value=0, max_value=1), st.sampled_from(["a", "b", "c"]))
def test_a_retuned_set_decides_as_one_compiled_with_the_new_value(limit: float, load: float, pool: str) -> None:
    reference = ballast.compile(["p.bal"], sources={"p.bal": POLICY.replace("= 0.8", f"= {limit!r}")})
    event = {"pool": pool, "load": load, "queue": 0}
    assert fired(retune(compiled(), {"p.load_limit": limit}), event) == fired(reference, event)


def test_an_engine_runs_the_new_value_from_the_next_event() -> None:
    engine = Engine(compiled())
    event = {"pool": "a", "load": 0.7, "queue": 0}
    assert engine.process(event).directives == []
    engine.reload(retune(engine.policies, {"p.load_limit": 0.6}))
    assert [d.rule for d in engine.process(event).directives] == ["hot"]


def test_bad_names_and_values_are_refused() -> None:
    policies = compiled()
    with pytest.raises(
        UsageError, match=re.escape("no parameter 'p.load_limt' in the policy set: did you mean 'p.load_limit'")
    ):
        retune(policies, {"p.load_limt": 0.5})
    with pytest.raises(UsageError, match=re.escape("'p.queue_limit' is an int: 10.5 is not a whole number")):
        retune(policies, {"p.queue_limit": 10.5})
    with pytest.raises(UsageError, match="takes a number"):
        retune(policies, {"p.load_limit": "high"})  # type: ignore[dict-item]
    assert fired(retune(policies, {"p.queue_limit": 10.0}), {"pool": "c", "load": 0, "queue": 10}) == ["deep"]
    assert parameters(policies)["p.load_limit"] == 0.8  # the original set is unchanged


def test_a_loaded_bundle_has_no_ir_to_retune(tmp_path: Path) -> None:
    bundle = PolicySet(compiled().ir)  # as `ballast.load` builds it: without keeping the IR
    with pytest.raises(UsageError, match="loaded from a bundle"):
        parameters(bundle)
