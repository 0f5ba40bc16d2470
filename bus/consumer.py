"""The consumer: telemetry from a `Source` through an Engine into the audit ledger, exactly once.

For each batch the source hands out, in order:

1. Each delivery is parsed (one JSON object) and identified by its event id (the field the
   policies' `stream { id … }` names, or `id_field`). An id already decided, in the ledger or
   earlier in the batch, is a **duplicate**: a redelivery, or the producer sending twice. It is
   acknowledged and counted, never decided again. A payload that is not a JSON object with an id
   is **rejected**: an `EventRejected` entry says where it sat and why, and it is acknowledged
   (redelivering it would not make it readable).
2. A first delivery whose sequence jumps past the next expected one is checked with the source:
   sequences the bus no longer holds (deleted, expired) were lost before they could be decided,
   and a `BusGap` entry and an alert line say which. Those it still holds are pending redeliveries
   (after a crash), not a gap.
3. The Engine decides the event; its directives and audited events go to the ledger, followed by
   one `EventDecided` entry naming the event id, its position and its directives' ids.
4. The whole batch is committed to the ledger in **one transaction**, and only then acknowledged.

A crash before the commit loses the batch's entries as a whole and leaves its messages
unacknowledged, so they are delivered again and decided then; a crash between the commit and the
acknowledgement leaves them decided and unacknowledged, so their redelivery is recognised as a
duplicate. Either way every event is decided once, as the ledger shows.

**Restart.** The ids already decided, the positions rejected and the highest sequence seen per
partition are read back from the ledger's `EventDecided`, `EventRejected` and `BusGap` entries,
so dedup and gap detection survive a restart. The Engine's rule state (windows, `for` clocks)
survives only with a state file (bus/state.py), which is used only when it matches the ledger
exactly; else the Engine starts empty.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ballast.bus.port import Delivery, End, Source
from ballast.bus.state import load_state, save_state
from ballast.runtime.audit import AuditLog, audit_entry
from ballast.runtime.engine import Engine
from ballast.runtime.errors import UsageError
from ballast.runtime.ledger import Batch, Ledger, Signer
from ballast.runtime.ledger_read import LedgerReader
from ballast.runtime.policy import PolicySet, Result
from ballast.runtime.reading import loads

EVENT_DECIDED, EVENT_REJECTED, BUS_GAP = "EventDecided", "EventRejected", "BusGap"
ACTOR = "ballast consume"
# The consumer commits each batch itself (`flush`): a batch that never fills and never times out.
_MANUAL = Batch(entries=sys.maxsize, ms=1e9)


@dataclass
class Tally:
    """What a consumer did: deliveries fetched, events decided, duplicates skipped, payloads
    rejected, gap alerts raised, batches committed."""

    fetched: int = 0
    decided: int = 0
    duplicates: int = 0
    rejected: int = 0
    gaps: int = 0
    batches: int = 0

    def to_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Decided:
    """One event decided and committed: its id, where it came from, and the Engine's result."""

    event_id: str
    where: str
    result: Result

    def to_dict(self) -> dict[str, Any]:
        return {"event": self.event_id, "where": self.where, **self.result.to_dict()}


def id_field_of(policies: PolicySet, given: str | None) -> str:
    """The event id field: `given`, else the one the policies' `stream { id … }` names.

    Raises UsageError when neither says, or the policies name different ones.
    """
    if given:
        return given
    named = sorted({f for p in policies.policies if (f := p.timing_ir["stream"].get("id"))})
    if len(named) == 1:
        return named[0]
    if not named:
        raise UsageError(
            "the policies declare no `stream { id … }`: give --id-field NAME, the field that identifies "
            "an event, so that a redelivered event is recognised and not decided twice"
        )
    raise UsageError(f"the policies name different event id fields ({', '.join(named)}): choose one with --id-field")


