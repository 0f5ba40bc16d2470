"""The directive queue (coalescing, back-pressure, priority order) and the audit trail."""

from __future__ import annotations

import io
import json

import pytest

import ballast
from ballast.runtime.audit import AuditLog
from ballast.runtime.engine import Engine
from ballast.runtime.flow import DirectiveQueue

POLICY = """policy q.p version "1.0.0" {
  input ev { ts: timestamp, pool: string, load: float, seq: int }
  stream { time ts  sequence seq by pool }
  rule hot { when load > 0.9 then scale(targets: pool, by: 1) priority 5 }
  rule very_hot { when load > 0.95 then scale(targets: pool, by: 2) priority 9 }
  rule warm { when load > 0.5 then downgrade(targets: pool) priority 1 }
}
"""


@pytest.fixture
def policies() -> ballast.PolicySet:
    return ballast.compile(["q.bal"], sources={"q.bal": POLICY})


def event(t: float, pool: str, load: float, seq: int) -> dict:
    return {"ts": t, "pool": pool, "load": load, "seq": seq}


def test_similar_directives_are_coalesced_within_the_window_and_counted(policies) -> None:
    engine = Engine(policies, queue=DirectiveQueue(capacity=10, coalesce_window=30))
    first = engine.process(event(0, "A", 0.92, 1))
    second = engine.process(event(10, "A", 0.92, 2))
    assert [d.rule for d in first.directives] == ["hot", "warm"]
    coalesced = [e for e in second.events if e["type"] == "Coalesced"]
    assert [(e["rule"], e["action"], e["targets"]) for e in coalesced] == [
        ("hot", "scale", ["A"]),
        ("warm", "downgrade", ["A"]),
    ]
    assert engine.queue.stats["coalesced"] == 2 and len(engine.queue) == 2
    engine.process(event(100, "A", 0.92, 3))  # outside the window: supersedes, no merge
    assert engine.queue.stats["coalesced"] == 2


def test_a_higher_priority_directive_replaces_the_queued_one_it_coalesces_with(policies) -> None:
    queue = DirectiveQueue(capacity=10, coalesce_window=30)
    engine = Engine(policies, queue=queue)
    engine.process(event(0, "A", 0.92, 1))  # hot: scale by 1, priority 5
    engine.process(event(5, "A", 0.97, 2))  # very_hot: scale by 2, priority 9, same action and target
    drained = queue.drain()
    scales = [d for d in drained if d.action == "scale"]
    assert [(d.rule, d.params) for d in scales] == [("very_hot", {"by": 2})]


def test_back_pressure_drops_the_lowest_priority_and_says_so(policies) -> None:
    queue = DirectiveQueue(capacity=2, coalesce_window=0)
    engine = Engine(policies, queue=queue)
    engine.process(event(0, "A", 0.6, 1))  # warm A (priority 1)
    engine.process(event(1, "B", 0.6, 1))  # warm B (priority 1): queue full
    result = engine.process(event(2, "C", 0.92, 1))  # hot C (5) evicts a warm; warm C (1) is refused
    dropped = [e for e in result.events if e["type"] == "Dropped"]
    assert len(dropped) == 2 and all(e["action"] == "downgrade" for e in dropped)
    assert queue.stats["dropped"] == 2
    assert [d.rule for d in queue.drain()] == ["hot", "warm"]


def test_drain_returns_highest_priority_first() -> None:
    queue = DirectiveQueue(capacity=5)
    policies = ballast.compile(["q.bal"], sources={"q.bal": POLICY})
    result = policies.evaluate(event(0, "A", 0.97, 1))
    for d in reversed(result.directives):
        queue.offer(d, 0)
    # hot (5) and very_hot (9) both scale A at the same time: one directive, the stronger one
    assert [(d.rule, d.priority) for d in queue.drain()] == [("very_hot", 9), ("warm", 1)]
    assert queue.stats["coalesced"] == 1


@pytest.mark.parametrize(("capacity", "window"), [(0, 1.0), (1, -1.0)])
def test_bad_queue_settings_are_usage_errors(capacity: int, window: float) -> None:
    with pytest.raises(ballast.UsageError):
        DirectiveQueue(capacity=capacity, coalesce_window=window)


def test_audit_trail_has_the_envelope_and_a_5w1h_narrative(policies) -> None:
    sink = io.StringIO()
    engine = Engine(policies, audit=AuditLog(sink, measure=False))
    engine.process(event(0, "A", 0.92, 1))
    engine.process(event(10, "A", 0.2, 4))  # a sequence gap: 2 and 3 are missing
    entries = [json.loads(line) for line in sink.getvalue().splitlines()]
    kinds = [e["kind"] for e in entries]
    assert kinds == ["DirectiveIssued", "DirectiveIssued", "TelemetryGap"]
    for entry in entries:
        directive_id = {"directive_id"} if entry["kind"] == "DirectiveIssued" else set()
        assert set(entry) - directive_id == {
            "kind",
            "seq",
            "action_id",
            "subject",
            "actor",
            "scope",
            "outcome",
            "reason",
            "latency_ms",
            "narrative",
        }
        assert set(entry["narrative"]) == {"who", "what", "when", "where", "why", "how"}
        assert entry["latency_ms"] is None  # measure=False keeps the trail reproducible
    hot = entries[0]
    assert hot["actor"] == "q.p/hot" and hot["subject"] == "A" and hot["outcome"] == "scale"
    assert hot["narrative"]["when"] == "1970-01-01T00:00:00Z"
    assert "load > 0.9 was true (load=0.92)" in hot["narrative"]["why"]
    gap = entries[2]
    assert gap["reason"] == "source A skipped 2 sequence number(s) after 1"


