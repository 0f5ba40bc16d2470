"""Telemetry buses for the runtime: a source port, its adapters, and the exactly-once consumer.

`ballast consume` reads events from a `Source` (bus/port.py) — a JSONL file or standard input,
a NATS JetStream durable consumer, a Kafka consumer group — decides them with an Engine, commits
the decisions to the audit ledger and only then acknowledges them (bus/consumer.py). The runtime
never imports this package: the bus clients are optional dependencies (`ballast[bus]`,
confluent-kafka), imported by the adapter that needs them.
"""

from __future__ import annotations

from ballast.bus.consumer import BUS_GAP, EVENT_DECIDED, EVENT_REJECTED, Consumer, Decided, Tally, id_field_of
from ballast.bus.jsonl import JsonLines
from ballast.bus.port import BusError, Delivery, End, Position, Source
from ballast.bus.sources import open_source

__all__ = [
    "BUS_GAP",
    "EVENT_DECIDED",
    "EVENT_REJECTED",
    "BusError",
    "Consumer",
    "Decided",
    "Delivery",
    "End",
    "JsonLines",
    "Position",
    "Source",
    "Tally",
    "id_field_of",
    "open_source",
]
