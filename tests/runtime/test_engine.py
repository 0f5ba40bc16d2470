"""The Engine: stateful rules in event time.

Policies are compiled from source strings with `ballast.compile(paths, sources=...)` and run with
`ballast.runtime.engine.Engine`; every time is an event time chosen by the test (`T0 + seconds`),
never the clock. Window aggregates are checked against brute-force references computed here
with `statistics`; snapshot/restore and determinism are hypothesis properties over random
streams with late events, duplicates, sequence gaps and `advance` calls.
"""

from __future__ import annotations

import json
import math
import random
import statistics
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ballast
from ballast.runtime.engine import SNAPSHOT_FORMAT, Engine
from ballast.runtime.errors import CompileError, UsageError
from ballast.runtime.history_codec import unpack_histories

REPO = Path(__file__).resolve().parents[2]
CATALOG = REPO / "catalog"
T0 = 1_700_000_000.0

FIELDS = """    ts: timestamp
    pool: string
    x: float
    y?: float
"""


def source(body: str, stream: str | None = "", fields: str = "") -> str:
    """A policy with the standard input; `stream=None` leaves out the stream block."""
    stream_block = f"  stream {{ time ts {stream} }}\n" if stream is not None else ""
    return f"""policy t.engine version "1" {{
  input ev {{
{FIELDS}{fields}  }}
{stream_block}  action report(targets: selector, value: float)
  action flag(targets: selector, kind: string, severity: float)
  action page(targets: selector)
{body}
}}
"""


def compile_policy(body: str, stream: str = "", fields: str = "") -> ballast.PolicySet:
    return ballast.compile(["t.bal"], sources={"t.bal": source(body, stream, fields)})


def engine(body: str, stream: str = "", fields: str = "") -> Engine:
    return Engine(compile_policy(body, stream, fields))


def ev(t: float, pool: str = "a", x: float = 0.0, **extra: Any) -> dict[str, Any]:
    return {"ts": T0 + t, "pool": pool, "x": x, **extra}


def fired(result: ballast.Result) -> list[tuple[str, str, list[str]]]:
    return [(d.rule, d.action, d.targets) for d in result.directives]


def states(result: ballast.Result) -> list[tuple[str, dict[str, Any], str]]:
    return [(e["rule"], e["key"], e["state"]) for e in result.events if e["type"] == "RuleState"]


def of_type(result: ballast.Result, kind: str) -> list[dict[str, Any]]:
    return [e for e in result.events if e["type"] == kind]


def stat(e: Engine, name: str) -> int:
    return e.stats["t.engine"][name]


# ---- for -------------------------------------------------------------------------------------

FOR_RULE = "  rule hot { group by pool  when x > 10  for 30s  then scale(targets: pool) }"


def test_for_is_pending_until_the_condition_held_for_the_whole_duration() -> None:
    e = engine(FOR_RULE)
    first = e.process(ev(0, x=20))
    assert fired(first) == [] and states(first) == [("hot", {"pool": "a"}, "pending")]
    for t in (10, 20, 29):
        step = e.process(ev(t, x=20))
        assert fired(step) == [] and step.events == []
    firing = e.process(ev(30, x=20))
    assert fired(firing) == [("hot", "scale", ["a"])]
    assert states(firing) == [("hot", {"pool": "a"}, "firing")]
    assert of_type(firing, "RuleState")[0]["time"] == "2023-11-14T22:13:50Z"  # T0 + 30 s
    again = e.process(ev(40, x=20))  # an edge rule emits once, on entering `firing`
    assert fired(again) == [] and again.events == []
    resolved = e.process(ev(50, x=5))
    assert states(resolved) == [("hot", {"pool": "a"}, "resolved")]


def test_a_dip_below_the_threshold_resets_the_for_clock() -> None:
    e = engine(FOR_RULE)
    assert states(e.process(ev(0, x=20))) == [("hot", {"pool": "a"}, "pending")]
    dip = e.process(ev(20, x=5))  # pending → inactive: nothing to report, nothing emitted
    assert dip.directives == [] and dip.events == []
    assert states(e.process(ev(25, x=20))) == [("hot", {"pool": "a"}, "pending")]
    assert fired(e.process(ev(50, x=20))) == []  # 25 s since the condition came back, not 50
    assert fired(e.process(ev(55, x=20))) == [("hot", "scale", ["a"])]


def test_advance_completes_a_for_without_a_new_event() -> None:
    e = engine(FOR_RULE)
    e.process(ev(0, x=20))
    assert e.advance(T0 + 29).events == []
    done = e.advance(T0 + 30)
    assert fired(done) == [("hot", "scale", ["a"])]
    assert states(done) == [("hot", {"pool": "a"}, "firing")]
    assert e.advance(T0 + 31).events == []
    assert e.advance(T0 + 10).events == []  # time never runs backwards: an earlier advance is a no-op
    with pytest.raises(UsageError):
        e.advance(math.nan)


# ---- keep ------------------------------------------------------------------------------------

KEEP_RULE = "  rule hot { group by pool  when x > 10  keep 1m  then scale(targets: pool) }"


def test_keep_holds_firing_after_the_condition_clears_and_a_rebreach_does_not_reemit() -> None:
    e = engine(KEEP_RULE)
    first = e.process(ev(0, x=20))  # no `for`: firing at once
    assert fired(first) == [("hot", "scale", ["a"])] and states(first) == [("hot", {"pool": "a"}, "firing")]
    for t, x in ((10, 5), (30, 20), (40, 5), (90, 5)):  # cleared at 10, back at 30, cleared again at 40
        step = e.process(ev(t, x=x))
        assert step.directives == [] and step.events == [], t
    resolved = e.process(ev(100, x=5))  # 60 s after it last cleared
    assert states(resolved) == [("hot", {"pool": "a"}, "resolved")]
    assert fired(e.process(ev(110, x=20))) == [("hot", "scale", ["a"])]


def test_keep_runs_out_on_advance() -> None:
    e = engine(KEEP_RULE)
    e.process(ev(0, x=20))
    e.process(ev(10, x=5))
    assert e.advance(T0 + 69).events == []
    assert states(e.advance(T0 + 70)) == [("hot", {"pool": "a"}, "resolved")]


# ---- hysteresis ------------------------------------------------------------------------------


def test_hysteresis_enters_above_and_exits_below_without_flapping_in_between() -> None:
    e = engine("  rule hot { group by pool  enter when x > 80  exit when x < 60  then scale(targets: pool) }")
    plain = engine("  rule hot { group by pool  when x > 80  then scale(targets: pool) }")
    series = [70, 85, 75, 65, 79, 81, 78, 82, 59, 70, 75, 81]
    log = []
    for t, x in enumerate(series):
        result = e.process(ev(t * 10, x=x))
        log.append((x, [s for _, _, s in states(result)], len(result.directives)))
    assert log == [
        (70, [], 0),
        (85, ["firing"], 1),
        (75, [], 0),
        (65, [], 0),
        (79, [], 0),
        (81, [], 0),
        (78, [], 0),
        (82, [], 0),
        (59, ["resolved"], 0),
        (70, [], 0),
        (75, [], 0),
        (81, ["firing"], 1),
    ]
    # the same threshold without hysteresis acts on every crossing
    assert sum(len(plain.process(ev(t * 10, x=x)).directives) for t, x in enumerate(series)) == 4


