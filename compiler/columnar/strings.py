"""String columns as numpy bools: a test on the values of a string column, nulls false.

A string column is a pyarrow string array, or a dictionary array of strings (what the Parquet
reader hands over for a dictionary-encoded column: a few distinct values, an index per row).
On a dictionary the test runs once per distinct value and is spread to the rows through the
indices, which is what makes `tier == "critical"` cost a numpy take instead of a comparison of
every row's bytes.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable
from typing import Any

from ballast.compiler.columnar.deps import require

# Columns the caller hands over unchanged batch after batch (`constant`), by id, with the results
# of their tests by key: the entry goes when the column does (its weak reference's callback).
_CONSTANT: dict[int, tuple[weakref.ref[Any], dict[Hashable, Any]]] = {}


def bools(np: Any, values: Any) -> Any:
    """A pyarrow bool result as a numpy bool array, null (a null string) as false."""
    if isinstance(values, bool):
        return values
    if hasattr(values, "fill_null"):
        values = values.fill_null(False)
    return values.to_numpy(zero_copy_only=False) if hasattr(values, "to_numpy") else np.asarray(values)


def plain(column: Any) -> Any:
    """The column as plain strings (a dictionary decoded), for operations between two columns."""
    _, pa, _ = require()
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if isinstance(column, pa.Array) and pa.types.is_dictionary(column.type):
        return column.dictionary_decode()
    return column


def constant(column: Any) -> Any:
    """`column`, marked as one its holder hands over unchanged in every batch (the simulator's pool
    names and classes, tick after tick): a test with a key (`string_test`) then runs once on it,
    and later batches get the remembered result, read-only. The mark goes with the column."""
    key = id(column)
    if key not in _CONSTANT:
        _CONSTANT[key] = (weakref.ref(column, lambda _gone, key=key: _CONSTANT.pop(key, None)), {})
    return column


def string_test(column: Any, test: Callable[[Any], Any], key: Hashable | None = None) -> Any:
    """`test` (plain string array → pyarrow bool array) on every row of a string column, as a
    numpy bool array with a null row false; on a dictionary column, once per dictionary entry.
    `key` says what the test is (the same key, the same test): on a `constant` column the
    result is remembered under it."""
    entry = _CONSTANT.get(id(column)) if key is not None else None
    if entry is None or entry[0]() is not column:
        return _string_test(column, test)
    remembered = entry[1]
    result = remembered.get(key)
    if result is None:
        result = remembered[key] = _string_test(column, test)
        if hasattr(result, "flags"):
            result.flags.writeable = False  # shared by every later batch: nobody may write into it
    return result


def _string_test(column: Any, test: Callable[[Any], Any]) -> Any:
    np, pa, _ = require()
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if not pa.types.is_dictionary(column.type):
        return bools(np, test(column))
    entries = bools(np, test(column.dictionary))
    indices = column.indices
    codes = (indices.fill_null(0) if indices.null_count else indices).to_numpy()
    result = _spread(np, entries, codes)
    if indices.null_count:
        result &= column.is_valid().to_numpy(zero_copy_only=False)
    return result


FEW = 8  # up to this many dictionary entries on the rarer side, compare codes instead of a lookup


def _spread(np: Any, entries: Any, codes: Any) -> Any:
    """`entries[codes]` as a new bool array. A comparison of the codes with a constant runs many
    times faster than numpy's gather, so where few entries hold (or few do not), they are compared."""
    hits = np.flatnonzero(entries)
    if len(hits) == 0:
        return np.zeros(len(codes), dtype=bool)
    if len(hits) == len(entries):
        return np.ones(len(codes), dtype=bool)
    # Python ints: a numpy int64 would widen every int32 code before comparing
    if len(hits) <= FEW:
        result = codes == int(hits[0])
        for code in hits[1:].tolist():
            result |= codes == code
        return result
    misses = np.flatnonzero(~entries)
    if len(misses) <= FEW:
        result = codes != int(misses[0])
        for code in misses[1:].tolist():
            result &= codes != code
        return result
    return np.take(entries, codes)


__all__ = ["bools", "constant", "plain", "string_test"]
