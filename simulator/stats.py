"""Paired comparisons over seeds: the mean difference, its 95 % confidence interval, a verdict.

Both policy sets run on the same seeded worlds (common random numbers), so each seed gives one
paired difference candidate − baseline, and the interval is Student's t over those differences:
much tighter than comparing two independent samples.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

# Student's t, two-sided 95 % (the 0.975 quantile), by degrees of freedom.
_T975 = {
    1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262,
    10: 2.228, 11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120, 17: 2.110,
    18: 2.101, 19: 2.093, 20: 2.086, 21: 2.080, 22: 2.074, 23: 2.069, 24: 2.064, 25: 2.060,
    26: 2.056, 27: 2.052, 28: 2.048, 29: 2.045, 30: 2.042, 40: 2.021, 60: 2.000, 120: 1.980,
}  # fmt: skip
_Z975 = 1.960


def t975(df: int) -> float:
    """The 0.975 quantile of Student's t with `df` degrees of freedom (interpolated in 1/df)."""
    if df < 1:
        raise ValueError("a t quantile needs at least one degree of freedom")
    if df in _T975:
        return _T975[df]
    if df > 120:
        low_df, low_t, high_inv, high_t = 120, _T975[120], 0.0, _Z975
    else:
        low_df = max(k for k in _T975 if k < df)
        high_df = min(k for k in _T975 if k > df)
        low_t, high_t, high_inv = _T975[low_df], _T975[high_df], 1.0 / high_df
    share = (1.0 / df - high_inv) / (1.0 / low_df - high_inv)
    return high_t + (low_t - high_t) * share


def compare(baseline: Sequence[float | None], candidate: Sequence[float | None], better: str) -> dict[str, Any]:
    """The verdict on one KPI from per-seed values (None: the KPI has no value on that seed)."""
    pairs = [(b, c) for b, c in zip(baseline, candidate, strict=True) if b is not None and c is not None]
    base = [b for b, _ in pairs]
    cand = [c for _, c in pairs]
    n = len(pairs)
    out: dict[str, Any] = {
        "better": better,
        "baseline_mean": _mean(base),
        "candidate_mean": _mean(cand),
        "difference": None,
        "ci95": None,
        "verdict": "inconclusive",
        "reason": "",
        "more_seeds": None,
        "seeds": n,
    }
    if n == 0:
        out["reason"] = "no seed gave this KPI a value"
        return out
    diffs = [c - b for b, c in pairs]
    mean = math.fsum(diffs) / n
    out["difference"] = mean
    if n < 2:
        out["reason"] = "one seed is too few for an interval"
        out["more_seeds"] = 3
        return out
    sd = math.sqrt(math.fsum((d - mean) ** 2 for d in diffs) / (n - 1))
    if sd == 0 and mean == 0:
        out["ci95"] = [0.0, 0.0]
        out["reason"] = "identical on every seed"
        return out
    half = t975(n - 1) * sd / math.sqrt(n)
    out["ci95"] = [mean - half, mean + half]
    if mean - half > 0 or mean + half < 0:
        improved = (mean > 0) == (better == "higher")
        out["verdict"] = "better" if improved else "worse"
        out["reason"] = "the interval excludes zero"
        return out
    out["reason"] = "the interval spans zero"
    if mean != 0:
        # seeds for a half-width below |mean| at this spread (normal approximation)
        out["more_seeds"] = max(n + 1, math.ceil((_Z975 * sd / abs(mean)) ** 2) + 1)
    return out


def _mean(values: Sequence[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None
