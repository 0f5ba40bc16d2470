"""`ballast replay` of sets with event time on the columnar engine gives the row engine's report.

Random windowed policies (rules over count, absent, min, max, sum, avg, delta, rate,
percentile and stddev with thresholds, grouped by one or two fields or none, some with a cooldown or `at
most`, some edge rules: `for`, `keep`, `enter`/`exit`) and
random telemetry (in time order or not, equal timestamps, nulls, missing fields, NaN and huge
values, bad lines, keys that come and go, gaps longer than the windows and than `stale after`):
the JSON report of `--engine columnar` must be `--engine row`'s, byte for byte, whatever the
chunk size.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import run_cli

import ballast
import ballast.simulator.telemetry_columns as telemetry_columns
from ballast.simulator import replay_columns
from ballast.simulator.replay import explain_engine, replay
from ballast.simulator.telemetry import Screened

START = 1_700_000_000.0
HEAD = """policy win.test version "1.0.0" {
  input svc {
    ts: timestamp
    pool: string
    zone: enum("x", "y")
    load: float in [0, 100]
    n: int
    w: float
    queue?: int
    up: bool
  }
  stream {
    time ts
    lateness 20s
    stale after 30s
IDLE  }
"""
FUNCTIONS = ("count", "min", "max", "sum", "avg", "delta", "rate")
FIELDS = ("load", "n", "w", "queue")
WINDOWS = ("2s", "10s", "1m")
# thresholds of the magnitude of the values below, so that rules hold on some rows and not others;
# 0.30000000000000004 is 0.1 + 0.2 in floats, where a float sum is decided only outside its bound
SCALE = {"load": [20.5, 50, 80], "n": [-5, 0, 5, 2**53], "w": [-0.5, 0.0, 0.30000000000000004, 1.0], "queue": [50, 150]}
THRESHOLDS = {
    "count": [1, 2, 3, 4],
    "sum": {"load": [100, 250.5], "n": [-10, 0, 20], "w": [0.30000000000000004, -1.0, 1e300], "queue": [200, 400]},
    "delta": {"load": [-30, 0, 30], "n": [-5, 0, 5], "w": [-0.5, 0.0, 0.5], "queue": [-50, 50]},
    "rate": {"load": [-10.0, 0.0, 10.0], "n": [-2.0, 0.0, 2.0], "w": [-0.25, 0.0, 0.25], "queue": [-20.0, 20.0]},
}


def thresholds(fn: str, field: str) -> list[Any]:
    chosen = THRESHOLDS.get(fn, SCALE)
    return chosen if isinstance(chosen, list) else chosen[field]


@st.composite
def rules(draw: st.DrawFn, number: int) -> tuple[str, list[Any]]:
    """One rule's source with THRESHOLD_i placeholders, and the values to put there."""
    fn = draw(st.sampled_from((*FUNCTIONS, "percentile", "stddev", "absent")))
    field = draw(st.sampled_from(FIELDS))
    window = draw(st.sampled_from(WINDOWS))
    op = draw(st.sampled_from(["==", "!="] if fn == "absent" else [">", ">=", "<", "<=", "==", "!="]))
    call = f"percentile({field}, 90, {window})" if fn == "percentile" else f"{fn}({field}, {window})"
    # absent() is a bool: compared with true, and its placeholder T_0 stands for nothing
    rhs = "true" if fn == "absent" else f"T{number}_0"
    condition = f"{call} {op} {rhs}"
    values = [0 if fn == "absent" else draw(st.sampled_from(thresholds(fn, field)))]
    if draw(st.integers(0, 3)) == 0:  # a second aggregate, or the event's own field
        condition += f" && (load > T{number}_1 || count(load, {window}) >= 2)"
        values.append(draw(st.sampled_from(SCALE["load"])))
    group = draw(st.sampled_from(["", "group by pool", "group by pool, zone", "group by n", "group by up, pool"]))
    clause = draw(st.sampled_from(["", "", "", "cooldown 5s", "at most 2 per 30s", "for 3s", "keep 5s", "exit"]))
    if not group and not clause and fn == "percentile":
        clause = "cooldown 1s"
    action = draw(st.sampled_from(["scale(targets: pool, by: 1)", "pause(targets: pool)"]))
    if clause == "exit":  # hysteresis: entered on the condition, left when the aggregate falls back
        back = {">": "<", ">=": "<", "<": ">", "<=": ">", "==": "!=", "!=": "=="}[op]
        lines = [f"  rule r{number} {{", f"    {group}" if group else "", f"    enter when {condition}"]
        lines.append(f"    exit when {call} {back} {rhs}")
        clause = ""
    else:
        lines = [f"  rule r{number} {{", f"    {group}" if group else "", f"    when {condition}"]
    lines += [
        f"    then {action}",
        f"    {clause}" if clause else "",
        f'    reason "{fn} of {field} on {{pool}}"',
        "  }",
    ]
    return "\n".join(line for line in lines if line) + "\n", values


@st.composite
def policies(draw: st.DrawFn) -> tuple[str, str]:
    """(baseline, candidate): the same rules, each threshold drawn once per set."""
    drawn = [draw(rules(i)) for i in range(draw(st.integers(1, 4)))]
    plain = "  rule plain {\n    when load > 99\n    then pause(targets: pool)\n  }\n"
    # keys forgotten after a silence shorter than a window, as long as one, or never
    head = HEAD.replace("IDLE", draw(st.sampled_from(["", "", "    idle 5s\n", "    idle 45s\n"])))
    sources = []
    for _ in range(2):
        text = head + "".join(src for src, _ in drawn) + plain + "}\n"
        for i, (_, values) in enumerate(drawn):
            for j, value in enumerate(values):
                chosen = value
                if draw(st.integers(0, 2)) == 0:  # each set moves some thresholds
                    chosen = draw(st.sampled_from([value, *SCALE["load"], *thresholds("count", "")]))
                text = text.replace(f"T{i}_{j}", _literal(chosen))
        sources.append(text)
    return sources[0], sources[1]


def _literal(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def _time(t: float, form: str) -> Any:
    if form == "epoch":
        return t
    if form == "bad":
        return "yesterday"
    from ballast.runtime.values import iso

    whole = iso(math.floor(t))
    fraction = t - math.floor(t)
    return whole if not fraction else whole[:-1] + f"{fraction:.3f}"[1:] + "Z"


@st.composite
def telemetry(draw: st.DrawFn) -> list[str]:
    ordered = draw(st.sampled_from([True, True, True, False]))  # out of order: every row is busy from there
    t = START
    lines = []
    for _ in range(draw(st.sampled_from([40, 80, 0, 3, 20]))):  # long enough for windows to fill
        # steps that land samples on window bounds (2s, 10s), and gaps past `stale after` and `1m`
        t += draw(st.sampled_from([1, 0.5, 1, 2, 0, 1, 2, 10, 40, 200]))
        at = t - (draw(st.sampled_from([0] * 12 + [1, 5, 30])) if not ordered else 0)
        event: dict[str, Any] = {
            "ts": _time(at, draw(st.sampled_from(["iso"] * 20 + ["epoch", "bad"]))),
            "pool": draw(st.sampled_from(["a", "a", "b"])),
            "zone": draw(st.sampled_from(["x", "y"])),
            "load": draw(st.one_of(st.sampled_from([0, 0.5, 20.5, 50, 80, 99.5, 100]), st.floats(0, 100))),
            "n": draw(st.integers(-10, 10)),
            "w": draw(st.one_of(st.floats(-2, 2), st.sampled_from([0.1, 0.2, 0.1, 0.2, 1 / 3]))),
            "up": draw(st.booleans()),
        }
        if draw(st.integers(0, 9)) == 0:  # now and then a value beyond ±2**53, or near the float limits
            event["n"] = draw(st.sampled_from([2**53, 2**53 + 1, -(2**62), 2**62]))
            event["w"] = draw(st.sampled_from([1e300, -1e300, 1e-310, 2.5e15]))
        queue = draw(st.sampled_from(["int", "int", "null", "missing"]))
        if queue != "missing":
            event["queue"] = draw(st.integers(0, 200)) if queue == "int" else None
        kind = draw(st.sampled_from(["ok"] * 25 + ["odd", "drop", "raw"]))
        if kind == "odd":
            event[draw(st.sampled_from(sorted(event)))] = draw(
                st.sampled_from([None, "1", 1.5, 5.0, True, 2**70, math.nan, 1e400, "x"])
            )
        elif kind == "drop":
            event.pop(draw(st.sampled_from(sorted(event))))
        text = json.dumps(event)
        if kind == "raw":
            text = draw(st.sampled_from(["", "{", "[1]", text + " x", "null"]))
        lines.append(text)
    return lines


def compiled(source: str, name: str) -> ballast.PolicySet:
    return ballast.compile([f"{name}.bal"], sources={f"{name}.bal": source})


def report_of(path: Path, baseline: ballast.PolicySet, candidate: ballast.PolicySet, **options: Any) -> str:
    return json.dumps(replay(path, baseline, candidate, **options), indent=2, sort_keys=True)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sources=policies(), rows=telemetry(), chunk_rows=st.integers(1, 50), split_min=st.integers(1, 8))
def test_columnar_and_row_engines_write_the_same_report(
    sources: tuple[str, str], rows: list[str], chunk_rows: int, split_min: int
) -> None:
    assert_same_reports(sources, "t.jsonl", rows, chunk_rows, split_min)


def assert_same_reports(sources: tuple[str, str], name: str, lines: list[str], chunk_rows: int, split_min: int) -> None:
    """The row and the columnar engine write the same report of these lines (a file `name`)."""
    baseline, candidate = compiled(sources[0], "baseline"), compiled(sources[1], "candidate")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        row = report_of(path, baseline, candidate, engine="row")
        # small pieces: the lines pyarrow refuses (an epoch time, a value of another type) are
        # read by the row reader a few at a time, between chunks the screen computes
        with mock.patch.object(telemetry_columns, "SPLIT_MIN", split_min):
            columnar = report_of(path, baseline, candidate, engine="columnar", chunk_rows=chunk_rows)
    assert columnar == row


CSV_HEADER = ["ts", "pool", "zone", "load", "n", "w", "queue", "up"]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


@st.composite
def csv_telemetry(draw: st.DrawFn) -> list[str]:
    """The lines of `telemetry` as CSV rows (a line that is no object stays as it is: a blank
    line or a row of the wrong width), the time cell now and then in a form the row reader
    takes as epoch seconds (`float()` reads it) or refuses."""
    out = []
    for line in draw(telemetry()):
        try:
            event = json.loads(line)
        except ValueError:
            out.append(line)
            continue
        if not isinstance(event, dict):
            out.append(line)
            continue
        if isinstance(event.get("ts"), str) and draw(st.integers(0, 5)) == 0:
            forms = [" " + event["ts"], event["ts"] + " ", "1700000000", "nan", "1_7e9", "1e12", "-3e9"]
            event["ts"] = draw(st.sampled_from(forms))
        out.append(",".join(_cell(event.get(c)) for c in CSV_HEADER))
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sources=policies(), rows=csv_telemetry(), chunk_rows=st.integers(1, 50), split_min=st.integers(1, 8))
def test_columnar_and_row_engines_write_the_same_report_from_csv(
    sources: tuple[str, str], rows: list[str], chunk_rows: int, split_min: int
) -> None:
    assert_same_reports(sources, "t.csv", [",".join(CSV_HEADER), *rows], chunk_rows, split_min)