def test_hysteresis_over_a_window_average() -> None:
    e = engine(
        "  rule slow { group by pool  enter when avg(x, 30s) > 250  exit when avg(x, 30s) < 200"
        "  then scale(targets: pool) }"
    )
    seen = []
    for t, x in enumerate([100, 300, 400, 300, 150, 180, 190, 150, 100]):
        seen += [(t, s) for _, _, s in states(e.process(ev(t * 10, x=x)))]
    # averages: 100, 200, 266.7 (enter), 333, 283, 210 (between: stays), 173 (exit), …
    assert seen == [(2, "firing"), (6, "resolved")]


# ---- group by --------------------------------------------------------------------------------


def test_group_by_keeps_independent_state_and_windows_per_key() -> None:
    e = engine(FOR_RULE + "\n  rule busy { group by pool  when avg(x, 1m) > 50  then page(targets: pool) }")
    assert states(e.process(ev(0, "a", 20))) == [("hot", {"pool": "a"}, "pending")]
    assert states(e.process(ev(5, "b", 20))) == [("hot", {"pool": "b"}, "pending")]
    assert e.process(ev(20, "b", 5)).events == []  # b's dip resets b only
    a = e.process(ev(30, "a", 20))
    assert fired(a) == [("hot", "scale", ["a"])]
    assert states(e.process(ev(35, "b", 20))) == [("hot", {"pool": "b"}, "pending")]
    # windows are per key too: c's 100s do not lift d's average
    e.process(ev(40, "c", 100))
    assert fired(e.process(ev(41, "d", 0))) == []
    assert fired(e.process(ev(42, "c", 100))) == [("busy", "page", ["c"])]
    assert e.stats["t.engine"]["keys"] == 4


def test_group_by_several_fields() -> None:
    e = engine(
        "  rule hot { group by pool, region  when x > 10  for 10s  then scale(targets: pool) }",
        fields="    region: string\n",
    )
    assert states(e.process(ev(0, "a", 20, region="eu"))) == [("hot", {"pool": "a", "region": "eu"}, "pending")]
    assert states(e.process(ev(1, "a", 20, region="us"))) == [("hot", {"pool": "a", "region": "us"}, "pending")]
    assert states(e.process(ev(10, "a", 20, region="eu"))) == [("hot", {"pool": "a", "region": "eu"}, "firing")]
    assert e.stats["t.engine"]["keys"] == 2


# ---- window aggregates against brute-force references ----------------------------------------

WINDOW = 60.0
PERCENTILES = (0, 5, 50, 95, 100)
AGGREGATES = ["avg", "min", "max", "sum", "count", "rate", "delta", "stddev", "zscore", "slope"]


def _aggregate_policy() -> ballast.PolicySet:
    rules = []
    for fn in AGGREGATES:
        # a rule fires exactly when its aggregate has data, and reports the value
        rules.append(
            f"  rule r_{fn} {{ group by pool  when {fn}(x, 1m) > -1000000000.0"
            f"  then report(targets: pool, value: {fn}(x, 1m)) }}"
        )
    for p in PERCENTILES:
        rules.append(
            f"  rule r_p{p} {{ group by pool  when percentile(x, {p}, 1m) > -1000000000.0"
            f"  then report(targets: pool, value: percentile(x, {p}, 1m)) }}"
        )
    rules.append(
        "  rule r_ewma { group by pool  when ewma(x, 0.3) > -1000000000.0  then report(targets: pool, value: ewma(x, 0.3)) }"
    )
    return compile_policy("\n".join(rules), stream="lateness 30s")


AGGREGATE_POLICY = _aggregate_policy()


def reference(window: list[tuple[float, float]], arrivals: list[float]) -> dict[str, float | None]:
    """Every aggregate by the book, for samples in (now - 60 s, now] sorted by time."""
    times = [t for t, _ in window]
    values = [v for _, v in window]
    out: dict[str, float | None] = {"count": len(values)}
    alpha = 0.3
    smoothed = arrivals[0]
    for v in arrivals[1:]:  # ewma: every sample so far, in arrival order, seeded with the first
        smoothed = alpha * v + (1 - alpha) * smoothed
    out["ewma"] = smoothed
    if not values:
        return {**out, **{name: None for name in AGGREGATES if name != "count"}, **{f"p{p}": None for p in PERCENTILES}}
    out["avg"] = statistics.fmean(values)
    out["min"], out["max"], out["sum"] = min(values), max(values), math.fsum(values)
    out["delta"] = values[-1] - values[0]
    out["rate"] = (values[-1] - values[0]) / (times[-1] - times[0]) if len(values) > 1 else None
    out["stddev"] = statistics.pstdev(values)
    past = values[:-1]
    sigma = statistics.pstdev(past) if len(past) >= 2 else 0.0
    out["zscore"] = (values[-1] - statistics.fmean(past)) / sigma if sigma else 0.0
    out["slope"] = statistics.linear_regression(times, values).slope if len(values) > 1 else 0.0
    for p in PERCENTILES:
        if len(values) == 1 or p in (0, 100):
            out[f"p{p}"] = values[0] if len(values) == 1 else (min(values) if p == 0 else max(values))
        else:  # numpy's default "linear": R type 7, statistics' "inclusive"
            out[f"p{p}"] = statistics.quantiles(values, n=100, method="inclusive")[p - 1]
    return out


samples_strategy = st.lists(
    st.tuples(st.integers(0, 400), st.integers(-4000, 4000), st.integers(0, 29)),
    min_size=1,
    max_size=40,
    unique_by=lambda s: s[0],
)


@settings(max_examples=400, deadline=None)
@given(samples_strategy)
def test_window_aggregates_match_a_brute_force_reference(samples: list[tuple[int, int, int]]) -> None:
    # distinct times; each sample is delivered up to 29 s late (the lateness is 30 s), so some
    # arrive out of order and land in the middle of the history
    delivery = sorted(samples, key=lambda s: (s[0] + s[2], s[0]))
    e = Engine(AGGREGATE_POLICY)
    seen: list[tuple[float, float]] = []
    arrivals: list[float] = []
    newest = -math.inf
    for t, raw, _ in delivery:
        value = raw / 4
        result = e.process(ev(t, x=value))
        assert result.errors == []
        seen.append((float(t), value))
        arrivals.append(value)
        newest = max(newest, t)
        window = sorted(s for s in seen if newest - WINDOW < s[0] <= newest)
        want = reference(window, arrivals)
        got = {d.rule[2:]: d.params["value"] for d in result.directives}
        for name, expected in want.items():
            if expected is None:
                assert name not in got, (name, got.get(name))
                continue
            assert name in got, name
            assert math.isclose(got[name], expected, rel_tol=1e-9, abs_tol=1e-9), (name, got[name], expected, window)


def test_absent_becomes_true_through_advance() -> None:
    e = engine("  rule gone { group by pool  when absent(y, 30s)  for 10s  then page(targets: pool) }")
    assert e.process(ev(0, y=1.0)).events == []
    assert e.advance(T0 + 29).events == []
    assert states(e.advance(T0 + 30)) == [("gone", {"pool": "a"}, "pending")]  # (0, 30] holds no y
    assert fired(e.advance(T0 + 40)) == [("gone", "page", ["a"])]
    assert states(e.process(ev(41))) == []  # an event without y keeps it absent
    assert states(e.process(ev(45, y=2.0))) == [("gone", {"pool": "a"}, "resolved")]


