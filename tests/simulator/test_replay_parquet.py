"""A Parquet recording replays as the same events written as JSONL, however it is stored.

The columnar engine reads a string column stored with a dictionary in every row group as a
dictionary array (`simulator.telemetry_columns`), keeps an Arrow dictionary column of strings
encoded, and reads every other column as before. Whatever the storage (plain or dictionary
pages, a dictionary that falls back to plain pages, Arrow dictionary or large string columns,
row groups of any size against chunks of any size) and with nulls anywhere, the report must
be the row engine's report of the same events as JSONL, a null being an absent field.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_replay_columnar import POLICY, TWIN_SETS, make_sets, report_text, valid

from ballast.simulator.replay import replay
from ballast.simulator.telemetry_columns import read_columns

SETS = make_sets(POLICY)
STRINGS = ("name", "tier", "note")


def stored(table: pa.Table, how: str) -> pa.Table:
    """The table with its string columns as `how`: string, large_string or an Arrow dictionary."""
    for name in STRINGS:
        if name not in table.column_names or not pa.types.is_string(table.schema.field(name).type):
            continue
        column = table.column(name)
        column = column.dictionary_encode() if how == "dictionary" else column.cast(getattr(pa, how)())
        table = table.set_column(table.column_names.index(name), name, column)
    return table


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(valid, min_size=1, max_size=40),
    holes=st.lists(st.tuples(st.integers(0, 39), st.sampled_from(["name", "tier", "load", "count", "up"]))),
    row_group=st.integers(1, 17),
    chunk_rows=st.integers(1, 20),
    dictionary=st.sampled_from([True, False, ["name"], ["tier", "note"]]),
    small_pages=st.booleans(),
    how=st.sampled_from(["string", "large_string", "dictionary"]),
    twins=st.booleans(),
)
def test_parquet_replays_as_the_same_events_in_jsonl(
    rows: list[dict[str, Any]],
    holes: list[tuple[int, str]],
    row_group: int,
    chunk_rows: int,
    dictionary: bool | list[str],
    small_pages: bool,
    how: str,
    twins: bool,
) -> None:
    baseline, candidate = TWIN_SETS if twins else SETS
    for i, name in holes:
        if i < len(rows):
            rows[i][name] = None
    for r in rows:
        r.setdefault("note", None)
    table = stored(pa.Table.from_pylist(rows), how)
    with tempfile.TemporaryDirectory() as tmp:
        jsonl, parquet = Path(tmp) / "t.jsonl", Path(tmp) / "t.parquet"
        events = [{k: v for k, v in r.items() if v is not None} for r in rows]
        jsonl.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
        # a tiny dictionary page limit makes the writer fall back to plain pages within a row group
        limit = {"dictionary_pagesize_limit": 16} if small_pages else {}
        pq.write_table(table, parquet, row_group_size=row_group, use_dictionary=dictionary, **limit)
        want = replay(jsonl, baseline, candidate, engine="row", max_rejected=1)
        got = replay(parquet, baseline, candidate, engine="columnar", chunk_rows=chunk_rows, max_rejected=1)
    # the same events: the reports differ only by the file's name (in the head and in the reasons)
    assert report_text(got).replace(str(parquet), "t") == report_text(want).replace(str(jsonl), "t")


def test_dictionary_pages_are_read_as_dictionaries(tmp_path: Path) -> None:
    """The speed-up this file's property guards: a dictionary-encoded string column arrives as
    a dictionary, a plain one as strings."""
    baseline, _ = SETS
    policy = baseline.policies[0]
    events = [{"name": f"n{i % 3}", "tier": "gold", "load": 0.5, "count": 1, "total": 2, "up": True} for i in range(10)]
    pq.write_table(pa.Table.from_pylist(events), tmp_path / "t.parquet", use_dictionary=["tier"])
    [chunk] = read_columns(tmp_path / "t.parquet", policy.input_name, policy.fields, {})
    assert pa.types.is_dictionary(chunk.batch.columns["tier"].type)
    assert pa.types.is_string(chunk.batch.columns["name"].type)


def test_arrow_dictionary_columns_with_a_new_dictionary_per_batch(tmp_path: Path) -> None:
    """An Arrow IPC stream may replace a column's dictionary from one batch to the next; a chunk
    that joins such batches reads as the same events as JSONL."""
    from test_replay_columnar import clean_events

    baseline, candidate = SETS
    events = clean_events(30)
    batches = []
    for part in (events[:13], events[13:]):  # each its own dictionaries: 'a' first, then 'b' first
        batches += stored(pa.Table.from_pylist(part), "dictionary").to_batches()
    with pa.OSFile(str(tmp_path / "t.arrows"), "wb") as sink, pa.ipc.new_stream(sink, batches[0].schema) as out:
        for batch in batches:
            out.write_batch(batch)
    (tmp_path / "t.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    want = replay(tmp_path / "t.jsonl", baseline, candidate, engine="row")
    for chunk_rows in (7, 30):
        got = replay(tmp_path / "t.arrows", baseline, candidate, engine="columnar", chunk_rows=chunk_rows)
        text = report_text(got).replace(str(tmp_path / "t.arrows"), "t")
        assert text == report_text(want).replace(str(tmp_path / "t.jsonl"), "t")
    assert want["decisions"]["baseline"] > 0
