"""Field histories and the exact running sums behind `anomaly()` (ballast.runtime.windows).

A `Moments` keeps integer sums over a sliding window of a `Series`, updated as samples enter,
leave, arrive late or are trimmed. The properties: after any such sequence the sums equal sums
built from scratch over the same samples (so a restored engine, which builds them again,
decides exactly as the original), and `classify` is the documented definition
(docs/stateful-rules.md) computed exactly with `fractions` and rounded once, bit for bit.
"""

from __future__ import annotations

import bisect
import math
from fractions import Fraction
from itertools import pairwise
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from support import same_value

from ballast.runtime.windows import (
    DRIFT_SIGMAS,
    OSCILLATION_SHARE,
    SPIKE_Z,
    Moments,
    Series,
    aggregate,
    classify,
    slot_reader,
)

T0 = 1_700_000_000.0
LATENESS = 30.0
WINDOWS = (60.0, 150.0)  # two windows over one field: two sets of running sums

# values of different granularities and signs (each rescales the sums), with ties and -0.0
values = st.one_of(
    st.integers(-5, 5).map(float),
    st.integers(-2000, 2000).map(lambda i: i / 10),
    st.sampled_from([0.0, -0.0, 1e-9, 3.3e-7, 123.456, 1e12, -7.25]),
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
)
ops = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.sampled_from([0.0, 0.25, 1.0, 15.0, 15.0, 40.0]), values),
        st.tuples(st.just("late"), st.floats(0.0, LATENESS), values),
        st.tuples(st.just("read"), st.sampled_from(WINDOWS), st.sampled_from([0.0, 0.0, 10.0])),
    ),
    max_size=80,
)


def reference(times: list[float], values: list[float]) -> dict[str, Any]:
    """`anomaly()` by the book, in exact rational arithmetic, each statistic rounded once."""
    t = [Fraction(x) for x in times]
    v = [Fraction(x) for x in values]
    n = len(v)
    z = 0.0
    if n >= 3:
        past = v[:-1]
        mean = sum(past) / len(past)
        variance = sum((x - mean) ** 2 for x in past) / len(past)
        if variance:
            deviation = v[-1] - mean
            z = math.copysign(math.sqrt(rounded(deviation**2 / variance)), deviation)
    mean_t, mean_v = sum(t) / n, sum(v) / n
    sxx = sum((x - mean_t) ** 2 for x in t)
    sxy = sum((x - mean_t) * (y - mean_v) for x, y in zip(t, v, strict=True))
    slope = rounded(sxy / sxx) if sxx else 0.0
    sigma = math.sqrt(rounded(sum((y - mean_v) ** 2 for y in v) / n))
    moves, turns = moves_and_turns(v)
    kind, severity = "none", 0.0
    if z >= SPIKE_Z:
        kind, severity = "spike", min(1.0, z / (2 * SPIKE_Z))
    elif z <= -SPIKE_Z:
        kind, severity = "drop", min(1.0, -z / (2 * SPIKE_Z))
    elif n >= 4 and sigma > 0:
        moved = abs(slope) * (times[-1] - times[0])
        if moves >= 3 and turns / (moves - 1) >= OSCILLATION_SHARE and moved < sigma:
            kind, severity = "oscillation", min(1.0, turns / moves)
        elif moved >= DRIFT_SIGMAS * sigma:
            kind, severity = "drift", min(1.0, moved / (4 * DRIFT_SIGMAS * sigma))
    return {"kind": kind, "severity": round(severity, 6), "zscore": z, "slope": slope}


def rounded(exact: Fraction) -> float:
    """The nearest float, or an infinity beyond the float range (as in IEEE arithmetic)."""
    try:
        return float(exact)
    except OverflowError:
        return math.inf if exact > 0 else -math.inf


def moves_and_turns(values: list[Fraction]) -> tuple[int, int]:
    """The differences that are not 0, and the sign changes between consecutive ones."""
    diffs = [b - a for a, b in pairwise(values) if b != a]
    return len(diffs), sum((d > 0) != (e > 0) for d, e in pairwise(diffs))


def built_afresh(series: Series, lo: int, hi: int) -> Moments:
    return Moments(0.0, series.times, series.values, lo, hi, None)


