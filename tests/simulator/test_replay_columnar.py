"""`ballast replay` on the columnar engine gives the row engine's report, byte for byte.

Random telemetry (valid events, nulls, missing and unknown fields, wrong types, NaN, huge
numbers, malformed lines, blank lines, stray carriage returns) through a baseline and a
candidate that differ in thresholds, with rules that fault (division by a field), overflow
int64, compare strings and enums, and one that the columnar back-end leaves to the row path
(an optional field): the JSON and Markdown reports of both engines must be identical, whatever
the chunk size. The same events as JSONL, Parquet and Arrow IPC give the same report.
"""

from __future__ import annotations

import json
import math
import re
import sys
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import run_cli

import ballast
import ballast.simulator.telemetry_columns as telemetry_columns
from ballast.runtime.errors import UsageError
from ballast.simulator.render.markdown import render_markdown
from ballast.simulator.replay import explain_engine, replay

POLICY = """policy fleet.capacity version "1.0.0" {
  input svc {
    name: string
    tier: enum("gold", "silver", "bronze")
    load: float in [0, 1]
    count: int
    total: int in [0, 1000]
    up: bool
    note?: string
  }

  rule hot {
    when load > LOAD && tier != "bronze"
    then scale(targets: name, by: 1)
    reason "load {load:.2f} on {tier} {name}"
  }

  rule ratio {
    when count / total > RATIO
    then scale(targets: name, by: 2)
  }

  rule huge {
    when count * count > 1000000000000
    then pause(targets: name)
  }

  rule down {
    when !up && tier == "gold" || name in ["a", "b"] && load < 0.1
    then pause(targets: name)
  }

  rule scaled {
    when count > 900 && up && load > LOAD - 0.3
    then scale(targets: name, by: count)
  }

  rule noted {
    when has(note) && note == "drain"
    then pause(targets: name)
  }
}
"""
# A rule left to the row path (`noted`) makes the columnar engine send every row on which any
# rule fires to the row path; without it, rows on which both sets fire the same rules alike are
# only counted (compiler.columnar.twins). Both ways are checked.
NOTED = POLICY.index("  rule noted")
WITHOUT_NOTED = POLICY[:NOTED].rstrip() + "\n}\n"


def policy_set(directory: Path, label: str, load: str, ratio: str, source: str = POLICY) -> ballast.PolicySet:
    path = directory / f"{label}.bal"
    path.write_text(source.replace("LOAD", load).replace("RATIO", ratio), encoding="utf-8")
    return ballast.compile([path])


def make_sets(source: str) -> tuple[ballast.PolicySet, ballast.PolicySet]:
    with tempfile.TemporaryDirectory() as tmp:
        return (
            policy_set(Path(tmp), "baseline", "0.8", "0.5", source),
            policy_set(Path(tmp), "candidate", "0.7", "0.6", source),
        )


@pytest.fixture(scope="module")
def sets() -> tuple[ballast.PolicySet, ballast.PolicySet]:
    return make_sets(POLICY)


TWIN_SETS = make_sets(WITHOUT_NOTED)


def test_rules_that_emit_alike_are_twins() -> None:
    from ballast.compiler.columnar import ColumnarPolicy
    from ballast.compiler.columnar.twins import twin_rules

    baseline, candidate = (ColumnarPolicy(s.policies[0]) for s in TWIN_SETS)
    # scale by: count is computed per event, so `scaled` is decided row by row
    assert twin_rules(baseline, candidate) == [1, 1, 1, 1, 0]
    with_noted = (ColumnarPolicy(s.policies[0]) for s in make_sets(POLICY))
    assert twin_rules(*with_noted) is None


def report_text(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, sort_keys=True) + render_markdown(report)


# ---- random telemetry ----

