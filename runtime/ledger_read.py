"""Reading an audit ledger: verify it, query it by the 5W1H fields, export it as JSON lines.

`LedgerReader.open(path)` opens a ledger read-only (it never creates or changes a file, and it
reads while writers append: each call sees the ledger as it was when the call began).

    >>> with LedgerReader.open("audit.sqlite") as ledger:                     # doctest: +SKIP
    ...     report = ledger.verify(trust="keyring.json")
    ...     shed_today = list(ledger.query(actor="*/batch_shed_on_load", since="today"))

Query filters are exact, or glob patterns when they hold `*`, `?` or `[` (`actor="motb.orchestration/*"`);
`since` is inclusive and `until` exclusive, each an RFC 3339 time, a date (midnight UTC),
`today`, `yesterday`, a duration ago (`90s`, `15m`, `2h`, `7d`), epoch seconds or an aware
`datetime`. They compare with the time each entry was appended.

`export` writes one JSON line per entry: the stored canonical JSON with `"hash"` as the last
member (`ledger.export_line`), so a SIEM can index the fields and re-verify the chain: every
line's `prev` is the `hash` of the line before, and the hash is the SHA-256 of the line with that
last member removed. `verify_export` does it (`ballast audit verify FILE.jsonl`).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from ballast.runtime.errors import UsageError
from ballast.runtime.keyring import Keyring
from ballast.runtime.ledger import (
    SQLITE_MAGIC,
    Appended,
    connect,
    export_line,
    ledger_id,
    sqlite_errors,
    timestamp,
)
from ballast.runtime.ledger_keys import CheckpointTrust, checkpoint_trust
from ballast.runtime.ledger_verify import COLUMNS, Checkpoint, Row, Verification, verify_rows

FILTERS = ("kind", "actor", "subject", "outcome")
_AGO = re.compile(r"^(\d+(?:\.\d+)?)(s|m|h|d)$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_HASH_MEMBER = re.compile(r',"hash":"([0-9a-f]{64})"\}$')


class LedgerReader:
    """A ledger opened for reading; see the module docstring."""

    def __init__(self, conn: sqlite3.Connection, path: str, ident: str) -> None:
        self.path = path
        self.ledger_id = ident
        self._conn = conn

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, timeout: float = 5.0) -> LedgerReader:
        """Open a ledger read-only; LedgerError when it is missing, not SQLite or not a ledger."""
        where = os.fspath(path)
        conn = connect(where, timeout, readonly=True)
        try:
            ident = ledger_id(conn, where)
        except BaseException:
            conn.close()
            raise
        return cls(conn, where, ident)

    def __enter__(self) -> LedgerReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._conn.close()

    def head(self) -> Appended | None:
        """The newest entry's seq, time and hash; None when the ledger is empty."""
        with sqlite_errors(self.path):
            row = self._conn.execute("SELECT seq, time, hash FROM entries ORDER BY seq DESC LIMIT 1").fetchone()
        return Appended(*row) if row else None

    def __len__(self) -> int:
        with sqlite_errors(self.path):
            return int(self._conn.execute("SELECT count(*) FROM entries").fetchone()[0])

    def checkpoints(self) -> list[Checkpoint]:
        """Every checkpoint, oldest first."""
        with sqlite_errors(self.path):
            return [
                Checkpoint(*r)
                for r in self._conn.execute("SELECT seq, hash, time, key_id, signature FROM checkpoints ORDER BY seq")
            ]

    def verify(
        self,
        trust: Keyring | str | Path | CheckpointTrust | None = None,
        *,
        role: str | None = None,
        now: float | None = None,
    ) -> Verification:
        """Check the chain, the query columns and (with `trust`) the checkpoint signatures.

        `trust` is a keyring (a `Keyring`, a JSON keyring's path, or a `CheckpointTrust`): each
        checkpoint must be signed by a key it trusts for `role` (`LedgerWriter` when None), with
        validity dates judged at `now` (the clock when None); runtime/ledger_keys.py. Without it
        the checkpoints are matched with their entries but their signatures are not checked.

        Reads one consistent snapshot, streaming. Tampering is reported in the result, never
        raised; LedgerError only when the file cannot be read, UsageError for a keyring without
        the role.
        """
        if trust is None and (role is not None or now is not None):
            raise UsageError("role= and now= say how to judge checkpoint signatures: give the keyring too (trust=…)")
        verifier = checkpoint_trust(trust, role=role, now=now) if trust is not None else None
        with sqlite_errors(self.path), self._snapshot():
            rows = (
                Row(r[0], r[1], r[2], r[3:])
                for r in self._conn.execute(f"SELECT seq, body, hash, {', '.join(COLUMNS)} FROM entries ORDER BY seq")
            )
            checkpoints = (
                Checkpoint(*r)
                for r in self._conn.execute("SELECT seq, hash, time, key_id, signature FROM checkpoints ORDER BY seq")
            )
            return verify_rows(self.path, rows, checkpoints, ledger=self.ledger_id, verifier=verifier)

    def entries(self, *, from_seq: int = 1) -> Iterator[dict[str, Any]]:
        """Every entry from `from_seq` on, as stored plus its `hash`."""
        yield from self._select("seq >= ?", [from_seq], None)

    def query(
        self,
        *,
        kind: str | None = None,
        actor: str | None = None,
        subject: str | None = None,
        outcome: str | None = None,
        since: Any = None,
        until: Any = None,
        limit: int | None = None,
        now: Callable[[], float] = time.time,
    ) -> Iterator[dict[str, Any]]:
        """The entries that match every filter given, oldest first; `limit`: only the newest that many.

        Raises UsageError for a time it cannot read or a limit below 1.
        """
        where, params = [], []
        for name, value in zip(FILTERS, (kind, actor, subject, outcome), strict=True):
            if value is None:
                continue
            where.append(f"{name} {'GLOB' if any(c in value for c in '*?[') else '='} ?")
            params.append(value)
        # Times follow seq order (the writer never lets one go back), so a time range is a seq range,
        # which every index serves: it is ordered by seq within each value.
        if since is not None:
            where.append("seq >= ?")
            params.append(self._first_seq_at(parse_time(since, now(), "since")))
        if until is not None:
            where.append("seq < ?")
            params.append(self._first_seq_at(parse_time(until, now(), "until")))
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise UsageError(f"limit must be a positive integer, got {limit!r}")
        yield from self._select(" AND ".join(where) or "1", params, limit)

    def _first_seq_at(self, when: str) -> int:
        """The seq of the first entry appended at or after `when` (one past the last if none)."""
        with sqlite_errors(self.path):
            row = self._conn.execute(
                "SELECT seq FROM entries WHERE time >= ? ORDER BY time, seq LIMIT 1", (when,)
            ).fetchone()
            if row is None:
                row = self._conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM entries").fetchone()
        return int(row[0])

    def export(self, out: TextIO, *, from_seq: int = 1) -> int:
        """Write every entry from `from_seq` on as one JSON line (see the module docstring); the count."""
        count = 0
        with sqlite_errors(self.path), self._snapshot():
            for body, digest in self._conn.execute(
                "SELECT body, hash FROM entries WHERE seq >= ? ORDER BY seq", (from_seq,)
            ):
                out.write(export_line(body, digest) + "\n")
                count += 1
        return count

    def _select(self, where: str, params: list[Any], limit: int | None) -> Iterator[dict[str, Any]]:
        sql = f"SELECT body, hash FROM entries WHERE {where} ORDER BY seq"
        if limit is not None:
            # The newest `limit` matches are picked by seq from the index alone, then read.
            newest = f"SELECT seq FROM entries WHERE {where} ORDER BY seq DESC LIMIT {int(limit)}"
            sql = f"SELECT body, hash FROM entries WHERE seq IN ({newest}) ORDER BY seq"
        with sqlite_errors(self.path):
            for body, digest in self._conn.execute(sql, params):
                yield {**json.loads(body), "hash": digest}

    def _snapshot(self) -> Any:
        return _ReadTransaction(self._conn)


