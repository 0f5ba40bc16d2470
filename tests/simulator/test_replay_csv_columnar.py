"""CSV on the columnar engine: the row engine's report, byte for byte.

Random CSV (valid rows, empty cells, cells of the wrong type or in a form only Python reads —
`+7`, ` 12 `, `1_000`, `inf`, `yes` —, rows of the wrong width, blank lines, quoted cells with
commas and line breaks, carriage returns, NUL bytes) through the same two sets as
test_replay_columnar.py: both engines must write the same JSON and Markdown report, whatever
the chunk size.
"""

from __future__ import annotations

import csv
import json
import tempfile
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_replay_columnar import POLICY, TWIN_SETS, WITHOUT_NOTED, clean_events, make_sets, report_text

import ballast
import ballast.simulator.telemetry_columns as telemetry_columns
from ballast.runtime.errors import UsageError
from ballast.simulator.replay import explain_engine, replay


@pytest.fixture(scope="module")
def sets() -> tuple[ballast.PolicySet, ballast.PolicySet]:
    return make_sets(POLICY)


HEADER = ["name", "tier", "load", "count", "total", "up", "note"]

cells = {
    "name": st.sampled_from(["a", "b", "c", "pool-1", "ünï", "", " a"]),
    "tier": st.sampled_from(["gold", "silver", "bronze", "", "Gold", "platinum"]),
    "load": st.one_of(
        st.floats(-0.2, 1.2).map(repr),
        st.sampled_from(["0.8", "0.7", ".75", "1", "1e-1", "7E-1", "+0.9", " 0.9", "inf", "nan", "1e999", "x", "1_0"]),
    ),
    "count": st.one_of(
        st.integers(-5, 2000).map(str),
        st.sampled_from(["0", str(2**53 + 1), str(2**62), str(-(2**63)), str(2**70), "+7", " 12", "1_000", "1.0", ""]),
    ),
    "total": st.one_of(st.integers(0, 1000).map(str), st.sampled_from(["0", "", "-1", "1e3"])),
    "up": st.sampled_from(["true", "false", "1", "0", "TRUE", "False", "yes", " true", ""]),
    "note": st.sampled_from(["", "drain", "x"]),
}


@st.composite
def rows(draw: st.DrawFn) -> str:
    """One line of CSV: mostly a valid row, sometimes a broken one."""
    row = [draw(cells[c]) for c in HEADER]
    kind = draw(st.sampled_from(["ok"] * 8 + ["short", "long", "blank", "quoted", "nul", "cr", "simple", "simple"]))
    if kind == "short":
        row = row[:-1]
    elif kind == "long":
        row = [*row, "extra"]
    text = ",".join(row)
    if kind == "blank":
        text = draw(st.sampled_from(["", " "]))
    elif kind == "quoted":
        text = ",".join(['"a,\nb"' if c == "name" else row[i] for i, c in enumerate(HEADER)])
    elif kind == "simple":  # quoted cells a line holds: read as columns
        quote = draw(st.lists(st.booleans(), min_size=len(row), max_size=len(row)))
        row[0] = draw(st.sampled_from([row[0], "a,b", ""]))
        text = ",".join(f'"{cell}"' if q or "," in cell else cell for cell, q in zip(row, quote, strict=True))
    elif kind == "nul":
        text = text.replace("a", "a\x00", 1) if "a" in text else text + "\x00"
    elif kind == "cr":
        text = text + "\r"
    return text


def write(path: Path, header: list[str], lines: list[str], newline: str) -> Path:
    path.write_text(newline.join([",".join(header), *lines]) + newline, encoding="utf-8", newline="")
    return path


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    twins=st.booleans(),
    lines=st.lists(rows(), max_size=50),
    chunk_rows=st.integers(1, 40),
    split_min=st.integers(1, 8),
    newline=st.sampled_from(["\n", "\r\n"]),
    columns=st.permutations(HEADER),
)
def test_columnar_and_row_engines_write_the_same_report_from_csv(
    sets: tuple[ballast.PolicySet, ballast.PolicySet],
    twins: bool,
    lines: list[str],
    chunk_rows: int,
    split_min: int,
    newline: str,
    columns: list[str],
) -> None:
    baseline, candidate = TWIN_SETS if twins else sets
    order = [HEADER.index(c) for c in columns]
    lines = [
        ",".join(cell for cell in _reorder(line, order)) if line.count(",") == 6 and '"' not in line else line
        for line in lines
    ]
    with tempfile.TemporaryDirectory() as tmp:
        path = write(Path(tmp) / "t.csv", columns, lines, newline)
        row = replay(path, baseline, candidate, engine="row")
        with mock.patch.object(telemetry_columns, "SPLIT_MIN", split_min):
            columnar = replay(path, baseline, candidate, engine="columnar", chunk_rows=chunk_rows)
    assert report_text(columnar) == report_text(row)