names = st.sampled_from(["a", "b", "c", "pool-1", "ünï", ""])
tiers = st.sampled_from(["gold", "silver", "bronze"])
loads = st.one_of(st.floats(-0.2, 1.2), st.sampled_from([0.0, 1.0, 0.8, 0.7, 0.09999999999999999]))
counts = st.one_of(st.integers(-5, 2000), st.sampled_from([0, 2**53 + 1, 2**62, -(2**63), 10**6 + 1]))
totals = st.one_of(st.integers(0, 1000), st.just(0))
valid = st.fixed_dictionaries(
    {"name": names, "tier": tiers, "load": loads, "count": counts, "total": totals, "up": st.booleans()},
    optional={"note": st.one_of(st.none(), st.sampled_from(["drain", "x"]))},
)
# JSON numbers as they may be written: an integer past 2**53 or 2**64, a negative zero, exponents
NUMBERS = ["-0", "-0.0", "9007199254740993", "18446744073709551616", "1e400", "-1e-400", "1E2", "0.1e1", "1.0"]
odd_values = st.sampled_from(
    [None, "1", 1.5, 1.0, True, 2**70, -(2**64), [1], {"a": 1}, "nan", "gold", 1e400, math.nan, -1e-320]
)


@st.composite
def lines(draw: st.DrawFn) -> str:
    """One line of telemetry: mostly a valid event, sometimes a broken one."""
    event = draw(valid)
    kind = draw(st.sampled_from(["ok"] * 12 + ["odd", "drop", "unknown", "raw", "order", "lexical"]))
    if kind == "odd":
        event[draw(st.sampled_from(sorted(event)))] = draw(odd_values)
    elif kind == "drop":
        event.pop(draw(st.sampled_from(sorted(event))))
    elif kind == "unknown":
        event["latency"] = draw(st.one_of(st.none(), st.integers()))
    elif kind == "order":
        event = dict(reversed(event.items()))
    text = json.dumps(event, ensure_ascii=draw(st.booleans()))
    if kind == "lexical":  # numbers json.dumps never writes, which pyarrow and json.loads might read apart
        field = draw(st.sampled_from(["load", "count", "total"]))
        number = draw(st.sampled_from(NUMBERS))
        text = re.sub(rf'"{field}": [^,}}]*', f'"{field}": {number}', text)
    if kind == "raw":
        text = draw(
            st.sampled_from(
                [
                    *["", "   ", "[1]", "{", text + " x", text + text, "  " + text, text + "\r", "\ufeff" + text],
                    *["null", text.replace('"tier"', '"ti\udcfer"'), text.replace("{", "{\udcc3", 1)],
                    *[text.replace('"name": "', '"name": "\udcff', 1), text.replace('"tier": "', '"tier": "\udce9', 1)],
                ]
            )
        )
    return text


telemetry = st.lists(lines(), max_size=60)


def write(path: Path, rows: list[str], newline: str) -> Path:
    """The lines as UTF-8; a lone surrogate U+DCxx is written as the byte xx, which is not UTF-8."""
    text = newline.join(rows) + (newline if rows else "")
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    return path


def report_or_error(path: Path, *args: Any, **options: Any) -> str:
    try:
        return report_text(replay(path, *args, **options))
    except UsageError as exc:
        return f"usage error: {exc}"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    twins=st.booleans(),
    rows=telemetry,
    chunk_rows=st.integers(1, 40),
    split_min=st.integers(1, 8),
    newline=st.sampled_from(["\n", "\r\n"]),
)
def test_columnar_and_row_engines_write_the_same_report(
    sets: tuple[ballast.PolicySet, ballast.PolicySet],
    twins: bool,
    rows: list[str],
    chunk_rows: int,
    split_min: int,
    newline: str,
) -> None:
    baseline, candidate = TWIN_SETS if twins else sets
    with tempfile.TemporaryDirectory() as tmp:
        path = write(Path(tmp) / "t.jsonl", rows, newline)
        row = report_or_error(path, baseline, candidate, engine="row")
        with mock.patch.object(telemetry_columns, "SPLIT_MIN", split_min):
            columnar = report_or_error(path, baseline, candidate, engine="columnar", chunk_rows=chunk_rows)
    assert columnar == row


