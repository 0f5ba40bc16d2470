"""Field histories per key and the window aggregates computed over them, in event time.

A `Series` keeps, for one key (a pool, a service), the samples of one field some aggregate
reads, in time order, trimmed to the longest window that reads the field (plus the allowed
lateness, so a late sample still lands in the right place). An aggregate over an empty window
is None (no data), which a rule's condition reads as "cannot hold": a breach needs evidence.
"""

from __future__ import annotations

import bisect
import math
import operator
from array import array
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

Sample = tuple[float, float]


class Series:
    """One field's samples for one key, in time order, bounded by a retention horizon.

    Times and values are two parallel arrays of doubles: a window is an index range found by
    bisecting the times, and its values are one slice. An array holds a key's samples in a few
    contiguous cache lines, where a list points to one heap object per float: every event reads
    all the windows of its key, and with thousands of keys those objects are cache misses.
    Samples with equal times keep their arrival order.
    """

    __slots__ = ("ewma", "moments", "retention", "times", "values")

    def __init__(self, retention: float) -> None:
        self.times = array("d")
        self.values = array("d")
        self.retention = retention
        # alpha → running value (ewma is not a window); made by the first read, since an empty
        # dict per field is one more object to reach on every event
        self.ewma: dict[float, float] | None = None
        # The running sums `anomaly` reads, one per window length (linked by `next`), made by
        # its first read. Derived state: never in a snapshot; a restored Series builds them
        # again, to the same ints.
        self.moments: Moments | None = None

    def add(self, time: float, value: float, newest: float) -> None:
        times = self.times
        if times and time < times[-1]:
            at = bisect.bisect_right(times, time)  # a late sample, still within the lateness
            times.insert(at, time)
            self.values.insert(at, value)
            sums = self.moments
            while sums is not None:
                sums.insert(times, self.values, at)
                sums = sums.next
        else:
            times.append(time)
            self.values.append(value)
        if self.ewma:
            for alpha, previous in self.ewma.items():
                self.ewma[alpha] = alpha * value + (1 - alpha) * previous
        horizon = newest - self.retention
        if times[0] < horizon:  # (KeyTable.record has a copy of this for samples in time order)
            cut = bisect.bisect_left(times, horizon)
            del times[:cut]
            del self.values[:cut]
            if self.moments is not None:
                self.shift(cut)

    def shift(self, cut: int) -> None:
        """The first `cut` samples were trimmed: move the running sums' indices with them."""
        sums = self.moments
        while sums is not None:
            sums.lo -= cut
            sums.hi -= cut
            sums = sums.next

    def moments_for(self, length: float, lo: int, hi: int) -> Moments:
        """The running sums of the window of this length, moved to the samples [lo, hi)."""
        sums = self.moments
        while sums is not None and sums.length != length:
            sums = sums.next
        if sums is None:
            sums = self.moments = Moments(length, self.times, self.values, lo, hi, self.moments)
        # Sliding and building give the same sums exactly; slide when it touches fewer samples.
        elif 0 <= sums.lo <= lo and sums.hi <= hi and (hi - sums.hi) + (lo - sums.lo) < hi - lo:
            sums.slide(self.times, self.values, lo, hi)
        else:
            sums.build(self.times, self.values, lo, hi)
        return sums

    def window(self, now: float, length: float) -> tuple[int, int]:
        """The index range of the samples in (now - length, now]."""
        times = self.times
        # Rules are stepped at the newest event time, so `now` is nearly always past every sample.
        hi = len(times) if times and times[-1] <= now else bisect.bisect_right(times, now)
        return bisect.bisect_right(times, now - length, 0, hi), hi

    def samples(self, lo: int, hi: int) -> list[Sample]:
        return list(zip(self.times[lo:hi], self.values[lo:hi], strict=True))

    def to_json(self) -> dict[str, Any]:
        """The samples as two columns (times, values): two lists per series, not one small list
        per sample, which a snapshot of 10,000 keys would make a million of."""
        out: dict[str, Any] = {"times": self.times.tolist(), "values": self.values.tolist()}
        if self.ewma:  # rare: an empty list per series would be one more object per field and key
            out["ewma"] = [[a, v] for a, v in sorted(self.ewma.items())]
        return out

    def carried(self, retention: float) -> Series:
        """A copy for another Engine (a hot reload): what `from_json(to_json())` gives, without
        the JSON. The derived `moments` are rebuilt by the first read, as after a restore."""
        series = Series(retention)
        series.times = array("d", self.times)
        series.values = array("d", self.values)
        series.ewma = dict(self.ewma) if self.ewma else None
        return series

    @classmethod
    def from_json(cls, data: dict[str, Any], retention: float) -> Series:
        """The series `to_json` wrote, or one of a version-1 snapshot (`samples`: [time, value] pairs)."""
        series = cls(retention)
        if "samples" in data:
            series.times = array("d", [t for t, _ in data["samples"]])
            series.values = array("d", [v for _, v in data["samples"]])
        else:
            series.times = array("d", data["times"])
            series.values = array("d", data["values"])
            if len(series.times) != len(series.values):
                raise ValueError("a series has as many times as values")
        series.ewma = {float(a): float(v) for a, v in data.get("ewma", ())} or None
        return series


