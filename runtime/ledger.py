"""The audit ledger: an append-only, hash-chained record of decisions in SQLite, with signed checkpoints.

Format `ballast-ledger/1`: one SQLite database (WAL mode, `PRAGMA application_id` 0x42414C4C,
"BALL") with three tables.

    meta(key, value)                                   format, ledger (a random id), created
    entries(seq, time, kind, actor, subject, outcome, body, hash)
    checkpoints(seq, hash, time, key_id, signature)

**Entries.** Entry `seq` (1, 2, 3, … without gaps) stores `body`: the canonical JSON of the audit
entry (runtime/audit.py's envelope: `kind, action_id, subject, actor, scope, outcome, reason,
latency_ms, narrative`) with three more keys: `seq`; `time`, when it was appended (RFC 3339 UTC
with microseconds, `2025-11-15T12:03:30.250000Z`, from an injectable clock, never earlier than
the entry before: times follow seq order even if the clock steps back); and `prev`, the hash
of entry seq − 1 (64 zeros for entry 1). Canonical means keys sorted, no whitespace, ASCII
(anything else `\\u`-escaped, so every string, even a lone surrogate, encodes the same way in
every language). `hash` is the SHA-256 (hex) of those bytes, so it covers the entry, its number
and its predecessor: editing, deleting, inserting or moving an entry breaks the chain at that
entry. `time`, `kind`, `actor`, `subject` and `outcome` are copied into indexed columns for
queries (each index is ordered by seq within a value, and a time range is a seq range, so a
query reads only what it returns); verification checks that they still agree with the body.

**Checkpoints.** With a `Signer`, a checkpoint signs the head: the canonical JSON of
`{"format", "hash", "key", "ledger", "seq", "time"}`. One is written every `checkpoint_every`
entries, in the same transaction as the entry it signs, and one by `close()` when entries were
added since the last. A chain alone proves only that it is consistent: anyone who can write the
file can recompute every hash. A signed checkpoint proves the chain up to its entry is the one
the key holder wrote, and one past the last entry proves the tail was cut off.

**Writing.** Each commit is one SQLite transaction opened with `BEGIN IMMEDIATE`, which takes
the database's write lock, so the head is read and extended under the lock and two writers (two
processes, or two `Ledger`s in one) serialise; a writer that cannot get the lock within
`timeout` seconds gets `LedgerError`, never an interleaved chain. With `synchronous=FULL` a
commit returns only once the write-ahead log is on disk.

* **Durable** (the default): `append` and `append_many` commit before they return. An entry
  whose append returned survives a crash of the process or of the machine.
* **Batched** (`batch=Batch(entries=N, ms=T)`): appends go into an open transaction that is
  committed when it holds N entries, when T ms have passed since it began (a background thread
  commits an idle batch), on `flush()` and on `close()`. Appends are far cheaper, but a crash
  loses the uncommitted batch: up to N entries, or T ms of entries, whose `append` had
  returned. The write lock is held while a batch is open, so other writers wait up to T ms.
  A commit that fails in the background is raised by the next call.

The runtime writes to a ledger through `AuditLog(ledger)`; reading, querying, exporting and
verification are in runtime/ledger_read.py and runtime/ledger_verify.py. A signer is any
`Signer`; the keys `ballast key new` writes are read with runtime/keyfiles.py
(`read_private_key` returns a `PrivateKey`, which signs checkpoints as it signs bundles), and
which keys a verifier trusts is a keyring role (runtime/ledger_keys.py). Signatures need PyNaCl.
The checkpoint message starts with `{"format":"ballast-ledger/1"`, a bundle signature's with its
context line (runtime/signing.py), so a signature made for one never passes for the other.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import hashlib
import json
import os
import sqlite3
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple, Protocol, runtime_checkable

from ballast.runtime.errors import LedgerError, UsageError

FORMAT = "ballast-ledger/1"
APPLICATION_ID = 0x42414C4C  # "BALL": `PRAGMA application_id` tells a ledger from any SQLite file
SCHEMA_VERSION = 1  # `PRAGMA user_version`
GENESIS = "0" * 64  # the `prev` of entry 1
RESERVED = ("time", "prev", "hash")  # keys the ledger sets; `seq` may be given if it is the right one
QUERY_COLUMNS = ("kind", "actor", "subject", "outcome")  # copied from the body, indexed
SQLITE_MAGIC = b"SQLite format 3\x00"

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE entries (
    seq INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    kind TEXT,
    actor TEXT,
    subject TEXT,
    outcome TEXT,
    body TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX entries_by_time ON entries (time);
CREATE INDEX entries_by_kind ON entries (kind);
CREATE INDEX entries_by_actor ON entries (actor);
CREATE INDEX entries_by_subject ON entries (subject);
CREATE INDEX entries_by_outcome ON entries (outcome);
CREATE TABLE checkpoints (
    seq INTEGER PRIMARY KEY,
    hash TEXT NOT NULL,
    time TEXT NOT NULL,
    key_id TEXT NOT NULL,
    signature TEXT NOT NULL
);
"""