def test_the_random_telemetry_makes_rules_fire_and_fault(sets: tuple[ballast.PolicySet, ballast.PolicySet]) -> None:
    """The property above is only worth something if its telemetry exercises the rules."""
    baseline, candidate = sets
    event = {"name": "c", "tier": "gold", "load": 0.75, "count": 2**62, "total": 0, "up": False, "note": "drain"}
    with tempfile.TemporaryDirectory() as tmp:
        path = write(Path(tmp) / "t.jsonl", [json.dumps(event)] * 3, "\n")
        report = replay(path, baseline, candidate, engine="columnar")
    fired = {r["rule"]: (r["baseline"], r["candidate"]) for r in report["rules"]}
    assert fired == {"hot": (0, 3), "ratio": (0, 0), "huge": (3, 3), "down": (3, 3), "scaled": (0, 0), "noted": (3, 3)}
    assert report["problems"]["examples"][0]["rule"] == "ratio"  # count / 0


# ---- the same events in every format ----


def clean_events(count: int) -> list[dict[str, Any]]:
    out = []
    for i in range(count):
        out.append(
            {
                "name": ["a", "b", "pool-1"][i % 3],
                "tier": ["gold", "silver", "bronze"][i % 3 if i % 7 else 0],
                "load": (i * 37 % 100) / 100,
                "count": i * 13 % 900,
                "total": i * 7 % 1000,
                "up": bool(i % 5),
            }
        )
    return out


def as_table(events: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(events)


@pytest.mark.parametrize("twins", [False, True])
@pytest.mark.parametrize("chunk_rows", [1, 7, 1000])
def test_jsonl_parquet_and_arrow_give_the_same_report(
    sets: tuple[ballast.PolicySet, ballast.PolicySet], tmp_path: Path, chunk_rows: int, twins: bool
) -> None:
    baseline, candidate = TWIN_SETS if twins else sets
    events = clean_events(300)
    write(tmp_path / "t.jsonl", [json.dumps(e) for e in events], "\n")
    pq.write_table(as_table(events), tmp_path / "t.parquet", row_group_size=64)
    with pa.OSFile(str(tmp_path / "t.arrow"), "wb") as sink, pa.ipc.new_file(sink, as_table(events).schema) as out:
        out.write_table(as_table(events), max_chunksize=50)
    reports = {}
    for name in ("t.jsonl", "t.parquet", "t.arrow"):
        for engine in ("row", "columnar"):
            report = replay(tmp_path / name, baseline, candidate, engine=engine, chunk_rows=chunk_rows)
            report["telemetry"]["file"] = "t"
            reports[(name, engine)] = report_text(report)
    assert len(set(reports.values())) == 1
    assert report["decisions"]["baseline"] > 10 and report["decisions"]["differing_events"] > 0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(valid, min_size=1, max_size=40),
    holes=st.lists(st.tuples(st.integers(0, 39), st.sampled_from(["name", "load", "count", "total", "up"]))),
    chunk_rows=st.integers(1, 16),
    extra=st.booleans(),
    twins=st.booleans(),
)
def test_parquet_with_nulls_and_foreign_columns(
    sets: tuple[ballast.PolicySet, ballast.PolicySet],
    twins: bool,
    rows: list[dict[str, Any]],
    holes: list[tuple[int, str]],
    chunk_rows: int,
    extra: bool,
) -> None:
    baseline, candidate = TWIN_SETS if twins else sets
    for i, name in holes:
        if i < len(rows):
            rows[i][name] = None
    for r in rows:
        r.setdefault("note", None)
        r["count"] = max(-(2**63), min(2**63 - 1, r["count"])) if r["count"] is not None else None
    table = pa.Table.from_pylist(rows)
    if extra:  # a column no field declares, and a column of another type (strings for the float load)
        table = table.append_column("latency", pa.array([None if i % 2 else 1.0 for i in range(len(rows))]))
        table = table.set_column(
            table.column_names.index("load"), "load", pa.array([str(v) for v in table.column("load").to_pylist()])
        )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.parquet"
        pq.write_table(table, path)
        row = replay(path, baseline, candidate, engine="row", max_rejected=1)
        columnar = replay(path, baseline, candidate, engine="columnar", chunk_rows=chunk_rows, max_rejected=1)
    assert report_text(columnar) == report_text(row)