@pytest.mark.parametrize(("declared", "value"), [("name?: string", "svc-1"), ("flag?: bool", False)])
def test_absent_of_a_string_or_bool_field_counts_its_presence(declared: str, value: Any) -> None:
    # absent() is the one aggregate allowed on any field type: a string was once recorded with
    # float() (an internal error on every event) and a bool was skipped (absent held while the
    # field was sent)
    field = declared.split("?")[0]
    body = f"  rule gone {{ group by pool  when absent({field}, 30s)  then page(targets: pool) }}"
    e = engine(body, fields=f"    {declared}\n")
    first = e.process(ev(0, **{field: value}))
    assert first.errors == [] and fired(first) == []
    assert fired(e.process(ev(20))) == []  # (-10, 20] still holds the sample at 0
    assert fired(e.process(ev(31))) == [("gone", "page", ["a"])]  # (1, 31] holds none
    assert fired(e.process(ev(32, **{field: value}))) == []
    restored = Engine.restore(compile_policy(body, fields=f"    {declared}\n"), json.loads(json.dumps(e.snapshot())))
    assert fired(restored.process(ev(40))) == []  # the presence survived the snapshot


def test_an_aggregate_read_only_by_the_reason_is_rendered() -> None:
    e = engine(
        '  let peak = max(x, 5m)\n  rule hot { group by pool  when avg(x, 1m) > 10  then scale(targets: pool)  reason "peak {peak:.0f}" }'
    )
    e.process(ev(0, x=30))
    assert [d.reason for d in e.process(ev(10, x=20)).directives] == ["peak 30"]


def test_min_max_sum_delta_of_an_int_field_are_ints() -> None:
    e = engine(
        "  rule r { group by pool  when max(n, 1m) > 5  then scale(targets: pool, by: max(n, 1m) - min(n, 1m) + delta(n, 1m)) }",
        fields="    n: int\n",
    )
    e.process(ev(0, n=7))
    (d,) = e.process(ev(10, n=9)).directives
    assert d.params == {"by": 4} and type(d.params["by"]) is int


def test_a_rate_needs_two_sample_times() -> None:
    # one sample per window says nothing about a rate: a `rate(x) < 1` stall rule must not fire on it
    e = engine("  rule stalled { group by pool  when rate(x, 1m) < 1  then page(targets: pool) }")
    for t in (0, 60, 120):  # one sample per minute: every window holds one
        assert fired(e.process(ev(t, x=t * 20))) == []
    assert stat(e, "no_data") == 3
    assert fired(e.process(ev(130, x=2400.5))) == [("stalled", "page", ["a"])]  # 0.05/s over 10 s


# ---- cooldown and `at most` ------------------------------------------------------------------


def test_cooldown_is_per_target_and_suppressions_are_reported_and_counted() -> None:
    e = engine(
        '  rule hot { group by pool  when x > 10  cooldown 1m  then scale(targets: pool), page(targets: "oncall") }'
    )
    assert fired(e.process(ev(0, "a", 20))) == [("hot", "scale", ["a"]), ("hot", "page", ["oncall"])]
    held = e.process(ev(10, "a", 20))
    assert held.directives == []
    assert [(s["action"], s["targets"], s["by"]) for s in of_type(held, "Suppressed")] == [
        ("scale", ["a"], "cooldown"),
        ("page", ["oncall"], "cooldown"),
    ]
    # another pool: its own scale goes out, the shared page target is still cooling down
    assert fired(e.process(ev(15, "b", 20))) == [("hot", "scale", ["b"])]
    assert fired(e.process(ev(59, "a", 20))) == []
    assert fired(e.process(ev(60, "a", 20))) == [("hot", "scale", ["a"]), ("hot", "page", ["oncall"])]
    assert stat(e, "suppressed_cooldown") == 5


def test_at_most_n_per_window_is_per_rule() -> None:
    e = engine("  rule hot { group by pool  when x > 10  at most 2 per 1m  then scale(targets: pool) }")
    assert fired(e.process(ev(0, "a", 20))) == [("hot", "scale", ["a"])]
    assert fired(e.process(ev(1, "b", 20))) == [("hot", "scale", ["b"])]
    third = e.process(ev(2, "c", 20))
    assert third.directives == [] and [s["by"] for s in of_type(third, "Suppressed")] == ["limit"]
    assert fired(e.process(ev(59, "c", 20))) == []
    assert fired(e.process(ev(60, "c", 20))) == [("hot", "scale", ["c"])]  # the one at 0 left (60 - 1m, 60]
    assert stat(e, "suppressed_limit") == 2


# ---- stream bookkeeping: lateness, duplicates, gaps, idle keys -------------------------------

SUM_RULE = "  rule total { group by pool  when count(x, 1m) > 0  then report(targets: pool, value: sum(x, 1m)) }"


def sums(result: ballast.Result) -> list[float]:
    return [d.params["value"] for d in result.directives]


def test_an_out_of_order_event_within_the_lateness_lands_in_the_right_place() -> None:
    e = engine(SUM_RULE + "\n  rule plain { when x > 1000  then page(targets: pool) }", stream="lateness 30s")
    assert sums(e.process(ev(0, x=10))) == [10]
    assert sums(e.process(ev(50, x=1))) == [11]
    assert sums(e.process(ev(25, x=100))) == [111]  # 25 s late: counted in (−10, 50]
    assert sums(e.process(ev(70, x=1))) == [102]  # (10, 70]: the late sample is in, the one at 0 is out
    assert sums(e.process(ev(90, x=1))) == [3]  # (30, 90]: now the late one has left too
    assert stat(e, "late") == 0


def test_an_event_beyond_the_lateness_is_rejected_and_counted() -> None:
    e = engine(SUM_RULE + "\n  rule plain { when x > 1000  then page(targets: pool) }", stream="lateness 30s")
    e.process(ev(100, x=1))
    e.process(ev(70, x=2))  # exactly at the watermark: accepted
    late = e.process(ev(69, x=5000))
    assert late.directives == [] and late.events == []  # neither the stateless nor the stateful rules ran
    (problem,) = late.errors
    assert (problem.kind, problem.policy, problem.field) == ("late-event", "t.engine", "ts")
    assert "31s behind the newest" in problem.message and "lateness of 30s" in problem.message
    assert sums(e.process(ev(101, x=1))) == [4]  # the rejected sample is not in the window
    assert stat(e, "late") == 1


def test_duplicates_by_id_are_ignored_and_counted() -> None:
    e = engine(SUM_RULE, stream="id id  lateness 1m", fields="    id: string\n")
    assert sums(e.process(ev(0, x=1, id="e1"))) == [1]
    assert sums(e.process(ev(5, x=2, id="e2"))) == [3]
    again = e.process(ev(0, x=1, id="e1"))  # redelivered
    assert again.directives == [] and again.errors == [] and again.events == []
    assert sums(e.process(ev(6, x=4, id="e3"))) == [7]
    assert stat(e, "duplicates") == 1