def state(m: Moments) -> tuple[Any, ...]:
    """What the sums mean, independent of the scale they happen to be kept at."""
    v, t = 2**m.vscale, 2**m.tscale
    sums = (Fraction(m.sv, v), Fraction(m.svv, v * v), Fraction(m.st, t), Fraction(m.stt, t * t))
    return (m.lo, m.hi, m.moves, m.turns, m.rising, *sums, Fraction(m.stv, t * v), Fraction(m.last, v))


class Model:
    """A history the plain way: a sorted list of (time, value), trimmed on every add."""

    def __init__(self, retention: float) -> None:
        self.retention = retention
        self.samples: list[tuple[float, float]] = []
        self.ewma: float | None = None

    def add(self, time: float, value: float, newest: float) -> None:
        at = bisect.bisect_right([t for t, _ in self.samples], time)  # after equal times
        self.samples.insert(at, (time, value))
        self.samples = [s for s in self.samples if s[0] >= newest - self.retention]
        if self.ewma is not None:
            self.ewma = 0.3 * value + 0.7 * self.ewma

    def read_ewma(self) -> float:
        if self.ewma is None:  # seeded with the history so far, on the first read
            self.ewma = self.samples[0][1]
            for _, v in self.samples[1:]:
                self.ewma = 0.3 * v + 0.7 * self.ewma
        return self.ewma


@settings(max_examples=300, deadline=None)
@given(ops, st.lists(st.booleans(), min_size=80, max_size=80))
def test_running_sums_equal_sums_built_afresh_after_any_history(
    operations: list[tuple[str, float, float]], read_ewma: list[bool]
) -> None:
    series, model = Series(max(WINDOWS) + LATENESS), Model(max(WINDOWS) + LATENESS)
    newest = T0
    for (op, a, b), ewma in zip(operations, read_ewma, strict=False):
        if op == "add":
            newest += a
            series.add(newest, b, newest)
            model.add(newest, b, newest)
        elif op == "late":
            series.add(newest - a, b, newest)
            model.add(newest - a, b, newest)
        kept = series.to_json()  # what a snapshot keeps
        assert list(zip(kept["times"], kept["values"], strict=True)) == model.samples
        if ewma and series.times:
            assert aggregate({"fn": "ewma", "alpha": 0.3}, series, newest) == model.read_ewma()
        # as the Engine does: every window read at the newest time after each sample; `read`
        # reads one at a later time, as `Engine.advance` does
        for length, now in [(a, newest + b)] if op == "read" else [(w, newest) for w in WINDOWS]:
            check_window(series, model, length, now)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([5.0, 15.0, 15.0, 40.0]), st.integers(0, 3).map(float), st.sampled_from([0.0, 0.0, 12.0])
        ),
        min_size=20,
        max_size=120,
    )
)
def test_running_sums_slide_through_long_streams(steps: list[tuple[float, float, float]]) -> None:
    # few distinct values: runs of equal samples and turns leave the window all the time
    series, model = Series(max(WINDOWS) + LATENESS), Model(max(WINDOWS) + LATENESS)
    newest = T0
    for step, value, late in steps:
        newest += step
        series.add(newest - late, value, newest)
        model.add(newest - late, value, newest)
        for length in WINDOWS:
            check_window(series, model, length, newest)


def check_window(series: Series, model: Model, length: float, now: float) -> None:
    lo, hi = series.window(now, length)
    assert list(series.values[lo:hi]) == [v for t, v in model.samples if now - length < t <= now]
    if hi == lo:
        return
    slid = series.moments_for(length, lo, hi)
    built = built_afresh(series, lo, hi)
    assert state(slid) == state(built)
    assert (slid.moves, slid.turns) == moves_and_turns([Fraction(x) for x in series.values[lo:hi]])
    got = slid.classify(series.times)
    assert same_value(got, built.classify(series.times))
    assert same_value(got, reference(list(series.times[lo:hi]), list(series.values[lo:hi])))


@settings(max_examples=300, deadline=None)
@given(st.lists(values, min_size=1, max_size=40), st.lists(st.sampled_from([0.0, 0.5, 15.0, 15.0]), max_size=40))
def test_classify_is_the_definition_computed_exactly(vs: list[float], steps: list[float]) -> None:
    times = [T0]
    for step in (steps + [15.0] * len(vs))[: len(vs) - 1]:
        times.append(times[-1] + step)
    assert same_value(classify(times, vs), reference(times, vs))