# ---- choosing the engine ----


def test_explain_plan_names_the_rules_left_to_the_row_path(
    sets: tuple[ballast.PolicySet, ballast.PolicySet], tmp_path: Path
) -> None:
    baseline, candidate = sets
    path = write(tmp_path / "t.jsonl", [], "\n")
    text = explain_engine(path, baseline, candidate)
    assert text.startswith("engine: columnar (--engine auto)\ntelemetry: jsonl, every event of the input svc\n")
    assert "  policy fleet.capacity: 5 of 6 rules columnar\n" in text
    assert "    noted: row path (has() is evaluated row by row)\n" in text
    other = tmp_path / "t.txt"
    other.write_text("name\n", encoding="utf-8")
    assert explain_engine(other, baseline, candidate).startswith(
        "engine: row (--engine auto): files named neither .jsonl, .ndjson, .json nor .csv are read row by row"
    )


def test_columnar_refuses_what_it_cannot_run(tmp_path: Path) -> None:
    code, _, err = run_cli(
        "replay",
        "--telemetry",
        "catalog/events.jsonl",
        "--input",
        "telemetry",
        "--baseline",
        "catalog/",
        "--candidate",
        "catalog/",
        "--engine",
        "columnar",
    )
    assert code == 2
    assert "--engine columnar cannot run this replay: the baseline has threat documents" in err


def test_a_missing_extra_is_named(sets: tuple[ballast.PolicySet, ballast.PolicySet], tmp_path: Path) -> None:
    baseline, candidate = sets
    path = write(tmp_path / "t.jsonl", [json.dumps(e) for e in clean_events(5)], "\n")
    table = tmp_path / "t.parquet"
    pq.write_table(as_table(clean_events(5)), table)
    with mock.patch.dict(sys.modules, {"pyarrow": None}):
        auto = replay(path, baseline, candidate)  # auto: the row engine, same report
        with pytest.raises(UsageError, match=r"pip install 'ballast\[columnar\]'"):
            replay(path, baseline, candidate, engine="columnar")
        with pytest.raises(UsageError, match=r"reading Parquet telemetry needs numpy and pyarrow"):
            replay(table, baseline, candidate)
    assert auto == replay(path, baseline, candidate, engine="columnar")


def test_a_column_twice_is_a_usage_error(sets: tuple[ballast.PolicySet, ballast.PolicySet], tmp_path: Path) -> None:
    baseline, candidate = sets
    table = as_table(clean_events(3))
    pq.write_table(table.append_column("load", table.column("load")), tmp_path / "t.parquet")
    with pytest.raises(UsageError, match=r"t.parquet: the column 'load' appears twice"):
        replay(tmp_path / "t.parquet", baseline, candidate)


def test_a_file_that_is_not_parquet_is_a_usage_error(
    sets: tuple[ballast.PolicySet, ballast.PolicySet], tmp_path: Path
) -> None:
    baseline, candidate = sets
    bad = tmp_path / "t.parquet"
    bad.write_text("not parquet", encoding="utf-8")
    with pytest.raises(UsageError, match=r"t.parquet: cannot read it as Parquet"):
        replay(bad, baseline, candidate)
    with pytest.raises(UsageError, match=r"no such telemetry file"):
        replay(tmp_path / "missing.arrow", baseline, candidate)


