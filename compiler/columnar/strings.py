"""String columns as numpy bools: a test on the values of a string column, nulls false.

A string column is a pyarrow string array, or a dictionary array of strings (what the Parquet
reader hands over for a dictionary-encoded column: a few distinct values, an index per row).
On a dictionary the test runs once per distinct value and is spread to the rows through the
indices, which is what makes `tier == "critical"` cost a numpy take instead of a comparison of
every row's bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ballast.compiler.columnar.deps import require


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


def string_test(column: Any, test: Callable[[Any], Any]) -> Any:
    """`test` (plain string array → pyarrow bool array) on every row of a string column, as a
    numpy bool array with a null row false; on a dictionary column, once per dictionary entry."""
    np, pa, _ = require()
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if not pa.types.is_dictionary(column.type):
        return bools(np, test(column))
    entries = bools(np, test(column.dictionary))
    if not len(entries):  # every row null: nothing to index
        return np.zeros(len(column), dtype=bool)
    indices = column.indices
    if indices.null_count:
        result = entries[indices.fill_null(0).to_numpy()]
        result &= column.is_valid().to_numpy(zero_copy_only=False)
        return result
    return entries[indices.to_numpy()]


__all__ = ["bools", "plain", "string_test"]