def test_a_sequence_gap_emits_a_telemetry_gap_per_source() -> None:
    e = engine(SUM_RULE, stream="sequence seq by src", fields="    seq: int\n    src: string\n")
    assert of_type(e.process(ev(0, seq=1, src="s1")), "TelemetryGap") == []
    assert of_type(e.process(ev(1, seq=1, src="s2")), "TelemetryGap") == []  # sources count separately
    assert of_type(e.process(ev(2, seq=2, src="s1")), "TelemetryGap") == []
    (gap,) = of_type(e.process(ev(3, seq=5, src="s1")), "TelemetryGap")
    assert (gap["source"], gap["after"], gap["next"], gap["missing"]) == ("s1", 2, 5, 2)
    assert gap["time"] == "2023-11-14T22:13:23Z"
    assert of_type(e.process(ev(4, seq=4, src="s1")), "TelemetryGap") == []  # a straggler: no new gap
    assert of_type(e.process(ev(5, seq=6, src="s1")), "TelemetryGap") == []
    assert stat(e, "gaps") == 1


def test_idle_keys_expire_unless_a_rule_is_firing_for_them() -> None:
    e = engine(
        "  rule hot { group by pool  when avg(x, 5m) > 10  keep 10m  then scale(targets: pool) }",
        stream="idle 1m  stale after 1h",  # idle against `keep` alone; staleness is tested below
    )
    e.process(ev(0, "a", 0))
    e.process(ev(0, "b", 20))  # firing, kept for 10 minutes
    e.process(ev(50, "c", 0))
    e.advance(T0 + 61)
    assert (stat(e, "keys"), stat(e, "expired_keys")) == (2, 1)  # a went; b is firing, c was seen at 50
    # a comes back with no history: its old samples do not count
    assert fired(e.process(ev(70, "a", 15))) == [("hot", "scale", ["a"])]
    e.process(ev(71, "a", 0))  # clears: a is kept firing for 10 minutes, so it is not idle
    e.advance(T0 + 200)
    assert (stat(e, "keys"), stat(e, "expired_keys")) == (2, 2)  # c went
    # at 671 a's keep has run out (an empty window reads as cleared): resolved, then expired; b's
    # window is empty too, so its keep starts now
    done = e.advance(T0 + 671)
    assert states(done) == [("hot", {"pool": "a"}, "resolved")]
    assert (stat(e, "keys"), stat(e, "expired_keys")) == (1, 3)


# ---- no data ---------------------------------------------------------------------------------


def test_an_empty_window_cannot_make_a_condition_hold() -> None:
    e = engine("  rule hot { group by pool  when avg(y, 30s) > 5  then scale(targets: pool) }")
    assert fired(e.process(ev(0))) == []  # no y yet: no evidence, no breach
    assert stat(e, "no_data") == 1
    assert fired(e.process(ev(10, y=10.0))) == [("hot", "scale", ["a"])]
    assert fired(e.process(ev(45))) == []  # y's last sample left the window
    assert stat(e, "no_data") == 2


def test_no_data_resolves_a_for_rule_but_keeps_a_hysteresis_rule_firing() -> None:
    e = engine(
        "  rule held { group by pool  when avg(y, 30s) > 5  for 10s  then scale(targets: pool) }\n"
        "  rule band { group by pool  enter when avg(y, 30s) > 5  exit when avg(y, 30s) < 2  then page(targets: pool) }"
    )
    e.process(ev(0, y=10.0))
    assert [s for _, _, s in states(e.advance(T0 + 10))] == ["firing"]
    # (1, 31] holds no y: the `for` rule has lost its evidence; hysteresis needs evidence to exit
    assert states(e.advance(T0 + 31)) == [("held", {"pool": "a"}, "resolved")]
    assert stat(e, "no_data") >= 2


def test_a_fault_is_reported_even_after_another_rule_read_an_empty_window() -> None:
    # `empty` reads a window with no y first; `divides` then faults on its own division by
    # zero. That fault is the rule's, not "no data": it must be reported, not counted away.
    e = engine(
        "  rule empty { group by pool  when avg(y, 1m) > 1  then page(targets: pool) }\n"
        "  rule divides { group by pool  when x / (x - 5) > max(x, 1m)  then page(targets: pool) }"
    )
    result = e.process(ev(0, x=5.0))
    assert [(p.kind, p.rule) for p in result.errors] == [("evaluation", "divides")]
    assert "division by zero" in result.errors[0].message
    assert stat(e, "no_data") == 1  # `empty` alone


def test_every_rule_reading_the_same_empty_window_counts_its_own_no_data() -> None:
    e = engine(
        "  rule low { group by pool  when max(y, 1m) > 1  then page(targets: pool) }\n"
        "  rule high { group by pool  when x > 1 && max(y, 1m) > 9  then page(targets: pool) }"
    )
    result = e.process(ev(0, x=5.0))
    assert result.errors == [] and fired(result) == []
    assert stat(e, "no_data") == 2  # `high` reads the slot `low` found empty: no data for it too


def test_an_empty_window_compares_as_null() -> None:
    # No data is null (docs/language.md): `== null` tests for it without a fault, as does
    # `count(y, 1m) == 0`.
    e = engine("  rule silent { group by pool  when avg(y, 1m) == null  then page(targets: pool) }")
    assert fired(e.process(ev(0))) == [("silent", "page", ["a"])]
    assert fired(e.process(ev(10, y=1.0))) == []
    assert stat(e, "no_data") == 0


# ---- anomaly detection -----------------------------------------------------------------------

ANOMALY_RULE = (
    '  rule shape { group by pool  when anomaly(x, 10m).kind != "none"'
    "  then flag(targets: pool, kind: anomaly(x, 10m).kind, severity: anomaly(x, 10m).severity) }"
)


def classify_last(values: list[float]) -> tuple[str, float] | None:
    e = engine(ANOMALY_RULE)
    result = None
    for i, v in enumerate(values):
        result = e.process(ev(i * 15, pool="p", x=v))
    assert result is not None
    if not result.directives:
        return None
    (d,) = result.directives
    return d.params["kind"], d.params["severity"]


_rng = random.Random(7)
NOISE = [_rng.uniform(-1, 1) for _ in range(40)]


def test_anomaly_spike_and_drop_use_the_zscore_of_the_newest_sample() -> None:
    base = [100 + n for n in NOISE[:20]]
    for last, kind in ((104.0, "spike"), (130.0, "spike"), (96.0, "drop"), (60.0, "drop")):
        z = (last - statistics.fmean(base)) / statistics.pstdev(base)
        assert abs(z) >= 3, z
        assert classify_last([*base, last]) == (kind, round(min(1.0, abs(z) / 6), 6))


def test_anomaly_drift_is_a_trend_that_moves_the_level_two_sigmas() -> None:
    values = [100 + 2 * i + NOISE[i] for i in range(20)]
    times = [i * 15.0 for i in range(20)]
    moved = abs(statistics.linear_regression(times, values).slope) * times[-1]
    sigma = statistics.pstdev(values)
    assert moved >= 2 * sigma
    assert classify_last(values) == ("drift", round(min(1.0, moved / (8 * sigma)), 6))


