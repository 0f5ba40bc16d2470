"""Windowed rules on columns: which rows of a batch leave each level rule of a policy quiet.

The Engine keeps all state; this module only proves, per row and per rule, that stepping the
rule on the row would do nothing, so that the Engine may skip that step (`Engine.absorb`).

A rule is *vectorised*, with or without `cooldown` and `at most` (whose state moves only when a
directive is emitted), when its (entry) condition the column code generator compiles with its
window aggregates among count, absent, min, max, sum, avg, delta, rate, percentile and stddev
over top-level int or float fields, grouped by required fields the
column readers type (`plan._check_timed` says why a rule is not). On a row where such a rule's
condition is provably false, without a fault and without reading an empty window (the Engine's
`no_data`), a level rule's step only leaves it inactive; an edge rule's (`for`, `keep`,
`repeat`, `enter`/`exit`) does nothing where its state is idle, which the Engine checks itself
before skipping it (`runtime.rules.RuleMachine.unquiet`).

The screen (`WindowScreen`) follows the Engine's stream exactly, chunk by chunk, with a carry of
the previous admitted rows within the longest window: for each admitted row it computes every
aggregate over the row's key window as `runtime.windows` does at now = the row's time, which in
time order is the newest time so far: the samples of that key that arrived before or at the row
(equal times keep arrival order) with a time in (now - W, now]. count, min, max, delta and rate
are the Engine's own float operations; an int sum is exact in int64; a float sum or average
(the Engine's `math.fsum`) comes with a bound on its error, and a comparison with it is decided
only where the sides are further apart than the bound (`codegen._Compiler._cmp`). A percentile
is known only to lie within its window's range, and a stddev between 0 and half that range
(`_between_extremes`): a comparison with either is decided where the threshold is outside.
absent is count == 0, exactly.

What the screen cannot follow makes every later row busy, for the rest of the file: a row out
of time order (the Engine would insert it into the past), and a row the column readers did not
type that the Engine may still admit. A policy whose window is longer than its `idle` (a key
the Engine forgets could lose samples still in a window) or with a `stream { id … }` (duplicates
are not admitted) is not vectorised at all (`plan`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ballast.compiler.columnar.codegen import ERROR, EXACT_INT, UNSAFE, column_kind
from ballast.compiler.columnar.deps import require
from ballast.runtime.ir import IR, field_path, slot_key, walk

ROUNDING = 2.0**-53  # the unit roundoff of float64


class WindowScreen:
    """The aggregates of one policy's vectorised rules, per row, over a stream of batches.

    `aggregates` maps each slot to its `agg` IR node and the `group by` fields of the rules that
    read it (a slot read by rules of two groupings is computed for each: `slot_of`). Feed every
    batch in file order to `columns`, and tell `poison` about rows it did not see that the
    Engine may admit."""

    def __init__(
        self, time_field: str, fields: list[dict[str, Any]], aggregates: Mapping[tuple[str, ...], dict[str, IR]]
    ):
        self.time_field = time_field
        self.types = {f["name"]: f["type"] for f in fields}
        self.aggregates = {g: dict(aggs) for g, aggs in aggregates.items()}
        self.longest = max((n["window"] for aggs in self.aggregates.values() for n in aggs.values()), default=0.0)
        self.lost = False  # the stream left what the screen can follow: every later row is busy
        self.newest = -math.inf
        self.carry: dict[str, Any] | None = None  # the admitted rows within the longest window

    @property
    def needed(self) -> list[str]:
        """The fields the screen reads: the time, the `group by` fields, the aggregated fields."""
        names = {self.time_field}
        for g, aggs in self.aggregates.items():
            names.update(g)
            names.update(field_path(n)[0] for n in aggs.values())
        return sorted(names)

    def poison(self) -> None:
        """The Engine may have admitted an event the screen did not see: stop deciding."""
        self.lost = True

    def follow(self, events: list[dict[str, Any]]) -> None:
        """Take in events the Engine admits that were not in a batch (rows the column readers
        left to the row reader), as the schema check made them, in file order: their samples
        count in later windows. One out of time order, or a value no column holds (an int beyond
        int64), and the screen is lost."""
        np, pa, _ = require()
        if self.lost or not events:
            return
        times = np.array([e[self.time_field] for e in events], dtype=np.float64)
        if (times < np.maximum.accumulate(np.concatenate(([self.newest], times)))[:-1]).any():
            self.lost = True
            return
        fresh: dict[str, Any] = {"@time": times}
        dtypes = {"int": np.int64, "float": np.float64, "bool": np.bool_}
        try:
            for name in self.needed:
                if name == self.time_field:
                    continue
                values = [e.get(name) for e in events]
                kind = column_kind(self.types[name])
                if kind == "str":
                    fresh[name] = pa.array(values, type=pa.string())
                else:
                    fresh[name] = np.array([0 if v is None else v for v in values], dtype=dtypes[kind])
                fresh["@present " + name] = np.array([v is not None for v in values], dtype=bool)
        except (OverflowError, TypeError, ValueError, pa.ArrowException):
            self.lost = True
            return
        self._keep(self._with_carry(fresh))

    def columns(self, batch: Any, clean: Any, rejected: Any, times: Any) -> tuple[Any, dict[str, Any]]:
        """(admitted, columns): the rows of `batch` the screen follows (the Engine admits them, in
        time order, and the screen knows their windows), and per grouping and slot the aggregate
        columns (`slot_of`), with UNSAFE and ERROR companions, for all rows of the batch.

        `clean`: the rows the schema check passes unchanged; `rejected`: rows the Engine refuses
        (a schema problem); `times`: the event time of each clean row. A row that is neither clean
        nor rejected, or out of time order, makes it and every later row busy (`lost`)."""
        np, _, _ = require()
        rows = batch.rows
        admitted = clean.copy()
        if self.lost:
            admitted[:] = False
        else:
            unknown = ~clean & ~rejected
            positions = np.flatnonzero(clean)
            ordered = times[positions]
            before = np.maximum.accumulate(np.concatenate(([self.newest], ordered)))[:-1]
            late = positions[ordered < before]
            cut = rows
            if len(late):
                cut = int(late[0])
            if unknown.any():
                cut = min(cut, int(np.flatnonzero(unknown)[0]))
            if cut < rows:
                admitted[cut:] = False
                self.lost = True
        out: dict[str, Any] = {}
        taken = np.flatnonzero(admitted)
        rows_of = self._joined(batch, taken, times)
        n = len(rows_of["@time"])
        start = n - len(taken)  # the batch's admitted rows follow the carry
        queries = np.arange(start, n)
        for g, aggs in self.aggregates.items():
            codes = _codes(np, [rows_of[name] for name in g], n)
            for slot, node in aggs.items():
                value, unsafe, error = _aggregate(np, node, self.types, rows_of, codes, queries)
                full_value = np.zeros(rows, dtype=value.dtype)
                full_value[taken] = value
                full_unsafe = np.ones(rows, dtype=bool)
                full_unsafe[taken] = unsafe
                key = slot_of(g, slot)
                out[key] = full_value
                out[UNSAFE + key] = full_unsafe
                if error is not None:
                    full_error = np.zeros(rows)
                    full_error[taken] = error
                    out[ERROR + key] = full_error
        self._keep(rows_of)
        return admitted, out

    def _keep(self, rows_of: dict[str, Any]) -> None:
        """Carry the rows a later window may reach: those within the longest window of the newest."""
        if len(rows_of["@time"]):
            self.newest = max(self.newest, float(rows_of["@time"][-1]))
        keep = rows_of["@time"] > self.newest - self.longest
        self.carry = {name: _take(column, keep) for name, column in rows_of.items()}

    def _joined(self, batch: Any, taken: Any, times: Any) -> dict[str, Any]:
        """The carry followed by the batch's admitted rows: the time, each needed field's values
        and, for the aggregated fields, where they are present."""
        _, pa, _ = require()
        fresh: dict[str, Any] = {"@time": times[taken]}
        for name in self.needed:
            if name == self.time_field:
                continue
            column = batch.columns[name]
            fresh[name] = (
                column.take(pa.array(taken, type=pa.int64()))
                if column_kind(self.types[name]) == "str"
                else column[taken]
            )
            fresh["@present " + name] = batch.present[name][taken]
        return self._with_carry(fresh)

    def _with_carry(self, fresh: dict[str, Any]) -> dict[str, Any]:
        np, pa, _ = require()
        if self.carry is None:
            return fresh
        return {name: _concat(np, pa, self.carry[name], column) for name, column in fresh.items()}


def slot_of(grouping: tuple[str, ...], slot: str) -> str:
    """The column of an aggregate slot for the rules of one grouping (a key window is per grouping)."""
    return f"{slot} by {','.join(grouping)}"


def _take(column: Any, keep: Any) -> Any:
    if hasattr(column, "filter"):
        _, pa, _ = require()
        return column.filter(pa.array(keep))
    return column[keep]


def _concat(np: Any, pa: Any, a: Any, b: Any) -> Any:
    if isinstance(a, pa.Array | pa.ChunkedArray):
        return pa.concat_arrays([_flat(pa, a), _flat(pa, b)])
    return np.concatenate((a, b))


def _flat(pa: Any, array: Any) -> Any:
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def _codes(np: Any, columns: list[Any], n: int) -> Any:
    """One int64 code per row for its key (the values of the `group by` fields), equal codes for
    equal keys; all rows share one key when there is no `group by`."""
    _, pa, pc = require()
    code = np.zeros(n, dtype=np.int64)
    for column in columns:
        if isinstance(column, pa.Array | pa.ChunkedArray):
            encoded = pc.dictionary_encode(_flat(pa, column))
            part = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
            size = len(encoded.dictionary)
        else:
            _, part = np.unique(column, return_inverse=True)
            part = part.astype(np.int64)
            size = int(part.max()) + 1 if n else 1
        code = code * max(size, 1) + part
        if n:
            _, code = np.unique(code, return_inverse=True)  # back to a small range before the next field
            code = code.astype(np.int64)
    return code


def _aggregate(
    np: Any, node: IR, types: Mapping[str, Any], rows: Mapping[str, Any], codes: Any, queries: Any
) -> tuple[Any, Any, Any]:
    """(value, unsafe, error) of one aggregate for each query row (positions in `rows`): the
    Engine's `runtime.windows` reading at now = the row's time. `error` is None when exact."""
    fn, length = node["fn"], node["window"]
    name = field_path(node)[0]
    integral = types[name] == "int"
    n = len(codes)
    times = rows["@time"]
    samples = np.flatnonzero(rows["@present " + name])  # a missing value is no sample
    values = np.asarray(rows[name], dtype=np.float64)[samples]  # the Engine keeps float(value)
    sample_times = times[samples]
    # the samples ordered by key, then arrival: each key's window is a run of this order
    order = np.int64(n) * codes[samples] + samples
    rank = np.argsort(order, kind="stable")
    order = order[rank]
    values = values[rank]
    sample_times = sample_times[rank]
    q_codes = codes[queries] * np.int64(n)
    first = np.searchsorted(times, times[queries] - length, side="right")  # the first row with t > now - W
    lo = np.searchsorted(order, q_codes + first, side="left")
    hi = np.searchsorted(order, q_codes + queries, side="right")
    count = hi - lo
    if fn == "count":
        return count.astype(np.int64), np.zeros(len(queries), dtype=bool), None
    if fn == "absent":  # never no data
        return count == 0, np.zeros(len(queries), dtype=bool), None
    empty = count == 0
    safe_lo = np.where(empty, 0, lo)
    last = np.where(empty, 0, hi - 1)
    big = np.abs(values) > EXACT_INT
    error = None
    if fn in ("min", "max"):
        value = _extremes(np, values, safe_lo, np.where(empty, 1, hi), fn)
        unsafe = empty
    elif fn in ("delta", "rate"):
        with np.errstate(all="ignore"):
            value = values[last] - values[safe_lo] if len(values) else np.zeros(len(queries))
            if fn == "rate":
                span = sample_times[last] - sample_times[safe_lo] if len(values) else np.zeros(len(queries))
                value = value / np.where(span > 0, span, 1.0)
                empty = empty | ~(span > 0)  # one instant says nothing about a rate: no data
        unsafe = empty | ~np.isfinite(value)
    elif fn in ("percentile", "stddev"):
        value, unsafe, error = _between_extremes(np, values, safe_lo, np.where(empty, 1, hi), fn)
        unsafe |= empty
    else:  # sum, avg
        value, unsafe, error = _sums(np, values, lo, hi, integral, fn)
        unsafe |= empty
    if integral and fn in ("min", "max", "sum", "delta"):
        unsafe = unsafe | (np.abs(value) > EXACT_INT) | _any_in(np, big, lo, hi)
        value = np.where(unsafe, 0, value).astype(np.int64)
    return value, unsafe, error


def _any_in(np: Any, flags: Any, lo: Any, hi: Any) -> Any:
    """Whether any of flags[lo:hi] is set, per (lo, hi)."""
    prefix = np.concatenate(([0], np.cumsum(flags, dtype=np.int64)))
    return prefix[hi] > prefix[lo]


def _extremes(np: Any, values: Any, lo: Any, hi: Any, fn: str) -> Any:
    """min or max of values[lo:hi] per (lo, hi), hi > lo, by a sparse table (exact: no arithmetic)."""
    pick = np.minimum if fn == "min" else np.maximum
    if not len(values):
        return np.zeros(len(lo))
    span = hi - lo
    levels = [values]
    width = 1
    while width * 2 <= int(span.max(initial=1)):
        previous = levels[-1]
        levels.append(pick(previous[:-width], previous[width:]))
        width *= 2
    level = np.floor(np.log2(np.maximum(span, 1))).astype(np.int64)
    out = np.empty(len(lo))
    for k in np.unique(level):
        at = level == k
        table = levels[k]
        out[at] = pick(table[lo[at]], table[hi[at] - (1 << int(k))])
    return out


def _between_extremes(np: Any, values: Any, lo: Any, hi: Any, fn: str) -> tuple[Any, Any, Any]:
    """(value, unsafe, error) of a percentile or a stddev over values[lo:hi], hi > lo, known
    only within an interval the window's range gives: the value is the interval's midpoint and
    the error its half-width plus the Engine's rounding, so a comparison with a threshold
    outside the interval (a p95 latency against its SLO, on a calm key) is decided, and one
    inside it is left to the Engine.

    * `percentile`: the Engine interpolates between two of the window's values (`_percentile`):
      with a <= b those values, d = fl(b - a) and f in [0, 1), fl(a + fl(d * f)) is at least min
      (rounding is monotone) and at most max + 2.01u(max - min) + u|max|. Where max - min
      overflows, the interpolation may give an infinity or NaN: unsafe.
    * `stddev`: the population standard deviation is at most (max - min) / 2 (Popoviciu). The
      Engine's mean is off by at most ε = 2.01u·max(|min|, |max|), which adds ε² to the variance
      (Σ(v - μ')² = Σ(v - μ)² + nε²), and its squares, fsum, division and square root add 3.6u
      relative, plus 2**-537 absolute where squares of tiny differences round up from below the
      subnormals. So it lies in [0, (max - min)/2 + 2.4u(max - min) + 2.1u·max(|min|, |max|)].
      Where a square or the sum may overflow (the Engine's OverflowError, a fault), unsafe.
    """
    low = _extremes(np, values, lo, hi, "min")
    high = _extremes(np, values, lo, hi, "max")
    with np.errstate(all="ignore"):
        spread = high - low
        magnitude = np.maximum(np.abs(low), np.abs(high))
        if fn == "percentile":
            value = low / 2 + high / 2
            error = (spread / 2 + 4 * ROUNDING * spread + 4 * ROUNDING * magnitude) * 1.01 + 2.0**-1070
            unsafe = ~np.isfinite(spread) | ~np.isfinite(error)
        else:
            value = spread / 4
            error = (spread / 4 + 4 * ROUNDING * spread + 3 * ROUNDING * magnitude) * 1.01 + 2.0**-530
            unsafe = ~(spread <= 2.0**400) | ~(magnitude <= 2.0**900)
    return value, unsafe, error


def _sums(np: Any, values: Any, lo: Any, hi: Any, integral: bool, fn: str) -> tuple[Any, Any, Any]:
    """(value, unsafe, error) of sum or avg over values[lo:hi]. An int field's sum is exact in
    int64 (wrapping prefix sums give every window's sum exactly while it stays within ±2**63; the
    rows beyond ±2**53, where the Engine's fsum would round, are unsafe). A float field's sum is a
    difference of float prefix sums, with a bound on its distance to the Engine's correctly
    rounded fsum (Higham's bound for recursive summation, on both prefixes)."""
    count = np.maximum(hi - lo, 1)
    floats = np.concatenate(([0.0], np.cumsum(values)))
    magnitude = np.concatenate(([0.0], np.cumsum(np.abs(values))))
    n = len(values) + 1
    gamma = n * ROUNDING / (1 - n * ROUNDING)
    with np.errstate(all="ignore"):
        approx = floats[hi] - floats[lo]
        bound = (gamma * (magnitude[hi] + magnitude[lo]) + 3 * ROUNDING * np.abs(approx)) * 1.01 + n * 2.0**-1070
    unsafe = ~np.isfinite(approx) | ~np.isfinite(bound)
    if integral:
        unsafe |= np.abs(approx) + bound > EXACT_INT  # and a value beyond ±2**53 is caught by the caller
        exact = np.concatenate(([0], np.cumsum(np.where(np.abs(values) <= EXACT_INT, values, 0).astype(np.int64))))
        with np.errstate(all="ignore"):
            total = exact[hi] - exact[lo]
        if fn == "sum":
            return total, unsafe, None
        return total.astype(np.float64) / count, unsafe | _beyond(np, values, lo, hi), None
    if fn == "sum":
        return approx, unsafe, bound
    with np.errstate(all="ignore"):
        mean = approx / count
        error = ((bound * (1 + 2 * ROUNDING) + 2 * ROUNDING * np.abs(approx)) / count) * 1.01 + 2.0**-1070
    return mean, unsafe | ~np.isfinite(mean), error


def _beyond(np: Any, values: Any, lo: Any, hi: Any) -> Any:
    return _any_in(np, np.abs(values) > EXACT_INT, lo, hi)


def window_slots(when: IR) -> dict[str, IR]:
    """The aggregate nodes a condition reads, by slot."""
    return {slot_key(n): n for n in walk(when) if n["k"] == "agg"}


__all__ = ["WindowScreen", "slot_of", "window_slots"]
