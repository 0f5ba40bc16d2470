"""Trusted batches: the schema checked once per batch for events the host built itself, never for
external input, and exactly the decisions of the per-event check."""

from __future__ import annotations

import io
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import ballast
from ballast.cli import main
from ballast.runtime.batch import Column, TrustedEvents
from ballast.runtime.engine import Engine
from ballast.simulator.model import Columns
from ballast.simulator.signals import InputPlan, event_builder

ROOT = Path(__file__).resolve().parents[2]

POLICY = """policy t.batch version "1" {
  input ev {
    pool: string
    tier: enum("critical", "batch")
    load: float in [0, 1]
    queue: int in [0, 1000]
    note?: string
  }
  rule hot {
    when load > 0.8 && tier == "batch"
    then scale(targets: pool, by: 1)
    reason "{pool} at {load:.2f}"
  }
  rule deep {
    when queue >= 900
    then pause(targets: pool)
  }
}
"""


_COMPILED: list[ballast.PolicySet] = []


def policies() -> ballast.PolicySet:
    """The policy compiled once (an Engine keeps no state in a PolicySet)."""
    if not _COMPILED:
        _COMPILED.append(ballast.compile(["batch.bal"], sources={"batch.bal": POLICY}))
    return _COMPILED[0]


def summarize(events: list[dict[str, Any]]) -> dict[str, Column | None]:
    names = {name for e in events for name in e}
    return {name: Column.of([e.get(name) for e in events]) for name in sorted(names)}


def outcome(results: list[tuple[int, ballast.Result]]) -> list[tuple[int, dict[str, Any]]]:
    return [(i, r.to_dict()) for i, r in results]


def event(pool: str = "p1", tier: str = "batch", load: float = 0.5, queue: int = 10) -> dict[str, Any]:
    return {"pool": pool, "tier": tier, "load": load, "queue": queue}


def test_a_valid_batch_is_proven_once_and_decides_as_the_per_event_check() -> None:
    events = [event(f"p{i}", load=i / 10, queue=100 * i) for i in range(10)]
    batch = TrustedEvents(events, summarize(events), producer="a test")
    policy = policies().policies[0]
    assert batch.satisfies(policy.fields, policy.check)
    got = Engine(policies()).process_many(batch)
    assert outcome(got) == outcome(Engine(policies()).process_many(list(events)))
    assert [d["rule"] for _, r in outcome(got) for d in r["directives"]] == ["hot", "deep"]


def test_a_column_out_of_range_sends_the_batch_through_the_per_event_check() -> None:
    events = [event(load=0.5), event(load=1.5), event(load=0.9)]
    batch = TrustedEvents(events, summarize(events), producer="a test")
    policy = policies().policies[0]
    assert not batch.satisfies(policy.fields, policy.check)
    got = outcome(Engine(policies()).process_many(batch))
    assert got == outcome(Engine(policies()).process_many(list(events)))
    (index, result) = got[0]
    assert index == 1 and result["errors"][0]["field"] == "load"
    assert "out of range" in result["errors"][0]["message"]


def test_what_a_summary_cannot_prove_is_checked_event_by_event() -> None:
    policy = policies().policies[0]
    cases = [
        [event(load=0.5), event(load=math.nan)],  # NaN
        [event(load=0.5), {**event(), "load": 1}],  # an int in a float field: validate converts it
        [event(tier="critical"), event(tier="gold")],  # not a member of the enum
        [event(), {**event(), "extra": 1}],  # a field the schema does not declare
        [{k: v for k, v in event().items() if k != "queue"}],  # a required field missing
        [{**event(), "note": None}],  # null is no summary
    ]
    for events in cases:
        batch = TrustedEvents(events, summarize(events), producer="a test")
        assert not batch.satisfies(policy.fields, policy.check), events
        assert outcome(Engine(policies()).process_many(batch)) == outcome(Engine(policies()).process_many(events))


