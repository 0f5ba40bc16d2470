"""The durable state of rollout runs: SQLite in WAL mode, one transaction per step.

A run is its plan, its fleet and its bundle (kept in the database, so `resume` needs nothing
else), its state, and one row per target cluster and per batch. The engine changes them only
inside `RunStore.transaction()`, so after a crash the database holds the state before or after
each step, never half of one; every step is idempotent (adapters skip a push a cluster already
runs), so repeating the step that was in flight is safe.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ballast.runtime.errors import UsageError

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, plan TEXT NOT NULL, fleet TEXT NOT NULL, bundle BLOB NOT NULL,
    state TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '', created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS clusters (
    run_id TEXT NOT NULL, cluster_id TEXT NOT NULL, position INTEGER NOT NULL, wave INTEGER NOT NULL,
    batch INTEGER, state TEXT NOT NULL, pushed INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL DEFAULT 0, failures_in_row INTEGER NOT NULL DEFAULT 0,
    breaker_until REAL NOT NULL DEFAULT 0, error TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (run_id, cluster_id)
);
CREATE TABLE IF NOT EXISTS batches (
    run_id TEXT NOT NULL, batch INTEGER NOT NULL, wave INTEGER NOT NULL, state TEXT NOT NULL,
    pushed_at REAL, next_measure REAL, tallies TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (run_id, batch)
);
CREATE TABLE IF NOT EXISTS steps (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, at REAL NOT NULL,
    cluster_id TEXT NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class ClusterRow:
    cluster_id: str
    position: int
    wave: int
    batch: int | None
    state: str
    pushed: bool
    attempts: int
    next_attempt: float
    failures_in_row: int
    breaker_until: float
    error: str


@dataclass(frozen=True)
class BatchRow:
    batch: int
    wave: int
    state: str
    pushed_at: float | None
    next_measure: float | None
    tallies: dict[str, Any]


class RunStore:
    """The runs database at `path` (created when missing)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        try:
            self.conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=FULL")
            self.conn.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise UsageError(f"{self.path}: cannot open the rollout state database: {exc}") from None

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One step: everything inside commits together or not at all."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # ---- runs ----
    def create(
        self,
        run_id: str,
        plan: dict[str, Any],
        fleet: dict[str, Any],
        bundle: bytes,
        waves: list[list[str]],
        now: float,
    ) -> None:
        with self.transaction() as db:
            if db.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone():
                raise UsageError(f"run '{run_id}' exists already in {self.path}: resume it, or choose another id")
            db.execute(
                "INSERT INTO runs (run_id, plan, fleet, bundle, state, created) VALUES (?, ?, ?, ?, 'running', ?)",
                (run_id, _dump(plan), _dump(fleet), bundle, now),
            )
            position = 0
            for wave, clusters in enumerate(waves):
                for cluster_id in clusters:
                    db.execute(
                        "INSERT INTO clusters (run_id, cluster_id, position, wave, state) VALUES (?, ?, ?, ?, 'pending')",
                        (run_id, cluster_id, position, wave),
                    )
                    position += 1

    def run(self, run_id: str) -> dict[str, Any]:
        row = self.conn.execute(
            "SELECT plan, fleet, bundle, state, reason, created FROM runs WHERE run_id = ?", (run_id,)
        ).fetchone()
        if row is None:
            known = [r[0] for r in self.conn.execute("SELECT run_id FROM runs ORDER BY created, run_id")]
            hint = f"runs in {self.path}: {', '.join(known)}" if known else f"{self.path} holds no run yet"
            raise UsageError(f"no run '{run_id}' ({hint})")
        plan, fleet, bundle, state, reason, created = row
        return {
            "plan": json.loads(plan),
            "fleet": json.loads(fleet),
            "bundle": bytes(bundle),
            "state": state,
            "reason": reason,
            "created": created,
        }

    def runs(self) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in self.conn.execute("SELECT run_id, state FROM runs ORDER BY created, run_id")]

    def set_state(self, db: sqlite3.Connection, run_id: str, state: str, reason: str = "") -> None:
        db.execute("UPDATE runs SET state = ?, reason = ? WHERE run_id = ?", (state, reason, run_id))

    # ---- clusters and batches ----
    def clusters(self, run_id: str) -> list[ClusterRow]:
        rows = self.conn.execute(
            "SELECT cluster_id, position, wave, batch, state, pushed, attempts, next_attempt, failures_in_row,"
            " breaker_until, error FROM clusters WHERE run_id = ? ORDER BY position",
            (run_id,),
        )
        return [ClusterRow(r[0], r[1], r[2], r[3], r[4], bool(r[5]), *r[6:]) for r in rows]

    def update_cluster(self, db: sqlite3.Connection, run_id: str, cluster_id: str, **values: Any) -> None:
        columns = ", ".join(f"{name} = ?" for name in values)
        db.execute(
            f"UPDATE clusters SET {columns} WHERE run_id = ? AND cluster_id = ?",  # names are ours, never input
            (*values.values(), run_id, cluster_id),
        )

    def batches(self, run_id: str) -> list[BatchRow]:
        rows = self.conn.execute(
            "SELECT batch, wave, state, pushed_at, next_measure, tallies FROM batches WHERE run_id = ? ORDER BY batch",
            (run_id,),
        )
        return [BatchRow(r[0], r[1], r[2], r[3], r[4], json.loads(r[5])) for r in rows]

    def add_batch(self, db: sqlite3.Connection, run_id: str, batch: int, wave: int) -> None:
        db.execute(
            "INSERT INTO batches (run_id, batch, wave, state) VALUES (?, ?, ?, 'pushing')", (run_id, batch, wave)
        )

    def update_batch(self, db: sqlite3.Connection, run_id: str, batch: int, **values: Any) -> None:
        if "tallies" in values:
            values["tallies"] = _dump(values["tallies"])
        columns = ", ".join(f"{name} = ?" for name in values)
        db.execute(f"UPDATE batches SET {columns} WHERE run_id = ? AND batch = ?", (*values.values(), run_id, batch))

    # ---- the step log ----
    def log(self, db: sqlite3.Connection, run_id: str, at: float, cluster_id: str, kind: str, detail: str) -> None:
        db.execute(
            "INSERT INTO steps (run_id, at, cluster_id, kind, detail) VALUES (?, ?, ?, ?, ?)",
            (run_id, at, cluster_id, kind, detail),
        )

    def steps(self, run_id: str) -> list[tuple[float, str, str, str]]:
        return list(
            self.conn.execute("SELECT at, cluster_id, kind, detail FROM steps WHERE run_id = ? ORDER BY seq", (run_id,))
        )


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