def test_anomaly_oscillation_is_a_level_that_keeps_changing_direction() -> None:
    values = [100.0 + 10 * (i % 2) for i in range(20)]  # 19 moves, 18 turns
    assert classify_last(values) == ("oscillation", round(18 / 19, 6))


def test_anomaly_none_on_a_steady_wave() -> None:
    # two periods of a wave: few direction changes, no trend, the newest sample within the range
    values = [100 + 10 * math.sin(2 * math.pi * i / 10) for i in range(20)]
    assert classify_last(values) is None


# ---- determinism and snapshot/restore --------------------------------------------------------


def _watchdog_lines() -> list[str]:
    policies = ballast.compile([str(CATALOG / "watchdog.bal")])
    e = Engine(policies)
    lines = []
    with open(CATALOG / "watchdog-events.jsonl", encoding="utf-8") as events:
        for line in events:
            lines.append(json.dumps(e.process(json.loads(line)).to_dict(), sort_keys=True))
    return lines


def test_the_same_stream_gives_the_same_output_directive_ids_included() -> None:
    first, second = _watchdog_lines(), _watchdog_lines()
    assert first == second
    ids = [d["directive_id"] for line in first for d in json.loads(line)["directives"]]
    assert len(ids) >= 10 and len(set(ids)) == len(ids)
    kinds = {e["type"] for line in first for e in json.loads(line).get("events", [])}
    assert {"RuleState", "Suppressed", "TelemetryGap"} <= kinds


def test_observing_sees_every_evaluation_and_changes_no_decision() -> None:
    policies = ballast.compile([str(CATALOG / "watchdog.bal"), str(CATALOG / "motb.bal")])
    with open(CATALOG / "watchdog-events.jsonl", encoding="utf-8") as f:
        events = [json.loads(line) for line in f if line.strip()]
    plain, watched = Engine(policies), Engine(policies)
    decided: list[int] = []
    conditions: dict[tuple[int, int], int] = {}

    def on_condition(policy: int, rule: int, context: Any) -> None:
        assert "htm_queue_depth" in context  # the event, with the windows the condition reads
        conditions[policy, rule] = conditions.get((policy, rule), 0) + 1

    with watched.observing(lambda policy, event: decided.append(policy), on_condition):
        inside = [watched.process(ev, input="layer2").to_dict() for ev in events[:80]]
    after = [watched.process(ev, input="layer2").to_dict() for ev in events[80:]]
    expected = [plain.process(ev, input="layer2").to_dict() for ev in events]
    assert inside + after == expected
    watchdog = [p.name for p in policies.policies].index("motb.watchdog")
    timed = {rule for policy, rule in conditions if policy == watchdog}
    assert len(timed) >= 5 and sum(conditions.values()) >= 80  # every timed rule, every accepted event
    count = sum(conditions.values())
    watched.process(events[-1], input="layer2")
    assert sum(conditions.values()) == count  # leaving the block removed the observers

    with open(CATALOG / "events.jsonl", encoding="utf-8") as f:
        telemetry = [json.loads(line) for line in f if line.strip()][:5]
    with watched.observing(on_decide=lambda policy, event: decided.append(policy)):
        for ev in telemetry:
            watched.process(ev, input="telemetry")
    motb = [p.name for p in policies.policies].index("motb.orchestration")
    assert decided == [motb] * len(telemetry)  # the stateless rules of motb decided each event once


SNAPSHOT_POLICY = compile_policy(
    """  rule hot { group by pool  enter when avg(x, 1m) > 60  exit when avg(x, 1m) < 40  for 20s  keep 30s  cooldown 1m  then scale(targets: pool) }
  rule spike { group by pool  when anomaly(x, 5m).kind == "spike"  cooldown 30s  then page(targets: pool) }
  rule gone { group by pool  when absent(y, 30s)  for 10s  then page(targets: pool) }
  rule busy { when percentile(x, 90, 2m) > 80  at most 2 per 1m  then reroute(targets: "fleet", to: "standby") }
  rule smooth { group by src  when ewma(x, 0.3) > 70 and stddev(x, 1m) > 5  keep 15s  then scale(targets: src, by: 2) }
  rule plain { when x > 95  then scale(targets: pool, by: 3) }""",
    stream="id id  lateness 20s  sequence seq by src  idle 2m",
    fields="    id: string\n    seq: int\n    src: string\n",
)

op_strategy = st.one_of(
    st.tuples(
        st.just("event"),
        st.sampled_from([0, 1, 5, 10, 15, 40]),  # step of the stream's clock
        st.one_of(st.just(0), st.integers(1, 35)),  # how late this event is (beyond 20 s: rejected)
        st.sampled_from(["a", "b", "c"]),
        st.integers(0, 100),
        st.booleans(),  # y present
        st.booleans(),  # a duplicate of an earlier id
        st.sampled_from(["s1", "s2"]),
        st.sampled_from([1, 1, 1, 3]),  # sequence step (3: a gap)
    ),
    st.tuples(st.just("advance"), st.integers(0, 90)),
)


def materialize(ops: list[tuple[Any, ...]]) -> list[tuple[str, Any]]:
    clock, seqs, out = T0, {"s1": 0, "s2": 0}, []
    for i, op in enumerate(ops):
        if op[0] == "advance":
            out.append(("advance", clock + op[1]))
            continue
        _, step, late, pool, x, has_y, dup, src, jump = op
        clock += step
        seqs[src] += jump
        event = {
            "ts": clock - late,
            "pool": pool,
            "x": float(x),
            "id": f"e{i // 2}" if dup else f"e{i}",
            "seq": seqs[src],
            "src": src,
        }
        if has_y:
            event["y"] = 1.0
        out.append(("event", event))
    return out


def run(e: Engine, ops: list[tuple[str, Any]]) -> list[str]:
    return [
        json.dumps((e.process(arg) if kind == "event" else e.advance(arg)).to_dict(), sort_keys=True)
        for kind, arg in ops
    ]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(op_strategy, min_size=1, max_size=120), st.data())
def test_snapshot_restore_continues_exactly(ops: list[tuple[Any, ...]], data: st.DataObject) -> None:
    stream = materialize(ops)
    cut = data.draw(st.integers(0, len(stream)), label="cut")
    original = Engine(SNAPSHOT_POLICY)
    before = run(original, stream[:cut])
    snapshot = json.loads(json.dumps(original.snapshot()))
    assert snapshot["format"] == SNAPSHOT_FORMAT
    restored = Engine.restore(SNAPSHOT_POLICY, snapshot)
    assert restored.snapshot() == snapshot
    assert run(original, stream[cut:]) == run(restored, stream[cut:])
    assert original.stats == restored.stats
    assert json.dumps(original.snapshot()) == json.dumps(restored.snapshot())
    # and the whole run is deterministic: a fresh engine over the stream says the same
    fresh = Engine(SNAPSHOT_POLICY)
    assert run(fresh, stream[:cut]) == before