@runtime_checkable
class Signer(Protocol):
    """Signs checkpoints: `key_id` names the key in the signature record, `sign` returns the signature."""

    key_id: str

    def sign(self, data: bytes) -> bytes: ...


class Batch(NamedTuple):
    """Batched mode: commit every `entries` appends or `ms` milliseconds, whichever comes first."""

    entries: int = 100
    ms: float = 100.0


class Appended(NamedTuple):
    """Where an entry went: its sequence number, its time and its hash."""

    seq: int
    time: str
    hash: str


# ---------------------------------------------------------------------------------------------
# the format


def canonical(value: Any) -> str:
    """The canonical JSON text the hashes and signatures cover: sorted keys, compact, ASCII.

    Raises UsageError for a value JSON cannot hold (NaN, infinity, a non-string key, an object).
    """
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"an audit ledger entry must be plain JSON: {exc}") from None


def entry_hash(body: str) -> str:
    """The SHA-256 (hex) of a stored body."""
    return hashlib.sha256(body.encode("ascii")).hexdigest()


def checkpoint_message(ledger: str, seq: int, head: str, when: str, key_id: str) -> bytes:
    """The bytes a checkpoint's signature covers."""
    return canonical(
        {"format": FORMAT, "hash": head, "key": key_id, "ledger": ledger, "seq": seq, "time": when}
    ).encode("ascii")


def timestamp(t: float) -> str:
    """Epoch seconds as the ledger writes times: fixed-width RFC 3339 UTC, so text order is time order."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def export_line(body: str, digest: str) -> str:
    """One entry as exported: its stored canonical JSON with `"hash"` added as the last member.

    Removing that member (the last 75 characters, then a closing brace) gives back the bytes the
    hash covers, so a SIEM can re-verify a line without re-encoding JSON.
    """
    return f'{body[:-1]},"hash":"{digest}"}}'


# ---------------------------------------------------------------------------------------------
# SQLite: connecting, and translating its errors (the one place that does)


@contextlib.contextmanager
def sqlite_errors(path: str, timeout: float | None = None) -> Iterator[None]:
    """Turn sqlite3's exceptions into LedgerError naming the file and what to do."""
    try:
        yield
    except sqlite3.Error as exc:
        text = str(exc)
        if "locked" in text or "busy" in text:
            waited = f" (waited {timeout:g} s)" if timeout is not None else ""
            message = (
                f"{path}: the ledger is locked by another writer{waited}; "
                "retry, or give this writer a longer timeout (a batched writer holds the lock while its batch is open)"
            )
        elif "not a database" in text:
            message = f"{path}: not a SQLite database, so not a Ballast ledger ({text})"
        elif "full" in text:
            message = f"cannot write the audit ledger {path}: {text}"
        elif "unable to open" in text or "readonly" in text:
            message = f"{path}: cannot open the ledger: {text}"
        else:
            message = f"{path}: {text}"
        raise LedgerError(message) from None


