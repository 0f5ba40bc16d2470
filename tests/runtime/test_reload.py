"""Hot reload: an Engine keeps the state of rules whose state shape did not change, and resets
the others; under a PolicyStore, every event is decided by exactly one version, even while
another thread reloads."""

from __future__ import annotations

import json
import random
import threading
from pathlib import Path
from typing import Any

import pytest
from store_support import NOW, STATELESS, compiled, keyring, release

from ballast.compiler.pipeline import compile_paths
from ballast.runtime import from_checked_bundle
from ballast.runtime.engine import Engine
from ballast.runtime.errors import UsageError
from ballast.runtime.policy import PolicySet
from ballast.runtime.store import PolicyStore

GTBE = Path(__file__).resolve().parents[2] / "catalog" / "gtbe.bal"


def policies(version: str = "1.0.0", **changes: Any) -> PolicySet:
    return from_checked_bundle(compiled(version, **changes))


def hot(pool: str, t: float, load: float = 0.95) -> dict[str, Any]:
    return {"pool": pool, "load": load, "ts": t}


def fired(result: Any, rule: str = "hot") -> list[str]:
    return [d.targets[0] for d in result.directives if d.rule == rule]


def test_a_rule_whose_shape_did_not_change_keeps_counting_across_a_reload() -> None:
    engine = Engine(policies("1.0.0"))
    engine.process(hot("p1", 0))  # `hot` is pending for p1 from t=0
    engine.process(hot("p2", 10))
    report = engine.reload(policies("1.1.0", threshold=0.6, by=2))  # another threshold and action
    assert [c.text for c in report.carries] == ["demo/hot: state kept"]
    assert fired(engine.process(hot("p1", 31))) == ["p1"]  # held 31 s > 30 s across the reload
    assert [d.params for d in engine.process(hot("p2", 41)).directives if d.rule == "hot"] == [{"by": 20}]
    fresh = Engine(policies("1.1.0", threshold=0.6, by=2))
    assert fired(fresh.process(hot("p1", 31))) == []  # without the kept state it would only start
    assert engine.stats["demo"]["events"] == 4  # the counters carried over too


def test_a_rule_whose_shape_changed_starts_over_and_the_report_says_why() -> None:
    engine = Engine(policies("1.0.0"))
    engine.process(hot("p1", 0))
    report = engine.reload(policies("2.0.0", hold="1m"))
    assert [c.text for c in report.reset] == ["demo/hot: state reset (state shape changed: for 30s → 1m)"]
    result = engine.process(hot("p1", 31))
    assert fired(result) == []
    assert [(e.to_dict()["state"], e.to_dict()["time"]) for e in result.events] == [("pending", "1970-01-01T00:00:31Z")]
    assert fired(engine.process(hot("p1", 91))) == ["p1"]  # 1 m after it started again


def test_reload_takes_a_policy_set_and_a_failing_commit_changes_nothing() -> None:
    engine = Engine(policies("1.0.0"))
    engine.process(hot("p1", 0))
    with pytest.raises(UsageError, match="reload\\(\\) takes a PolicySet"):
        engine.reload(compiled("1.1.0"))  # type: ignore[arg-type]

    def refuse(report: Any) -> None:
        raise UsageError("the ledger is full")

    before = engine.policies
    with pytest.raises(UsageError, match="the ledger is full"):
        engine.reload(policies("1.1.0", by=2), commit=refuse)
    assert engine.policies is before
    assert [d.params for d in engine.process(hot("p1", 31)).directives if d.rule == "hot"] == [{"by": 10}]


def threat_set(source: str) -> PolicySet:
    return from_checked_bundle(compile_paths(["gtbe.bal"], sources={"gtbe.bal": source}, source_date_epoch=0).bundle)


def test_a_threat_keeps_its_index_when_only_its_version_changed() -> None:
    source = GTBE.read_text(encoding="utf-8")
    signals = [{"ts": float(t), "trp_risk": 90.0, "cve_score": 9.0, "load": 0.9} for t in range(0, 100, 10)]
    engine, continued = Engine(threat_set(source)), Engine(threat_set(source))
    for event in signals[:5]:
        engine.process(event)
        continued.process(event)
    report = engine.reload(threat_set(source.replace('version "1.0.0"', 'version "1.0.1"')))
    assert [c.text for c in report.carries] == ["threat motb.gtbe: state kept"]
    for event in signals[5:]:
        assert engine.process(event).to_dict() == continued.process(event).to_dict()
    assert engine.threats["motb.gtbe"].mode != "normal"
    reweighted = source.replace("weight 0.6 from trp_risk", "weight 0.5 from trp_risk")
    report = engine.reload(threat_set(reweighted.replace("weight 0.1 from load", "weight 0.2 from load")))
    assert [c.state for c in report.carries] == ["reset"]
    assert engine.threats["motb.gtbe"].mode == "normal"  # a new threat engine starts in normal


