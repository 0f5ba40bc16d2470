"""From a `--source` address to a Source: `nats://host:port`, `kafka://host:port[,host:port]`,
`-` (standard input) or a JSONL file path."""

from __future__ import annotations

from typing import TextIO

from ballast.bus.jetstream import DEFAULT_ACK_WAIT, JetStream
from ballast.bus.jsonl import JsonLines
from ballast.bus.port import Source
from ballast.runtime.errors import UsageError


def open_source(
    address: str,
    *,
    stdin: TextIO,
    stream: str | None = None,
    subject: str | None = None,
    durable: str | None = None,
    ack_wait: float = DEFAULT_ACK_WAIT,
) -> Source:
    """The source `address` names. NATS needs `stream`, `subject` and `durable`; Kafka reads the
    topic `subject` (or `stream`) in the consumer group `durable`. Raises UsageError (BusError
    for a bus that cannot be reached) naming the option to fix."""
    if address.startswith("nats://") or address.startswith("tls://"):
        missing = [f"--{n}" for n, v in (("stream", stream), ("subject", subject), ("durable", durable)) if not v]
        if missing:
            raise UsageError(
                f"--source {address} needs {', '.join(missing)}: the JetStream stream, its subject, and the durable consumer's name"
            )
        assert stream and subject and durable
        return JetStream(address, stream, subject, durable, ack_wait=ack_wait)
    if address.startswith("kafka://"):
        from ballast.bus.kafka import Kafka

        topic = subject or stream
        if not topic or not durable:
            raise UsageError(f"--source {address} needs --subject TOPIC and --durable GROUP (the consumer group)")
        bootstrap = address.removeprefix("kafka://").rstrip("/")
        if not bootstrap:
            raise UsageError(f"--source {address}: name the brokers, e.g. kafka://127.0.0.1:9092")
        return Kafka(bootstrap, topic, durable)
    if "://" in address:
        raise UsageError(
            f"--source {address}: the sources are nats://HOST:PORT, kafka://HOST:PORT, '-' (standard input) or a JSONL file"
        )
    if address == "-":
        return JsonLines(stdin, "stdin")
    try:
        return JsonLines(open(address, encoding="utf-8"), address)
    except OSError as exc:
        raise UsageError(f"--source {address}: cannot read it: {exc.strerror or exc}") from None


__all__ = ["open_source"]
