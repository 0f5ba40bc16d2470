"""The Service behind the app: its decisions against the Engine's, health, metrics and ledger.

A bus consumer would drive this object as the app does, so these tests call it directly.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from service_support import NOW, event, keyring, release, service
from starlette.testclient import TestClient

import ballast
from ballast.runtime.audit import AuditLog
from ballast.runtime.engine import Engine
from ballast.runtime.ledger_read import LedgerReader
from ballast.runtime.store import PolicyStore
from ballast.service import HealthPolicy, Problem, Service, ServiceOptions, create_app

# ---- the Engine is the reference ----

loads = st.floats(min_value=0.0, max_value=1.0, allow_nan=False).map(lambda x: round(x, 2))
streams = st.lists(
    st.tuples(loads, st.integers(min_value=-30, max_value=120), st.sampled_from(["p1", "p2", "p3"])), max_size=25
)


@settings(max_examples=25, deadline=None)
@given(streams, st.integers(min_value=1, max_value=5))
def test_served_decisions_are_the_engines_for_any_stream_and_any_batching(stream: list[Any], size: int) -> None:
    # events may come out of order (ts goes back) and late: the Engine's rules decide what counts
    events = [event(load, NOW + ts, pool) for load, ts, pool in stream]
    reference = Engine(ballast.load(_bundle_file(), trust=keyring()))
    expected = [reference.process(e, "ev").to_dict() for e in events]
    s = service()
    served = []
    for start in range(0, len(events), size):
        served += [r.to_dict() for r in s.evaluate(events[start : start + size], "ev")]
    assert [{k: v for k, v in r.items() if k != "bundle"} for r in served] == expected
    assert s.counts["events"] == len(events)


_FILE: list[Path] = []


def _bundle_file() -> Path:
    if not _FILE:
        import tempfile

        folder = Path(tempfile.mkdtemp(prefix="ballast-serve-test-"))
        (folder / "demo.json").write_bytes(release())
        _FILE.append(folder / "demo.json")
    return _FILE[0]


# ---- hot reload while evaluating ----


def test_a_reload_while_events_are_decided_loses_none_and_each_names_its_version() -> None:
    s = service()
    results: list[Any] = []
    stop = threading.Event()

    def send() -> None:
        ts = NOW
        while not stop.is_set():
            ts += 1
            results.extend(s.evaluate([event(0.55, ts), event(0.58, ts + 0.5)], "ev"))

    sender = threading.Thread(target=send)
    sender.start()
    try:
        while len(results) < 100:  # let some events through the first version
            threading.Event().wait(0.001)
        outcome = s.propose(release("1.1.0", 0.6))
        assert outcome.status == "committed"
        committed_at = len(results)
        while len(results) < committed_at + 100:  # and some through the second
            threading.Event().wait(0.001)
    finally:
        stop.set()
        sender.join(timeout=30)
    serials = [r.bundle.serial for r in results]
    assert serials == sorted(serials) and set(serials) == {1, 2}  # one switch, never back
    for r in results:  # 1.0.0 scales above 0.5, 1.1.0 only above 0.6: the decision says which ran
        assert len(r.directives) == (1 if r.bundle.serial == 1 else 0), r.to_dict()
    assert s.counts["events"] == len(results)


# ---- health ----


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def test_health_is_silent_without_events_for_the_declared_time_and_ok_once_they_come() -> None:
    clock = Clock()
    s = service(clock=clock, health=HealthPolicy(silent_after=60))
    assert s.health.report() == {"status": "ok", "reasons": []}
    clock.now += 61
    report = s.health.report()
    assert report["status"] == "silent" and "since start-up, and none yet" in report["reasons"][0]
    s.evaluate([event(0.1)], "ev")
    assert s.health.report()["status"] == "ok"
    clock.now += 120
    assert "since the last event" in s.health.report()["reasons"][0]
    health = TestClient(create_app(s)).get("/v1/health")
    assert health.status_code == 503 and health.json()["status"] == "silent"


def test_health_is_degraded_when_most_recent_events_are_faulty() -> None:
    s = service(health=HealthPolicy(fault_sample=10, fault_ratio=0.5))
    s.evaluate([event(0.1, NOW + i) for i in range(5)], "ev")
    s.evaluate([{"pool": "p1", "load": "x", "ts": NOW}] * 5, "ev")
    assert s.health.report()["status"] == "ok"  # 5 of 10: not more than half
    s.evaluate([{"pool": "p1"}], "ev")
    report = s.health.report()
    assert report == {"status": "degraded", "reasons": ["faults: 6 of the last 10 events had problems"]}


class Sink:
    """An audit sink that can be made to fail, like a full disk."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.broken = False

    def write(self, text: str) -> None:
        if self.broken:
            raise OSError(28, "No space left on device")
        self.lines.append(text)

    def flush(self) -> None:
        pass


