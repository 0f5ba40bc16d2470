"""Score history (SQLite): every score `ballast score --history DB` computed, for trends,
hysteresis and backfills.

One row per (scoring document, tenant, profile, profile version, time): the score, the badge,
the factors (JSON) and the inputs (JSON: every metric observation the tenant had at that time,
so a backfill can score the same moment again under another version). Scoring again at a time
already recorded replaces that row, so re-running is idempotent. Versions never overwrite each
other: a backfill under a new version adds its rows beside the old ones.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ballast.runtime.errors import UsageError
from ballast.runtime.scoring import Observation, Score

SCHEMA = """
CREATE TABLE IF NOT EXISTS scores (
    document TEXT NOT NULL,
    tenant TEXT NOT NULL,
    profile TEXT NOT NULL,
    version TEXT NOT NULL,
    time REAL NOT NULL,
    score REAL,
    badge TEXT,
    factors TEXT NOT NULL,
    inputs TEXT NOT NULL,
    PRIMARY KEY (document, tenant, profile, version, time)
)
"""


@dataclass(frozen=True)
class HistoryRow:
    """One recorded score."""

    tenant: str
    profile: str
    version: str
    time: float
    score: float | None
    badge: str | None
    factors: list[dict[str, Any]]
    inputs: dict[str, Observation]


class ScoreHistory:
    """The score history of one SQLite file; close it (or use `with`)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        try:
            self._db = sqlite3.connect(self.path)
            tables = {name for (name,) in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if tables and "scores" not in tables:  # another tool's database: never add to it
                self._db.close()
                raise UsageError(
                    f"{path}: an SQLite database of something else (tables {', '.join(sorted(tables))}), not a score "
                    "history; give --history a new file or one ballast score wrote"
                )
            self._db.execute(SCHEMA)
            self._db.commit()
        except sqlite3.DatabaseError as exc:
            raise UsageError(
                f"{path}: cannot be opened as a score history ({exc}); give --history a new file or one ballast score wrote"
            ) from None

    def __enter__(self) -> ScoreHistory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def record(self, document: str, score: Score, inputs: Mapping[str, Observation]) -> None:
        """Keep `score` and the observations it was computed from (replacing a row at the same time)."""
        self._db.execute(
            "INSERT OR REPLACE INTO scores VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                document,
                score.tenant,
                score.profile,
                score.version,
                score.time,
                score.score,
                score.badge,
                json.dumps([f.to_json() for f in score.factors], sort_keys=True),
                json.dumps({m: [o.value, o.time, o.source] for m, o in sorted(inputs.items())}, sort_keys=True),
            ),
        )
        self._db.commit()

    def previous_badge(self, document: str, tenant: str, profile: str, version: str, before: float) -> str | None:
        """The badge of the latest row of this version strictly before `before` (None: none)."""
        row = self._db.execute(
            "SELECT badge FROM scores WHERE document = ? AND tenant = ? AND profile = ? AND version = ? AND time < ?"
            " ORDER BY time DESC LIMIT 1",
            (document, tenant, profile, version, before),
        ).fetchone()
        return None if row is None else row[0]

    def rows(
        self, document: str, profile: str, *, tenant: str | None = None, version: str | None = None
    ) -> list[HistoryRow]:
        """The recorded rows, by tenant, version and time (one tenant's or version's when given)."""
        query = "SELECT tenant, profile, version, time, score, badge, factors, inputs FROM scores WHERE document = ? AND profile = ?"
        params: list[Any] = [document, profile]
        if tenant is not None:
            query += " AND tenant = ?"
            params.append(tenant)
        if version is not None:
            query += " AND version = ?"
            params.append(version)
        out = []
        for t, p, v, time, score, badge, factors, inputs in self._db.execute(
            query + " ORDER BY tenant, version, time", params
        ):
            observed = {m: Observation(value, at, source) for m, (value, at, source) in json.loads(inputs).items()}
            out.append(HistoryRow(t, p, v, time, score, badge, json.loads(factors), observed))
        return out


__all__ = ["HistoryRow", "ScoreHistory"]
