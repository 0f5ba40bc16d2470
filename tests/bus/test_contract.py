"""The source contract, the same for every adapter: JSONL files, NATS JetStream, Kafka.

Each adapter is driven through the consumer as `ballast consume` drives it, and the ledger is the
witness: every event decided once, what was not acknowledged delivered again, duplicates and
unreadable payloads recognised. Kafka runs against a broker when BALLAST_KAFKA_BOOTSTRAP names
one, and against an in-memory model of its semantics always (tests/bus/kafka_model.py).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import kafka_model
import pytest
from bus_support import create_stream, decided_ids, entries, payloads, publish

import ballast
from ballast.bus import Consumer, JsonLines, Source
from ballast.bus.jetstream import JetStream

KAFKA = os.environ.get("BALLAST_KAFKA_BOOTSTRAP")


class FileBus:
    """A JSONL file: publishing appends lines; every open reads it from the start."""

    remembers_acks = False

    def __init__(self, tmp: Path) -> None:
        self.path = tmp / "events.jsonl"
        self.path.write_bytes(b"")

    def publish(self, messages: Sequence[bytes]) -> None:
        with self.path.open("ab") as f:
            f.writelines(m + b"\n" for m in messages)

    def open(self) -> Source:
        return JsonLines(self.path.open(encoding="utf-8"), str(self.path))


class NatsBus:
    """A JetStream stream of its own and a durable consumer; unacknowledged messages return after 1 s."""

    remembers_acks = True

    def __init__(self, url: str, name: str) -> None:
        self.url, self.stream, self.subject = url, name, f"{name}.events"
        create_stream(url, self.stream, self.subject)

    def publish(self, messages: Sequence[bytes]) -> None:
        publish(self.url, self.subject, messages)

    def open(self) -> Source:
        return JetStream(self.url, self.stream, self.subject, "ballast", ack_wait=1.0)


class KafkaBus:
    """A fresh topic of one partition on the broker at BALLAST_KAFKA_BOOTSTRAP."""

    remembers_acks = True

    def __init__(self, bootstrap: str) -> None:
        from confluent_kafka.admin import AdminClient, NewTopic

        self.bootstrap, self.topic = bootstrap, f"ballast-test-{uuid.uuid4().hex[:8]}"
        admin = AdminClient({"bootstrap.servers": bootstrap})
        for future in admin.create_topics([NewTopic(self.topic, num_partitions=1, replication_factor=1)]).values():
            future.result(30)

    def publish(self, messages: Sequence[bytes]) -> None:
        from confluent_kafka import Producer

        producer = Producer({"bootstrap.servers": self.bootstrap, "enable.idempotence": True})
        for m in messages:
            producer.produce(self.topic, m)
        assert producer.flush(30) == 0

    def open(self) -> Source:
        from ballast.bus.kafka import Kafka

        return Kafka(self.bootstrap, self.topic, "ballast", config={"session.timeout.ms": 6000})


class KafkaModelBus:
    """The Kafka adapter over the in-memory model of a broker (kafka_model.py)."""

    remembers_acks = True

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import confluent_kafka

        self.broker = kafka_model.Broker()
        monkeypatch.setattr(confluent_kafka, "Consumer", kafka_model.consumer_class(self.broker))

    def publish(self, messages: Sequence[bytes]) -> None:
        for m in messages:
            self.broker.produce("telemetry", m)

    def open(self) -> Source:
        from ballast.bus.kafka import Kafka

        return Kafka("model:9092", "telemetry", "ballast")


@pytest.fixture(params=["jsonl", "nats", "kafka-model", "kafka"])
def bus(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "jsonl":
        return FileBus(tmp_path)
    if request.param == "kafka-model":
        pytest.importorskip("confluent_kafka", reason="confluent-kafka is not installed: pip install confluent-kafka")
        return KafkaModelBus(request.getfixturevalue("monkeypatch"))
    if request.param == "nats":
        return NatsBus(request.getfixturevalue("nats_url"), request.getfixturevalue("stream_name"))
    if not KAFKA:
        pytest.skip("no Kafka broker: set BALLAST_KAFKA_BOOTSTRAP=host:9092 to run the Kafka adapter's contract tests")
    return KafkaBus(KAFKA)


@pytest.fixture
def consume(tmp_path: Path, hot_bundle: Path) -> Iterator[Any]:
    """consume(bus, **run_options) -> the run's tally: one consumer run into tmp_path/ledger.sqlite."""
    policies = ballast.load(str(hot_bundle), allow_unsigned=True)
    ledger = tmp_path / "ledger.sqlite"

    def run(bus: Any, **options: Any) -> Any:
        consumer = Consumer(policies, str(ledger), bus.open(), id_field="id")
        try:
            return consumer.run(batch=options.pop("batch", 4), idle_exit=options.pop("idle_exit", 0.5), **options)
        finally:
            consumer.close()

    run.ledger = ledger  # type: ignore[attr-defined]
    yield run