# ---- the property above tests something ----

LEVEL = (
    HEAD.replace("IDLE", "")
    + """  rule hot {
    group by pool
    when avg(load, 10s) > 60 && count(load, 10s) >= 2
    then scale(targets: pool, by: 1)
    cooldown 5s
  }
  rule swing {
    group by pool, zone
    when max(w, 10s) - min(w, 10s) > 1.5
    then pause(targets: pool)
  }
  rule sustained {
    group by pool
    when min(load, 10s) > 90
    for 3s
    then pause(targets: pool)
  }
}
"""
)


def steady(count: int, start: float = START, high: range = range(0)) -> list[str]:
    """Events of three pools, one a second each, the load rising and falling (at 85 + i % 10 on
    the events in `high`)."""
    out = []
    for i in range(count):
        pool = "abc"[i % 3]
        load = 85 + i % 10 if i in high else (i * 37) % 101
        event = {
            "ts": _time(start + i // 3, "iso"),
            "pool": pool,
            "zone": "xy"[i % 2],
            "load": load,
            "n": i,
            "w": (i % 7) / 3,
            "up": i % 5 != 0,
        }
        out.append(json.dumps(event))
    return out


def screened(path: Path, baseline: ballast.PolicySet, candidate: ballast.PolicySet) -> tuple[int, int]:
    """(rows handed over with some rule proven quiet, rows on which some rule is stepped)."""
    records = _records(path, baseline, candidate)
    rules = len(baseline.policies[0].rules)
    quiet = sum(1 for r in records if _skips(r))
    stepped = sum(1 for r in records if not _skips(r) or any(len(q) < rules for q in _quiet_sets(r)))
    return quiet, stepped


def _quiet_sets(record: Any) -> list[frozenset[int]]:
    return [rules for side in record.quiet for rules in side.values()] if isinstance(record, Screened) else []


def _skips(record: Any) -> bool:
    return any(_quiet_sets(record))


def test_the_screen_skips_rules_where_they_are_quiet_and_the_reports_agree(tmp_path: Path) -> None:
    baseline, candidate = compiled(LEVEL, "b"), compiled(LEVEL.replace("> 60", "> 50"), "c")
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(steady(300)) + "\n", encoding="utf-8")
    quiet, stepped = screened(path, baseline, candidate)
    assert quiet > 150 and stepped > 0  # most rows skip a rule; where one may hold, it is stepped
    row = replay(path, baseline, candidate, engine="row")
    assert row["decisions"]["baseline"] > 0 and row["decisions"]["candidate"] > row["decisions"]["baseline"]
    assert report_of(path, baseline, candidate, engine="columnar", chunk_rows=7) == report_of(
        path, baseline, candidate, engine="row"
    )


