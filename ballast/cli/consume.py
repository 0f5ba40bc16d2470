"""`ballast consume`: decide telemetry from a bus, exactly once, into an audit ledger (ballast/bus)."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
from argparse import Namespace
from collections.abc import Iterator
from typing import Any, TextIO

from ballast.cli.exits import EXIT_OK, EXIT_PROBLEMS
from ballast.cli.simulation import positive_int
from ballast.cli.trust import add_trust_arguments, load_trusted

DESCRIPTION = """Consume events from a telemetry bus, decide each with the bundle's Engine, and
record the decisions in an audit ledger. A batch is acknowledged only after its
decisions are committed to the ledger (at-least-once delivery), and an event
whose id the ledger already holds is not decided again (so each event is
decided once, across crashes and restarts). A jump in the bus's sequence
numbers over messages it no longer holds is a gap: a BusGap entry and a line on
standard error. Prints one JSON line per decided event. Sources:
nats://HOST:PORT (JetStream: --stream, --subject, --durable), kafka://HOST:PORT
(--subject TOPIC, --durable GROUP), '-' (standard input) or a JSONL file. Stops
on SIGINT or SIGTERM after the batch in hand (a second signal stops at once),
at the end of a file, after --idle-exit seconds without a message, or after
--max-events. Exits 0, or 1 when payloads were rejected or a gap was found."""


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def add_arguments(c: argparse.ArgumentParser) -> None:
    """Declare the arguments of `ballast consume`."""
    c.add_argument("--bundle", required=True, metavar="BUNDLE", help="the compiled bundle (.json) that decides")
    c.add_argument("--ledger", required=True, metavar="LEDGER", help="the audit ledger (SQLite) to record decisions in")
    c.add_argument(
        "--source", required=True, metavar="URL", help="nats://HOST:PORT, kafka://HOST:PORT, '-' or a JSONL file"
    )
    c.add_argument("--stream", metavar="S", help="the JetStream stream")
    c.add_argument("--subject", metavar="S", help="the subject to consume (NATS), or the topic (Kafka)")
    c.add_argument("--durable", metavar="NAME", help="the durable consumer (NATS) or consumer group (Kafka)")
    c.add_argument(
        "--id-field",
        metavar="FIELD",
        help="the field that identifies an event (default: the one the policies' `stream { id … }` names)",
    )
    c.add_argument("--input", metavar="NAME", help="evaluate only the policies of this input")
    c.add_argument(
        "--batch", type=positive_int, default=64, metavar="N", help="messages per fetch and commit (default: 64)"
    )
    c.add_argument(
        "--ack-wait",
        type=_seconds,
        default=30.0,
        metavar="SECONDS",
        help="NATS: redeliver a message not acknowledged within this time (default: 30)",
    )
    c.add_argument("--idle-exit", type=_seconds, metavar="SECONDS", help="stop after this long without a message")
    c.add_argument("--max-events", type=positive_int, metavar="N", help="stop after N messages")
    c.add_argument(
        "--state",
        metavar="FILE",
        help="keep the Engine's rule state (windows, `for` clocks) in FILE between runs; used only when it "
        "matches the ledger's last entry, else the Engine starts empty (docs/telemetry.md)",
    )
    c.add_argument("--audit-key", metavar="KEY", help="sign the ledger's checkpoints with this private key")
    add_trust_arguments(c)


def run(args: Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    """Consume until told to stop; exit 1 when payloads were rejected or a gap was found."""
    from ballast.bus import Consumer, id_field_of, open_source
    from ballast.runtime.errors import UsageError

    if not args.bundle.endswith(".json"):
        raise UsageError(f"--bundle {args.bundle}: give a compiled bundle (.json; `ballast compile` writes one)")
    policies = load_trusted(args.bundle, args)[0]
    if args.input is not None and args.input not in policies.inputs:
        raise UsageError(f"--input {args.input}: no policy reads that input; inputs are {', '.join(policies.inputs)}")
    id_field = id_field_of(policies, args.id_field)
    signer = None
    if args.audit_key:
        from ballast.runtime.keyfiles import read_private_key

        signer = read_private_key(args.audit_key)
    source = open_source(
        args.source, stdin=stdin, stream=args.stream, subject=args.subject, durable=args.durable, ack_wait=args.ack_wait
    )

    def alert(text: str) -> None:
        err.write(f"ballast: gap: {text}\n")
        err.flush()

    def decided(d: Any) -> None:
        out.write(json.dumps(d.to_dict(), ensure_ascii=False, sort_keys=True) + "\n")
        out.flush()

    try:
        consumer = Consumer(
            policies,
            args.ledger,
            source,
            id_field=id_field,
            input=args.input,
            signer=signer,
            state_path=args.state,
            on_decided=decided,
            on_alert=alert,
        )
    except BaseException:
        source.close()
        raise
    if consumer.state_note:
        err.write(f"ballast: {consumer.state_note}\n")
    try:
        with _stopping_on_signals(consumer):
            tally = consumer.run(batch=args.batch, idle_exit=args.idle_exit, max_events=args.max_events)
    finally:
        consumer.close()
    err.write(f"ballast: consumed {source.name}: {_counts(tally)}\n")
    if not tally.fetched and not consumer.stopping:
        # the source ran dry (a file, or --idle-exit) without one event: nothing was decided, which
        # is not a success; a signal stopping a quiet consumer is (a service shut down)
        err.write(f"ballast: no event was read from {source.name}: nothing was decided\n")
        return EXIT_PROBLEMS
    return EXIT_PROBLEMS if tally.rejected or tally.gaps else EXIT_OK


def _counts(tally: Any) -> str:
    def n(count: int, noun: str, plural: str) -> str:
        return f"{count} {noun if count == 1 else plural}"

    return ", ".join(
        [
            f"{tally.fetched} fetched",
            f"{tally.decided} decided",
            n(tally.duplicates, "duplicate", "duplicates"),
            f"{tally.rejected} rejected",
            n(tally.gaps, "gap", "gaps"),
            n(tally.batches, "batch", "batches"),
        ]
    )


@contextlib.contextmanager
def _stopping_on_signals(consumer: Any) -> Iterator[None]:
    """The first SIGINT or SIGTERM finishes the batch in hand, then stops; a second one interrupts
    at once (a consumer blocked reading a terminal): the open batch is rolled back and given back.
    Only the main thread can set handlers: elsewhere (a test calling main) none are set."""
    previous = {}
    signalled = []

    def handler(number: int, frame: Any) -> None:
        signalled.append(number)
        if len(signalled) > 1:
            raise KeyboardInterrupt
        consumer.stop()

    with contextlib.suppress(ValueError):
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


__all__ = ["DESCRIPTION", "add_arguments", "run"]