def as_older_version(snapshot: dict[str, Any], version: int) -> dict[str, Any]:
    """A snapshot as version 1 or 2 wrote it: each key's histories as lists (version 1: a
    [time, value] pair per sample; version 2: two lists, times and values), and no `fields`."""
    old = json.loads(json.dumps(snapshot))
    old["format"] = f"ballast-engine-state/{version}"
    for policy in old["policies"]:
        layouts = policy.pop("fields")
        for key in policy["keys"]:
            paths = layouts[key["grouping"]]
            histories = unpack_histories(key.pop("histories"), [0.0] * len(paths)) if "histories" in key else []
            ewma = {i: pairs for i, pairs in key.pop("ewma", [])}
            key["series"] = []
            for i, (path, series) in enumerate(zip(paths, histories, strict=True)):
                if series is None:
                    continue
                if version == 1:
                    columns: dict[str, Any] = {"samples": [[t, v] for t, v in zip(series.times, series.values, strict=True)]}
                else:
                    columns = {"times": series.times.tolist(), "values": series.values.tolist()}
                if i in ewma:
                    columns["ewma"] = ewma[i]
                key["series"].append([path, columns])
            key.setdefault("rules", [])
    return old


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(op_strategy, min_size=1, max_size=80), st.data(), st.sampled_from([1, 2]))
def test_an_older_snapshot_restores_to_the_same_engine(
    ops: list[tuple[Any, ...]], data: st.DataObject, version: int
) -> None:
    stream = materialize(ops)
    cut = data.draw(st.integers(0, len(stream)), label="cut")
    original = Engine(SNAPSHOT_POLICY)
    run(original, stream[:cut])
    snapshot = json.loads(json.dumps(original.snapshot()))
    restored = Engine.restore(SNAPSHOT_POLICY, as_older_version(snapshot, version))
    assert restored.snapshot() == snapshot
    assert run(original, stream[cut:]) == run(restored, stream[cut:])


def test_restore_refuses_other_data_and_other_policies() -> None:
    e = Engine(SNAPSHOT_POLICY)
    with pytest.raises(UsageError, match="not an engine snapshot"):
        Engine.restore(SNAPSHOT_POLICY, {"format": "something else"})
    with pytest.raises(UsageError, match="the snapshot is of policies"):
        other = ballast.compile(["o.bal"], sources={"o.bal": source(FOR_RULE).replace("t.engine", "t.other")})
        Engine.restore(other, e.snapshot())


def test_keys_keep_a_copy_of_the_event_not_the_hosts_dict() -> None:
    e = engine(
        FOR_RULE + '\n  rule reasoned { group by pool  when x > 10  for 30s  then page(targets: pool)  reason "x {x}" }'
    )
    event = ev(0, x=20.0)
    e.process(event)
    event.update(pool="zzz", x=99.0)  # a host reusing its buffer
    done = e.advance(T0 + 30)
    assert sorted(d.targets[0] for d in done.directives) == ["a", "a"]
    assert {d.reason for d in done.directives if d.rule == "reasoned"} == {"x 20.0"}
    assert json.loads(json.dumps(e.snapshot()))["policies"][0]["keys"][0]["event"]["pool"] == "a"


def test_stats_count_every_outcome() -> None:
    e = engine(FOR_RULE)
    e.process(ev(0, x=20))
    e.process({"ts": "not a time", "pool": "a", "x": 1.0})
    assert e.stats == {
        "t.engine": {
            "events": 1,
            "late": 0,
            "duplicates": 0,
            "gaps": 0,
            "no_data": 0,
            "suppressed_cooldown": 0,
            "suppressed_limit": 0,
            "expired_keys": 0,
            "keys": 1,
        }
    }


# ---- compile errors --------------------------------------------------------------------------


def diagnostics(body: str, stream: str | None = "", fields: str = "") -> tuple[str, list[tuple[str, int, int]]]:
    text = source(body, stream, fields)
    with pytest.raises(CompileError) as info:
        ballast.compile(["t.bal"], sources={"t.bal": text})
    return text, [(d.code, d.span.line, d.span.column) for d in info.value.diagnostics]


def position(text: str, needle: str, nth: int = 0) -> tuple[int, int]:
    index = -1
    for _ in range(nth + 1):
        index = text.index(needle, index + 1)
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def test_a_zero_window_is_a_window_error_at_the_duration() -> None:
    text, found = diagnostics("  rule r { group by pool  when avg(x, 0s) > 1  then page(targets: pool) }")
    assert found == [("window", *position(text, "0s"))]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("when percentile(x, 101, 1m) > 1", "101"),
        ("when ewma(x, 1.5) > 1", "1.5"),
        ("when x > 1  for 0s", "0s"),
        ("when avg(x + 1, 1m) > 1", "x + 1"),
    ],
)
def test_other_window_errors(body: str, needle: str) -> None:
    text, found = diagnostics(f"  rule r {{ {body}  then page(targets: pool) }}")
    assert found == [("window", *position(text, needle))]


def test_enter_without_exit_is_a_hysteresis_error() -> None:
    text, found = diagnostics("  rule r { group by pool  enter when x > 80  then page(targets: pool) }")
    assert found == [("hysteresis", *position(text, "rule r"))]
    text, found = diagnostics("  rule r { when x > 1  enter when x > 80  exit when x < 60  then page(targets: pool) }")
    assert found == [("hysteresis", *position(text, "x > 1"))]


@pytest.mark.parametrize("clause", ["for 30s", "keep 1m", "cooldown 5m", "at most 1 per 1m", "group by pool"])
def test_a_time_clause_without_an_event_time_is_a_time_error(clause: str) -> None:
    text, found = diagnostics(f"  rule r {{ when x > 1  {clause}  then page(targets: pool) }}", stream=None)
    assert found == [("time", *position(text, "rule r"))]


def test_a_window_aggregate_without_an_event_time_is_a_time_error() -> None:
    text, found = diagnostics("  rule r { when avg(x, 1m) > 1  then page(targets: pool) }", stream=None)
    assert found == [("time", *position(text, "rule r"))]


def test_bad_group_by_fields() -> None:
    text, found = diagnostics(
        "  rule r { group by poll  when x > 1  then page(targets: pool) }\n"
        "  rule s { group by tags  when x > 1  then page(targets: pool) }\n"
        "  rule u { group by y  when x > 1  then page(targets: pool) }",
        fields="    tags: list<string>\n",
    )
    assert found == [
        ("name", *position(text, "group by poll")),
        ("type", *position(text, "group by tags")),
        ("type", *position(text, "group by y")),
    ]
    with pytest.raises(CompileError, match="did you mean 'pool'"):
        compile_policy("  rule r { group by poll  when x > 1  then page(targets: pool) }")


@pytest.mark.parametrize(
    ("stream", "needle", "message"),
    [
        ("time pool", "pool }", "must be a timestamp, got string"),
        ("time ts  id x", "x }", "must be a string or int, got float"),
        ("time ts  sequence x by pool", "sequence x", "must be an int, got float"),
        ("time ts  sequence n by n", "sequence n", "must be a string, got int"),
        ("time ts  id o", "o }", "cannot be optional"),
        ("time ts  id nope", "nope }", "is not an input field"),
    ],
)
def test_stream_fields_of_the_wrong_type(stream: str, needle: str, message: str) -> None:
    text = source("  rule r { when x > 1  then page(targets: pool) }", None, "    n: int\n    o?: string\n")
    text = text.replace("  action report", f"  stream {{ {stream} }}\n  action report", 1)
    with pytest.raises(CompileError) as info:
        ballast.compile(["t.bal"], sources={"t.bal": text})
    (d,) = info.value.diagnostics
    assert (d.code, d.span.line, d.span.column) == (
        "type" if "not an input" not in message else "name",
        *position(text, needle),
    )
    assert message in d.message