TAIL = (
    HEAD.replace("IDLE", "")
    + """  rule tail {
    group by pool
    when percentile(load, 90, 10s) > 80
    then scale(targets: pool, by: 1)
  }
  rule jitter {
    group by pool
    when stddev(load, 10s) > 20
    then pause(targets: pool)
  }
  rule spike {
    group by pool
    when zscore(load, 10s) > 3
    then pause(targets: pool)
  }
}
"""
)


def test_a_percentile_and_a_stddev_are_decided_where_the_window_range_rules_them_out(tmp_path: Path) -> None:
    baseline, candidate = compiled(TAIL, "b"), compiled(TAIL.replace("> 80", "> 90"), "c")
    path = tmp_path / "t.jsonl"
    # calm loads (50 to 59) with a burst to 85..94 in events 150 to 210: only around the burst
    # does a window's range reach the thresholds, so only there is `tail` stepped
    lines = [json.loads(line) for line in steady(300, high=range(150, 210))]
    for i, event in enumerate(lines):
        if i not in range(150, 210):
            event["load"] = 50 + i % 10
    path.write_text("\n".join(json.dumps(e) for e in lines) + "\n", encoding="utf-8")
    text = explain_engine(path, baseline, candidate, engine="columnar")
    assert "tail: vectorised (over percentile, by pool)" in text
    assert "jitter: vectorised (over stddev, by pool)" in text
    assert "spike: stepped on every row (the aggregate zscore is evaluated by the Engine)" in text
    records = _records(path, baseline, candidate)
    tail_quiet = [any(0 in rules for rules in _quiet_sets(r)) for r in records]
    assert sum(tail_quiet) > 200 and not all(tail_quiet[150:210])  # calm rows skipped, the burst stepped
    # a stddev is at most half its window's range: 20 is beyond every window here but those
    # that straddle the burst's edges (a range of up to 44)
    jitter_quiet = [any(1 in rules for rules in _quiet_sets(r)) for r in records]
    assert sum(jitter_quiet) > 250 and not all(jitter_quiet)
    assert not any(2 in rules for r in records for rules in _quiet_sets(r))  # spike: never skipped
    row = replay(path, baseline, candidate, engine="row")
    assert 0 < row["decisions"]["candidate"] < row["decisions"]["baseline"]
    assert report_of(path, baseline, candidate, engine="columnar", chunk_rows=7) == report_of(
        path, baseline, candidate, engine="row"
    )


