"""Field histories per key and the window aggregates computed over them, in event time.

A `History` keeps, for one key (a pool, a service), the samples of each field some aggregate
reads: `(time, value)` in time order, trimmed to the longest window that reads the field (plus
the allowed lateness, so a late sample still lands in the right place). An aggregate over an
empty window is None (no data), which a rule's condition reads as "cannot hold": a breach needs
evidence.
"""

from __future__ import annotations

import bisect
import math
from typing import Any

Sample = tuple[float, float]


class Series:
    """One field's samples for one key, in time order, bounded by a retention horizon.

    Times and values are two parallel lists of floats: a window is an index range found by
    bisecting the times, and its values are one slice (no per-sample tuples on the hot path).
    Samples with equal times keep their arrival order.
    """

    __slots__ = ("ewma", "retention", "times", "values")

    def __init__(self, retention: float) -> None:
        self.times: list[float] = []
        self.values: list[float] = []
        self.retention = retention
        self.ewma: dict[float, float] = {}  # alpha → running value (ewma is not a window)

    def add(self, time: float, value: float, newest: float) -> None:
        times = self.times
        if times and time < times[-1]:
            at = bisect.bisect_right(times, time)  # a late sample, still within the lateness
            times.insert(at, time)
            self.values.insert(at, value)
        else:
            times.append(time)
            self.values.append(value)
        for alpha, previous in self.ewma.items():
            self.ewma[alpha] = alpha * value + (1 - alpha) * previous
        horizon = newest - self.retention
        if times[0] < horizon:
            cut = bisect.bisect_left(times, horizon)
            del times[:cut]
            del self.values[:cut]

    def window(self, now: float, length: float) -> tuple[int, int]:
        """The index range of the samples in (now - length, now]."""
        times = self.times
        return bisect.bisect_right(times, now - length), bisect.bisect_right(times, now)

    def samples(self, lo: int, hi: int) -> list[Sample]:
        return list(zip(self.times[lo:hi], self.values[lo:hi], strict=True))

    def to_json(self) -> dict[str, Any]:
        return {
            "samples": [[t, v] for t, v in zip(self.times, self.values, strict=True)],
            "ewma": [[a, v] for a, v in sorted(self.ewma.items())],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], retention: float) -> Series:
        series = cls(retention)
        series.times = [float(t) for t, _ in data["samples"]]
        series.values = [float(v) for _, v in data["samples"]]
        series.ewma = {float(a): float(v) for a, v in data["ewma"]}
        return series


def aggregate(node: dict[str, Any], series: Series | None, now: float) -> Any:
    """The value of an `agg` IR node for one key at event time `now`; None when there is no data."""
    fn = node["fn"]
    if fn == "ewma":
        if series is None or not series.values:
            return None
        alpha = node["alpha"]
        if alpha not in series.ewma:  # first read: seed with the history so far
            value = series.values[0]
            for v in series.values[1:]:
                value = alpha * v + (1 - alpha) * value
            series.ewma[alpha] = value
        return series.ewma[alpha]
    if series is None:
        lo = hi = 0
    else:
        lo, hi = series.window(now, node["window"])
    if fn == "absent":
        return hi == lo
    if fn == "count":
        return hi - lo
    if hi == lo:
        return None
    values = series.values[lo:hi]  # type: ignore[union-attr]
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
        span = series.times[hi - 1] - series.times[lo]  # type: ignore[union-attr]
        # one sample (or one instant) says nothing about a rate: no data, not a rate of 0
        return (values[-1] - values[0]) / span if span > 0 else None
    if fn == "stddev":
        return _stddev(values)
    if fn == "percentile":
        return _percentile(sorted(values), node["p"])
    if fn == "zscore":
        return _zscore(values)
    times = series.times[lo:hi]  # type: ignore[union-attr]
    if fn == "slope":
        return _slope(times, values)
    if fn == "anomaly":
        return classify(times, values)
    raise ValueError(f"unknown aggregate {fn!r}")


def _stddev(values: list[float]) -> float:
    mean = math.fsum(values) / len(values)
    return math.sqrt(math.fsum([(v - mean) ** 2 for v in values]) / len(values))


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
    mean = math.fsum(past) / len(past)
    sigma = math.sqrt(math.fsum([(v - mean) ** 2 for v in past]) / len(past))
    if sigma == 0:
        return 0.0
    return (values[-1] - mean) / sigma


def _slope(times: list[float], values: list[float]) -> float:
    """Least-squares slope, per second."""
    if len(times) < 2:
        return 0.0
    t0 = times[0]
    xs = [t - t0 for t in times]
    mx, my = math.fsum(xs) / len(xs), math.fsum(values) / len(values)
    dx = [x - mx for x in xs]
    sxx = math.fsum([d**2 for d in dx])
    if sxx == 0:
        return 0.0
    return math.fsum([d * (y - my) for d, y in zip(dx, values, strict=True)]) / sxx


SPIKE_Z = 3.0  # the Maestro Conductor's adaptive z-score threshold
DRIFT_SIGMAS = 2.0  # a trend that moves the level this many standard deviations over the window
OSCILLATION_SHARE = 0.6  # share of direction changes among consecutive differences


def classify(times: list[float], values: list[float]) -> dict[str, Any]:
    """Adaptive z-score plus slope: spike, drop, drift, oscillation or none, with a severity in 0..1.

    Two passes over the window (it runs on every event of a key that reads it): the means, then
    the deviations, the slope's sums and the direction changes together. Same definitions as
    `zscore`, `slope` and `stddev`, summed left to right rather than with `fsum`.
    """
    n = len(values)
    z = 0.0
    if n >= 3:
        mean_past = math.fsum(values[:-1]) / (n - 1)
        spread = 0.0
        for v in values[:-1]:
            d = v - mean_past
            spread += d * d
        sigma_past = math.sqrt(spread / (n - 1))
        if sigma_past > 0:
            z = (values[-1] - mean_past) / sigma_past
    t0 = times[0]
    mean_t = math.fsum(times) / n - t0
    mean_v = math.fsum(values) / n
    sxx = sxy = svv = 0.0
    moves = turns = 0
    previous = values[0]
    rising: bool | None = None
    for t, v in zip(times, values, strict=True):
        dt, dv = t - t0 - mean_t, v - mean_v
        sxx += dt * dt
        sxy += dt * dv
        svv += dv * dv
        if v != previous:
            moves += 1
            up = v > previous
            if rising is not None and up != rising:
                turns += 1
            rising = up
        previous = v
    slope = sxy / sxx if sxx > 0 else 0.0
    kind, severity = "none", 0.0
    if z >= SPIKE_Z:
        kind, severity = "spike", min(1.0, z / (2 * SPIKE_Z))
    elif z <= -SPIKE_Z:
        kind, severity = "drop", min(1.0, -z / (2 * SPIKE_Z))
    elif n >= 4:
        sigma = math.sqrt(svv / n)
        moved = abs(slope) * (times[-1] - times[0])
        if sigma > 0 and moves >= 3 and turns / (moves - 1) >= OSCILLATION_SHARE and moved < sigma:
            kind, severity = "oscillation", min(1.0, turns / moves)
        elif sigma > 0 and moved >= DRIFT_SIGMAS * sigma:
            kind, severity = "drift", min(1.0, moved / (4 * DRIFT_SIGMAS * sigma))
    return {"kind": kind, "severity": round(severity, 6), "zscore": z, "slope": slope}
