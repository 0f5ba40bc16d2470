"""`ballast test`: the series notation, the test-file format and its errors, the timeline and the
expectations, coverage, the exit codes, and the catalog's own tests (run here so CI runs them).
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import run_cli

from ballast.policytest import find_test_files, load_test_file, run_paths
from ballast.policytest.notation import MAX_SAMPLES, NotationError, encode, expand

REPO = Path(__file__).resolve().parents[2]

SMALL = """\
policy t.small version "1.0.0" {
  input ev {
    pool: string
    tier: enum("critical", "standard")
    load: float in [0, 1]
    queue: int
  }
  rule shed {
    when tier == "standard" && load > 0.8
    then downgrade(targets: pool, level: 1)
    priority 10
  }
  rule deep {
    when queue >= 100
    then scale(targets: pool, by: 2)
  }
}
"""

TIMED = """\
policy t.timed version "1.0.0" {
  input telemetry {
    ts: timestamp
    seq: int
    source: string
    pool: string
    latency_ms: float
    load: float in [0, 1]
  }
  stream { time ts  lateness 30s  sequence seq by source }
  rule latency_breach {
    group by pool
    enter when avg(latency_ms, 1m) > 250
    exit when avg(latency_ms, 1m) < 200
    for 30s
    keep 1m
    cooldown 5m
    then scale(targets: pool, by: 1)
  }
  rule hot {
    group by pool
    when load > 0.9
    cooldown 2m
    then downgrade(targets: pool)
  }
}
"""

PASSING = """\
policies: [small.bal]
interval: 10s
defaults: {tier: standard, queue: 0}
tests:
  - name: shed standard pools above 80% load
    series:
      - key: {pool: B}
        values: {load: 0.5x2 0.9x3}
      - key: {pool: A, tier: critical}
        values: {load: 0.9x5}
    expect:
      - {at: 20s, directives: []}
      - at: 30s
        directives: [{rule: shed, action: downgrade, targets: [B], params: {level: 1}}]
      - never: {directive: {targets: [A]}}