def aggregate(node: dict[str, Any], series: Series | None, now: float) -> Any:
    """The value of an `agg` IR node for one key at event time `now`; None when there is no data."""
    return reader(node)(series, now)


def reader(node: dict[str, Any]) -> Callable[[Series | None, float], Any]:
    """`aggregate` of one node as a function of (series, now)."""
    read = slot_reader(node, 0)
    return lambda series, now: read([series], now)


def slot_reader(node: dict[str, Any], index: int) -> Callable[[Sequence[Series | None], float], Any]:
    """`aggregate` of one node over `history[index]`, as a function of (history, now), where
    `history` is a key's series by field. What to compute is decided here, once: the Engine
    reads each aggregate of a key on every event of that key, so the common aggregates get a
    function of their own, with the window found inline (one call per read, not three)."""
    fn = node["fn"]
    if fn == "ewma":
        alpha = node["alpha"]
        return lambda history, now: _ewma(alpha, history[index], now)
    length: float = node["window"]
    # min, max, sum and delta are typed as the field: an int field gives ints
    integral = fn in ("min", "max", "sum", "delta") and node.get("t") == "int"
    bisect_right = bisect.bisect_right
    if fn in ("min", "max"):
        pick = min if fn == "min" else max

        def extreme(history: Sequence[Series | None], now: float) -> Any:
            series = history[index]
            if series is not None:
                times = series.times
                hi = len(times)
                if hi and times[hi - 1] > now:  # rules step at the newest time: nearly always past every sample
                    hi = bisect_right(times, now)
                lo = bisect_right(times, now - length, 0, hi)
                if lo < hi:
                    value = pick(series.values[lo:hi])
                    return int(value) if integral else value
            return None

        return extreme
    if fn == "avg":

        def average(history: Sequence[Series | None], now: float) -> Any:
            series = history[index]
            if series is not None:
                times = series.times
                hi = len(times)
                if hi and times[hi - 1] > now:
                    hi = bisect_right(times, now)
                lo = bisect_right(times, now - length, 0, hi)
                if lo < hi:
                    return math.fsum(series.values[lo:hi]) / (hi - lo)
            return None

        return average
    if fn == "count":

        def count(history: Sequence[Series | None], now: float) -> int:
            series = history[index]
            if series is None:
                return 0
            times = series.times
            hi = len(times)
            if hi and times[hi - 1] > now:
                hi = bisect_right(times, now)
            return hi - bisect_right(times, now - length, 0, hi)

        return count
    if fn == "percentile":
        p = node["p"]

        def percentile(history: Sequence[Series | None], now: float) -> Any:
            series = history[index]
            if series is not None:
                times = series.times
                hi = len(times)
                if hi and times[hi - 1] > now:
                    hi = bisect_right(times, now)
                lo = bisect_right(times, now - length, 0, hi)
                if lo < hi:
                    return _percentile(sorted(series.values[lo:hi]), p)
            return None

        return percentile
    if fn == "anomaly":
        of_window: Callable[[Series, int, int], Any] = partial(_anomaly_of, length)
    elif fn in _OF_WINDOW:
        of_window = _OF_WINDOW[fn]
    else:
        raise ValueError(f"unknown aggregate {fn!r}")
    empty = {"absent": True}.get(fn)  # an empty window: absent, else no data

    def read(history: Sequence[Series | None], now: float) -> Any:
        series = history[index]
        if series is not None:
            times = series.times
            hi = len(times)
            if hi and times[hi - 1] > now:
                hi = bisect_right(times, now)
            lo = bisect_right(times, now - length, 0, hi)
            if lo < hi:
                value = of_window(series, lo, hi)
                return int(value) if integral else value
        return empty

    return read