def test_csv_with_timestamps_is_screened_as_columns(tmp_path: Path) -> None:
    baseline, candidate = compiled(LEVEL, "b"), compiled(LEVEL.replace("> 60", "> 50"), "c")
    events = [json.loads(line) for line in steady(300)]
    events[40]["ts"] = str(START + 13)  # epoch seconds, which the CSV row reader reads
    path = tmp_path / "t.csv"
    body = [",".join(_cell(e.get(c)) for c in CSV_HEADER) for e in events]
    path.write_text("\n".join([",".join(CSV_HEADER), *body]) + "\n", encoding="utf-8")
    assert "engine: columnar" in explain_engine(path, baseline, candidate)
    quiet, stepped = screened(path, baseline, candidate)
    assert quiet > 150 and stepped > 0
    records = _records(path, baseline, candidate)
    # every row is built from the columns, the epoch seconds too (line 42: the header, then event 40)
    assert all(isinstance(r, Screened) and r.checked for r in records) and len(records) == 300
    assert records[40].line == 42 and records[40].event["ts"] == START + 13
    assert report_of(path, baseline, candidate, engine="columnar", chunk_rows=7) == report_of(
        path, baseline, candidate, engine="row"
    )


def test_from_the_first_row_out_of_time_order_every_row_is_busy(tmp_path: Path) -> None:
    baseline = candidate = compiled(LEVEL, "b")
    rows = steady(60)
    rows.insert(30, json.dumps({**json.loads(rows[29]), "ts": _time(START, "iso")}))  # 9 s late, within lateness
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    records = _records(path, baseline, candidate)
    assert any(_skips(r) for r in records[:30])
    assert not any(_skips(r) for r in records[30:])
    assert report_of(path, baseline, candidate, engine="columnar", chunk_rows=8) == report_of(
        path, baseline, candidate, engine="row"
    )