@pytest.mark.parametrize(
    ("policies", "events", "input"),
    [
        (["watchdog.bal"], "watchdog-events.jsonl", None),
        (["motb.bal"], "events.jsonl", None),
        (["motb.bal", "gtbe.bal"], "events.jsonl", "telemetry"),
    ],
)
def test_process_many_is_process_per_event(policies: list[str], events: str, input: str | None) -> None:
    """A batch gives exactly the per-event results, keeping only the events that produced something."""
    policy_set = ballast.compile([str(CATALOG / p) for p in policies])
    lines = (CATALOG / events).read_text(encoding="utf-8").splitlines()
    stream = []
    for line in lines:
        try:
            stream.append(json.loads(line))
        except json.JSONDecodeError:
            stream.append(line)  # a malformed line stays a bad event: both paths must report it
    one, batch = Engine(policy_set), Engine(policy_set)
    expected = [(i, one.process(e, input).to_dict()) for i, e in enumerate(stream)]
    expected = [(i, r) for i, r in expected if r["directives"] or r["errors"] or r.get("events")]
    got = [(i, r.to_dict()) for i, r in batch.process_many(stream[:7], input)]
    got += [(i + 7, r.to_dict()) for i, r in batch.process_many(stream[7:], input)]
    assert got == expected and expected
    assert batch.snapshot() == one.snapshot()


# ---- staleness (`stale after`) ------------------------------------------------------------------

ZERO_FOR = "  rule zero { group by pool  when x == 0  for 2m  then page(targets: pool) }"


def stale_events(result: ballast.Result) -> list[tuple[dict[str, Any], str, str]]:
    return [(e["key"], e["last_seen"], e["time"]) for e in of_type(result, "Stale")]


def test_a_silent_key_goes_stale_after_5m_by_default_and_its_rule_resolves() -> None:
    e = engine(ZERO_FOR, stream="idle 1m")
    e.process(ev(0, x=0))
    e.process(ev(60, x=0))
    assert states(e.process(ev(120, x=0))) == [("zero", {"pool": "a"}, "firing")]
    assert e.advance(T0 + 420).events == []  # 300 s of silence: not yet more than 5m
    done = e.advance(T0 + 421)
    assert stale_events(done) == [({"pool": "a"}, "2023-11-14T22:15:20Z", "2023-11-14T22:20:21Z")]
    resolved = [ev for ev in of_type(done, "RuleState")]
    assert [(r["state"], r["reason"]) for r in resolved] == [("resolved", "stale")]
    assert stat(e, "keys") == 0  # no rule firing any more: dropped as idle
    assert e.advance(T0 + 900).events == []  # reported once


def test_the_last_event_of_a_stale_key_no_longer_satisfies_conditions() -> None:
    e = engine(ZERO_FOR, stream="stale after 3m")
    e.process(ev(0, x=0))
    # 200 s later: stale in between, so the `for` restarts (without staleness it would fire now)
    result = e.process(ev(200, x=0))
    assert [ev["type"] for ev in result.events] == ["Stale", "RuleState"]
    assert states(result) == [("zero", {"pool": "a"}, "pending")]
    assert states(e.advance(T0 + 319)) == []
    assert states(e.advance(T0 + 320)) == [("zero", {"pool": "a"}, "firing")]


def test_staleness_is_found_by_the_keys_next_event_without_advance() -> None:
    e = engine("  rule band { group by pool  enter when x > 10  exit when x < 5  then page(targets: pool) }")
    assert fired(e.process(ev(0, x=20))) == [("band", "page", ["a"])]
    result = e.process(ev(600, x=20))  # ten silent minutes, and nobody called advance
    assert [ev["type"] for ev in result.events] == ["Stale", "RuleState", "RuleState"]
    assert [(s["state"], s.get("reason")) for s in of_type(result, "RuleState")] == [
        ("resolved", "stale"),
        ("firing", None),
    ]
    assert fired(result) == [("band", "page", ["a"])]  # a new firing: the directive goes out again


def test_rules_reading_absent_are_not_ended_by_staleness() -> None:
    e = engine("  rule gone { group by pool  when absent(x, 30s)  then page(targets: pool)  for 10s }")
    e.process(ev(0))
    assert states(e.advance(T0 + 31)) == [("gone", {"pool": "a"}, "pending")]
    assert states(e.advance(T0 + 41)) == [("gone", {"pool": "a"}, "firing")]
    done = e.advance(T0 + 1000)
    assert [ev["type"] for ev in done.events] == ["Stale"]  # reported, and the silence keeps firing


def test_stale_after_is_in_the_ir_only_when_written() -> None:
    written = compile_policy(ZERO_FOR, stream="stale after 90s").policies[0].timing_ir["stream"]
    default = compile_policy(ZERO_FOR).policies[0].timing_ir["stream"]
    assert (written.get("stale"), "stale" in default) == (90.0, False)
    text, found = diagnostics(ZERO_FOR, stream="stale after 0s")
    assert found == [("window", *position(text, "0s"))]


STALE_POLICY = compile_policy(
    "  rule hot { group by pool  when x > 50  for 10s  then page(targets: pool) }", stream="stale after 30s"
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("event"), st.integers(0, 45), st.sampled_from(["a", "b"]), st.integers(0, 100)),
            st.tuples(st.just("advance"), st.integers(0, 60), st.just(""), st.just(0)),
        ),
        max_size=60,
    )
)
def test_stale_events_match_a_reference_model(ops: list[tuple[str, int, str, int]]) -> None:
    """A key is reported stale once when now is more than 30 s past its last event, at the first
    step (its next event or an advance) that sees it; and a stale key never fires."""
    e = Engine(STALE_POLICY)
    now, last, stale = T0, {}, {}  # the reference: last event time and stale flag per key
    for kind, step, pool, x in ops:
        now += step
        expected = []
        if kind == "event":
            result = e.process({"ts": now, "pool": pool, "x": float(x)})
            if pool in last and now - last[pool] > 30 and not stale[pool]:
                expected.append(pool)
            last[pool], stale[pool] = now, False
        else:
            result = e.advance(now)
            for key in last:
                if now - last[key] > 30 and not stale[key]:
                    expected.append(key)
                    stale[key] = True
        assert [s["key"]["pool"] for s in of_type(result, "Stale")] == expected
        firing = {s["key"]["pool"] for s in of_type(result, "RuleState") if s["state"] == "firing"}
        assert not firing & {k for k, is_stale in stale.items() if is_stale}


# ---- repeat every ---------------------------------------------------------------------------

HOT = "  rule hot {{ when x > 90  for 1m  then scale(targets: pool, by: 2)  repeat every 5m {extra} }}"


def run_minutes(e: Engine, minutes: int, x: float = 95.0) -> list[tuple[int, str]]:
    """One hot sample a minute; (minute, what happened) for directives and suppressions."""
    out = []
    for m in range(minutes):
        result = e.process(ev(60 * m, x=x))
        out += [(m, "scale") for _ in result.directives]
        out += [(m, f"held by {s['by']}") for s in of_type(result, "Suppressed")]
    return out