def test_a_flat_past_has_no_zscore_so_no_spurious_spike() -> None:
    # 0.1 * 3 / 3 is not 0.1 in floats: a mean taken in floats left a spread of ~1e-17 here,
    # and a newest sample just above the level read as a spike of ~1e13 sigmas
    times = [T0 + 15 * i for i in range(4)]
    got = classify(times, [0.1, 0.1, 0.1, 0.101])
    assert got["zscore"] == 0.0 and got["kind"] != "spike"
    flat = classify(times, [0.1] * 4)
    assert flat == {"kind": "none", "severity": 0.0, "zscore": 0.0, "slope": 0.0}


def test_a_late_sample_inside_the_window_updates_the_sums_in_place() -> None:
    series = Series(600.0 + LATENESS)
    for i in range(10):
        series.add(T0 + 15 * i, float(i % 3), T0 + 15 * i)
    lo, hi = series.window(T0 + 135, 600.0)
    before = series.moments_for(600.0, lo, hi)
    series.add(T0 + 130, 50.0, T0 + 135)  # late, lands before the newest sample
    lo, hi = series.window(T0 + 135, 600.0)
    after = series.moments_for(600.0, lo, hi)
    assert after is before and (after.lo, after.hi) == (0, 11)
    assert state(after) == state(built_afresh(series, lo, hi))


def test_statistics_beyond_the_float_range_are_infinite_not_an_error() -> None:
    times = [T0 + 15 * i for i in range(5)]
    got = classify(times, [1e200, -1e200, 1e200, -1e200, 1e200])  # the variance is 1e400
    assert got["kind"] in ("none", "oscillation") and math.isfinite(got["zscore"])


def test_zscore_of_a_flat_past_is_zero() -> None:
    from ballast.runtime.windows import _zscore

    assert _zscore([0.1, 0.1, 0.1, 0.101]) == 0.0
    assert _zscore([0.1, 0.2, 0.1, 0.2, 0.5]) > 3.0


def test_anomaly_tells_flapping_from_noise() -> None:
    """Calibration: noise reverses direction on ~2/3 of its steps; only flapping is an oscillation."""
    import random

    rng = random.Random(1)
    times = [15.0 * i for i in range(40)]
    kinds = [classify(times, [100 + rng.gauss(0, 5) for _ in range(40)])["kind"] for _ in range(1000)]
    assert kinds.count("oscillation") <= 10
    assert kinds.count("none") >= 970
    flapping = [100 + (10 if i % 2 else -10) + rng.gauss(0, 1) for i in range(40)]
    assert classify(times, flapping)["kind"] == "oscillation"


def by_definition(fn: str, samples: list[tuple[float, float]], now: float, length: float, p: float) -> Any:
    """The window aggregates the Engine reads most, as the definition says, from the samples."""
    window = [v for t, v in samples if now - length < t <= now]
    if fn == "count":
        return len(window)
    if not window:
        return None
    if fn == "avg":
        return math.fsum(window) / len(window)
    if fn == "percentile":
        ordered = sorted(window)
        if len(ordered) == 1:  # the one sample itself (as its own interpolation, -0.0 would become 0.0)
            return ordered[0]
        rank = p / 100 * (len(ordered) - 1)
        low = math.floor(rank)
        high = min(low + 1, len(ordered) - 1)
        return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
    return {"min": min, "max": max}[fn](window)


@settings(max_examples=300, deadline=None)
@given(ops, st.sampled_from([30.0, 60.0, 150.0]), st.sampled_from([0, 5, 50, 95, 100]))
def test_slot_readers_give_the_definition_exactly(
    operations: list[tuple[str, float, float]], length: float, p: int
) -> None:
    """The Engine's per-kind readers (the window found inline) against the definition, bit for bit."""
    series, model = Series(max(WINDOWS) + LATENESS), Model(max(WINDOWS) + LATENESS)
    newest = T0
    readers = {
        fn: slot_reader({"fn": fn, "window": length, "p": p, "path": ["x"]}, 1)
        for fn in ("min", "max", "avg", "count", "percentile")
    }
    for op, a, b in operations:
        if op == "add":
            newest += a
            series.add(newest, b, newest)
            model.add(newest, b, newest)
        elif op == "late":
            series.add(newest - a, b, newest)
            model.add(newest - a, b, newest)
        for now in (newest, newest + 20.0):  # at the newest time, and later (as `advance` reads)
            for fn, read in readers.items():
                got = read([None, series], now)
                want = by_definition(fn, model.samples, now, length, p)
                assert same_value(got, want), (fn, now, got, want)
    assert readers["count"]([None, None], newest) == 0 and readers["min"]([None, None], newest) is None
