"""Timestamp fields on the columnar engine of a set without event time: the row engine's report.

The column readers type a timestamp's RFC 3339 text as the row path does (`parse_timestamp`)
and leave to the row path what they cannot type (epoch numbers, odd text). Random lines mix
zones, fractions, dates without a zone, epoch seconds, invalid and out-of-range text, nulls and
missing fields; the rules compare, subtract and print timestamps.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ballast
from ballast.simulator.replay import replay

POLICY = """policy fleet.windows version "1.0.0" {
  input change {
    name: string
    start: timestamp
    end: timestamp
  }

  rule long {
    when end - start > LIMIT
    then pause(targets: name)
    reason "{name} ran from {start} to {end}"
  }

  rule backwards {
    when end < start
    then scale(targets: name, by: 1)
  }
}
"""


def make_sets(tmp: Path) -> tuple[ballast.PolicySet, ballast.PolicySet]:
    out = []
    for label, limit in (("baseline", "1h"), ("candidate", "30m")):
        path = tmp / f"{label}.bal"
        path.write_text(POLICY.replace("LIMIT", limit), encoding="utf-8")
        out.append(ballast.compile([path]))
    return out[0], out[1]


stamps = st.one_of(
    st.builds(
        lambda day, h, m, s, frac, zone: f"2026-01-{day:02d}T{h:02d}:{m:02d}:{s:02d}{frac}{zone}",
        st.integers(1, 31),
        st.integers(0, 23),
        st.integers(0, 59),
        st.integers(0, 59),
        st.sampled_from(["", ".5", ".123456", ".1234567891"]),
        st.sampled_from(["Z", "+02:00", "-05:30", "", "z", "+00:00"]),
    ),
    st.sampled_from(["2026-02-30T00:00:00Z", "yesterday", "", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"]),
    st.sampled_from([1767225600, 1767225600.5, -1, 1e300, None, True]),
)


@st.composite
def lines(draw: st.DrawFn) -> str:
    event = {"name": draw(st.sampled_from(["a", "b", "c"])), "start": draw(stamps), "end": draw(stamps)}
    if draw(st.integers(0, 9)) == 0:
        event.pop(draw(st.sampled_from(sorted(event))))
    return json.dumps(event)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(lines(), max_size=40), chunk_rows=st.integers(1, 30))
def test_timestamp_fields_give_the_row_engines_report(rows: list[str], chunk_rows: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        baseline, candidate = make_sets(Path(tmp))
        path = Path(tmp) / "t.jsonl"
        path.write_text("".join(r + "\n" for r in rows), encoding="utf-8")
        row = replay(path, baseline, candidate, engine="row")
        columnar = replay(path, baseline, candidate, engine="columnar", chunk_rows=chunk_rows)
    assert json.dumps(columnar, sort_keys=True) == json.dumps(row, sort_keys=True)


def test_rules_on_timestamps_fire_and_a_bad_timestamp_is_refused_on_both_engines() -> None:
    rows = [
        {"name": "a", "start": "2026-01-01T00:00:00Z", "end": "2026-01-01T02:00:00+01:00"},  # 1h: the candidate
        {"name": "b", "start": "2026-01-01T00:00:00Z", "end": "2026-01-01T00:45:00Z"},  # 45m: the candidate
        {"name": "c", "start": "2026-01-01T01:00:00Z", "end": "2026-01-01T00:00:00Z"},  # backwards
        {"name": "a", "start": "yesterday", "end": "2026-01-01T00:00:00Z"},
    ]
    with tempfile.TemporaryDirectory() as tmp:
        baseline, candidate = make_sets(Path(tmp))
        path = Path(tmp) / "t.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        report = replay(path, baseline, candidate, engine="columnar", chunk_rows=2)
        assert report == replay(path, baseline, candidate, engine="row")
    text = json.dumps(report)
    assert report["decisions"] == {"baseline": 1, "candidate": 3, "differing_events": 2}, text
    assert report["problems"]["baseline"] == 1 and report["telemetry"]["rejected"] == 1, text