def test_the_first_event_is_checked_whatever_the_columns_say() -> None:
    """A producer whose rows do not match its columns is caught on the batch's shape."""
    events = [{**event(), "load": "high"}]
    claimed = {"pool": Column(str, values=frozenset({"p1"})), "tier": Column(str, values=frozenset({"batch"}))}
    claimed |= {"load": Column(float, 0.5, 0.5), "queue": Column(int, 10, 10)}
    batch = TrustedEvents(events, claimed, producer="a test")
    ((_, result),) = Engine(policies()).process_many(batch)
    assert result.errors[0].field == "load" and result.errors[0].kind == "invalid-event"


values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 2000), st.sampled_from(["critical", "batch", "x"])
)


# mostly valid values (so that many batches are proven), with anything else mixed in
rows = st.fixed_dictionaries(
    {
        "pool": st.sampled_from(["a", "b"]),
        "tier": st.one_of(st.sampled_from(["critical", "batch"]), values),
        "load": st.one_of(st.floats(0, 1), values),
        "queue": st.one_of(st.integers(0, 1000), values),
    }
)


@settings(max_examples=200, deadline=None)
@given(st.lists(rows, min_size=1, max_size=6))
def test_a_trusted_batch_decides_exactly_as_the_per_event_check(events: list[dict[str, Any]]) -> None:
    """The reference model is the per-event check: any mix of valid and invalid values."""
    batch = TrustedEvents(events, summarize(events), producer="a test")
    assert outcome(Engine(policies()).process_many(batch)) == outcome(Engine(policies()).process_many(events))


def test_the_simulator_batch_with_a_value_out_of_range_is_still_caught() -> None:
    plan = InputPlan(
        "ev", True, (("pool", "@name"), ("tier", "@class"), ("load", "load"), ("queue", "htm_queue_depth"))
    )
    build = event_builder(plan, ["a", "b", "c"], ["batch", "batch", "critical"], ["r", "r", "r"])
    good = Columns({"load": np.array([0.2, 0.95, 0.5]), "htm_queue_depth": np.array([1, 2, 950], dtype=np.int64)})
    batch = build(good, {}, 0.0, 1)
    policy = policies().policies[0]
    assert isinstance(batch, TrustedEvents) and batch.satisfies(policy.fields, policy.check)
    assert [i for i, _ in Engine(policies()).process_many(batch)] == [1, 2]
    for load in (1.2, np.nan, np.inf):
        bad = Columns({"load": np.array([0.2, load, 0.5]), "htm_queue_depth": np.array([1, 2, 3], dtype=np.int64)})
        ((index, result),) = Engine(policies()).process_many(build(bad, {}, 0.0, 1))
        assert index == 1 and result.errors[0].kind == "invalid-event" and result.errors[0].field == "load"


def test_external_input_is_checked_event_by_event() -> None:
    bad = event(load=1.5)
    engine = Engine(policies())
    assert engine.process(bad).errors[0].field == "load"
    ((_, result),) = engine.process_many([event(), bad])
    assert result.errors[0].field == "load"
    assert policies().evaluate(bad).errors[0].field == "load"


def test_ballast_eval_checks_every_event(tmp_path: Path) -> None:
    policy = tmp_path / "batch.bal"
    policy.write_text(POLICY, encoding="utf-8")
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps(event()) + "\n" + json.dumps(event(load=1.5)) + "\n", encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    code = main(["eval", str(policy), "--events", str(events)], stdout=out, stderr=err, stdin=io.StringIO())
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert code == 1 and records[1]["errors"][0]["field"] == "load"


def test_only_the_simulator_builds_trusted_batches() -> None:
    """Files, replays, the CLI and the Python API read external input: none may wrap it."""
    builders = sorted(
        str(path.relative_to(ROOT))
        for folder in ("ballast", "runtime", "simulator", "compiler", "dsl")
        for path in (ROOT / folder).rglob("*.py")
        if re.search(r"\bTrustedEvents\(", path.read_text(encoding="utf-8"))
    )
    assert builders == ["runtime/batch.py", "simulator/signals.py"]