def test_repeat_every_reissues_while_the_rule_stays_firing() -> None:
    e = engine(HOT.format(extra=""))
    assert run_minutes(e, 12) == [(1, "scale"), (6, "scale"), (11, "scale")]
    assert states(e.process(ev(720, x=0))) == [("hot", {}, "resolved")]
    assert fired(e.process(ev(1100, x=0))) == []  # not firing: nothing repeats


def test_repeat_respects_the_cooldown_and_the_limit() -> None:
    cooled = engine(HOT.format(extra="cooldown 7m"))
    assert run_minutes(cooled, 12) == [(1, "scale"), (6, "held by cooldown"), (11, "scale")]
    limited = engine(HOT.format(extra="at most 2 per 1h"))
    assert run_minutes(limited, 12) == [(1, "scale"), (6, "scale"), (11, "held by limit")]


def test_a_cooldown_that_can_never_apply_is_a_warning_at_the_cooldown() -> None:
    body = "  rule slow { when x > 90  for 5m  keep 1m  cooldown 6m  then page(targets: pool) }"
    policies = compile_policy(body)
    text = source(body)
    found = [(w.code, w.span.line, w.span.column) for w in policies.warnings]
    assert found == [("cooldown", *position(text, "6m"))]
    assert "repeat every 6m" in policies.warnings[0].hint
    for fine in ("cooldown 7m", "cooldown 6m  repeat every 5m", "cooldown 6m  group by pool"):
        assert compile_policy(body.replace("cooldown 6m", fine)).warnings == []


def test_repeat_in_the_yaml_form_compiles_as_in_the_bal_form() -> None:
    yaml_text = """policy: t.engine
version: "1"
input:
  ev:
    ts: timestamp
    pool: string
    x: float
stream:
  time: ts
  stale_after: 2m
rules:
  - name: hot
    when: x > 90
    for: 1m
    repeat_every: 5m
    then: "scale(targets: pool, by: 2)"
"""
    policies = ballast.compile(["t.yaml"], sources={"t.yaml": yaml_text})
    ir = policies.policies[0].timing_ir
    assert (ir["rules"][0]["state"]["repeat"], ir["stream"]["stale"]) == (300.0, 120.0)
    assert run_minutes(Engine(policies), 7) == [(1, "scale"), (6, "scale")]


# ---- restore into a changed policy ----------------------------------------------------------


def test_restore_rederives_firing_against_a_longer_for() -> None:
    old = compile_policy("  rule hot { group by pool  when x > 90  for 1m  then page(targets: pool) }")
    new = compile_policy(
        "  rule other { when x < 0  then page(targets: pool) }\n"  # rules moved: states follow names
        "  rule hot { group by pool  when x > 90  for 5m  then page(targets: pool) }"
    )
    e = Engine(old)
    for t in range(0, 121, 30):
        e.process(ev(t, x=95))
    restored = Engine.restore(new, e.snapshot())
    result = restored.process(ev(150, x=95))
    assert [(s["state"], s.get("reason")) for s in of_type(result, "RuleState")] == [("pending", "restore")]
    assert fired(restored.advance(T0 + 299)) == []
    assert fired(restored.process(ev(300, x=95))) == [("hot", "page", ["a"])]  # 5m after it became active


def test_restore_ends_a_keep_that_the_new_version_shortened() -> None:
    body = "  rule hot {{ group by pool  when x > 90  keep {keep}  then page(targets: pool) }}"
    e = Engine(compile_policy(body.format(keep="10m")))
    e.process(ev(0, x=95))
    e.process(ev(60, x=0))  # the keep starts
    restored = Engine.restore(compile_policy(body.format(keep="1m")), e.snapshot())
    assert states(restored.advance(T0 + 120)) == [("hot", {"pool": "a"}, "resolved")]


# ---- settled corner cases -------------------------------------------------------------------


def test_a_keep_that_ran_out_between_steps_stays_firing_if_the_condition_holds_at_the_next() -> None:
    e = engine("  rule hot { group by pool  when x > 90  keep 1m  then page(targets: pool) }")
    e.process(ev(0, x=95))
    e.process(ev(10, x=0))  # the keep runs until +70; no step sees it run out
    result = e.process(ev(200, x=95))
    assert (states(result), fired(result)) == ([], [])  # still the same firing: nothing new


def test_advance_to_now_steps_every_key_at_now_once() -> None:
    e = engine("  rule held { group by pool  when x > 90  for 30s  then page(targets: pool) }")
    e.process(ev(0, "a", 95))
    e.process(ev(30, "b", 95))  # now is +30: a's `for` is complete, but only b was stepped
    assert fired(e.advance(T0 + 30)) == [("held", "page", ["a"])]
    assert e.advance(T0 + 30).events == []  # a second advance to the same now finds nothing new


def test_the_last_at_most_slot_goes_to_the_first_seen_key() -> None:
    e = engine("  rule held { group by pool  when x > 90  for 30s  at most 1 per 10m  then page(targets: pool) }")
    e.process(ev(0, "b", 95))
    e.process(ev(0, "a", 95))
    result = e.advance(T0 + 30)
    assert fired(result) == [("held", "page", ["b"])]
    assert [(s["targets"], s["by"]) for s in of_type(result, "Suppressed")] == [(["a"], "limit")]


def test_cooldown_is_reported_when_both_cooldown_and_limit_block() -> None:
    e = engine("  rule hot { group by pool  when x > 90  cooldown 5m  at most 1 per 10m  then page(targets: \"all\") }")
    e.process(ev(0, "a", 95))
    result = e.process(ev(10, "b", 95))
    assert [s["by"] for s in of_type(result, "Suppressed")] == ["cooldown"]
    assert (stat(e, "suppressed_cooldown"), stat(e, "suppressed_limit")) == (1, 0)


def test_fmt_round_trips_repeat_and_stale_after(tmp_path: Path) -> None:
    import io

    from ballast.cli import main

    body = "  rule hot {\n    cooldown 6m\n    when x > 90\n    repeat every 5m\n    for 1m\n    then page(targets: pool)\n  }"
    path = tmp_path / "t.bal"
    path.write_text(source(body, stream="stale after 10m"), encoding="utf-8")
    before = compile_policy(body, stream="stale after 10m").policies[0].timing_ir
    out = io.StringIO()
    assert main(["fmt", str(path)], stdout=out, stderr=out, stdin=io.StringIO()) == 0
    formatted = path.read_text(encoding="utf-8")
    assert "    repeat every 5m\n    cooldown 6m\n" in formatted and "    stale after 10m\n" in formatted
    after = ballast.compile([str(path)]).policies[0].timing_ir
    assert (after["rules"][0]["state"], after["stream"]) == (before["rules"][0]["state"], before["stream"])
    assert main(["fmt", "--check", str(path)], stdout=out, stderr=out, stdin=io.StringIO()) == 0


def test_a_stale_event_goes_into_the_audit_trail() -> None:
    from ballast.runtime.audit import AuditLog

    entries: list[dict[str, Any]] = []
    e = Engine(compile_policy(ZERO_FOR), audit=AuditLog(entries.append))
    e.process(ev(0, x=0))
    e.advance(T0 + 301)
    assert [(x["kind"], x["subject"], x["outcome"]) for x in entries] == [("Stale", "a", "stale")]