def connect(path: str, timeout: float, *, readonly: bool) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit); read-only ones never create a file."""
    if os.path.isdir(path):
        raise LedgerError(f"{path}: is a directory, not a ledger")
    if readonly and not os.path.exists(path):
        raise LedgerError(f"{path}: no such file")
    target = Path(path).absolute().as_uri() + "?mode=ro" if readonly else path
    with sqlite_errors(path, timeout):
        return sqlite3.connect(target, timeout=timeout, isolation_level=None, uri=readonly, check_same_thread=False)


def ledger_id(conn: sqlite3.Connection, path: str) -> str:
    """The ledger's id, after checking that the database is a ledger this version reads."""
    with sqlite_errors(path):
        application = conn.execute("PRAGMA application_id").fetchone()[0]
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if application != APPLICATION_ID or not {"meta", "entries", "checkpoints"} <= tables:
            found = ", ".join(sorted(tables)) or "none"
            raise LedgerError(
                f"{path}: a SQLite database, but not a Ballast ledger (its tables: {found}); "
                "a ledger is written by `ballast eval --audit FILE.sqlite` or `Ledger.open`"
            )
        meta = dict(conn.execute("SELECT key, value FROM meta"))
    if meta.get("format") != FORMAT or "ledger" not in meta:
        raise LedgerError(f"{path}: ledger format {meta.get('format')!r}; this Ballast reads {FORMAT}")
    return meta["ledger"]


# ---------------------------------------------------------------------------------------------
# the writer


