"""A model of the part of Kafka the adapter uses, in memory: topics of one partition, consumer
groups' committed offsets, and a `Consumer` with confluent-kafka's methods.

It runs the Kafka adapter through the contract tests where no broker is configured. It keeps
Kafka's semantics where the adapter could get them wrong: auto-commit is on unless turned off (a
consumer then commits what it fetched, so a crash would lose it), a new consumer starts at its
group's committed offset, `close` forgets what was fetched but not committed, and retention moves
the low watermark. The real broker runs the same tests when BALLAST_KAFKA_BOOTSTRAP is set.
"""

from __future__ import annotations

import time
from typing import Any


class Broker:
    def __init__(self) -> None:
        self.topics: dict[str, list[bytes]] = {}
        self.low: dict[str, int] = {}  # the first offset retention kept
        self.committed: dict[tuple[str, str, int], int] = {}  # (group, topic, partition) → next offset

    def produce(self, topic: str, value: bytes) -> None:
        self.topics.setdefault(topic, []).append(value)


class Message:
    def __init__(self, topic: str, offset: int, value: bytes) -> None:
        self._topic, self._offset, self._value = topic, offset, value

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset

    def value(self) -> bytes:
        return self._value

    def error(self) -> None:
        return None


def consumer_class(broker: Broker) -> type:
    class Consumer:
        def __init__(self, settings: dict[str, Any]) -> None:
            self.group = settings["group.id"]
            self.auto_commit = settings.get("enable.auto.commit", True)  # Kafka's default
            self.earliest = settings.get("auto.offset.reset", "latest") == "earliest"
            self.topic: str | None = None
            self.position = 0

        def subscribe(self, topics: list[str]) -> None:
            [self.topic] = topics
            log = broker.topics.setdefault(self.topic, [])
            start = 0 if self.earliest else len(log)
            self.position = max(broker.committed.get((self.group, self.topic, 0), start), broker.low.get(self.topic, 0))

        def consume(self, num_messages: int, timeout: float) -> list[Message]:
            assert self.topic is not None
            log = broker.topics[self.topic]
            self.position = max(self.position, broker.low.get(self.topic, 0))
            out = [
                Message(self.topic, o, log[o])
                for o in range(self.position, min(len(log), self.position + num_messages))
            ]
            if not out:
                time.sleep(min(timeout, 0.05))
                return []
            self.position = out[-1].offset() + 1
            if self.auto_commit:
                broker.committed[(self.group, self.topic, 0)] = self.position
            return out

        def commit(self, offsets: list[Any], asynchronous: bool = True) -> None:
            for tp in offsets:
                broker.committed[(self.group, tp.topic, tp.partition)] = tp.offset

        def seek(self, tp: Any) -> None:
            self.position = tp.offset

        def get_watermark_offsets(self, tp: Any, timeout: float) -> tuple[int, int]:
            return broker.low.get(tp.topic, 0), len(broker.topics.get(tp.topic, []))

        def close(self) -> None:
            self.topic = None

    return Consumer