def test_audit_ids_are_deterministic(policies) -> None:
    def trail() -> str:
        sink = io.StringIO()
        engine = Engine(policies, audit=AuditLog(sink, measure=False))
        for i, load in enumerate([0.92, 0.2, 0.97]):
            engine.process(event(i * 10, "A", load, i + 1))
        return sink.getvalue()

    assert trail() == trail()


def test_latency_from_breach_to_directive_is_recorded(policies) -> None:
    engine = Engine(policies)
    engine.process(event(0, "A", 0.97, 1))
    latency = engine.latency_ms
    assert latency["count"] == 3 and 0 <= latency["p50"] <= latency["max"]


def test_audit_sink_must_be_writable() -> None:
    with pytest.raises(ballast.UsageError, match="write"):
        AuditLog(42)


def test_engine_runs_threat_documents_and_audits_their_updates() -> None:
    policies = ballast.compile(["catalog/gtbe.bal"])
    sink = io.StringIO()
    engine = Engine(policies, audit=AuditLog(sink, measure=False))
    t0 = 1_700_000_000
    modes = []
    for i, risk in enumerate([40.0] * 3 + [83.0] * 4):
        result = engine.process({"ts": t0 + 10 * i, "trp_risk": risk, "cve_score": 3.0, "load": 0.5}, input="signals")
        assert result.errors == []
        modes += [e["mode"] for e in result.events if e["type"] == "ModeChanged"]
    threat = engine.threats["motb.gtbe"]
    assert modes == ["heightened"] and threat.mode == "heightened"
    kinds = [json.loads(line)["kind"] for line in sink.getvalue().splitlines()]
    assert kinds.count("ThreatIndexUpdated") == 7 and kinds.count("ModeChanged") == 1
    restored = Engine.restore(policies, json.loads(json.dumps(engine.snapshot())))
    later = {"ts": t0 + 100, "trp_risk": 20.0, "cve_score": 1.0, "load": 0.2}
    assert (
        restored.process(dict(later), input="signals").to_dict()
        == engine.process(dict(later), input="signals").to_dict()
    )


def test_an_event_for_an_unknown_input_is_a_usage_error() -> None:
    engine = Engine(ballast.compile(["catalog/gtbe.bal"]))
    with pytest.raises(ballast.UsageError, match="inputs are signals"):
        engine.process({}, input="telemetry")


def test_identical_decisions_get_distinct_action_ids_that_keep_their_directive_id(policies) -> None:
    sink = io.StringIO()
    engine = Engine(policies, audit=AuditLog(sink, measure=False))
    first = engine.process(event(0, "A", 0.92, 1))
    second = engine.process(event(0, "A", 0.92, 2))  # the same decision again
    entries = [json.loads(line) for line in sink.getvalue().splitlines()]
    ids = [e["action_id"] for e in entries]
    assert len(set(ids)) == len(ids) == 4
    assert [e["seq"] for e in entries] == [1, 2, 3, 4]
    printed = [d.directive_id for d in first.directives + second.directives]
    assert [e["directive_id"] for e in entries] == printed
    assert all(e["action_id"].startswith(e["directive_id"] + "-") for e in entries)


class _Recorder(io.StringIO):
    """A sink that notes, for each flush, how much text it holds."""

    def __init__(self) -> None:
        super().__init__()
        self.flushed_at: list[int] = []

    def flush(self) -> None:
        self.flushed_at.append(len(self.getvalue()))


def test_every_entry_is_flushed_before_process_returns(policies) -> None:
    sink = _Recorder()
    engine = Engine(policies, audit=AuditLog(sink, measure=False))
    engine.process(event(0, "A", 0.92, 1))
    assert sink.flushed_at and sink.flushed_at[-1] == len(sink.getvalue()) > 0


def test_a_sink_that_fails_to_write_is_a_usage_error_naming_it(policies, tmp_path) -> None:
    engine = Engine(policies, audit=AuditLog.append_to("/dev/full"))
    with pytest.raises(ballast.UsageError, match="cannot write the audit trail to /dev/full: No space left"):
        engine.process(event(0, "A", 0.92, 1))


def test_append_to_continues_the_numbering_and_mends_a_cut_short_line(policies, tmp_path) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_text('{"seq": 1}\n{"seq": 2, "cut', encoding="utf-8")  # a crash in mid-write
    log = AuditLog.append_to(path, measure=False, sync=True)
    Engine(policies, audit=log).process(event(0, "A", 0.92, 1))
    log.close()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[:2] == ['{"seq": 1}', '{"seq": 2, "cut']
    assert [json.loads(line)["seq"] for line in lines[2:]] == [3, 4]