class Ledger:
    """An open ledger to append to; see the module docstring for the format and the guarantees.

    Use `Ledger.open(path, …)`, then `append` / `append_many`, and `close()` (or a `with` block).
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        path: str,
        ident: str,
        *,
        signer: Signer | None,
        checkpoint_every: int,
        batch: Batch | None,
        clock: Callable[[], float],
        timeout: float,
    ) -> None:
        self.path = path
        self.ledger_id = ident
        self.signer = signer
        self.checkpoint_every = checkpoint_every
        self.batch = batch
        self.timeout = timeout
        self._conn = conn
        self._clock = clock
        self._cond = threading.Condition(threading.RLock())
        self._closed = False
        self._failure: LedgerError | None = None  # a background commit that failed, raised by the next call
        # Valid only while a transaction is open (the write lock is held, nobody else can move them).
        self._in_tx = False
        self._head: tuple[int, str] = (0, GENESIS)
        self._last_time = ""  # the head's time: an entry's time never goes back
        self._signed = 0  # the seq of the newest checkpoint
        self._pending: list[int] = []  # seqs appended in the open transaction
        self._deadline = 0.0
        self._flusher: threading.Thread | None = None
        if batch is not None and batch.ms > 0:
            self._flusher = threading.Thread(target=self._flush_when_due, name=f"ledger-flush {path}", daemon=True)
            self._flusher.start()
        # A process that exits without close() still commits its batch (a crash does not).
        self._at_exit = _exit_hook(weakref.ref(self))
        atexit.register(self._at_exit)

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        signer: Signer | None = None,
        checkpoint_every: int = 1000,
        batch: Batch | None = None,
        clock: Callable[[], float] = time.time,
        timeout: float = 5.0,
    ) -> Ledger:
        """Open the ledger at `path` for appending, creating it if the file is missing or empty.

        `signer` signs a checkpoint every `checkpoint_every` entries and on close; `batch` turns on
        batched mode; `clock` gives entry times (epoch seconds); `timeout` is how long to wait for
        another writer's lock. Raises LedgerError if the file is not a ledger or cannot be written,
        UsageError for bad arguments.
        """
        where = os.fspath(path)
        if signer is not None and not (isinstance(signer, Signer) and isinstance(signer.key_id, str)):
            raise UsageError(f"a ledger signer needs key_id: str and sign(bytes) -> bytes, got {type(signer).__name__}")
        if isinstance(checkpoint_every, bool) or not isinstance(checkpoint_every, int) or checkpoint_every < 1:
            raise UsageError(f"checkpoint_every must be a positive integer, got {checkpoint_every!r}")
        if batch is not None and (
            not isinstance(batch, Batch) or not isinstance(batch.entries, int) or batch.entries < 1 or batch.ms < 0
        ):
            raise UsageError(f"batch must be Batch(entries ≥ 1, ms ≥ 0), got {batch!r}")
        if not isinstance(timeout, int | float) or timeout < 0:
            raise UsageError(f"timeout must be a number of seconds ≥ 0, got {timeout!r}")
        if os.path.exists(where) and not os.path.isdir(where):
            _require_sqlite(where)
        conn = connect(where, timeout, readonly=False)
        try:
            with sqlite_errors(where, timeout):
                exists = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] > 0
                # Checked before anything is changed: never touch a database that is not a ledger.
                ident = ledger_id(conn, where) if exists else ""
                _switch_to_wal(conn, timeout)  # a no-op, taking no lock, on a ledger
                conn.execute("PRAGMA synchronous=FULL")
                if not exists:
                    ident = _initialise(conn, where, clock)
                head = _read_head(conn)[0]
                signed = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM checkpoints").fetchone()[0]
            if signed > head:
                raise LedgerError(
                    f"{where}: a checkpoint signs entry {signed}, but the ledger ends at entry {head}: "
                    "its tail was cut off; run `ballast audit verify` on it, and start a new ledger"
                )
        except BaseException:
            conn.close()
            raise
        return cls(
            conn,
            where,
            ident,
            signer=signer,
            checkpoint_every=checkpoint_every,
            batch=batch,
            clock=clock,
            timeout=timeout,
        )

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def append(self, entry: Mapping[str, Any]) -> Appended:
        """Append one entry; see `append_many`."""
        return self.append_many([entry])[0]

    def append_many(
        self,
        entries: Sequence[Mapping[str, Any]],
        finish: Callable[[Mapping[str, Any], int], Mapping[str, Any]] | None = None,
    ) -> list[Appended]:
        """Append entries in order, in one transaction; their seqs, times and hashes.

        `finish(entry, seq)` may complete an entry once its number is known (AuditLog numbers its
        `action_id` this way). Durable mode: committed before this returns. Batched: see the module
        docstring. All or none of `entries` are appended. Raises LedgerError when the ledger is
        locked past the timeout or cannot be written, UsageError for an entry that is not plain
        JSON or sets `time`, `prev` or `hash`.
        """
        with self._cond:
            self._check_usable()
            if not entries:
                return []
            fresh = not self._in_tx
            with sqlite_errors(self.path, self.timeout):
                self._begin()
            # Everything that can fail but SQLite (the caller's entries, finish, the clock, the
            # signer) runs before anything is written, so a failure leaves an open batch intact.
            try:
                rows, checkpoints = self._prepare(entries, finish)
            except BaseException:
                if fresh:
                    with sqlite_errors(self.path):
                        self._end("ROLLBACK")
                raise
            self._write(rows, checkpoints)
            out = [Appended(seq, when, digest) for seq, when, *_, digest in rows]
            self._pending.extend(a.seq for a in out)
            if self.batch is None or len(self._pending) >= self.batch.entries or time.monotonic() >= self._deadline:
                self._commit()
            elif fresh:
                self._cond.notify_all()  # a new batch: the flusher starts its clock
            return out

    def flush(self) -> None:
        """Commit the open batch, if any (durable mode has none)."""
        with self._cond:
            self._check_usable()
            if self._in_tx:
                self._commit()

    def discard(self) -> list[int]:
        """Roll back the open batch (batched mode): none of its entries is written; their seqs.

        For a host that makes a batch of decisions durable as a whole or not at all (the bus
        consumer gives the messages back to the bus instead). Durable mode has no open batch: [].
        """
        with self._cond:
            self._check_usable()
            if not self._in_tx:
                return []
            lost = list(self._pending)
            with sqlite_errors(self.path):
                self._end("ROLLBACK")
            return lost

    def checkpoint(self) -> int | None:
        """Sign the head now (when entries were added since the last checkpoint); the seq signed."""
        with self._cond:
            self._check_usable()
            if self.signer is None:
                raise UsageError("this ledger has no signer: open it with signer=… to write checkpoints")
            with sqlite_errors(self.path, self.timeout):
                self._begin()
            seq, head = self._head
            if seq <= self._signed:
                self._commit()
                return None
            try:
                signature = self._signature(seq, head)
            except BaseException:
                if not self._pending:
                    with sqlite_errors(self.path):
                        self._end("ROLLBACK")
                raise
            self._write([], [signature])
            self._commit()
            return seq

    @property
    def head(self) -> tuple[int, str]:
        """(seq, hash) of the newest entry, read now; (0, 64 zeros) when the ledger is empty."""
        with self._cond:
            self._check_usable()
            if self._in_tx:
                return self._head
            with sqlite_errors(self.path):
                return _read_head(self._conn)

    def close(self) -> None:
        """Commit the open batch, sign the head if it is unsigned, close the file. Idempotent."""
        with self._cond:
            if self._closed:
                return
            try:
                failure, self._failure = self._failure, None
                if failure is not None:
                    raise failure
                if self._in_tx:
                    self._commit()
                if self.signer is not None:
                    with sqlite_errors(self.path, self.timeout):
                        self._begin()
                    if self._head[0] > self._signed:
                        self._write([], [self._signature(*self._head)])
                    self._commit()
            finally:
                if self._in_tx:
                    with contextlib.suppress(sqlite3.Error):
                        self._conn.execute("ROLLBACK")
                self._closed = True
                self._cond.notify_all()
                atexit.unregister(self._at_exit)
                self._conn.close()
        if self._flusher is not None and self._flusher is not threading.current_thread():
            self._flusher.join()

    # ---- transactions (the caller holds self._cond) ----

    def _check_usable(self) -> None:
        if self._closed:
            raise UsageError(f"the ledger {self.path} is closed")
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure

    def _begin(self) -> None:
        """Take the write lock (BEGIN IMMEDIATE) unless this ledger holds it; read the head under it."""
        if self._in_tx:
            return
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            self._head = _read_head(self._conn)
            self._last_time = _head_time(self._conn)
            self._signed = self._conn.execute("SELECT COALESCE(MAX(seq), 0) FROM checkpoints").fetchone()[0]
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("ROLLBACK")
            raise
        self._in_tx = True
        self._deadline = time.monotonic() + (self.batch.ms / 1000 if self.batch is not None else 0.0)

    def _prepare(
        self, entries: Sequence[Mapping[str, Any]], finish: Callable[[Mapping[str, Any], int], Mapping[str, Any]] | None
    ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """The rows of `entries` and of the checkpoints they complete, chained on from the head."""
        rows, checkpoints = [], []
        seq, prev = self._head
        signed, last_time = self._signed, self._last_time
        for entry in entries:
            seq += 1
            if not isinstance(entry, Mapping):
                raise UsageError(f"an audit ledger entry is a mapping, got {type(entry).__name__}")
            record = dict(finish(entry, seq) if finish is not None else entry)
            clash = [k for k in RESERVED if k in record] + (["seq"] if record.get("seq", seq) != seq else [])
            if clash:
                raise UsageError(f"an audit ledger entry may not set {', '.join(clash)}: the ledger sets them")
            when = last_time = max(timestamp(self._clock()), last_time)
            record.update(seq=seq, time=when, prev=prev)
            body = canonical(record)
            prev = entry_hash(body)
            columns = [v if isinstance(v := record.get(c), str) else None for c in QUERY_COLUMNS]
            rows.append((seq, when, *columns, body, prev))
            if self.signer is not None and seq - signed >= self.checkpoint_every:
                checkpoints.append(self._signature(seq, prev))
                signed = seq
        return rows, checkpoints

    def _write(self, rows: list[tuple[Any, ...]], checkpoints: list[tuple[Any, ...]]) -> None:
        """Insert prepared rows into the open transaction; a failure rolls all of it back and says what was lost."""
        try:
            self._conn.executemany(
                "INSERT INTO entries (seq, time, kind, actor, subject, outcome, body, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            self._conn.executemany(
                "INSERT INTO checkpoints (seq, hash, time, key_id, signature) VALUES (?, ?, ?, ?, ?)", checkpoints
            )
        except sqlite3.Error:
            lost = [*self._pending, *(r[0] for r in rows)]
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("ROLLBACK")
            self._in_tx, self._pending = False, []
            try:
                with sqlite_errors(self.path, self.timeout):
                    raise
            except LedgerError as exc:
                what = f"entry {lost[0]} was" if len(lost) == 1 else f"entries {lost[0]}–{lost[-1]} were"
                raise LedgerError(f"{exc}; {what} not written") from None
        if rows:
            self._head = (rows[-1][0], rows[-1][-1])
            self._last_time = rows[-1][1]
        if checkpoints:
            self._signed = checkpoints[-1][0]

    def _signature(self, seq: int, head: str) -> tuple[Any, ...]:
        """A checkpoint row signing entry `seq`, whose hash is `head`."""
        assert self.signer is not None
        when = timestamp(self._clock())
        key_id = self.signer.key_id
        signature = self.signer.sign(checkpoint_message(self.ledger_id, seq, head, when, key_id))
        if not isinstance(signature, bytes | bytearray):
            raise UsageError(f"the ledger signer {key_id} returned {type(signature).__name__}, not bytes")
        return (seq, head, when, key_id, base64.b64encode(bytes(signature)).decode("ascii"))

    def _commit(self) -> None:
        lost = self._pending
        try:
            with sqlite_errors(self.path, self.timeout):
                self._end("COMMIT")
        except LedgerError as exc:
            with contextlib.suppress(sqlite3.Error):
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
            self._in_tx, self._pending = False, []
            if len(lost) > 1:
                raise LedgerError(f"{exc}; entries {lost[0]}–{lost[-1]} were not written") from None
            raise

    def _end(self, statement: str) -> None:
        self._conn.execute(statement)
        self._in_tx, self._pending = False, []

    def _flush_when_due(self) -> None:
        """The batched mode's timer: commit a batch once it is `batch.ms` old."""
        with self._cond:
            while not self._closed:
                if not self._in_tx:
                    self._cond.wait()
                    continue
                remaining = self._deadline - time.monotonic()
                if remaining > 0:
                    self._cond.wait(remaining)
                    continue
                try:
                    self._commit()
                except LedgerError as exc:
                    self._failure = exc