def _reorder(line: str, order: list[int]) -> list[str]:
    cells = line.split(",")
    return [cells[i] for i in order]


def test_csv_rows_reach_the_rules(sets: tuple[ballast.PolicySet, ballast.PolicySet], tmp_path: Path) -> None:
    """The property above is only worth something if CSV rows are typed and make rules fire."""
    baseline, candidate = sets
    path = write(tmp_path / "t.csv", HEADER, ["c,gold,0.75,4611686018427387904,0,false,drain"] * 3, "\n")
    report = replay(path, baseline, candidate, engine="columnar")
    fired = {r["rule"]: (r["baseline"], r["candidate"]) for r in report["rules"]}
    assert fired == {"hot": (0, 3), "ratio": (0, 0), "huge": (3, 3), "down": (3, 3), "scaled": (0, 0), "noted": (3, 3)}
    assert report["telemetry"]["evaluated"] == 3


@pytest.mark.parametrize("chunk_rows", [1, 7, 1000])
def test_csv_gives_the_jsonl_report(
    sets: tuple[ballast.PolicySet, ballast.PolicySet],
    tmp_path: Path,
    chunk_rows: int,
) -> None:
    baseline, candidate = sets
    events = clean_events(300)
    (tmp_path / "t.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    body = [",".join(_cell(e.get(c)) for c in HEADER) for e in events]
    write(tmp_path / "t.csv", HEADER, body, "\n")
    jsonl = replay(tmp_path / "t.jsonl", baseline, candidate, engine="row")
    csv_ = replay(tmp_path / "t.csv", baseline, candidate, engine="columnar", chunk_rows=chunk_rows)
    for report in (jsonl, csv_):
        report["telemetry"]["file"] = "t"
        for example in report["problems"]["examples"]:
            example.pop("line", None)
    assert csv_["decisions"] == jsonl["decisions"] and csv_["rules"] == jsonl["rules"]
    assert csv_["decisions"]["baseline"] > 10


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def test_the_plan_reads_csv_as_columns(sets: tuple[ballast.PolicySet, ballast.PolicySet], tmp_path: Path) -> None:
    baseline, candidate = sets
    path = write(tmp_path / "t.csv", HEADER, ["a,gold,0.5,1,2,true,"], "\n")
    plan = explain_engine(path, baseline, candidate)
    assert plan.startswith("engine: columnar (--engine auto)\ntelemetry: csv, every event of the input svc\n")


STAMPED = [
    source.replace("    note?: string\n", "    note?: string\n    at: timestamp\n") for source in (POLICY, WITHOUT_NOTED)
]
STAMPS = [
    "2025-11-15T10:00:00Z",
    "2025-11-15T10:00:00.250+01:00",
    "2025-11-15 10:00:00",
    "1763200800",
    "1763200800.5",
    " 1763200800",
    "1_763_200_800",
    "1e12",
    "-3e9",
    "nan",
    "inf",
    "yesterday",
    "",
]


VALID_ROWS = st.tuples(
    st.sampled_from(["a", "b", "c"]),
    st.sampled_from(["gold", "silver", "bronze"]),
    st.floats(0, 1).map(repr),
    st.integers(0, 2000).map(str),
    st.integers(1, 1000).map(str),
    st.sampled_from(["true", "false"]),
    st.sampled_from(["", "drain"]),
).map(",".join)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    twins=st.booleans(),
    lines=st.lists(st.tuples(st.one_of(VALID_ROWS, rows()), st.sampled_from(STAMPS)), max_size=40),
    chunk_rows=st.integers(1, 20),
)
def test_csv_timestamps_are_read_as_the_row_reader_reads_them(
    twins: bool, lines: list[tuple[str, str]], chunk_rows: int
) -> None:
    """A timestamp cell: RFC 3339 text, or epoch seconds in any form float() reads (the CSV row
    reader tries float() first), in range or not; a policy without event time reads it too."""
    baseline, candidate = STAMPED_SETS[twins]
    body = [f"{line},{stamp}" if line.count(",") == 6 and '"' not in line else line for line, stamp in lines]
    with tempfile.TemporaryDirectory() as tmp:
        path = write(Path(tmp) / "t.csv", [*HEADER, "at"], body, "\n")
        assert explain_engine(path, baseline, candidate).startswith("engine: columnar")
        row = replay(path, baseline, candidate, engine="row")
        columnar = replay(path, baseline, candidate, engine="columnar", chunk_rows=chunk_rows)
    assert report_text(columnar) == report_text(row)