def _ewma(alpha: float, series: Series | None, now: float) -> float | None:
    if series is None or not series.values:
        return None
    if series.ewma is None:
        series.ewma = {}
    if alpha not in series.ewma:  # first read: seed with the history so far
        value = series.values[0]
        for v in series.values[1:]:
            value = alpha * v + (1 - alpha) * value
        series.ewma[alpha] = value
    return series.ewma[alpha]


# The aggregates of a window that holds samples: (series, lo, hi) → value of samples [lo, hi).


def _avg(s: Series, lo: int, hi: int) -> float:
    values = s.values[lo:hi]
    return math.fsum(values) / len(values)


def _rate(s: Series, lo: int, hi: int) -> float | None:
    span = s.times[hi - 1] - s.times[lo]
    # one sample (or one instant) says nothing about a rate: no data, not a rate of 0
    return (s.values[hi - 1] - s.values[lo]) / span if span > 0 else None


def _anomaly_of(length: float, s: Series, lo: int, hi: int) -> dict[str, Any]:
    return s.moments_for(length, lo, hi).classify(s.times)


_OF_WINDOW: dict[str, Callable[[Series, int, int], Any]] = {
    "absent": lambda s, lo, hi: False,
    "count": lambda s, lo, hi: hi - lo,
    "avg": _avg,
    "min": lambda s, lo, hi: min(s.values[lo:hi]),
    "max": lambda s, lo, hi: max(s.values[lo:hi]),
    "sum": lambda s, lo, hi: math.fsum(s.values[lo:hi]),
    "delta": lambda s, lo, hi: s.values[hi - 1] - s.values[lo],
    "rate": _rate,
    "stddev": lambda s, lo, hi: _stddev(s.values[lo:hi]),
    "zscore": lambda s, lo, hi: _zscore(s.values[lo:hi]),
    "slope": lambda s, lo, hi: _slope(s.times[lo:hi], s.values[lo:hi]),
}


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
    if len(past) < 2 or min(past) == max(past):  # flat: a mean one rounding off would make a huge z
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
OSCILLATION_SHARE = 0.85  # share of moves that reverse the one before: flapping, not noise (white noise: 2/3)


def classify(times: list[float], values: list[float]) -> dict[str, Any]:
    """`anomaly()` over a whole window given as two lists (see `Moments.classify`)."""
    return Moments(math.inf, times, values, 0, len(values), None).classify(times)


