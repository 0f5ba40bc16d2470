"""Where tickets and confirmations live between a preflight and its execution.

A *ticket* is what a preflight books for an action that needs controls: its id (a random nonce),
the canonical hash of the action descriptor, who asked, when it was issued, when its hold ends
and when its approvals expire. A *confirmation* is one fulfilled control recorded against a
ticket: an approval, a justification, or a signed override of soft classes.

`ApprovalStore` is the interface `ballast.runtime.approvals.Gate` needs; `MemoryApprovalStore`
keeps everything in a dict (tests, one process), `SqliteApprovalStore` in an SQLite file (the
default for the CLI and for services). Two rules hold in every store, because the gate's
guarantees rest on them:

* one confirmation per (ticket, kind, person): `add` raises `DuplicateConfirmation` for a second;
* a ticket is consumed once: `consume` returns True the first time only, atomically.

A store that cannot be reached raises `StoreUnavailable`; the gate then fails safe (blocks).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from ballast.runtime.errors import UsageError


class StoreUnavailable(UsageError):
    """The approval store cannot be read or written (gone, locked, corrupt)."""


class DuplicateConfirmation(Exception):
    """The same person already recorded this kind of confirmation on the ticket."""


@dataclass(frozen=True, slots=True)
class Ticket:
    """A booked preflight: the action it is bound to and its clock."""

    id: str  # the nonce: random, never reused
    action_hash: str
    catalog: str
    requester: str
    issued_at: float
    hold_until: float
    expires_at: float

    @property
    def token(self) -> str:
        """What the requester presents to confirm and execute: `<action hash>.<nonce>`."""
        return f"{self.action_hash}.{self.id}"


@dataclass(frozen=True, slots=True)
class Confirmation:
    """One fulfilled control on a ticket."""

    ticket: str
    kind: str  # "approve" | "justify" | "override"
    by: str
    at: float
    nonce: str
    roles: tuple[str, ...] = ()
    text: str = ""  # the justification, or the override's
    classes: tuple[str, ...] = ()  # an override: the soft classes it waives
    key_id: str = ""  # an override: the key that signed it


class ApprovalStore(Protocol):
    """Tickets and confirmations (see the module docstring for the rules every store keeps)."""

    def open_ticket(self, ticket: Ticket) -> None: ...

    def ticket(self, ticket_id: str) -> Ticket | None: ...

    def add(self, confirmation: Confirmation) -> None: ...

    def confirmations(self, ticket_id: str) -> list[Confirmation]: ...

    def consume(self, ticket_id: str, at: float) -> bool: ...

    def consumed_at(self, ticket_id: str) -> float | None: ...


class MemoryApprovalStore:
    """An `ApprovalStore` in memory; `available = False` makes every call raise StoreUnavailable
    (how tests take the store away mid-flow)."""

    def __init__(self) -> None:
        self.tickets: dict[str, Ticket] = {}
        self.confirmed: dict[str, list[Confirmation]] = {}
        self.consumed: dict[str, float] = {}
        self.available = True
        self._lock = threading.Lock()

    def _reachable(self) -> None:
        if not self.available:
            raise StoreUnavailable("the approval store is unavailable")

    def open_ticket(self, ticket: Ticket) -> None:
        self._reachable()
        with self._lock:
            if ticket.id in self.tickets:
                raise StoreUnavailable(f"ticket {ticket.id} exists already: nonces must not repeat")
            self.tickets[ticket.id] = ticket
            self.confirmed[ticket.id] = []

    def ticket(self, ticket_id: str) -> Ticket | None:
        self._reachable()
        return self.tickets.get(ticket_id)

    def add(self, confirmation: Confirmation) -> None:
        self._reachable()
        with self._lock:
            existing = self.confirmed.setdefault(confirmation.ticket, [])
            if any(c.kind == confirmation.kind and c.by == confirmation.by for c in existing):
                raise DuplicateConfirmation(confirmation.by)
            existing.append(confirmation)

    def confirmations(self, ticket_id: str) -> list[Confirmation]:
        self._reachable()
        return list(self.confirmed.get(ticket_id, ()))

    def consume(self, ticket_id: str, at: float) -> bool:
        self._reachable()
        with self._lock:
            if ticket_id in self.consumed:
                return False
            self.consumed[ticket_id] = at
            return True

    def consumed_at(self, ticket_id: str) -> float | None:
        self._reachable()
        return self.consumed.get(ticket_id)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS tickets (
    id TEXT PRIMARY KEY, action_hash TEXT NOT NULL, catalog TEXT NOT NULL, requester TEXT NOT NULL,
    issued_at REAL NOT NULL, hold_until REAL NOT NULL, expires_at REAL NOT NULL, consumed_at REAL
);
CREATE TABLE IF NOT EXISTS confirmations (
    ticket TEXT NOT NULL REFERENCES tickets(id), kind TEXT NOT NULL, by TEXT NOT NULL,
    at REAL NOT NULL, nonce TEXT NOT NULL UNIQUE, roles TEXT NOT NULL, text TEXT NOT NULL,
    classes TEXT NOT NULL, key_id TEXT NOT NULL,
    PRIMARY KEY (ticket, kind, by)
);
"""


