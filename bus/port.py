"""The source port: what the consumer needs from a telemetry bus, whatever the bus.

A `Source` hands out `Delivery`s in batches. The consumer decides each one, makes the decisions
durable in the audit ledger, and only then acknowledges them (`ack`), so a crash before that
point leaves them unacknowledged and the bus delivers them again (at-least-once, like a Kafka
consumer that commits its offsets after processing). `nak` gives deliveries back for
redelivery now (the consumer could not make them durable).

A delivery's `position` says where it sat in the bus: a `partition` (a JetStream stream, a
Kafka topic and partition) and a `sequence` that grows by one per message within it (the
stream sequence, the offset). A source whose messages have no such number (a JSONL file: the
line is not a promise of the producer) gives `sequence=None`, and no gap is ever reported for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ballast.runtime.errors import UsageError


@dataclass(frozen=True)
class Position:
    """Where a message sat in its bus: `partition` and, when the bus numbers them, `sequence`."""

    partition: str
    sequence: int | None

    def to_dict(self) -> dict[str, Any]:
        return {"partition": self.partition, "sequence": self.sequence}


@dataclass(frozen=True)
class Delivery:
    """One message as delivered: its raw `payload`, its `position`, `where` it came from in words
    (for messages: "events.jsonl line 3"), whether the bus has delivered it before
    (`redelivered`), and the adapter's own `handle` to acknowledge it with."""

    payload: bytes
    position: Position
    where: str
    redelivered: bool = False
    handle: Any = field(default=None, compare=False, repr=False)


@runtime_checkable
class Source(Protocol):
    """A telemetry bus, as the consumer sees it.

    `name` describes it for messages and the ledger (`nats://host:4222/STREAM`). `remembers_acks`
    is True when an acknowledged message is never delivered again to this consumer, even after a
    restart (JetStream's durable consumer, Kafka's committed offsets); False for a file, which is
    read from its start every time.
    """

    name: str
    remembers_acks: bool

    def fetch(self, limit: int, timeout: float) -> Sequence[Delivery]:
        """Up to `limit` deliveries, waiting at most `timeout` seconds for the first; [] when none came."""
        ...

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        """Acknowledge deliveries whose decisions are durable: they are not delivered again."""
        ...

    def nak(self, deliveries: Sequence[Delivery]) -> None:
        """Give deliveries back: the bus delivers them again."""
        ...

    def lost(self, partition: str, first: int, last: int) -> list[int]:
        """Which sequence numbers in [first, last] the bus no longer holds (deleted, expired): they
        will never be delivered. Those it still holds are merely pending (a redelivery to come)."""
        ...

    def close(self) -> None:
        """Release the connection; unacknowledged deliveries come back later (to this consumer or another)."""
        ...


class BusError(UsageError):
    """The bus could not be reached or refused a request; the message names it and what to do."""


class End(Exception):
    """Raised by `fetch` when a source is exhausted for good (the end of a file): nothing more will come."""


__all__ = ["BusError", "Delivery", "End", "Position", "Source"]