class Moments:
    """Exact running sums over one window of a Series, so that `anomaly()` costs O(1) per event.

    Every float is an integer multiple of a power of two. Scaled by 2**vscale (values) and
    2**tscale (times), the sums Σv, Σv², Σt, Σt², Σtv are exact Python ints. Sliding the window
    adds the samples that enter and subtracts those that leave with no rounding, so the sums
    equal a recomputation from scratch bit for bit, whatever the history: there is no drift to
    bound, and a restored engine (which builds them again) decides exactly as the original. A
    flat window has a spread of exactly 0. The statistics are exact ratios of these ints, rounded
    once, so they are at least as accurate as a two-pass float computation.

    `moves` (consecutive samples that differ) and `turns` (moves against the direction of the
    move before) are counted over the same window; `rising` is the direction of its last move,
    `last` its newest value, scaled. `lo` and `hi` index the Series' arrays; the Series shifts
    them when it trims its front or inserts a late sample (a negative `lo`: samples of the sums
    were cut, and the next read builds them again). `length` is the window's, `next` the sums of
    the Series' next window (a Series rarely has more than one).
    """

    __slots__ = (
        "hi",
        "last",
        "length",
        "lo",
        "moves",
        "next",
        "rising",
        "st",
        "stt",
        "stv",
        "sv",
        "svv",
        "tscale",
        "turns",
        "vscale",
    )

    def __init__(
        self, length: float, times: Sequence[float], values: Sequence[float], lo: int, hi: int, after: Moments | None
    ) -> None:
        self.length, self.next = length, after
        self.build(times, values, lo, hi)

    def build(self, times: Sequence[float], values: Sequence[float], lo: int, hi: int) -> None:
        """The sums of the samples [lo, hi), from scratch."""
        self.lo = self.hi = lo
        self.tscale = self.vscale = 0
        self.st = self.stt = self.stv = self.sv = self.svv = self.last = 0
        self.moves = self.turns = 0
        self.rising: bool | None = None
        self.slide(times, values, lo, hi)

    def slide(self, times: Sequence[float], values: Sequence[float], lo: int, hi: int) -> None:
        """Move to the samples [lo, hi), both bounds at or after the current ones."""
        if hi > self.hi:
            for i in range(self.hi, hi):
                self.last = self._account(times[i], values[i], 1)
            # the new pairs: from the window's last sample (if any) to the newest
            moves, turns, self.rising = _moves(values, max(self.hi - 1, self.lo), hi, self.rising)
            self.moves += moves
            self.turns += turns
            self.hi = hi
        for i in range(self.lo, lo):
            self._account(times[i], values[i], -1)
            self.lo = i + 1
            if self.lo < self.hi and values[self.lo] != values[i]:
                self._drop_first_move(values)

    def insert(self, times: Sequence[float], values: Sequence[float], at: int) -> None:
        """Take in the late sample the Series inserted at index `at` (when it is in the window)."""
        if at >= self.hi or self.lo < 0:
            return  # after the window (a later slide takes it in), or sums to be built again
        self.hi += 1
        if at < self.lo:
            self.lo += 1
            return
        self._account(times[at], values[at], 1)
        self.moves, self.turns, self.rising = _moves(values, self.lo, self.hi)

    def _drop_first_move(self, values: Sequence[float]) -> None:
        """The window's first move left with its first sample; a turn into the next move goes too."""
        self.moves -= 1
        if not self.moves:
            self.rising = None
            return
        left = values[self.lo] > values[self.lo - 1]  # the direction of the move that left
        j = self.lo
        while values[j + 1] == values[j]:
            j += 1
        if (values[j + 1] > values[j]) != left:
            self.turns -= 1

    def _account(self, t: float, v: float, sign: int) -> int:
        """Add (sign 1) or take out (sign -1) one sample's terms; its value, scaled, is returned."""
        tn, td = t.as_integer_ratio()
        vn, vd = v.as_integer_ratio()
        tshift = self.tscale + 1 - td.bit_length()
        vshift = self.vscale + 1 - vd.bit_length()
        if tshift < 0 or vshift < 0:  # a finer step than any so far: scale the sums up to it
            self._rescale(max(-tshift, 0), max(-vshift, 0))
            tshift, vshift = max(tshift, 0), max(vshift, 0)
        it, iv = tn << tshift, vn << vshift
        if sign > 0:
            self.sv += iv
            self.svv += iv * iv
            self.st += it
            self.stt += it * it
            self.stv += it * iv
        else:
            self.sv -= iv
            self.svv -= iv * iv
            self.st -= it
            self.stt -= it * it
            self.stv -= it * iv
        return iv

    def _rescale(self, tbits: int, vbits: int) -> None:
        self.tscale += tbits
        self.vscale += vbits
        self.st <<= tbits
        self.stt <<= 2 * tbits
        self.stv <<= tbits + vbits
        self.sv <<= vbits
        self.svv <<= 2 * vbits
        self.last <<= vbits

    def classify(self, times: Sequence[float]) -> dict[str, Any]:
        """Adaptive z-score plus slope: spike, drop, drift, oscillation or none, with a severity in 0..1.

        The z-score is the newest sample against the ones before it (0 when they are flat), the
        slope the least-squares slope per second, sigma the population stddev of the window.
        """
        try:
            z, slope, sigma = self._statistics(operator.truediv)
        except OverflowError:  # a statistic beyond the float range (values near 1e154 or more)
            z, slope, sigma = self._statistics(_ratio)
        kind, severity = "none", 0.0
        if z >= SPIKE_Z:
            kind, severity = "spike", min(1.0, z / (2 * SPIKE_Z))
        elif z <= -SPIKE_Z:
            kind, severity = "drop", min(1.0, -z / (2 * SPIKE_Z))
        elif self.hi - self.lo >= 4 and sigma > 0:
            moved = abs(slope) * (times[self.hi - 1] - times[self.lo])
            moves, turns = self.moves, self.turns
            if moves >= 3 and turns / (moves - 1) >= OSCILLATION_SHARE and moved < sigma:
                kind, severity = "oscillation", min(1.0, turns / moves)
            elif moved >= DRIFT_SIGMAS * sigma:
                kind, severity = "drift", min(1.0, moved / (4 * DRIFT_SIGMAS * sigma))
        return {"kind": kind, "severity": round(severity, 6) if severity else 0.0, "zscore": z, "slope": slope}

    def _statistics(self, div: Any) -> tuple[float, float, float]:
        """z-score, slope and sigma as exact ratios of the sums, each rounded once by `div`."""
        n, vs = self.hi - self.lo, self.vscale
        sv, svv, st = self.sv, self.svv, self.st
        z = 0.0
        if n >= 3:
            last = self.last
            k, s = n - 1, sv - last
            spread = k * (svv - last * last) - s * s  # k² · 4**vs · the past's variance
            if spread:
                deviation = k * last - s  # k · 2**vs · (newest - the past's mean)
                z = math.sqrt(div(deviation * deviation, spread))
                z = -z if deviation < 0 else z
        sxx = n * self.stt - st * st  # n · 4**tscale · Σ(t - mean t)²
        slope = div((n * self.stv - st * sv) << self.tscale, sxx << vs) if sxx else 0.0
        sigma = math.sqrt(div(n * svv - sv * sv, n * n << 2 * vs))
        return z, slope, sigma


def _moves(values: Sequence[float], lo: int, hi: int, rising: bool | None = None) -> tuple[int, int, bool | None]:
    """Moves, turns and the last direction among the consecutive pairs of values[lo:hi], after a
    move in direction `rising` (None: no move before)."""
    moves = turns = 0
    previous = values[lo]
    for i in range(lo + 1, hi):
        v = values[i]
        if v != previous:
            up = v > previous
            if rising is not None and up != rising:
                turns += 1
            rising = up
            moves += 1
        previous = v
    return moves, turns, rising


def _ratio(num: int, den: int) -> float:
    """num / den, or an infinity of its sign when it is beyond the float range."""
    try:
        return num / den
    except OverflowError:
        return math.inf if (num < 0) == (den < 0) else -math.inf