"""


run = run_cli  # the CLI in-process: (exit code, stdout, stderr)


def project(tmp_path: Path, test: str, policy: str = SMALL, name: str = "small.bal") -> Path:
    (tmp_path / name).write_text(policy, encoding="utf-8")
    path = tmp_path / "policy.test.yaml"
    path.write_text(textwrap.dedent(test), encoding="utf-8")
    return path


# ---- the series notation ----


@pytest.mark.parametrize(
    ("text", "samples"),
    [
        ("0.5x2 0.92x1", [0.5, 0.5, 0.5, 0.92, 0.92]),
        ("-2+4x3", [-2, 2, 6, 10]),
        ("1-2x4", [1, -1, -3, -5, -7]),
        ("1x4", [1, 1, 1, 1, 1]),
        ("1 _x3 2", [1, None, None, None, 2]),
        ("_", [None]),
        ("0.5+0.05x2", [0.5, 0.55, 0.6]),
        ("0.1+0.1x2", [0.1, 0.2, 0.3]),
        ("1e3 .5 5.", [1000.0, 0.5, 5.0]),
        ("  7  ", [7]),
        ("", []),
    ],
)
def test_notation_expands_like_promtool(text: str, samples: list) -> None:
    got = expand(text)
    assert got == samples
    assert [type(v) for v in got] == [type(v) for v in samples]


@pytest.mark.parametrize(
    ("samples", "text"),
    [
        ([0.5, 0.5, 0.5, 0.92], "0.5x2 0.92"),
        ([1, 3, 5, 7, 7], "1+2x3 7"),
        ([10, 8, 6], "10-2x2"),
        ([1, 2], "1 2"),
        ([None, None, 1.0, None], "_x2 1.0 _"),
        ([], ""),
    ],
)
def test_encode_writes_the_short_form(samples: list, text: str) -> None:
    assert encode(samples) == text


@pytest.mark.parametrize(
    ("text", "offset", "length", "message"),
    [
        ("1 0.5xx3", 2, 6, "'0.5xx3' is not a sample"),
        ("x3", 0, 2, "'x3' is not a sample"),
        ("1 _x0", 2, 3, "'_x0' stands for no step"),
        ("1 2 stale", 4, 5, "Ballast has no stale samples"),
        ("1+2", 0, 3, "'1+2' has a step but no count"),
        ("1e999", 0, 5, "'1e999' is not a finite number"),
        ("nan", 0, 3, "'nan' is not a sample"),
        (f"1x{MAX_SAMPLES}", 0, 9, "more than"),
    ],
)
def test_notation_errors_locate_the_term(text: str, offset: int, length: int, message: str) -> None:
    with pytest.raises(NotationError) as info:
        expand(text)
    assert (info.value.offset, info.value.length) == (offset, length)
    assert message in info.value.message


samples = st.lists(
    st.one_of(
        st.none(),
        st.integers(min_value=-(10**12), max_value=10**12),
        st.floats(allow_nan=False, allow_infinity=False),
        st.sampled_from([0.5, 0.92, 83.0, -0.0]),
    ),
    max_size=40,
).map(lambda xs: xs + xs[: len(xs) // 2])  # repeats, so runs occur


@given(samples)
def test_encode_then_expand_round_trips(values: list) -> None:
    text = encode(values)
    back = expand(text)
    assert [(type(v), repr(v)) for v in back] == [(type(v), repr(v)) for v in values]


terms = st.one_of(
    st.just("_"),
    st.integers(1, 5).map(lambda n: f"_x{n}"),
    st.tuples(st.integers(-50, 50), st.integers(0, 5)).map(lambda t: f"{t[0]}x{t[1]}"),
    st.tuples(st.integers(-50, 50), st.sampled_from("+-"), st.integers(0, 9), st.integers(0, 5)).map(
        lambda t: f"{t[0]}{t[1]}{t[2]}x{t[3]}"
    ),
    st.tuples(st.integers(0, 999), st.integers(0, 99), st.integers(0, 4)).map(lambda t: f"{t[0]}.{t[1]:02d}x{t[2]}"),
)


@given(st.lists(terms, max_size=12).map(" ".join))
def test_expand_then_encode_is_a_canonical_form(text: str) -> None:
    expanded = expand(text)
    canonical = encode(expanded)
    assert expand(canonical) == expanded
    assert encode(expand(canonical)) == canonical
    assert len(canonical.split()) <= len(expanded)


# ---- passing and failing tests ----


def test_a_passing_file_exits_0(tmp_path: Path) -> None:
    path = project(tmp_path, PASSING)
    code, out, err = run("test", path)
    assert (code, err) == (0, "")
    assert out == f"PASS  {path}: shed standard pools above 80% load\n1 test: 1 passed, 0 failed\n"


def test_a_failing_expectation_shows_the_actual_directives_and_a_diff(tmp_path: Path) -> None:
    path = project(tmp_path, PASSING.replace("params: {level: 1}", "params: {level: 2}"))
    code, out, _ = run("test", path)
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == f"FAIL  {path}: shed standard pools above 80% load"
    assert lines[1].startswith(f"  {path}:13:9: at 30s: expected exactly the directives [{{rule: shed")
    assert "        shed: downgrade(targets: [B], level: 1)" in lines
    assert "      closest: shed: downgrade(targets: [B], level: 1)" in lines
    assert "        - params: {level: 2}" in lines
    assert "        + params: {level: 1}" in lines
    assert lines[-1] == "1 test: 0 passed, 1 failed"


def test_a_directive_at_the_wrong_time_says_when_it_happens(tmp_path: Path) -> None:
    path = project(tmp_path, PASSING.replace("{at: 20s, directives: []}", "{at: 10s, directive: {rule: shed}}"))
    code, out, _ = run("test", path)
    assert code == 1
    assert f"{path}:12:9: at 10s: expected directive {{rule: shed}}" in out
    assert "directives at 10s (0):\n        (none)" in out
    assert "a matching directive is produced at 30s, 40s, 50s, 1m" in out


def test_never_reports_the_first_occurrence(tmp_path: Path) -> None:
    path = project(tmp_path, PASSING.replace("{targets: [A]}", "{targets: [B]}"))
    code, out, _ = run("test", path)
    assert code == 1
    assert "expected never directive {targets: [B]}, first seen at 30s (4 in all)" in out
    assert "at 30s: shed: downgrade(targets: [B], level: 1)" in out


def test_an_invalid_event_fails_the_test_unless_expected(tmp_path: Path) -> None:
    test = PASSING.replace("values: {load: 0.5x2 0.9x3}", "values: {load: 0.5 1.5 0.5 0.9x2}")
    code, out, _ = run("test", project(tmp_path, test))
    assert code == 1
    assert "unexpected error at 10s: invalid-event: t.small: " in out
    assert "[series {pool: B}]" in out
    expected = test.replace("- never:", "- {at: 10s, error: {kind: invalid-event, field: load}}\n      - never:")
    code, out, _ = run("test", project(tmp_path, expected))
    assert code == 0, out


def test_count_and_no_directive(tmp_path: Path) -> None:
    test = PASSING.replace(
        "- never:",
        "- {at: 40s, directive: {action: downgrade}, count: 1}\n"
        "      - {at: 0s, no_directive: }\n"
        "      - {at: 30s, no_directive: {rule: deep}}\n"
        "      - never:",
    )
    code, out, _ = run("test", project(tmp_path, test))
    assert code == 0, out
    code, out, _ = run("test", project(tmp_path, test.replace("count: 1", "count: 2")))
    assert code == 1
    assert "at 40s: expected 2 × directive {action: downgrade}, got 1" in out


# ---- malformed files: positions, exit 2 ----


@pytest.mark.parametrize(
    ("test", "where", "message", "hint"),
    [
        (
            "policies: [small.bal]\ntests: [\n",
            "3:1",
            "error[yaml]: invalid YAML",
            "parsing a flow node that starts at line 3",
        ),
        (
            "policies: [small.bal]\nintervl: 10s\ntests: []\n",
            "2:1",
            "error[yaml-key]: unknown key 'intervl' in the test file",
            "did you mean 'interval'?",
        ),
        (
            "policies: [small.bal]\ntests:\n  - name: x\n    series:\n      - values: {load: 0.5 0.5xx3}\n    expect: []\n",
            "5:28",
            "error[notation]: '0.5xx3' is not a sample",
            "a repeat (`0.5x3`: 0.5 four times)",
        ),
        (
            'policies: [small.bal]\ntests:\n  - name: x\n    series:\n      - values:\n          load: "0.5 0.5xx3"\n    expect: []\n',
            "6:22",
            "error[notation]: '0.5xx3' is not a sample",
            "",
        ),
        (
            "policies: [small.bal]\ntests:\n  - name: x\n    series: []\n    expect:\n      - {at: 0s, directive: {rule: shedd}}\n",
            "6:36",
            "error[test-name]: unknown rule 'shedd'",
            "did you mean 'shed'?",
        ),
        (
            "policies: [small.bal]\ntests:\n  - name: x\n    series: []\n    expect:\n      - {at: 0s, directive: {rule: shed, action: scale}}\n",
            "6:50",
            "error[test-name]: rule 'shed' never emits 'scale'",
            "",
        ),
        (
            "policies: [small.bal]\ntests:\n  - name: x\n    series:\n      - values: {lod: 1}\n    expect: []\n",
            "5:18",
            "error[test-name]: unknown field 'lod' (not in input 'ev')",
            "did you mean 'load'?",
        ),
        (
            "policies: [small.bal]\ntests:\n  - name: x\n    series: []\n    expect:\n      - {at: 15s, no_directive: {}}\n",
            "6:14",
            "error[test-time]: at 15s is between two steps of the 1m interval",
            "the steps nearest are at 0s and 1m",
        ),
        (
            "policies: [small.bal]\ntests:\n  - name: x\n    series: []\n    expect:\n      - {at: 0s, directive: {rule: shed}, state: {rule: shed, is: firing}}\n",
            "6:43",
            "error[yaml-key]: an expectation checks one thing",
            "",
        ),
        (
            "policies: [small.bal]\ntests:\n  - name: x\n    series: []\n    expect:\n      - {at: 0s, state: {rule: shed, is: firing}}\n",
            "6:32",
            "error[test-name]: rule 'shed' has no time clauses: it has no state",
            "",
        ),
        (
            "policies: [small.bal]\ntests:\n  - name: x\n    series: []\n    expect:\n      - {at: 0s, threat: {mode: lockdown}}\n",
            "6:26",
            "error[test-name]: no threat document is under test",
            "",
        ),
        (
            "policies: [small.bal]\ntests:\n  - name: x\n    series: []\n    expect: []\n  - name: x\n    series: []\n    expect: []\n",
            "6:11",
            "error[duplicate]: a second test named 'x'",
            "",
        ),
        ("policies: [small.bal]\ntests:\n  - name: x\n", "3:5", "error[yaml-missing]: test 'x' has no 'series'", ""),
        (
            "policies: [small.bal]\ntests:\n  - {name: x, series: [], expect: [], seq: true}\n",
            "3:39",
            "error[yaml-key]: unknown key 'seq' in a test",
            "the keys of a test are: name, interval",
        ),
        (
            "policies: [small.bal]\npolicies: [small.bal]\ntests: []\n",
            "2:1",
            "error[yaml]: duplicate key 'policies'",
            "",
        ),
        ("policies: [nope.bal]\ntests: []\n", "1:12", "error[test-policy]: the policies under test do not compile", ""),
    ],
)
def test_malformed_files_exit_2_with_positions(tmp_path: Path, test: str, where: str, message: str, hint: str) -> None:
    path = tmp_path / "policy.test.yaml"
    (tmp_path / "small.bal").write_text(SMALL, encoding="utf-8")
    path.write_text(test, encoding="utf-8")
    code, out, err = run("test", path)
    assert code == 2, out
    assert "Traceback" not in out + err
    assert f"{path}:{where}: {message}" in out
    assert hint in out
    assert out.startswith(f"ERROR {path}: the file has ")
    assert out.endswith("0 tests: 0 passed, 0 failed; 1 file could not run\n")


def test_a_policy_that_does_not_compile_shows_its_errors(tmp_path: Path) -> None:
    path = project(tmp_path, PASSING, SMALL.replace("load > 0.8", "lod > 0.8"))
    code, out, _ = run("test", path)
    assert code == 2
    assert (
        f"{path}:1:12: error[test-policy]: the policies under test do not compile: 1 error in {tmp_path / 'small.bal'}"
        in out
    )
    assert re.search(r"small\.bal:9:32: error\[name\]: unknown name 'lod'", out)


def test_paths_and_directories(tmp_path: Path) -> None:
    project(tmp_path, PASSING)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "other.test.yml").write_text(PASSING.replace("small.bal", "../small.bal"), encoding="utf-8")
    assert find_test_files([str(tmp_path)]) == [
        str(tmp_path / "policy.test.yaml"),
        str(tmp_path / "sub" / "other.test.yml"),
    ]
    code, out, _ = run("test", tmp_path)
    assert code == 0 and out.endswith("2 tests: 2 passed, 0 failed\n")
    code, _, err = run("test", tmp_path / "missing")
    assert (code, err) == (2, f"ballast: {tmp_path / 'missing'}: no such file or directory\n")
    (tmp_path / "empty").mkdir()
    code, _, err = run("test", tmp_path / "empty")
    assert code == 2 and "no test files (*.test.yaml) in this directory" in err


def test_a_broken_file_does_not_stop_the_others_and_wins_the_exit_code(tmp_path: Path) -> None:
    project(tmp_path, PASSING)
    (tmp_path / "bad.test.yaml").write_text("policies: [small.bal]\ntests: 3\n", encoding="utf-8")
    code, out, _ = run("test", tmp_path)
    assert code == 2
    assert "error[yaml-kind]: tests must be a list, got the number 3" in out
    assert "PASS  " in out
    assert out.endswith("1 test: 1 passed, 0 failed; 1 file could not run\n")


def test_json_format(tmp_path: Path) -> None:
    path = project(tmp_path, PASSING.replace("params: {level: 1}", "params: {level: 2}"))
    code, out, _ = run("test", path, "--format", "json")
    assert code == 1
    data = json.loads(out)
    assert data["summary"] == {"tests": 1, "passed": 0, "failed": 1, "broken_files": 0}
    case = data["files"][0]["tests"][0]
    assert case["status"] == "fail" and case["steps"] == 7 and case["events"] == 13
    failure = case["failures"][0]
    assert (failure["line"], failure["column"]) == (13, 9)
    assert "  - params: {level: 2}" in failure["details"]
    assert "coverage" not in data


# ---- time: steps, advance, states, engine events ----

TIMED_TEST = """\
policies: [timed.bal]
interval: 10s
start: 2026-01-01T00:00:00Z
tests:
  - name: a latency breach goes pending, fires after 30s, resolves after keep
    sequence: true
    defaults: {source: s1, load: 0.5}
    series:
      - key: {pool: B}
        values: {latency_ms: 100x5 400x20 100x30}
    expect:
      - {at: 1m20s, state: {rule: latency_breach, key: {pool: B}, is: inactive}}
      - {at: 1m30s, state: {rule: latency_breach, key: {pool: B}, is: pending}}
      - {at: 1m30s, event: {type: RuleState, rule: latency_breach, state: pending, key: {pool: B}}}
      - {at: 2m, directives: [{rule: latency_breach, action: scale, targets: [B], params: {by: 1}}]}
      - {at: 2m, state: {rule: latency_breach, key: {pool: B}, is: firing}}
      - {at: 6m10s, event: {type: RuleState, state: resolved}}
      - never: {event: {type: TelemetryGap}}