def test_every_event_is_decided_once_in_order_with_its_directives(bus: Any, consume: Any) -> None:
    bus.publish(payloads(range(1, 8)))
    tally = consume(bus)
    assert decided_ids(consume.ledger) == [f"e{i}" for i in range(1, 8)]
    assert (tally.decided, tally.duplicates, tally.rejected) == (7, 0, 0)
    issued = {e["directive_id"] for e in entries(consume.ledger, "DirectiveIssued")}
    named = [d for e in entries(consume.ledger, "EventDecided") for d in e["directives"]]
    assert len(named) == 2 and set(named) == issued  # e3 and e6 are hot


def test_events_sent_again_are_recognised_by_id_and_not_decided_twice(bus: Any, consume: Any) -> None:
    bus.publish(payloads(range(1, 6)))
    consume(bus)
    bus.publish(payloads([2, 4, 6, 7]))  # the producer retried two, then sent two new ones
    again = consume(bus)
    assert again.decided == 2
    assert again.duplicates == (2 if bus.remembers_acks else 7)  # a file is read again from its start
    assert decided_ids(consume.ledger) == [f"e{i}" for i in range(1, 8)]


def test_what_was_not_acknowledged_is_delivered_again(bus: Any, consume: Any) -> None:
    bus.publish(payloads(range(1, 6)))
    crashed = bus.open()
    assert len(crashed.fetch(3, 5.0)) == 3  # delivered, never acknowledged: the consumer died here
    crashed.close()
    consume(bus, idle_exit=1.6)  # longer than the ack wait: the three come back
    # each once; the order may change (the bus redelivers after its ack wait, behind newer messages)
    assert sorted(decided_ids(consume.ledger)) == [f"e{i}" for i in range(1, 6)]


def test_what_was_acknowledged_is_not_delivered_again(bus: Any, consume: Any) -> None:
    if not bus.remembers_acks:
        pytest.skip("a file keeps no acknowledgements: every run reads it again, and dedup by id keeps it exact")
    bus.publish(payloads(range(1, 4)))
    assert consume(bus).decided == 3
    source = bus.open()
    try:
        assert list(source.fetch(10, 1.0)) == []
    finally:
        source.close()


def test_a_payload_that_is_no_event_is_rejected_in_the_ledger_and_the_rest_decided(bus: Any, consume: Any) -> None:
    e1, e2 = payloads([1, 2])
    bus.publish([e1, b"{not json", b"[1, 2]", b'{"ts": "2026-01-01T00:00:00Z", "pool": "A", "load": 0.1}', e2])
    tally = consume(bus)
    assert (tally.decided, tally.rejected) == (2, 3)
    assert decided_ids(consume.ledger) == ["e1", "e2"]
    reasons = [e["reason"] for e in entries(consume.ledger, "EventRejected")]
    assert reasons[0].startswith("not JSON: line 1, column 2")
    assert reasons[1] == "a JSON list, not an object: an event is one JSON object"
    assert reasons[2] == "the event has no id field 'id' (a non-empty string or an integer)"