def test_an_unwritable_ledger_refuses_decisions_and_degrades_health_until_it_recovers() -> None:
    sink = Sink()
    audit = AuditLog(sink, measure=False)
    store = PolicyStore(keyring(), audit=audit, stateful=True, engine_audit=audit, clock=lambda: NOW)
    store.propose(release()).check()
    s = Service(store, audit=audit, clock=lambda: NOW)
    client = TestClient(create_app(s))
    assert client.post("/v1/evaluate?input=ev", json=event(0.9)).status_code == 200
    sink.broken = True
    refused = client.post("/v1/evaluate?input=ev", json=event(0.9, NOW + 1))
    assert refused.status_code == 503 and refused.json()["type"] == "urn:ballast:problem:ledger-unavailable"
    assert "No space left on device" in refused.json()["detail"]
    report = client.get("/v1/health").json()
    assert report["status"] == "degraded" and report["reasons"][0].startswith("ledger: cannot write the audit trail")
    put = client.put("/v1/policies", content=release("1.1.0"))
    assert put.status_code == 503 and store.current.bundle.serial == 1  # not recorded, not changed
    sink.broken = False
    assert client.post("/v1/evaluate?input=ev", json=event(0.9, NOW + 2)).status_code == 200
    assert client.get("/v1/health").json()["status"] == "ok"


# ---- the ledger ----


def test_policy_changes_directives_and_preflights_are_in_the_ledger(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    s = service(ledger=path, safety=True)
    client = TestClient(create_app(s))
    client.post("/v1/evaluate?input=ev", json=event(0.9))
    client.put("/v1/policies", content=release("1.1.0"), headers={"X-Ballast-Actor": "deployer"})
    client.put("/v1/policies", content=release("1.0.0"))
    client.post(
        "/v1/preflight",
        json={
            "actor": "a",
            "roles": [],
            "operation": "read",
            "tenant": "t",
            "sensitivity": "public",
            "volume": 1,
            "scope": "record",
            "environment": "dev",
        },
    )
    s.close()
    with LedgerReader.open(path) as reader:
        assert reader.verify().ok
        kinds = [(e["kind"], e.get("outcome")) for e in reader.query()]
    assert [k for k, _ in kinds] == [
        "PolicyChangeCommitted",
        "DirectiveIssued",
        "PolicyChangeCommitted",
        "PolicyChangeRejected",
        "SafetyPreflight",
    ]
    assert kinds[3][1] == "rollback"


# ---- metrics ----


def metric(text: str, line_start: str) -> float:
    [value] = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(line_start + " ")]
    return value


def test_metrics_count_what_was_decided_and_show_the_current_state() -> None:
    s = service()
    client = TestClient(create_app(s))
    batch = client.post("/v1/evaluate?input=ev", json={"events": [event(0.9), event(0.95, NOW + 1, "p2"), {"pool": 1}]})
    problems = batch.json()["results"][2]["errors"]  # one per thing wrong with the event
    assert len(problems) > 1 and {p["kind"] for p in problems} == {"invalid-event"}
    client.post("/v1/evaluate?input=signals", json={"ts": NOW, "risk": 90.0})
    client.post("/v1/evaluate", content=b"{")
    client.put("/v1/policies", content=release("1.1.0"))
    text = client.get("/metrics").text
    assert metric(text, "ballast_events_total") == 4
    assert metric(text, 'ballast_directives_total{action="scale"}') == 2
    assert metric(text, 'ballast_faults_total{kind="invalid-event"}') == len(problems)
    assert metric(text, 'ballast_evaluation_seconds_count{route="evaluate"}') == 2
    assert metric(text, 'ballast_engine_events_total{type="ThreatIndexUpdated"}') == 1
    assert metric(text, 'ballast_threat_index{threat="guard"}') == 45.0
    assert metric(text, 'ballast_threat_mode{mode="heightened",threat="guard"}') == 1
    assert metric(text, 'ballast_threat_mode{mode="normal",threat="guard"}') == 0
    assert metric(text, "ballast_policy_serial") == 2
    assert metric(text, 'ballast_policy_changes_total{status="committed"}') == 1
    assert metric(text, 'ballast_engine_counter{counter="events",policy="demo"}') == 2
    assert metric(text, 'ballast_health{state="ok"}') == 1
    assert 'versions="policy:demo@1.1.0,threat:guard@1.1.0"' in text


def test_two_services_in_one_process_keep_their_own_metrics() -> None:
    a, b = service(), service()
    a.evaluate([event(0.9)], "ev")
    assert metric(a.metrics.exposition().decode(), "ballast_events_total") == 1
    assert metric(b.metrics.exposition().decode(), "ballast_events_total") == 0


# ---- options ----


@pytest.mark.parametrize(
    ("option", "value"), [("queue", 0), ("max_body", -1), ("max_batch", True), ("admin_token", " ")]
)
def test_options_out_of_range_are_refused_with_the_option_named(option: str, value: Any) -> None:
    with pytest.raises(ballast.UsageError, match=option.replace("_", "-") if option != "admin_token" else "token"):
        ServiceOptions(**{option: value})


def test_a_problem_kind_that_does_not_exist_is_a_bug_not_a_response() -> None:
    with pytest.raises(ValueError, match="unknown problem kind"):
        Problem("teapot", "short and stout")
