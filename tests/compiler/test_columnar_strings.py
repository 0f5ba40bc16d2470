"""A test on a string column gives the same rows whether the column is plain or a dictionary.

`compiler.columnar.strings.string_test` runs the test once per dictionary entry and spreads it
to the rows by their codes (comparing codes when few entries hold or few do not, a lookup
otherwise); the reference is the test on each row's own string, a null row false.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from ballast.compiler.columnar.strings import string_test

# up to 40 distinct strings: enough for every way of spreading (a few hits, a few misses, a lookup)
alphabet = [f"v{i}" for i in range(40)]
values = st.lists(st.one_of(st.none(), st.sampled_from(alphabet)), max_size=80)
members = st.one_of(st.sets(st.sampled_from(alphabet), max_size=10), st.sets(st.sampled_from(alphabet), min_size=12))


@settings(max_examples=300, deadline=None)
@given(rows=values, members=members, null_entry=st.booleans())
def test_a_dictionary_column_tests_as_its_strings(rows: list[str | None], members: set[str], null_entry: bool) -> None:
    value_set = pa.array(sorted(members), type=pa.string())

    def member(column: pa.Array) -> pa.Array:
        return pc.is_in(column, value_set=value_set)

    want = [v is not None and v in members for v in rows]
    plain = pa.array(rows, type=pa.string())
    assert string_test(plain, member).tolist() == want
    encoded = plain.dictionary_encode()
    assert string_test(encoded, member).tolist() == want
    # a dictionary whose rows use only some entries, in another order, with a null entry no row uses
    entries = sorted(set(alphabet[:20]) | {v for v in rows if v is not None}, reverse=True)
    codes = pa.array([None if v is None else entries.index(v) for v in rows], type=pa.int32())
    dictionary = pa.array([*entries, None] if null_entry else entries, type=pa.string())
    assert string_test(pa.DictionaryArray.from_arrays(codes, dictionary), member).tolist() == want
    chunked = pa.chunked_array([encoded[: len(rows) // 2], encoded[len(rows) // 2 :]], type=encoded.type)
    assert string_test(chunked, member).tolist() == want


def test_equality_with_a_constant_is_spread_by_codes() -> None:
    column = pa.array(["gold", None, "silver", "gold", "bronze"]).dictionary_encode()
    assert string_test(column, lambda c: pc.equal(c, "gold")).tolist() == [True, False, False, True, False]
    assert string_test(column, lambda c: pc.not_equal(c, "gold")).tolist() == [False, False, True, False, True]
    nothing = pa.array([None, None], type=pa.string()).dictionary_encode()  # an empty dictionary
    assert string_test(nothing, lambda c: pc.equal(c, "gold")).tolist() == [False, False]


def test_a_constant_column_runs_each_keyed_test_once() -> None:
    import gc

    from ballast.compiler.columnar import strings

    column = strings.constant(pa.array(["a", "b", None, "a"], type=pa.string()))
    runs: list[str] = []

    def equal_a(values: pa.Array) -> pa.Array:
        runs.append("a")
        return pc.equal(values, "a")

    first = string_test(column, equal_a, key=("==", "a"))
    again = string_test(column, equal_a, key=("==", "a"))
    assert first.tolist() == again.tolist() == [True, False, False, True] and runs == ["a"]
    assert not again.flags.writeable  # remembered for every later batch: nobody may change it
    assert string_test(column, equal_a).tolist() == first.tolist() and runs == ["a", "a"]  # no key: run
    other = pa.array(["a", "b", None, "a"], type=pa.string())  # equal, but not the marked column
    assert string_test(other, equal_a, key=("==", "a")).flags.writeable and runs == ["a"] * 3
    marked = len(strings._CONSTANT)
    del column, first, again
    gc.collect()
    assert len(strings._CONSTANT) == marked - 1  # the mark goes with the column