class _ReadTransaction:
    """One read transaction: every statement inside sees the same snapshot of the ledger."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        self.conn.execute("BEGIN")

    def __exit__(self, *exc: object) -> None:
        if self.conn.in_transaction:
            self.conn.execute("COMMIT")


def verify_ledger(
    path: str | os.PathLike[str],
    *,
    trust: Keyring | str | Path | CheckpointTrust | None = None,
    role: str | None = None,
    now: float | None = None,
) -> Verification:
    """Open a ledger read-only and verify it (`LedgerReader.verify`)."""
    with LedgerReader.open(path) as ledger:
        return ledger.verify(trust, role=role, now=now)


def verify_export(lines: Iterable[str], source: str) -> Verification:
    """Verify the chain of an exported ledger (JSON lines); its first line may be any entry.

    An export carries no checkpoints, so this proves the lines are consistent, not who wrote them.
    """

    def rows() -> Iterator[Row]:
        for number, line in enumerate(lines, start=1):
            text = line.rstrip("\r\n")
            if not text.strip():
                continue
            found = _HASH_MEMBER.search(text)
            if found is None:
                raise UsageError(f'{source}:{number}: not a ledger export line (it must end with its "hash" member)')
            body = text[: found.start()] + "}"
            try:
                seq = json.loads(body).get("seq")
            except (ValueError, AttributeError):
                seq = None
            if isinstance(seq, bool) or not isinstance(seq, int):
                raise UsageError(f'{source}:{number}: the line has no integer "seq"')
            yield Row(seq, body, found[1])

    return verify_rows(source, rows(), start_prev=None)


def is_sqlite(path: str) -> bool:
    """Whether the file starts with SQLite's header (False if it cannot be read)."""
    try:
        with open(path, "rb") as f:
            return f.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def parse_time(value: Any, now: float, what: str = "time") -> str:
    """A time filter as the ledger stores times; see the module docstring for what it accepts."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise UsageError(f"{what}: a datetime needs a time zone (datetime.now(UTC), not datetime.now())")
        return timestamp(value.timestamp())
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timestamp(float(value))
    if not isinstance(value, str):
        raise UsageError(f"{what}: expected a time, got {type(value).__name__}")
    text = value.strip()
    midnight = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if text == "today":
        return timestamp(midnight.timestamp())
    if text == "yesterday":
        return timestamp((midnight - timedelta(days=1)).timestamp())
    ago = _AGO.match(text)
    if ago:
        return timestamp(now - float(ago[1]) * _UNIT[ago[2]])
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"{what}: cannot read {value!r} as a time; give an RFC 3339 time (2025-11-15T12:00:00Z), "
            "a date (2025-11-15), today, yesterday, or a duration ago (15m, 2h, 7d)"
        ) from None
    if parsed.tzinfo is None:
        if len(text) > 10:
            raise UsageError(f"{what}: {value!r} has no time zone; add Z for UTC (2025-11-15T12:00:00Z)")
        parsed = parsed.replace(tzinfo=UTC)  # a bare date is midnight UTC
    return timestamp(parsed.timestamp())


__all__ = ["FILTERS", "LedgerReader", "is_sqlite", "parse_time", "verify_export", "verify_ledger"]
