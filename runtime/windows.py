"""Field histories per key and the window aggregates computed over them, in event time.

A `History` keeps, for one key (a pool, a service), the samples of each field some aggregate
reads: `(time, value)` in time order, trimmed to the longest window that reads the field (plus
the allowed lateness, so a late sample still lands in the right place). An aggregate over an
empty window is None (no data), which a rule's condition reads as "cannot hold": a breach needs
evidence.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Iterable
from typing import Any

Sample = tuple[float, float]


class Series:
    """One field's samples for one key, in time order, bounded by a retention horizon."""

    __slots__ = ("ewma", "retention", "samples")

    def __init__(self, retention: float) -> None:
        self.samples: list[Sample] = []
        self.retention = retention
        self.ewma: dict[float, float] = {}  # alpha → running value (ewma is not a window)

    def add(self, time: float, value: float, newest: float) -> None:
        if self.samples and time < self.samples[-1][0]:
            bisect.insort(self.samples, (time, value))  # a late sample, still within the lateness
        else:
            self.samples.append((time, value))
        for alpha, previous in self.ewma.items():
            self.ewma[alpha] = alpha * value + (1 - alpha) * previous
        horizon = newest - self.retention
        if self.samples[0][0] < horizon:
            cut = bisect.bisect_left(self.samples, (horizon, -math.inf))
            del self.samples[:cut]

    def window(self, now: float, length: float) -> list[Sample]:
        """The samples in (now - length, now]."""
        lo = bisect.bisect_right(self.samples, (now - length, math.inf))
        hi = bisect.bisect_right(self.samples, (now, math.inf))
        return self.samples[lo:hi]

    def to_json(self) -> dict[str, Any]:
        return {"samples": [list(s) for s in self.samples], "ewma": [[a, v] for a, v in sorted(self.ewma.items())]}

    @classmethod
    def from_json(cls, data: dict[str, Any], retention: float) -> Series:
        series = cls(retention)
        series.samples = [(float(t), float(v)) for t, v in data["samples"]]
        series.ewma = {float(a): float(v) for a, v in data["ewma"]}
        return series


def aggregate(node: dict[str, Any], series: Series | None, now: float) -> Any:
    """The value of an `agg` IR node for one key at event time `now`; None when there is no data."""
    fn = node["fn"]
    if fn == "ewma":
        if series is None or not series.samples:
            return None
        alpha = node["alpha"]
        if alpha not in series.ewma:  # first read: seed with the history so far
            value = series.samples[0][1]
            for _, v in series.samples[1:]:
                value = alpha * v + (1 - alpha) * value
            series.ewma[alpha] = value
        return series.ewma[alpha]
    samples = series.window(now, node["window"]) if series is not None else []
    if fn == "absent":
        return not samples
    if fn == "count":
        return len(samples)
    if not samples:
        return None
    values = [v for _, v in samples]
    if fn == "avg":
        return math.fsum(values) / len(values)
    if fn in ("min", "max", "sum", "delta"):  # typed as the field: an int field gives ints
        if fn == "min":
            value = min(values)
        elif fn == "max":
            value = max(values)
        else:
            value = math.fsum(values) if fn == "sum" else values[-1] - values[0]
        return int(value) if node.get("t") == "int" else value
    if fn == "rate":
        span = samples[-1][0] - samples[0][0]
        # one sample (or one instant) says nothing about a rate: no data, not a rate of 0
        return (values[-1] - values[0]) / span if span > 0 else None
    if fn == "stddev":
        return _stddev(values)
    if fn == "percentile":
        return _percentile(sorted(values), node["p"])
    if fn == "zscore":
        return _zscore(values)
    if fn == "slope":
        return _slope(samples)
    if fn == "anomaly":
        return classify(samples)
    raise ValueError(f"unknown aggregate {fn!r}")


def _stddev(values: list[float]) -> float:
    mean = math.fsum(values) / len(values)
    return math.sqrt(math.fsum((v - mean) ** 2 for v in values) / len(values))


def _percentile(ordered: list[float], p: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if len(ordered) == 1:
        return ordered[0]
    rank = p / 100 * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _zscore(values: list[float]) -> float:
    """How unusual the newest value is against the window before it (0 when the past is flat)."""
    past = values[:-1]
    if len(past) < 2:
        return 0.0
    sigma = _stddev(past)
    if sigma == 0:
        return 0.0
    return (values[-1] - math.fsum(past) / len(past)) / sigma


def _slope(samples: Iterable[Sample]) -> float:
    """Least-squares slope, per second."""
    points = list(samples)
    if len(points) < 2:
        return 0.0
    t0 = points[0][0]
    xs = [t - t0 for t, _ in points]
    ys = [v for _, v in points]
    mx, my = math.fsum(xs) / len(xs), math.fsum(ys) / len(ys)
    sxx = math.fsum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return 0.0
    return math.fsum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx


SPIKE_Z = 3.0  # the Maestro Conductor's adaptive z-score threshold
DRIFT_SIGMAS = 2.0  # a trend that moves the level this many standard deviations over the window
OSCILLATION_SHARE = 0.6  # share of direction changes among consecutive differences


def classify(samples: list[Sample]) -> dict[str, Any]:
    """Adaptive z-score plus slope: spike, drop, drift, oscillation or none, with a severity in 0..1."""
    values = [v for _, v in samples]
    z = _zscore(values)
    slope = _slope(samples)
    kind, severity = "none", 0.0
    if z >= SPIKE_Z:
        kind, severity = "spike", min(1.0, z / (2 * SPIKE_Z))
    elif z <= -SPIKE_Z:
        kind, severity = "drop", min(1.0, -z / (2 * SPIKE_Z))
    elif len(values) >= 4:
        sigma = _stddev(values)
        span = samples[-1][0] - samples[0][0]
        moved = abs(slope) * span
        diffs = [b - a for a, b in itertools.pairwise(values) if b != a]
        turns = sum(1 for a, b in itertools.pairwise(diffs) if (a > 0) != (b > 0))
        if sigma > 0 and len(diffs) >= 3 and turns / (len(diffs) - 1) >= OSCILLATION_SHARE and moved < sigma:
            kind, severity = "oscillation", min(1.0, turns / len(diffs))
        elif sigma > 0 and moved >= DRIFT_SIGMAS * sigma:
            kind, severity = "drift", min(1.0, moved / (4 * DRIFT_SIGMAS * sigma))
    return {"kind": kind, "severity": round(severity, 6), "zscore": z, "slope": slope}
