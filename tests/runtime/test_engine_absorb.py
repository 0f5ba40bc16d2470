"""`Engine.absorb`: an event on which some rules are proven to do nothing, without stepping them.

Skipping a rule whose condition is false must leave the Engine exactly where `process` leaves
it (decisions, counters, histories, rule states: the whole snapshot): a level rule is left
inactive; an edge rule (`for`, `enter`/`exit`) is skipped only where it is idle, and stepped
where it is pending, firing or entered (a false condition, or its exit condition, resolves it
there); a rule reading `absent()` likewise, its silence stepped by `advance`.
"""

from __future__ import annotations

import json
import random
from typing import Any

import ballast
from ballast.runtime.engine import Engine

SOURCE = """policy abs.test version "1.0.0" {
  input svc {
    ts: timestamp
    pool: string
    load: float in [0, 100]
  }
  stream {
    time ts
    stale after 20s
  }
  rule never {
    group by pool
    when count(load, 1m) < 0
    then pause(targets: pool)
    cooldown 5s
  }
  rule sustained {
    group by pool
    when min(load, 10s) > 60
    for 3s
    then pause(targets: pool)
  }
  rule hot {
    when load > 90
    then scale(targets: pool, by: 1)
  }
  rule busy {
    group by pool
    when avg(load, 10s) > 70
    then scale(targets: pool, by: 2)
  }
  rule swinging {
    group by pool
    enter when max(load, 10s) > 80
    exit when max(load, 10s) < 40
    then scale(targets: pool, by: 3)
  }
}
"""


def events(count: int) -> list[dict[str, Any]]:
    """Three pools whose load wanders (so `sustained` holds for a while, then stops), in time order."""
    rng = random.Random(7)
    t = 1_700_000_000.0
    load = dict.fromkeys("abc", 50.0)
    out = []
    for _ in range(count):
        t += rng.choice([0, 1, 1, 2, 30])
        pool = rng.choice("abc")
        load[pool] = min(100.0, max(0.0, load[pool] + rng.uniform(-25, 25)))
        out.append({"ts": t, "pool": pool, "load": load[pool]})
    return out


def outcome(engine: Engine, results: list[object]) -> str:
    return json.dumps([repr(r) for r in results]) + json.dumps(engine.snapshot(), sort_keys=True)


def test_skipping_rules_that_do_nothing_leaves_the_engine_as_process_does() -> None:
    policies = ballast.compile(["abs.bal"], sources={"abs.bal": SOURCE})
    stepped, absorbed = Engine(policies), Engine(policies)
    # `never` cannot hold; `sustained` (min(load, 10s) > 60, for 3s) cannot hold on an event whose
    # own load is 60 or less (the window holds it): quiet there, whatever state it is in
    never, sustained = frozenset({0}), frozenset({0, 1})
    a = [stepped.process(e) for e in events(600)]
    b = [absorbed.absorb(e, {"abs.test": sustained if e["load"] <= 60 else never}) for e in events(600)]
    assert outcome(stepped, a) == outcome(absorbed, b)
    assert stepped.stats == absorbed.stats
    # the comparison means something: `sustained` went pending, fired and resolved, so some of
    # its quiet events found it idle (skipped) and some found it firing (stepped: resolved)
    states = [e.state for r in a for e in r.events if getattr(e, "rule", None) == "sustained"]
    assert {"pending", "firing", "resolved"} <= set(states)
    assert any(d.rule == "sustained" for r in a for d in r.directives)


def test_a_rule_with_hysteresis_is_skipped_only_before_it_enters() -> None:
    """`swinging` enters on max(load, 10s) > 80 and exits on < 40: called quiet wherever its entry
    condition is false, it must still be stepped once entered, where the exit condition decides."""
    policies = ballast.compile(["abs.bal"], sources={"abs.bal": SOURCE})
    stepped, absorbed = Engine(policies), Engine(policies)
    history: dict[str, list[tuple[float, float]]] = {}
    a, b = [], []
    # a second a sample: high (enters), middling (entered, its entry false), low (exits), twice
    loads = ([85.0] * 3 + [60.0] * 12 + [30.0] * 12) * 2
    stream = [{"ts": 1_700_000_000.0 + i, "pool": "a", "load": load} for i, load in enumerate(loads)]
    later = [{**e, "ts": e["ts"] + len(loads)} for e in events(300)]  # then three pools, after it
    for e in stream + later:
        samples = history.setdefault(e["pool"], [])
        samples.append((e["ts"], e["load"]))
        entry_false = max(load for t, load in samples if t > e["ts"] - 10) <= 80
        a.append(stepped.process(e))
        b.append(absorbed.absorb(e, {"abs.test": frozenset({0, 4}) if entry_false else frozenset({0})}))
    assert outcome(stepped, a) == outcome(absorbed, b)
    states = [e.state for r in a for e in r.events if getattr(e, "rule", None) == "swinging"]
    assert {"firing", "resolved"} <= set(states)
    assert sum(1 for r in a for d in r.directives if d.rule == "swinging") > 1  # it fired while entered


def test_a_rule_called_quiet_is_not_evaluated() -> None:
    """The converse, so the test above cannot pass by ignoring `quiet`: a rule that does fire,
    called quiet, issues nothing."""
    policies = ballast.compile(["abs.bal"], sources={"abs.bal": SOURCE})
    engine = Engine(policies)
    hot_and_busy = {"abs.test": frozenset({2, 3})}
    results = [engine.absorb(e, hot_and_busy) for e in events(400)]
    rules = {d.rule for r in results for d in r.directives}
    assert rules and not rules & {"hot", "busy"}


ABSENT_SOURCE = SOURCE.replace(
    "    load: float in [0, 100]\n", "    load: float in [0, 100]\n    beat?: int\n"
).replace(
    "  rule never {",
    """  rule gone {
    group by pool
    when absent(beat, 10s)
    for 3s
    then pause(targets: pool)
  }
  rule never {""",
)


def test_a_rule_reading_absent_is_skipped_where_its_window_holds_a_sample() -> None:
    """`gone` (absent(beat, 10s) for 3s) is called quiet wherever the key's window holds a beat
    (this event's or an earlier one). Skipped only where idle, it must still go pending, fire
    and resolve as `process` has it, through `advance` (time passing) and staleness too."""
    policies = ballast.compile(["abs.bal"], sources={"abs.bal": ABSENT_SOURCE})
    stepped, absorbed = Engine(policies), Engine(policies)
    rng = random.Random(11)
    beats: dict[str, list[float]] = {}
    a, b = [], []
    for e in events(600):
        if rng.random() < 0.6:
            e["beat"] = 1
            beats.setdefault(e["pool"], []).append(e["ts"])
        held = any(t > e["ts"] - 10 for t in beats.get(e["pool"], []))
        a.append(stepped.process(e))
        b.append(absorbed.absorb(e, {"abs.test": frozenset({0, 1}) if held else frozenset({1})}))
        if rng.random() < 0.1:  # time passes without events: the silence `gone` waits for
            now = e["ts"] + rng.choice([2, 5, 12])
            a.append(stepped.advance(now))
            b.append(absorbed.advance(now))
    assert outcome(stepped, a) == outcome(absorbed, b)
    states = [e.state for r in a for e in r.events if getattr(e, "rule", None) == "gone"]
    assert {"pending", "firing", "resolved"} <= set(states)
    assert sum(1 for r in b for e in r.events if e.get("type") == "Stale") > 0