def test_diff_replays_a_parquet_recording(tmp_path: Path) -> None:
    (tmp_path / "base.bal").write_text(POLICY.replace("LOAD", "0.8").replace("RATIO", "0.5"), encoding="utf-8")
    (tmp_path / "head.bal").write_text(POLICY.replace("LOAD", "0.7").replace("RATIO", "0.5"), encoding="utf-8")
    pq.write_table(as_table(clean_events(200)), tmp_path / "t.parquet")
    args = ["diff", tmp_path / "base.bal", tmp_path / "head.bal", "--format", "json"]
    code, out, err = run_cli(*args, "--replay", tmp_path / "t.parquet")
    assert code == 0, err
    replayed = json.loads(out)["evidence"]["replay"]
    assert replayed["evaluated"] == 200 and replayed["rules_changed"] == 1 and replayed["failure"] is None


def test_diff_replay_evidence_is_the_same_on_every_engine(tmp_path: Path) -> None:
    (tmp_path / "base.bal").write_text(POLICY.replace("LOAD", "0.8").replace("RATIO", "0.5"), encoding="utf-8")
    (tmp_path / "head.bal").write_text(POLICY.replace("LOAD", "0.7").replace("RATIO", "0.5"), encoding="utf-8")
    pq.write_table(as_table(clean_events(300)), tmp_path / "t.parquet")
    args = ["diff", tmp_path / "base.bal", tmp_path / "head.bal", "--format", "json", "--replay", tmp_path / "t.parquet"]
    reports = {}
    for engine in ("row", "columnar"):
        code, out, err = run_cli(*args, "--engine", engine)
        assert code == 0, err
        reports[engine] = json.loads(out)
    # what the engine decides: the replay's summary and each finding's decision counts (the
    # solver's witnesses are the diff's, not the replay's, and are not compared here)
    assert reports["row"]["evidence"] == reports["columnar"]["evidence"]
    counts = [[f.get("details", {}).get("evidence") for f in r["findings"]] for r in reports.values()]
    assert counts[0] == counts[1] and any(counts[0])
    assert reports["row"]["evidence"]["replay"]["evaluated"] == 300


def test_diff_engine_needs_a_replay(tmp_path: Path) -> None:
    (tmp_path / "base.bal").write_text(POLICY.replace("LOAD", "0.8").replace("RATIO", "0.5"), encoding="utf-8")
    code, _out, err = run_cli("diff", tmp_path / "base.bal", tmp_path / "base.bal", "--engine", "row")
    assert code == 2 and "--engine goes with --replay TELEMETRY" in err


def test_rows_the_sets_decide_differently_are_counted_after_each_rules_first(tmp_path: Path) -> None:
    """A threshold change that moves many rows: `hot` fires on the candidate only (load 0.75), on
    every row. Its first such row goes to the replay in full (its first divergence); the others
    are counted apart, and the report is the row engine's."""
    from ballast.simulator.replay import _schemas
    from ballast.simulator.replay_columns import column_records, plan_engine
    from ballast.simulator.telemetry import Quiet

    baseline, candidate = TWIN_SETS
    event = {"name": "c", "tier": "gold", "load": 0.75, "count": 5, "total": 1000, "up": True}
    path = write(tmp_path / "t.jsonl", [json.dumps({**event, "count": i}) for i in range(500)], "\n")
    inputs = _schemas(baseline, candidate)
    plan = plan_engine(path, baseline, candidate, inputs, engine="columnar")
    records = list(column_records(path, plan, inputs, chunk_rows=128))
    full = [r for r in records if not isinstance(r, Quiet)]
    split = [s for r in records if isinstance(r, Quiet) for s in r.split]
    assert len(full) == 1 and full[0][0] == 1  # line 1: `hot`'s first divergence
    assert sum(c for (_, rule), b, c in split if rule == "hot") == 499
    assert sum(r.differing for r in records if isinstance(r, Quiet)) == 499
    row = replay(path, baseline, candidate, engine="row")
    assert report_text(replay(path, baseline, candidate, engine="columnar", chunk_rows=128)) == report_text(row)
    hot = next(r for r in row["rules"] if r["rule"] == "hot")
    assert (hot["baseline"], hot["candidate"]) == (0, 500) and row["decisions"]["differing_events"] == 500
