"""The input schema check over columns: which rows `validate` accepts without a problem.

The column readers hand over each field as values plus a `present` mask (null or absent is not
present) and mark `foreign` the rows they could not type exactly (a cell of another type, an
unknown field). A row is *clean* when it is not foreign, every required field is present, and
every present value is in its declared range (and finite, and of its enum, and for a timestamp
a text `parse_timestamp` reads): exactly the rows on
which the row path's schema check reports nothing. The rest go to the row path, which names
the problem.
"""

from __future__ import annotations

import math
from typing import Any

from ballast.compiler.columnar.deps import require
from ballast.compiler.columnar.strings import string_test
from ballast.runtime.values import parse_timestamp


def timestamps(column: Any, epoch_text: bool = False) -> Any:
    """A timestamp column (its text, as the column readers type it) as epoch seconds, float64, NaN
    where the row path's `parse_timestamp` refuses the text (or it is null). With `epoch_text`
    (CSV), a text Python's `float()` reads is that number of seconds, as the CSV row reader
    reads it. One parse per distinct text: a stream of many keys repeats each instant."""
    np, pa, _ = require()
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_dictionary(column.type):  # each entry parsed once, spread by the codes
        entries = np.append(timestamps(column.dictionary, epoch_text), math.nan)
        codes = column.indices.fill_null(len(column.dictionary)).to_numpy(zero_copy_only=False)
        return entries[codes]  # a null row reads the NaN appended after the entries
    parsed: dict[Any, float] = {}
    out = np.empty(len(column))
    for i, text in enumerate(column.to_pylist()):
        moment = parsed.get(text)
        if moment is None:
            seconds = _moment(text, epoch_text) if text is not None else None
            moment = parsed[text] = math.nan if seconds is None else seconds
        out[i] = moment
    return out


def _moment(text: str, epoch_text: bool) -> float | None:
    if epoch_text:
        try:
            return parse_timestamp(float(text))
        except ValueError:
            pass
    return parse_timestamp(text)


def clean_rows(fields: list[dict[str, Any]], batch: Any) -> Any:
    """A numpy bool array: the rows of a `policy.Batch` the schema accepts (module docstring)."""
    np, pa, pc = require()
    columns, present, epoch_text = batch.columns, batch.present, batch.epoch_text
    clean = ~batch.foreign
    for f in fields:
        name, t = f["name"], f["type"]
        here = present[name]
        required = not f.get("optional")
        if required:
            clean &= here
        ok = None
        values = columns[name]
        if t in ("float", "int"):
            low, high = f.get("min"), f.get("max")
            if t == "float" and (low is None or high is None):
                ok = np.isfinite(values)  # NaN and ±inf fail one of two bounds (finite: plan.schema_problem)
            if low is not None:
                ok = np.greater_equal(values, low) if ok is None else np.logical_and(ok, values >= low, out=ok)
            if high is not None:
                ok = np.less_equal(values, high) if ok is None else np.logical_and(ok, values <= high, out=ok)
        elif t == "timestamp":
            ok = ~np.isnan(timestamps(values, epoch_text))
        elif isinstance(t, dict) and "enum" in t:
            members = pa.array(t["enum"], type=pa.string())
            test = lambda column, members=members: pc.is_in(column, value_set=members)  # noqa: E731
            ok = string_test(values, test, ("enum", tuple(t["enum"])))
        if ok is None:
            continue
        # a required field's absent rows are already out: `ok` alone says the rest
        clean &= ok if required else ~here | ok
    return clean


__all__ = ["clean_rows", "timestamps"]
