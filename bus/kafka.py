"""The Kafka source (confluent-kafka, imported only when a `kafka://` source is used).

The consumer group `group` keeps the committed offsets on the brokers. Auto-commit is off: an
offset is committed (synchronously) only by `ack`, after the decisions are durable, which is
Kafka's at-least-once recipe. `nak` seeks each partition back to the first message given back,
so the next `fetch` delivers them again. A partition's offsets are its sequence numbers; what
retention deleted below the low watermark is `lost` (compaction and transaction markers also
leave offsets unused: they are reported as gaps only if below the low watermark).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ballast.bus.port import BusError, Delivery, Position


class Kafka:
    """Deliveries from `topic` for the consumer group `group`, from the brokers at `bootstrap`
    (`host:9092,host2:9092`). `config`: more librdkafka settings (security, for one)."""

    remembers_acks = True

    def __init__(self, bootstrap: str, topic: str, group: str, *, config: dict[str, Any] | None = None) -> None:
        try:
            from confluent_kafka import Consumer, KafkaException
        except ImportError:
            raise BusError("--source kafka://… needs confluent-kafka: pip install confluent-kafka") from None
        self._KafkaException = KafkaException
        self.name = f"kafka://{bootstrap}/{topic}"
        self.topic = topic
        settings = {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "enable.auto.commit": False,  # offsets are committed by ack, after the ledger commit
            "auto.offset.reset": "earliest",
            "enable.partition.eof": False,
            **(config or {}),
        }
        try:
            self._consumer = Consumer(settings)
            self._consumer.subscribe([topic])
        except KafkaException as exc:
            raise BusError(f"{self.name}: cannot subscribe: {exc}") from exc

    def fetch(self, limit: int, timeout: float) -> Sequence[Delivery]:
        try:
            messages = self._consumer.consume(num_messages=limit, timeout=timeout)
        except self._KafkaException as exc:
            raise BusError(f"{self.name}: cannot fetch: {exc}") from exc
        out = []
        for m in messages:
            if m.error() is not None:
                raise BusError(f"{self.name}: the broker reported {m.error()}")
            partition = f"{m.topic()}/{m.partition()}"
            where = f"{self.name} partition {m.partition()} offset {m.offset()}"
            out.append(Delivery(m.value() or b"", Position(partition, m.offset()), where, False, m))
        return out

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        from confluent_kafka import TopicPartition

        # the committed offset is the next one to read, per partition
        nexts: dict[tuple[str, int], int] = {}
        for d in deliveries:
            key = (d.handle.topic(), d.handle.partition())
            nexts[key] = max(nexts.get(key, 0), d.handle.offset() + 1)
        if not nexts:
            return
        try:
            self._consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in nexts.items()], asynchronous=False)
        except self._KafkaException as exc:
            raise BusError(f"{self.name}: cannot commit offsets: {exc}") from exc

    def nak(self, deliveries: Sequence[Delivery]) -> None:
        from confluent_kafka import TopicPartition

        firsts: dict[tuple[str, int], int] = {}
        for d in deliveries:
            key = (d.handle.topic(), d.handle.partition())
            firsts[key] = min(firsts.get(key, d.handle.offset()), d.handle.offset())
        try:
            for (t, p), o in firsts.items():
                self._consumer.seek(TopicPartition(t, p, o))
        except self._KafkaException as exc:
            raise BusError(f"{self.name}: cannot seek back: {exc}") from exc

    def lost(self, partition: str, first: int, last: int) -> list[int]:
        from confluent_kafka import TopicPartition

        topic, _, number = partition.rpartition("/")
        try:
            low, _ = self._consumer.get_watermark_offsets(TopicPartition(topic, int(number)), timeout=5)
        except self._KafkaException as exc:
            raise BusError(f"{self.name}: cannot read the watermarks: {exc}") from exc
        return list(range(first, min(last, low - 1) + 1))

    def close(self) -> None:
        self._consumer.close()


__all__ = ["Kafka"]
