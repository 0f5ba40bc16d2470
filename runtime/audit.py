"""The audit trail: one JSON line per decision, in one envelope, with a 5W1H narrative.

Every `DirectiveIssued`, `ThreatIndexUpdated`, `ModeChanged`, `TelemetryGap` and `Stale` becomes

    {"kind", "action_id", "subject", "actor", "scope", "outcome", "reason", "latency_ms",
     "narrative": {"who", "what", "when", "where", "why": [...], "how"}}

plus `seq`, the entry's 1-based position in the trail (MOTB FR-Gov1, the Layer-2 5W1H clarity
log). `action_id` is the content hash of the decision followed by `seq`, so two identical
decisions (the same event twice) still have distinct ids, and the same run gives the same ids.
A `DirectiveIssued` entry also carries the `directive_id` printed with the directive.
`latency_ms` is the only measured (wall-clock) field: the time from the start of processing the
event that completed the breach to the directive; it is null in replays that ask for determinism
(`AuditLog(..., measure=False)`).

`AuditLog` writes to any object with a `write(str)` method (a file, `sys.stdout`, a socket
wrapper) or to a callable taking the entry dict. A trail must never hold less than what was acted
on, so every `write`/`record` flushes the sink before returning (and, with `sync=True`, fsyncs
it): a caller that reports a directive after `Engine.process` returns has it on disk already.
`AuditLog.append_to(path)` opens a file trail for appending, numbering on from its last entry.

`AuditLog(ledger)` writes to an audit ledger instead (runtime/ledger.py: SQLite, hash-chained,
signed checkpoints): the ledger numbers the entries, so `seq` and the `action_id` suffix are the
ledger's sequence numbers, and each `write`/`record` is one ledger transaction. A durable ledger
has committed it when the call returns; a batched one (`Batch(N, T)`) has not: a crash loses up
to its last N entries or T ms, so "on disk when `process` returns" holds only for durable ledgers.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol, runtime_checkable

from ballast.runtime.errors import UsageError

Entry = dict[str, Any]


def _action_id(kind: str, material: Any) -> str:
    raw = json.dumps([kind, material], sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return kind[:3].lower() + "-" + hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16]


def directive_entry(directive: Any, when: str | None, latency_ms: float | None = None) -> Entry:
    """`DirectiveIssued` for one directive, its rationale as the why."""
    why = [
        f"{c['check']} was {json.dumps(c['value'])} ({', '.join(f'{k}={v}' for k, v in c['inputs'].items())})"
        for c in directive.rationale
    ]
    return {
        "kind": "DirectiveIssued",
        "action_id": directive.directive_id,
        "directive_id": directive.directive_id,  # joins the entry to the directive as printed
        "subject": ",".join(directive.targets),
        "actor": f"{directive.policy}/{directive.rule}",
        "scope": directive.policy,
        "outcome": directive.action,
        "reason": directive.reason,
        "latency_ms": latency_ms,
        "narrative": {
            "who": f"policy {directive.policy}, rule {directive.rule}",
            "what": f"{directive.action} {', '.join(directive.targets)} {json.dumps(directive.params, sort_keys=True)}",
            "when": when,
            "where": ", ".join(directive.targets),
            "why": [directive.reason, *why],
            "how": f"rule condition held (impact {directive.impact}, priority {directive.priority})",
        },
    }


def held_entry(directive: Any, when: str | None) -> Entry:
    """`DirectiveHeld` for a directive a `warn` or `dryrun` rule computed and did not issue: what
    it would have done, counted in the trail (runtime/enforcement.py)."""
    entry = directive_entry(directive, when)
    entry["kind"] = "DirectiveHeld"
    entry["outcome"] = f"held ({directive.mode}): would have issued {directive.action}"
    entry["narrative"] = {**entry["narrative"], "what": f"DirectiveHeld: {entry['outcome']}"}
    return entry


def event_entry(event: Mapping[str, Any]) -> Entry | None:
    """An audit entry for an Engine or ThreatEngine event record; None for kinds not audited."""
    kind = event.get("type")
    if kind == "TelemetryGap":
        reason = f"source {event['source']} skipped {event['missing']} sequence number(s) after {event['after']}"
        return audit_entry(
            "TelemetryGap",
            event,
            str(event["source"]),
            "ballast-engine",
            event["policy"],
            "gap-detected",
            reason,
            event["time"],
            "sequence numbers per source",
        )
    if kind == "Stale":
        subject = ",".join(str(v) for v in event["key"].values()) or event["policy"]
        return audit_entry(
            "Stale",
            event,
            subject,
            "ballast-engine",
            event["policy"],
            "stale",
            f"no event since {event['last_seen']}: its rules no longer read the last one",
            event["time"],
            "`stale after` in the policy's stream block",
        )
    if kind == "ThreatIndexUpdated":
        parts = [
            f"{c['source']}: value {c['value']}, weight {c['weight']}, contribution {c['contribution']}"
            for c in event.get("rationale", [])
        ]
        reason = f"ThreatIndex {event['index']} ({event['mode']})"
        return audit_entry(
            "ThreatIndexUpdated",
            event,
            "ThreatIndex",
            event.get("threat", "gtbe"),
            event.get("threat", "gtbe"),
            str(event["index"]),
            reason,
            event["time"],
            "weighted fusion of normalised sources, EWMA-smoothed",
            why=parts,
        )
    if kind == "ModeChanged":
        reason = f"mode {event['previous_mode']} → {event['mode']} at ThreatIndex {event['index']}"
        return audit_entry(
            "ModeChanged",
            event,
            "ResponseMode",
            event.get("threat", "gtbe"),
            event.get("threat", "gtbe"),
            event["mode"],
            reason,
            event["time"],
            "Fear-Paralysis Governor: hysteresis, dwell, flip limit, floor",
        )
    return None


def policy_change_entry(outcome: Any, store: str, keyring: str) -> Entry:
    """`PolicyChangeCommitted` (outcome `committed`, `rollback` or `no-op`) or `PolicyChangeRejected`
    (outcome: the reason code) for a PolicyStore's `ChangeOutcome`.

    The actor is who signed (key names and ids; "unsigned" when no signature counted), the
    subject the proposed bundle's fingerprint; `change` holds the old and new fingerprints and
    versions, the roles required, how each document's version changes and what became of each
    rule's state.
    """
    kind = "PolicyChangeRejected" if outcome.status == "rejected" else "PolicyChangeCommitted"
    new, old = outcome.new, outcome.old
    signers = [s.label for s in new.signers] if new is not None else []
    claimed = [f"{label} (did not count)" for label in outcome.claimed]
    result = outcome.reason or ("rollback" if outcome.rollback else outcome.status)
    change = {
        "bundle": outcome.where,
        "proposed_by": outcome.actor,
        "keyring": keyring,
        "roles": list(outcome.roles),
        "signers": [s.to_dict() for s in new.signers] if new is not None else [],
        "claimed_signers": list(outcome.claimed),
        "old": old.to_dict() if old is not None else None,
        "new": new.to_dict() if new is not None else None,
        "rollback": outcome.rollback,
        "reason": outcome.reason or None,
        "versions": [c.to_dict() for c in outcome.versions],
        "state": [c.to_dict() for c in outcome.state],
    }
    who = f"signed by {', '.join(signers)}" if signers else f"no valid signature ({', '.join(claimed) or 'none'})"
    how = "signatures checked against the keyring for the roles of its documents; versions compared"
    return {
        "kind": kind,
        "action_id": _action_id(kind, change),
        "subject": new.fingerprint if new is not None else outcome.where,
        "actor": ", ".join(signers or claimed) or "unsigned",
        "scope": store,
        "outcome": result,
        "reason": outcome.message,
        "latency_ms": None,
        "change": change,
        "narrative": {
            "who": who,
            "what": f"{kind}: {result}",
            "when": None,
            "where": store,
            "why": [outcome.message, *(c.text for c in outcome.versions), *(c.text for c in outcome.state)],
            "how": how,
        },
    }


def audit_entry(
    kind: str,
    event: Mapping[str, Any],
    subject: str,
    actor: str,
    scope: str,
    outcome: str,
    reason: str,
    when: str,
    how: str,
    why: list[str] | None = None,
) -> Entry:
    return {
        "kind": kind,
        "action_id": _action_id(kind, dict(event)),
        "subject": subject,
        "actor": actor,
        "scope": scope,
        "outcome": outcome,
        "reason": reason,
        "latency_ms": None,
        "narrative": {
            "who": actor,
            "what": f"{kind}: {outcome}",
            "when": when,
            "where": scope,
            "why": [reason, *(why or [])],
            "how": how,
        },
    }


@runtime_checkable
class EntryStore(Protocol):
    """A sink that numbers entries itself, several per transaction: the audit ledger (runtime/ledger.py).

    `append_many(entries, finish)` appends them in order; `finish(entry, seq)` completes each
    once its number is known. It returns one record with a `seq` per entry.
    """

    def append_many(self, entries: Sequence[Entry], finish: Callable[[Entry, int], Entry]) -> Sequence[Any]: ...


class AuditLog:
    """Writes audit entries as JSON lines (sorted keys) to a writable sink or a callable, or to a ledger.

    `measure=False` nulls `latency_ms` (a reproducible trail). `sync=True` fsyncs the sink after
    every flush (it needs a `fileno()`). `start` is the number of entries already in the trail:
    the first entry written gets `seq` start + 1. A sink that fails to write (a full disk) raises
    `UsageError` naming the sink, so a host stops before acting on a decision it could not record.
    With a ledger (an `EntryStore`) as the sink, the ledger numbers the entries (`start` is not
    used) and its durability replaces `sync`; its errors are `LedgerError`, a `UsageError`.
    """

    def __init__(self, sink: Any, *, measure: bool = True, sync: bool = False, start: int = 0) -> None:
        self._store: EntryStore | None = sink if isinstance(sink, EntryStore) else None
        if self._store is not None and sync:
            raise UsageError("sync=True is for file sinks: a ledger commits durably by itself (unless opened batched)")
        if self._store is None and not (callable(sink) or hasattr(sink, "write")):
            raise UsageError(f"an audit sink needs a write(str) method or must be callable, got {type(sink).__name__}")
        if sync and not hasattr(sink, "fileno"):
            raise UsageError(f"sync=True needs a sink with a file descriptor, got {type(sink).__name__}")
        self._sink = sink
        self.measure = measure
        self.sync = sync
        self.sequence = start
        self.written = 0
        self.name = ""  # the file `append_to` opened, for error messages
        self._owned = False  # close() closes only a sink this log opened
        self._pending: list[Entry] = []  # entries for the ledger, appended together by _commit

    @classmethod
    def append_to(cls, path: str | os.PathLike[str], *, measure: bool = True, sync: bool = False) -> AuditLog:
        """A log appending to the trail file at `path` (created if missing), never truncating it.

        Numbering continues from the file's line count. A last line cut short (a crash in the
        middle of a write) is ended with a newline first, so the new entries stay whole lines.
        Raises UsageError if the file cannot be opened.
        """
        where = os.fspath(path)
        try:
            existing = _count_lines(where)
            sink = open(where, "a", encoding="utf-8")  # noqa: SIM115 - the log owns it: close()
        except OSError as exc:
            raise UsageError(f"cannot write the audit trail to {where}: {exc.strerror or exc}") from None
        log = cls(sink, measure=measure, sync=sync, start=existing.lines)
        log.name, log._owned = where, True
        if existing.cut_short:
            log._guarded(lambda: sink.write("\n"))
        return log

    def write(self, entry: Entry) -> None:
        """Write one entry and flush it (see the class docstring)."""
        self._put(entry)
        self._commit()

    def record(self, result: Any, when: str | None, latency_ms: Callable[[Any], float | None] | None = None) -> None:
        """Every directive and audited event of an Engine `Result`, in order, flushed once."""
        for directive in result.directives:
            self._put(directive_entry(directive, when, latency_ms(directive) if latency_ms else None))
        for directive in getattr(result, "held", ()):
            self._put(held_entry(directive, when))
        for event in _events(result):
            entry = event_entry(event)
            if entry is not None:
                self._put(entry)
        self._commit()

    def close(self) -> None:
        """Flush the sink; close it if `append_to` opened it."""
        self._commit()
        if self._owned:
            self._guarded(self._sink.close)

    def _stamped(self, entry: Entry, seq: int) -> Entry:
        # The content hash says what was decided; the sequence tells identical decisions apart.
        entry = {**entry, "seq": seq, "action_id": f"{entry['action_id']}-{seq}"}
        if not self.measure:
            entry["latency_ms"] = None
        return entry

    def _put(self, entry: Entry) -> None:
        if self._store is not None:
            self._pending.append(entry)
            return
        self.sequence += 1
        entry = self._stamped(entry, self.sequence)
        if callable(self._sink) and not hasattr(self._sink, "write"):
            self._sink(entry)
        else:
            line = json.dumps(entry, sort_keys=True, ensure_ascii=False) + "\n"
            self._guarded(lambda: self._sink.write(line))
        self.written += 1

    def _commit(self) -> None:
        if self._store is not None:
            entries, self._pending = self._pending, []
            if entries:
                appended = self._store.append_many(entries, self._stamped)
                self.sequence = appended[-1].seq
                self.written += len(entries)
            return
        flush = getattr(self._sink, "flush", None)
        if flush is not None:
            self._guarded(flush)
        if self.sync:
            self._guarded(lambda: os.fsync(self._sink.fileno()))

    def _guarded(self, step: Callable[[], Any]) -> None:
        try:
            step()
        except OSError as exc:
            where = self.name or getattr(self._sink, "name", None) or type(self._sink).__name__
            raise UsageError(f"cannot write the audit trail to {where}: {exc.strerror or exc}") from None


class _Existing(NamedTuple):
    lines: int
    cut_short: bool


def _count_lines(path: str) -> _Existing:
    """How many lines a trail file already holds; only regular files are read (a device such as
    /dev/full would read forever, a FIFO would block)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return _Existing(0, False)
    except FileNotFoundError:
        return _Existing(0, False)
    lines, last = 0, b"\n"
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    cut_short = last != b"\n"
    return _Existing(lines + cut_short, cut_short)


def _events(result: Any) -> Iterable[Mapping[str, Any]]:
    return getattr(result, "events", ())