class SqliteApprovalStore:
    """An `ApprovalStore` in an SQLite file: the rules are the table's keys and one conditional
    UPDATE, so they hold across processes sharing the file."""

    def __init__(self, path: str, *, timeout: float = 5.0) -> None:
        self.path = path
        with self._errors():
            self._conn = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
            self._conn.executescript(_SCHEMA)

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        # The one place sqlite3's exceptions are translated: a store that fails is unavailable.
        try:
            yield
        except sqlite3.IntegrityError:
            raise
        except (sqlite3.Error, OSError) as exc:
            raise StoreUnavailable(f"the approval store {self.path} is unavailable: {exc}") from None

    def close(self) -> None:
        with self._errors():
            self._conn.close()

    def open_ticket(self, ticket: Ticket) -> None:
        with self._errors():
            try:
                self._conn.execute(
                    "INSERT INTO tickets VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
                    (
                        ticket.id,
                        ticket.action_hash,
                        ticket.catalog,
                        ticket.requester,
                        ticket.issued_at,
                        ticket.hold_until,
                        ticket.expires_at,
                    ),
                )
            except sqlite3.IntegrityError:
                raise StoreUnavailable(f"ticket {ticket.id} exists already: nonces must not repeat") from None

    def ticket(self, ticket_id: str) -> Ticket | None:
        with self._errors():
            row = self._conn.execute(
                "SELECT id, action_hash, catalog, requester, issued_at, hold_until, expires_at FROM tickets WHERE id = ?",
                (ticket_id,),
            ).fetchone()
        return Ticket(*row) if row else None

    def add(self, confirmation: Confirmation) -> None:
        c = confirmation
        with self._errors():
            try:
                self._conn.execute(
                    "INSERT INTO confirmations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        c.ticket,
                        c.kind,
                        c.by,
                        c.at,
                        c.nonce,
                        json.dumps(list(c.roles)),
                        c.text,
                        json.dumps(list(c.classes)),
                        c.key_id,
                    ),
                )
            except sqlite3.IntegrityError:
                raise DuplicateConfirmation(c.by) from None

    def confirmations(self, ticket_id: str) -> list[Confirmation]:
        with self._errors():
            rows = self._conn.execute(
                "SELECT ticket, kind, by, at, nonce, roles, text, classes, key_id FROM confirmations "
                "WHERE ticket = ? ORDER BY rowid",
                (ticket_id,),
            ).fetchall()
        return [
            Confirmation(t, kind, by, at, nonce, tuple(json.loads(roles)), text, tuple(json.loads(classes)), key_id)
            for t, kind, by, at, nonce, roles, text, classes, key_id in rows
        ]

    def consume(self, ticket_id: str, at: float) -> bool:
        with self._errors():
            cursor = self._conn.execute(
                "UPDATE tickets SET consumed_at = ? WHERE id = ? AND consumed_at IS NULL", (at, ticket_id)
            )
        return cursor.rowcount == 1

    def consumed_at(self, ticket_id: str) -> float | None:
        with self._errors():
            row = self._conn.execute("SELECT consumed_at FROM tickets WHERE id = ?", (ticket_id,)).fetchone()
        return row[0] if row else None