def _exit_hook(ref: weakref.ReferenceType[Ledger]) -> Callable[[], None]:
    def close_at_exit() -> None:
        ledger = ref()
        if ledger is not None:
            with contextlib.suppress(LedgerError, UsageError):
                ledger.close()

    return close_at_exit


def _head_time(conn: sqlite3.Connection) -> str:
    row = conn.execute("SELECT time FROM entries ORDER BY seq DESC LIMIT 1").fetchone()
    return str(row[0]) if row else ""


def _read_head(conn: sqlite3.Connection) -> tuple[int, str]:
    row = conn.execute("SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1").fetchone()
    return (row[0], row[1]) if row else (0, GENESIS)


def _require_sqlite(path: str) -> None:
    """Refuse to write into a file that is neither empty nor a SQLite database (a JSONL trail, say)."""
    try:
        with open(path, "rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise LedgerError(f"{path}: cannot open the ledger: {exc.strerror or exc}") from None
    if head and head != SQLITE_MAGIC:
        raise LedgerError(
            f"{path}: not a SQLite database, so not a Ballast ledger; "
            "a JSONL audit trail is appended with `--audit-format jsonl`, a ledger needs a new file"
        )


def _switch_to_wal(conn: sqlite3.Connection, timeout: float) -> None:
    """Put the database in WAL mode, waiting up to `timeout` for other connections.

    SQLite answers a journal-mode change that meets another connection's lock with "database is
    locked" at once, without its busy handler: two writers creating one ledger at the same moment
    would see the second fail although the lock is held for milliseconds. So retry here.
    """
    deadline = time.monotonic() + timeout
    pause = 0.005
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if ("locked" not in str(exc) and "busy" not in str(exc)) or time.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


def _initialise(conn: sqlite3.Connection, path: str, clock: Callable[[], float]) -> str:
    """Create the tables in an empty database (under the write lock: two creators never race)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if tables == 0:
            ident = str(uuid.uuid4())
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)",
                [("format", FORMAT), ("ledger", ident), ("created", timestamp(clock()))],
            )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return ident if tables == 0 else ledger_id(conn, path)


__all__ = [
    "APPLICATION_ID",
    "FORMAT",
    "GENESIS",
    "Appended",
    "Batch",
    "Ledger",
    "Signer",
    "canonical",
    "checkpoint_message",
    "entry_hash",
    "export_line",
    "timestamp",
]