STAMPED_SETS = [make_sets(source) for source in STAMPED]  # with a rule left to the row path, without


def test_a_bad_header_is_the_row_readers_error(
    sets: tuple[ballast.PolicySet, ballast.PolicySet], tmp_path: Path
) -> None:
    baseline, candidate = sets
    path = write(tmp_path / "t.csv", ["name", "tire"], ["a,gold"], "\n")
    for engine in ("row", "columnar"):
        with pytest.raises(
            UsageError, match=r"t.csv:1: column 'tire' is not a field of the input 'svc'; did you mean 'tier'\?"
        ):
            replay(path, baseline, candidate, engine=engine)


def test_a_quoted_header_and_a_bom_are_read_as_the_row_reader_reads_them(
    sets: tuple[ballast.PolicySet, ballast.PolicySet],
    tmp_path: Path,
) -> None:
    baseline, candidate = sets
    body = "\n".join(["c,gold,0.75,5,1,false,drain", '"x,y",gold,0.9,1,2,true,', "a,silver,0.95,1,2,true,"]) + "\n"
    for header in ('"name",tier,"load",count,total,up,note', ",".join(HEADER)):
        path = tmp_path / "t.csv"
        path.write_bytes(b"\xef\xbb\xbf" + (header + "\n" + body).encode())
        row = replay(path, baseline, candidate, engine="row")
        columnar = replay(path, baseline, candidate, engine="columnar", chunk_rows=1)
        assert report_text(columnar) == report_text(row)
        assert row["telemetry"]["evaluated"] == 3


def test_a_header_cell_across_lines_is_the_row_readers_error(
    sets: tuple[ballast.PolicySet, ballast.PolicySet],
    tmp_path: Path,
) -> None:
    baseline, candidate = sets
    path = tmp_path / "t.csv"
    path.write_text('"na\nme",tier\na,gold\n', encoding="utf-8")
    for engine in ("row", "columnar"):
        with pytest.raises(UsageError, match=r"t.csv:1: column 'na\\nme' is not a field of the input 'svc'"):
            replay(path, baseline, candidate, engine=engine)


def test_chunks_are_bounded_by_the_chunk_size(tmp_path: Path) -> None:
    """Memory follows the chunk, not the file: no chunk holds more rows than asked for."""
    from ballast.simulator.telemetry_columns import Chunk, read_columns

    fields = [{"name": "name", "type": "string"}, {"name": "count", "type": "int"}]
    path = tmp_path / "t.csv"
    path.write_text("name,count\n" + "".join(f"n{i},{i}\n" for i in range(5000)), encoding="utf-8")
    sizes = [
        c.batch.rows if isinstance(c, Chunk) else len(c)
        for c in read_columns(path, "svc", fields, {"svc": fields}, chunk_rows=100)
    ]
    assert sum(sizes) == 5000 and max(sizes) <= 100 * telemetry_columns.CSV_BYTES_PER_ROW // 8


def test_a_cell_beyond_the_csv_field_limit_is_reported_as_the_row_reader_reports_it(
    sets: tuple[ballast.PolicySet, ballast.PolicySet], tmp_path: Path
) -> None:
    baseline, candidate = sets
    huge = "x" * (csv.field_size_limit() + 10)
    path = write(
        tmp_path / "t.csv", HEADER, ["a,gold,0.5,1,2,true,", f"{huge},gold,0.5,1,2,true,", "b,gold,0.9,1,2,true,"], "\n"
    )
    row = replay(path, baseline, candidate, engine="row")
    columnar = replay(path, baseline, candidate, engine="columnar")
    assert report_text(columnar) == report_text(row)
    assert row["telemetry"]["evaluated"] == 2 and row["telemetry"]["rejected"] == 1