def _records(path: Path, baseline: ballast.PolicySet, candidate: ballast.PolicySet) -> list[Any]:
    from ballast.simulator.replay import _schemas

    inputs = _schemas(baseline, candidate)
    plan = replay_columns.plan_engine(path, baseline, candidate, inputs, engine="columnar")
    return list(replay_columns.column_records(path, plan, inputs, chunk_rows=8))


def test_the_plan_says_which_rules_are_vectorised_and_why_the_others_are_stepped(tmp_path: Path) -> None:
    policy = compiled(LEVEL, "b")
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(steady(3)) + "\n", encoding="utf-8")
    text = explain_engine(path, policy, policy, engine="columnar")
    assert "hot: vectorised (over avg, count, by pool)" in text
    assert "swing: vectorised (over max, min, by pool, zone)" in text
    assert "sustained: vectorised (over min, by pool); it has `for`: skipped only where its state is idle" in text


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("    lateness 20s\n", "    lateness 20s\n    id pool\n"),
    ],
)
def test_a_stream_with_ids_is_refused_saying_why(tmp_path: Path, change: str, reason: str) -> None:
    policy = compiled(LEVEL.replace(change, reason), "b")
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(steady(3)) + "\n", encoding="utf-8")
    assert "duplicate events" in explain_engine(path, policy, policy, engine="auto")


