"""Scoring many tenants at once, with history: what `ballast score` and its backfill run.

Each tenant is scored from its own metrics only, with its own previous badge (from the history,
when one is kept): nothing of one tenant reaches another's score, report or trend.

A **backfill** re-scores every moment recorded under other versions of a profile with the
profile's current version, oldest first per tenant, so the new version's hysteresis runs over
the same past; the old rows stay. Moments the current version already has are left as they are,
so running it twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ballast.runtime.errors import UsageError
from ballast.runtime.score_history import HistoryRow, ScoreHistory
from ballast.runtime.scoring import Score, Scoring
from ballast.runtime.tenant_metrics import TenantMetrics


@dataclass(frozen=True)
class TenantScore:
    """A tenant's score now and its trend (this profile version's history, oldest first)."""

    score: Score
    trend: tuple[tuple[float, float | None, str | None], ...]  # (time, score, badge)


def score_tenants(
    scoring: Scoring,
    metrics: TenantMetrics,
    profile: str,
    now: float,
    *,
    history: ScoreHistory | None = None,
    tenants: Sequence[str] = (),
) -> list[TenantScore]:
    """Score every tenant of `metrics` (or those named in `tenants`), recording each in `history`."""
    chosen = scoring.profile(profile)
    names = metrics.tenants
    for tenant in tenants:
        if tenant not in names:
            raise UsageError(f"--tenant {tenant}: the metrics have no such tenant (there are {len(names)})")
    out = []
    for tenant in sorted(set(tenants)) if tenants else names:
        inputs = metrics.latest(tenant, now)
        previous = history.previous_badge(scoring.name, tenant, chosen.name, chosen.version, now) if history else None
        score = scoring.score(tenant, inputs, chosen, now, previous)
        trend: tuple[tuple[float, float | None, str | None], ...] = ((now, score.score, score.badge),)
        if history is not None:
            history.record(scoring.name, score, inputs)
            rows = history.rows(scoring.name, chosen.name, tenant=tenant, version=chosen.version)
            trend = tuple((r.time, r.score, r.badge) for r in rows if r.time <= now)
        out.append(TenantScore(score, trend))
    return out


@dataclass(frozen=True)
class Backfilled:
    """What a backfill did: the rows it added, per tenant, and the versions it read."""

    version: str
    added: dict[str, int]
    kept: int
    from_versions: tuple[str, ...]


def backfill(scoring: Scoring, profile: str, history: ScoreHistory) -> Backfilled:
    """Re-score every recorded moment of `profile` under its current version (module docstring)."""
    chosen = scoring.profile(profile)
    rows = history.rows(scoring.name, chosen.name)
    if not rows:
        raise UsageError(
            f"{history.path}: no scores of profile '{chosen.name}' of scoring '{scoring.name}' to backfill: "
            "run `ballast score --history` first"
        )
    current = {(r.tenant, r.time) for r in rows if r.version == chosen.version}
    # The inputs of each moment: the last row recorded for it under another version.
    moments: dict[tuple[str, float], HistoryRow] = {}
    for row in rows:
        if row.version != chosen.version:
            moments[(row.tenant, row.time)] = row
    added: dict[str, int] = {}
    for tenant, time in sorted(moments):
        if (tenant, time) in current:
            continue
        row = moments[(tenant, time)]
        previous = history.previous_badge(scoring.name, tenant, chosen.name, chosen.version, time)
        history.record(scoring.name, scoring.score(tenant, row.inputs, chosen, time, previous), row.inputs)
        added[tenant] = added.get(tenant, 0) + 1
    versions = tuple(sorted({r.version for r in rows if r.version != chosen.version}))
    return Backfilled(chosen.version, added, len([m for m in moments if m in current]), versions)


__all__ = ["Backfilled", "TenantScore", "backfill", "score_tenants"]