class Consumer:
    """Consumes `source` into the ledger at `ledger_path` with an Engine over `policies`.

    `id_field`: the event id field (see `id_field_of`). `input`: evaluate only the policies of
    that input. `signer` signs the ledger's checkpoints. `state_path`: keep the Engine's state
    in this file between runs (bus/state.py); `state_note` then says whether it was restored. `on_decided(Decided)` is called for each
    event once its batch is committed (before the batch is acknowledged); `on_alert(text)` for
    each gap alert.
    Raises LedgerError when the ledger cannot be opened or read.
    """

    def __init__(
        self,
        policies: PolicySet,
        ledger_path: str,
        source: Source,
        *,
        id_field: str,
        input: str | None = None,
        signer: Signer | None = None,
        state_path: str | None = None,
        on_decided: Callable[[Decided], None] | None = None,
        on_alert: Callable[[str], None] | None = None,
    ) -> None:
        self.source, self.id_field, self.input = source, id_field, input
        self.on_decided, self.on_alert = on_decided, on_alert
        self.tally = Tally()
        self._decided: set[str] = set()
        self._rejected: set[tuple[str, int]] = set()
        self._highest: dict[str, int] = {}
        self._remember(ledger_path)
        self._ledger = Ledger.open(ledger_path, signer=signer, batch=_MANUAL)
        try:
            audit = AuditLog(self._ledger, measure=False)
            self.state_path, self.state_note = state_path, ""
            restored = None
            if state_path is not None:
                restored, self.state_note = load_state(state_path, policies, self._ledger.head)
            if restored is not None:
                restored.audit = audit
                self._engine = restored
            else:
                self._engine = Engine(policies, audit=audit)
        except BaseException:
            self._ledger.close()
            raise
        self._stopping = False

    # ---- the loop ----

    def run(self, *, batch: int = 64, idle_exit: float | None = None, max_events: int | None = None) -> Tally:
        """Consume until `stop()`, the end of a finite source, `idle_exit` seconds without a
        message, or `max_events` deliveries; the tally."""
        if batch < 1:
            raise UsageError(f"--batch {batch}: fetch at least one message at a time")
        quiet_since = time.monotonic()
        while not self._stopping and (max_events is None or self.tally.fetched < max_events):
            limit = batch if max_events is None else min(batch, max_events - self.tally.fetched)
            wait = 1.0 if idle_exit is None else max(0.05, min(1.0, idle_exit))
            try:
                deliveries = self.source.fetch(limit, wait)
            except End:
                break
            if deliveries:
                self.handle(deliveries)
                quiet_since = time.monotonic()
            elif idle_exit is not None and time.monotonic() - quiet_since >= idle_exit:
                break
        return self.tally

    def stop(self) -> None:
        """Finish the batch in hand, then return from `run` (a signal handler may call this)."""
        self._stopping = True

    @property
    def stopping(self) -> bool:
        """Whether `stop` was called: `run` returned because it was asked to."""
        return self._stopping

    def handle(self, deliveries: Sequence[Delivery]) -> list[Decided]:
        """Decide one batch, commit it to the ledger, then acknowledge it (module docstring)."""
        self.tally.fetched += len(deliveries)
        decided: list[Decided] = []
        fresh: set[str] = set()
        try:
            for delivery in deliveries:
                self._one(delivery, fresh, decided)
            self._ledger.flush()
        except BaseException:
            # None of the batch is written, and the bus delivers it again.
            try:
                self._ledger.discard()
            finally:
                self.source.nak(deliveries)
            raise
        # Durable from here: decided, whatever happens to the acknowledgement (a redelivery is a duplicate).
        self._decided |= fresh
        if self.state_path is not None:
            save_state(self.state_path, self._engine, self._ledger.head)
        self.tally.batches += 1
        self.tally.decided += len(decided)
        if self.on_decided:
            for d in decided:
                self.on_decided(d)
        self.source.ack(deliveries)
        return decided

    def close(self) -> None:
        """Close the ledger (signing its head when a signer was given) and the source."""
        try:
            self._ledger.close()
        finally:
            self.source.close()

    # ---- one delivery ----

    def _one(self, delivery: Delivery, fresh: set[str], decided: list[Decided]) -> None:
        position = delivery.position
        if position.sequence is not None and (position.partition, position.sequence) in self._rejected:
            self.tally.duplicates += 1
            return
        try:
            event = loads(delivery.payload.decode("utf-8"))
        except UnicodeDecodeError as exc:
            self._reject(delivery, f"not UTF-8 text ({exc.reason})")
            return
        except json.JSONDecodeError as exc:
            self._reject(delivery, f"not JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}")
            return
        if not isinstance(event, dict):
            self._reject(delivery, f"a JSON {type(event).__name__}, not an object: an event is one JSON object")
            return
        raw = event.get(self.id_field)
        if isinstance(raw, bool) or not isinstance(raw, str | int) or raw == "":
            what = "has no" if raw is None else f"has {json.dumps(raw)} as its"
            self._reject(delivery, f"the event {what} id field {self.id_field!r} (a non-empty string or an integer)")
            return
        event_id = raw if isinstance(raw, str) else json.dumps(raw)
        if event_id in self._decided or event_id in fresh:
            self.tally.duplicates += 1
            return
        if not delivery.redelivered:
            self._check_gap(delivery)
        result = self._engine.process(event, input=self.input)
        entry = audit_entry(
            EVENT_DECIDED,
            {"event": event_id, **position.to_dict()},
            event_id,
            ACTOR,
            self.source.name,
            "decided",
            f"{len(result.directives)} directive(s), {len(result.errors)} error(s)",
            "on receipt",
            "the Engine decided the event; its entries precede this one in the same transaction",
        )
        entry["bus"] = position.to_dict()
        entry["directives"] = [d.directive_id for d in result.directives]
        self._ledger.append(entry)
        fresh.add(event_id)
        decided.append(Decided(event_id, delivery.where, result))

    def _reject(self, delivery: Delivery, why: str) -> None:
        position = delivery.position
        entry = audit_entry(
            EVENT_REJECTED,
            {"where": delivery.where, "why": why},
            delivery.where,
            ACTOR,
            self.source.name,
            "rejected",
            why,
            "on receipt",
            "the payload could not be read as an event; it was acknowledged so it is not redelivered forever",
        )
        entry["bus"] = position.to_dict()
        self._ledger.append(entry)
        if position.sequence is not None:
            self._rejected.add((position.partition, position.sequence))
        self.tally.rejected += 1

    def _check_gap(self, delivery: Delivery) -> None:
        partition, seq = delivery.position.partition, delivery.position.sequence
        if seq is None:
            return
        highest = self._highest.get(partition)
        self._highest[partition] = seq if highest is None else max(highest, seq)
        if highest is None or seq <= highest + 1:
            return
        gone = self.source.lost(partition, highest + 1, seq - 1)
        if not gone:
            return  # still in the bus: deliveries a crashed consumer left unacknowledged, coming again
        span = ", ".join(f"{a}" if a == b else f"{a}–{b}" for a, b in _ranges(gone))
        reason = (
            f"{self.source.name}: partition {partition} jumped from sequence {highest} to {seq}; "
            f"{len(gone)} message(s) ({span}) are no longer in the bus and were never decided"
        )
        entry = audit_entry(
            BUS_GAP,
            {"partition": partition, "after": highest, "next": seq},
            partition,
            ACTOR,
            self.source.name,
            "gap-detected",
            reason,
            "on receipt",
            "sequence numbers of first deliveries, checked against what the bus still holds",
        )
        entry["bus"] = {"partition": partition, "sequence": seq, "after": highest, "missing": _ranges(gone)}
        self._ledger.append(entry)
        self.tally.gaps += 1
        if self.on_alert:
            self.on_alert(reason)

    def _remember(self, path: str) -> None:
        """Read back what earlier runs decided, rejected and saw (module docstring, "Restart")."""
        if not os.path.exists(path) or os.path.getsize(path) == 0:
            return  # a new ledger: nothing decided yet
        with LedgerReader.open(path) as reader:
            for kind in (EVENT_DECIDED, EVENT_REJECTED, BUS_GAP):
                for entry in reader.query(kind=kind, actor=ACTOR):
                    position = entry.get("bus") or {}
                    partition, seq = position.get("partition"), position.get("sequence")
                    if kind == EVENT_DECIDED:
                        self._decided.add(entry["subject"])
                    elif kind == EVENT_REJECTED and seq is not None:
                        self._rejected.add((partition, seq))
                    if isinstance(seq, int):
                        self._highest[partition] = max(self._highest.get(partition, seq), seq)


def _ranges(numbers: list[int]) -> list[list[int]]:
    """Sorted numbers as [first, last] runs: a gap of a million messages is one pair, not a million."""
    runs: list[list[int]] = []
    for n in sorted(numbers):
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return runs


__all__ = ["BUS_GAP", "EVENT_DECIDED", "EVENT_REJECTED", "Consumer", "Decided", "Tally", "id_field_of"]