# ---- two threads: one evaluates, one reloads ----


def test_every_decision_comes_from_exactly_one_version_while_another_thread_reloads() -> None:
    versions = {"1.0.0": {"threshold": 0.5, "by": 1}, "1.1.0": {"threshold": 0.7, "by": 2}}
    stateless = PolicyStore(keyring(), clock=lambda: NOW)
    stateful = PolicyStore(keyring(), clock=lambda: NOW, stateful=True)
    flat = {v: release(v, template=STATELESS, **opts) for v, opts in versions.items()}
    demo = {v: release(v, **opts) for v, opts in versions.items()}
    stateless.propose(flat["1.0.0"]).check()
    stateful.propose(demo["1.0.0"]).check()
    # the reference: what each version alone decides, by the fingerprint a result names
    alone = {}
    for v, opts in versions.items():
        for bundle in (compiled(v, template=STATELESS, **opts), compiled(v, **opts)):
            alone[bundle["manifest"]["fingerprint"]["hash"]] = (v, from_checked_bundle(bundle))
    done = threading.Event()
    reloads = []

    def reload_back_and_forth() -> None:
        for _ in range(8):
            for v in ("1.1.0", "1.0.0"):
                back = v == "1.0.0"
                reloads.append(stateless.propose(flat[v], allow_rollback=back).check().status)
                reloads.append(stateful.propose(demo[v], allow_rollback=back).check().status)
        done.set()

    reloader = threading.Thread(target=reload_back_and_forth)
    rng = random.Random(7)
    seen: set[str] = set()
    checked = 0
    reloader.start()
    try:
        t = 0
        while not done.is_set() or checked < 3000:
            t += 1
            event = {"pool": f"p{rng.randrange(4)}", "load": rng.choice([0.4, 0.6, 0.95]), "ts": t}
            flat_event = {"pool": event["pool"], "load": event["load"]}
            result = stateless.evaluate(flat_event)
            version, reference = alone[result.bundle.fingerprint]  # type: ignore[union-attr]
            assert [d.to_dict() for d in result.directives] == [
                d.to_dict() for d in reference.evaluate(flat_event).directives
            ]
            seen.add(result.bundle.fingerprint)  # type: ignore[union-attr]
            result = stateful.process(event)
            version, reference = alone[result.bundle.fingerprint]  # type: ignore[union-attr]
            by = versions[version]["by"]
            warm = [d.to_dict() for d in result.directives if d.rule == "warm"]
            assert warm == [d.to_dict() for d in reference.evaluate(event).directives]
            assert all(d.params == {"by": 10 * by} for d in result.directives if d.rule == "hot")
            seen.add(result.bundle.fingerprint)  # type: ignore[union-attr]
            checked += 1
    finally:
        reloader.join()
    assert reloads == ["committed"] * 32
    assert len(seen) == 4  # both versions of both sets decided some events
    assert stateful.engine is not None and stateful.engine.stats["demo"]["events"] == checked  # none lost


WATCHDOG = GTBE.parent / "watchdog.bal"


def watchdog_set(version: str) -> PolicySet:
    sources = {str(p): p.read_text(encoding="utf-8") for p in (GTBE.parent / "lib").glob("*.bal")}
    text = WATCHDOG.read_text(encoding="utf-8").replace('version "1.0.0"', f'version "{version}"')
    sources[str(WATCHDOG)] = text
    return from_checked_bundle(compile_paths([str(WATCHDOG)], sources=sources, source_date_epoch=0).bundle)


def without_ids(result: Any) -> dict[str, Any]:
    """A result as JSON without directive ids (they name the version, which a reload changes)."""
    out = result.to_dict()
    for d in out["directives"]:
        del d["directive_id"]
    return out


def test_a_reload_that_keeps_every_shape_decides_as_if_nothing_happened() -> None:
    lines = (GTBE.parent / "watchdog-events.jsonl").read_text(encoding="utf-8").splitlines()
    events = [json.loads(line) for line in lines if line.strip()]
    steady, reloaded = Engine(watchdog_set("1.0.0")), Engine(watchdog_set("1.0.0"))
    half = len(events) // 2
    for event in events[:half]:
        assert without_ids(steady.process(event)) == without_ids(reloaded.process(event))
    report = reloaded.reload(watchdog_set("1.0.1"))
    assert {c.state for c in report.carries} == {"kept"} and len(report.carries) == 9
    decided = [without_ids(steady.process(event)) for event in events[half:]]
    assert decided == [without_ids(reloaded.process(event)) for event in events[half:]]
    assert any(d["directives"] for d in decided)  # the second half decides something
    assert steady.snapshot()["policies"][0]["keys"] == reloaded.snapshot()["policies"][0]["keys"]