"""


def test_stateful_rules_states_and_events(tmp_path: Path) -> None:
    code, out, _ = run("test", project(tmp_path, TIMED_TEST, TIMED, "timed.bal"))
    assert code == 0, out


def test_a_key_without_events_still_completes_its_for_on_the_step_grid(tmp_path: Path) -> None:
    # pool B stops sending at 1m40s while pool C keeps sending: the engine is advanced each step,
    # so B's `for 30s` completes at 2m without an event of B.
    test = TIMED_TEST.replace(
        "values: {latency_ms: 100x5 400x20 100x30}",
        "values: {latency_ms: 100x5 400x4}\n      - key: {pool: C}\n        values: {latency_ms: 100x30}",
    )
    expect = test.split("    expect:\n")[0] + (
        "    expect:\n"
        "      - {at: 2m, directive: {rule: latency_breach, targets: [B]}}\n"
        "      - {at: 2m, state: {rule: latency_breach, key: {pool: B}, is: firing}}\n"
        "      - never: {directive: {targets: [C]}}\n"
    )
    code, out, _ = run("test", project(tmp_path, expect, TIMED, "timed.bal"))
    assert code == 0, out


def test_sequence_gaps_are_engine_events(tmp_path: Path) -> None:
    test = """\
    policies: [timed.bal]
    interval: 10s
    tests:
      - name: a jump in the sequence is a gap
        defaults: {source: s1, load: 0.5, latency_ms: 100}
        series:
          - key: {pool: B}
            values: {seq: 1 2 5 6}
        expect:
          - {at: 20s, event: {type: TelemetryGap, source: s1, after: 2, next: 5, missing: 2}}
          - {at: 30s, no_event: {type: TelemetryGap}}
    """
    code, out, _ = run("test", project(tmp_path, test, TIMED, "timed.bal"))
    assert code == 0, out


def test_a_wrong_state_shows_the_state_history(tmp_path: Path) -> None:
    test = TIMED_TEST.replace(
        "at: 1m30s, state: {rule: latency_breach, key: {pool: B}, is: pending}",
        "at: 1m, state: {rule: latency_breach, key: {pool: B}, is: pending}",
    )
    code, out, _ = run("test", project(tmp_path, test, TIMED, "timed.bal"))
    assert code == 1
    assert "at 1m: expected latency_breach {pool: B} to be pending, it is inactive" in out
    assert "its state changes: pending at 1m30s, firing at 2m, resolved at 6m10s" in out


def test_the_time_field_is_set_by_the_test(tmp_path: Path) -> None:
    test = TIMED_TEST.replace("defaults: {source: s1, load: 0.5}", "defaults: {source: s1, load: 0.5, ts: 0}")
    code, out, _ = run("test", project(tmp_path, test, TIMED, "timed.bal"))
    assert code == 2
    assert "error[test-name]: 'ts' is the stream's time field: the test sets it" in out


# ---- coverage ----


def test_coverage_numbers(tmp_path: Path) -> None:
    test = """\
    policies: [small.bal]
    interval: 10s
    tests:
      - name: cover
        defaults: {queue: 50}
        series:
          - key: {pool: B, tier: standard}
            values: {load: 0.5 0.9}
          - key: {pool: A, tier: critical}
            values: {load: 0.95}
        expect: []
    """
    path = project(tmp_path, test)
    report = run_paths([str(path)], coverage=True)
    assert report.exit_code == 0
    data = report.coverage.to_json()
    shed, deep = data["rules"]
    assert (shed["rule"], shed["fired"], shed["evaluated"], shed["evaluated_true"], shed["evaluated_false"]) == (
        "shed",
        True,
        3,
        1,
        2,
    )
    (load,) = shed["thresholds"]
    # pool A's 0.95 is never compared: `tier == "standard" &&` decides first
    assert load == {
        "check": "load > 0.8",
        "op": ">",
        "threshold": 0.8,
        "line": 9,
        "column": 32,
        "true_side": "> 0.8",
        "false_side": "≤ 0.8",
        "true": True,
        "false": True,
        "nearest_true": 0.9,
        "nearest_false": 0.5,
        "covered": True,
    }
    assert (deep["fired"], deep["evaluated_false"]) == (False, 3)
    (queue,) = deep["thresholds"]
    assert (queue["op"], queue["true"], queue["false"], queue["nearest_false"]) == (">=", False, True, 50)
    assert data["totals"] == {"rules": 2, "fired": 1, "evaluated_false": 2, "thresholds": 2, "thresholds_covered": 1}

    code, out, _ = run("test", path, "--coverage")
    assert code == 0
    assert "  deep (" in out and "NEVER FIRED, seen false, evaluated 3×" in out
    assert "   ! queue >= 100   ≥ 100: never   < 100: yes (nearest 50)" in out
    assert "  total: 1/2 rules fired, 2/2 seen false, 1/2 thresholds exercised on both sides" in out

    target = tmp_path / "coverage.json"
    code, out, _ = run("test", path, "--coverage-json", target)
    assert code == 0 and "coverage:" not in out
    assert json.loads(target.read_text(encoding="utf-8")) == data
    code, out, _ = run("test", path, "--coverage", "--format", "json")
    assert json.loads(out)["coverage"] == data


def test_coverage_of_window_aggregates_and_the_policy_is_left_as_it_was(tmp_path: Path) -> None:
    path = project(tmp_path, TIMED_TEST, TIMED, "timed.bal")
    report = run_paths([str(path)], coverage=True)
    assert report.exit_code == 0
    rules = {r["rule"]: r for r in report.coverage.to_json()["rules"]}
    breach = rules["latency_breach"]
    assert breach["fired"] is True
    checks = {t["check"]: t for t in breach["thresholds"]}
    assert set(checks) == {"avg(latency_ms, 1m) > 250", "avg(latency_ms, 1m) < 200"}
    assert all(t["covered"] for t in checks.values())
    assert rules["hot"]["fired"] is False
    # the compiled policies are reused by later tests: coverage must not leave its hooks in them
    from ballast.policytest.target import compile_target

    target = compile_target([str(tmp_path / "timed.bal")])
    assert "decide" not in vars(target.program.policies[0])


# ---- the catalog's own tests, in CI ----


def test_catalog_tests_pass() -> None:
    code, out, _ = run("test", REPO / "catalog", "--coverage")
    assert code == 0, out
    assert re.search(r"total: (\d+)/\1 rules fired, \1/\1 seen false, (\d+)/\2 thresholds exercised", out), out


def test_catalog_tests_cover_every_motb_rule() -> None:
    from ballast.compiler.pipeline import compile_paths

    rules = {r["name"] for r in compile_paths([str(REPO / "catalog" / "motb.bal")]).ir["policies"][0]["rules"]}
    test = load_test_file(str(REPO / "catalog" / "tests" / "motb.test.yaml"))
    named = {m.values.get("rule") for case in test.tests for e in case.expect for m in e.matchers}
    assert rules <= named


def test_check_skips_test_files() -> None:
    code, out, _ = run("check", REPO / "catalog")
    assert code == 0 and out.startswith("ok: ")


# ---- threats ----

THREAT = """\
threat t.risk version "1.0.0" {
  input signals {
    ts: timestamp
    risk?: float in [0, 100]
  }
  stream { time ts }
  source risk weight 1 from risk
  smooth ewma(1.0)
  mode heightened when index >= 40 exit below 35
}
"""

THREAT_TEST = """\
policies: [risk.bal]
tests:
  - name: the index follows the risk; the mode has hysteresis
    series:
      - values: {risk: 10 50 38 _ 30 500}
    expect:
      - {at: 0s, threat: {mode: normal, index: 10}}
      - {at: 1m, threat: {mode: heightened, index: 50}}
      - {at: 2m, threat: {mode: heightened, index_max: 40}}
      - {at: 3m, threat: {mode: heightened, index: 38}}
      - {at: 4m, threat: {mode: normal, index_min: 30, index_max: 30}}
      - {at: 5m, error: {kind: invalid-event, policy: t.risk}}
      - never: {threat: {index_min: 51}}