def test_cli_explains_the_plan_and_replays_a_policy_with_an_edge_rule(tmp_path: Path) -> None:
    (tmp_path / "b.bal").write_text(LEVEL, encoding="utf-8")
    (tmp_path / "c.bal").write_text(LEVEL.replace("> 90", "> 80"), encoding="utf-8")
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(steady(400, high=range(150, 250))) + "\n", encoding="utf-8")
    common = ["replay", "--telemetry", str(path), "--baseline", str(tmp_path / "b.bal")]
    common += ["--candidate", str(tmp_path / "c.bal")]
    code, out, err = run_cli(*common, "--engine", "columnar", "--explain-plan")
    assert code == 0, err
    assert "engine: columnar (--engine columnar)" in out and "sustained: vectorised" in out
    reports = []
    for engine in ("row", "columnar"):
        code, out, err = run_cli(*common, "--engine", engine, "--format", "json")
        assert code in (0, 1), err
        reports.append(out)
    assert reports[0] == reports[1]
    sustained = next(r for r in json.loads(reports[0])["rules"] if r["rule"] == "sustained")
    assert sustained["baseline"] != sustained["candidate"]  # the edge rule fired: stepped where not idle


def test_parquet_gives_the_report_of_the_same_events_as_jsonl(tmp_path: Path) -> None:
    import pyarrow.json as pj
    import pyarrow.parquet as pq

    baseline, candidate = compiled(LEVEL, "b"), compiled(LEVEL.replace("> 60", "> 50"), "c")
    jsonl, parquet = tmp_path / "t.jsonl", tmp_path / "t.parquet"
    jsonl.write_text("\n".join(steady(240, high=range(60, 120))) + "\n", encoding="utf-8")
    options = pj.ParseOptions(explicit_schema=pa.schema([("ts", pa.string())]))
    pq.write_table(pj.read_json(jsonl, parse_options=options), parquet)
    reports = []
    for path, engine in ((jsonl, "row"), (parquet, "columnar"), (parquet, "row")):
        report = replay(path, baseline, candidate, engine=engine, chunk_rows=50)
        report["telemetry"]["file"] = "-"
        reports.append(json.dumps(report, sort_keys=True))
    assert reports[0] == reports[1] == reports[2]
    assert json.loads(reports[0])["decisions"]["differing_events"] > 0


def test_parquet_times_read_through_their_dictionary_with_nulls_and_bad_text(tmp_path: Path) -> None:
    """Parquet hands string columns over as dictionaries: the time is parsed once per entry and
    spread by the codes, a null row read as no time, text that is no time rejected, as the row
    engine reads the same file."""
    import pyarrow.parquet as pq

    baseline, candidate = compiled(LEVEL, "b"), compiled(LEVEL.replace("> 60", "> 50"), "c")
    events = [json.loads(line) for line in steady(240, high=range(60, 120))]
    for i in range(0, 240, 17):
        events[i]["ts"] = None if i % 2 else "yesterday"
    parquet = tmp_path / "t.parquet"
    pq.write_table(pa.Table.from_pylist(events), parquet)
    assert pa.types.is_dictionary(pq.ParquetFile(parquet, read_dictionary=["ts"]).schema_arrow.field("ts").type)
    reports = [report_of(parquet, baseline, candidate, engine=engine, chunk_rows=64) for engine in ("row", "columnar")]
    assert reports[0] == reports[1]
    report = json.loads(reports[0])
    assert report["telemetry"]["rejected"] == 15 and report["decisions"]["differing_events"] > 0
    checked = [r for r in _records(parquet, baseline, candidate) if isinstance(r, Screened) and r.checked]
    assert len(checked) == 240 - 15  # every row with a time was typed from the columns
