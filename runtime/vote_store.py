"""Where ballots and votes of the intent router live (`ballast.runtime.governance`).

A *ballot* opens when an intent of a voting tier is first routed; its deadline counts from then,
and it is bound to the digest of the intent as first routed (the votes are for that intent only).
A *vote* is one cast choice on a ballot: voter, choice, time, and, when the ballot asks for signed
votes, the id of the key that signed it and the signature (`ballast.runtime.vote_signing`). Every
vote cast is recorded, in the
order it was cast, whether it counts or not: the router recounts from the record at each routing
(`ballast.runtime.governance.tally`), so a row written past the router still has to pass its rules.

`MemoryVoteStore` keeps everything in dicts (tests, one process); `SqliteVoteStore` in an SQLite
file (the default for the CLI), as `ballast.runtime.approval_store` keeps tickets. A store that
cannot be reached raises `StoreUnavailable`; the router then refuses (fails safe).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from ballast.runtime.approval_store import StoreUnavailable


@dataclass(frozen=True, slots=True)
class Vote:
    """One cast vote: who, on which intent, which choice (`approve` or `reject`), when; `key_id`
    and `sig` (base64) when it is signed, else empty."""

    intent: str
    voter: str
    choice: str
    at: float
    key_id: str = ""
    sig: str = ""


class VoteStore(Protocol):
    """Ballots and votes (see the module docstring)."""

    def open_ballot(self, intent: str, at: float, digest: str) -> tuple[float, str]: ...

    def opened_at(self, intent: str) -> float | None: ...

    def ballot(self, intent: str) -> tuple[float, str] | None: ...

    def cast(self, vote: Vote) -> None: ...

    def votes(self, intent: str) -> list[Vote]: ...


class MemoryVoteStore:
    """A `VoteStore` in memory."""

    def __init__(self) -> None:
        self.ballots: dict[str, tuple[float, str]] = {}
        self.cast_votes: dict[str, list[Vote]] = {}
        self._lock = threading.Lock()

    def open_ballot(self, intent: str, at: float, digest: str) -> tuple[float, str]:
        """Open the intent's ballot at `at` for `digest` unless it is open; when it opened, for what."""
        with self._lock:
            return self.ballots.setdefault(intent, (at, digest))

    def opened_at(self, intent: str) -> float | None:
        ballot = self.ballots.get(intent)
        return ballot[0] if ballot else None

    def ballot(self, intent: str) -> tuple[float, str] | None:
        """When the intent's ballot opened and the digest it is bound to; None if it is not open."""
        return self.ballots.get(intent)

    def cast(self, vote: Vote) -> None:
        with self._lock:
            self.cast_votes.setdefault(vote.intent, []).append(vote)

    def votes(self, intent: str) -> list[Vote]:
        return list(self.cast_votes.get(intent, ()))


_SCHEMA = """
CREATE TABLE IF NOT EXISTS ballots (intent TEXT PRIMARY KEY, opened_at REAL NOT NULL, digest TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS votes (
    intent TEXT NOT NULL, voter TEXT NOT NULL, choice TEXT NOT NULL, at REAL NOT NULL,
    key_id TEXT NOT NULL DEFAULT '', sig TEXT NOT NULL DEFAULT ''
);
"""
# Stores written before votes were signed lack the two signature columns: added on open.
_SIGNATURE_COLUMNS = ("key_id", "sig")


class SqliteVoteStore:
    """A `VoteStore` in an SQLite file, shared safely between processes."""

    def __init__(self, path: str, *, timeout: float = 5.0) -> None:
        self.path = path
        with self._errors():
            self._conn = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
            self._conn.executescript(_SCHEMA)
            columns = {row[1] for row in self._conn.execute("PRAGMA table_info(votes)")}
            for column in _SIGNATURE_COLUMNS:
                if column not in columns:
                    self._conn.execute(f"ALTER TABLE votes ADD COLUMN {column} TEXT NOT NULL DEFAULT ''")

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        # The one place sqlite3's exceptions are translated: a store that fails is unavailable.
        try:
            yield
        except (sqlite3.Error, OSError) as exc:
            raise StoreUnavailable(f"the vote store {self.path} is unavailable: {exc}") from None

    def close(self) -> None:
        with self._errors():
            self._conn.close()

    def open_ballot(self, intent: str, at: float, digest: str) -> tuple[float, str]:
        with self._errors():
            self._conn.execute("INSERT OR IGNORE INTO ballots VALUES (?, ?, ?)", (intent, at, digest))
            row = self._conn.execute("SELECT opened_at, digest FROM ballots WHERE intent = ?", (intent,)).fetchone()
        return float(row[0]), str(row[1])

    def opened_at(self, intent: str) -> float | None:
        ballot = self.ballot(intent)
        return ballot[0] if ballot else None

    def ballot(self, intent: str) -> tuple[float, str] | None:
        with self._errors():
            row = self._conn.execute("SELECT opened_at, digest FROM ballots WHERE intent = ?", (intent,)).fetchone()
        return (float(row[0]), str(row[1])) if row else None

    def cast(self, vote: Vote) -> None:
        with self._errors():
            self._conn.execute(
                "INSERT INTO votes VALUES (?, ?, ?, ?, ?, ?)",
                (vote.intent, vote.voter, vote.choice, vote.at, vote.key_id, vote.sig),
            )

    def votes(self, intent: str) -> list[Vote]:
        with self._errors():
            rows = self._conn.execute(
                "SELECT intent, voter, choice, at, key_id, sig FROM votes WHERE intent = ? ORDER BY rowid", (intent,)
            ).fetchall()
        return [Vote(i, v, c, float(a), k, s) for i, v, c, a, k, s in rows]