"""


def test_threat_mode_and_index(tmp_path: Path) -> None:
    path = project(tmp_path, THREAT_TEST, THREAT, "risk.bal")
    code, out, _ = run("test", path)
    assert code == 0, out
    code, out, _ = run(
        "test",
        project(
            tmp_path,
            THREAT_TEST.replace("{at: 2m, threat: {mode: heightened", "{at: 2m, threat: {mode: normal"),
            THREAT,
            "risk.bal",
        ),
    )
    assert code == 1
    assert "at 2m: expected threat {mode: normal, index_max: 40}, but the mode is heightened (index 38)" in out
    assert "index and mode by step: 0s 10 normal, 1m 50 heightened, 2m 38 heightened" in out
    assert "mode changes: heightened at 1m, normal at 4m" in out


def test_threat_names_are_checked(tmp_path: Path) -> None:
    test = THREAT_TEST.replace("{at: 0s, threat: {mode: normal, index: 10}}", "{at: 0s, threat: {mode: lockdwn}}")
    code, out, _ = run("test", project(tmp_path, test, THREAT, "risk.bal"))
    assert code == 2
    assert "error[test-name]: unknown mode 'lockdwn'" in out
    assert "modes are normal, heightened" in out


def test_policies_and_threats_together_need_the_input_named(tmp_path: Path) -> None:
    motb, gtbe = REPO / "catalog" / "motb.bal", REPO / "catalog" / "gtbe.bal"
    test = f"""\
    policies: [{motb}, {gtbe}]
    interval: 10s
    defaults: {{agent: a1, region: eu, tier: standard, risk: 40, latency_p95_ms: 120, error_rate: 0.001,
               sla_adherence: 99.99, htm_queue_depth: 200, workers: 8, subscriptions: 12, dispatch_rate: 25,
               policy_depth: 2}}
    tests:
      - name: a risk spike downgrades pool B and heightens the threat mode
        series:
          - key: {{pool: B}}
            input: telemetry
            values: {{load: 0.92x3, risk: 40 83x2}}
          - input: signals
            values: {{trp_risk: 20 95x5, cve_score: 2 9x5}}
        expect:
          - {{at: 10s, directive: {{rule: downgrade_on_load_risk, targets: [B]}}}}
          - {{at: 20s, event: {{type: ModeChanged, threat: motb.gtbe, mode: heightened}}}}
          - {{at: 20s, threat: {{mode: heightened}}}}
    """
    code, out, _ = run("test", project(tmp_path, test))
    assert code == 0, out
    code, out, _ = run("test", project(tmp_path, test.replace("            input: telemetry\n", "")))
    assert code == 2
    assert "error[test-name]: the policies read several inputs (signals, telemetry): say which this series is" in out


def test_from_a_shell_help_and_no_traceback(tmp_path: Path) -> None:
    import subprocess
    import sys

    def shell(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ballast.cli", *args], capture_output=True, text=True, encoding="utf-8", timeout=60
        )

    proc = shell("test", "--help")
    assert proc.returncode == 0 and proc.stdout.startswith("usage: ballast test")
    assert "exit codes: 0 success" in proc.stdout
    bad = tmp_path / "bad.test.yaml"
    bad.write_text("policies: [x.bal]\ntests:\n  - {name: a, series: [{values: {load: 1xx}}], expect: []}\n")
    proc = shell("test", str(bad))
    assert proc.returncode == 2
    assert f"{bad}:3:40: error[notation]: '1xx' is not a sample" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
