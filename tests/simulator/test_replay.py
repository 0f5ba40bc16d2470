"""`ballast replay`: the rule decision diff, the telemetry reader, the replay report and the command.

The diff is tested on hand-made decisions (every kind of change, the first divergence, multiset
semantics, merging over seeds) and as hypothesis properties; the reader on small JSONL and CSV
files, malformed lines included; the command end to end on the catalog policies against a
candidate with one threshold changed.
"""

from __future__ import annotations

import gzip
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import run_cli

import ballast
from ballast.cli import main
from ballast.runtime.errors import UsageError
from ballast.simulator.decisions import Decision, DecisionDiff, decisions_of, diff_decisions, merge_rule_diffs
from ballast.simulator.replay import REPORT_FORMAT, replay, rule_keys
from ballast.simulator.telemetry import BadLine, read_telemetry

REPO = Path(__file__).resolve().parents[2]
CATALOG = REPO / "catalog"
EVENTS = CATALOG / "events.jsonl"
WATCHDOG_EVENTS = CATALOG / "watchdog-events.jsonl"
SLA_RULE = 'when sla_adherence < 99.95 && tier != "batch"'


run = run_cli  # the CLI in-process: (exit code, stdout, stderr)


def clean_events(tmp_path: Path) -> Path:
    """The catalog's events without its two deliberately invalid lines (12 and 13)."""
    path = tmp_path / "clean.jsonl"
    path.write_text("".join(EVENTS.read_text(encoding="utf-8").splitlines(keepends=True)[:11]), encoding="utf-8")
    return path


def variant(tmp_path: Path, policy: str, old: str, new: str) -> Path:
    """A copy of the catalog (so `lib/` imports resolve) with one edit to one policy; its path."""
    copy = tmp_path / "candidate"
    shutil.copytree(CATALOG, copy, ignore=shutil.ignore_patterns("*.jsonl", "tests", "__pycache__"))
    path = copy / policy
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{policy} no longer contains {old!r}"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


# ---- diff_decisions ----------------------------------------------------------------------------


def dec(t: float, targets: tuple[str, ...] = ("A",), *, action: str = "scale", rule: str = "r", policy: str = "p",
        seq: int | None = None, event: dict[str, Any] | None = None) -> Decision:  # fmt: skip
    return Decision(t, f"t{t}", int(t) if seq is None else seq, policy, rule, action, targets, event or {"at": t})


def diff(b: list[Decision], c: list[Decision], rules: tuple[str, ...] = ("r",), **kw: Any) -> list[dict[str, Any]]:
    keys = [("p", r) for r in rules]
    return diff_decisions(b, c, baseline_rules=kw.pop("b_rules", keys), candidate_rules=kw.pop("c_rules", keys), **kw)


def one(entries: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(entries) == 1
    return entries[0]


def test_same_decisions_are_same_with_no_divergence() -> None:
    e = one(diff([dec(1), dec(2, ("B",))], [dec(1), dec(2, ("B",))]))
    assert e == {
        "policy": "p",
        "rule": "r",
        "baseline": 2,
        "candidate": 2,
        "change": "same",
        "first_divergence": None,
    }


def test_more_reports_the_first_extra_decision() -> None:
    e = one(diff([dec(1)], [dec(1), dec(4, ("B",), event={"pool": "B"})], seed=3))
    assert (e["baseline"], e["candidate"], e["change"]) == (1, 2, "more")
    assert e["first_divergence"] == {
        "seed": 3,
        "t_s": 4,
        "time": "t4",
        "event": {"pool": "B"},
        "baseline": [],
        "candidate": [{"action": "scale", "targets": ["B"]}],
    }


def test_less_is_the_mirror_of_more() -> None:
    e = one(diff([dec(1), dec(4)], [dec(1)]))
    assert (e["change"], e["first_divergence"]["t_s"]) == ("less", 4)
    assert e["first_divergence"]["baseline"] == [{"action": "scale", "targets": ["A"]}]


def test_retimed_same_count_at_other_times() -> None:
    e = one(diff([dec(1), dec(5)], [dec(1), dec(7)]))
    assert e["change"] == "retimed"
    assert e["first_divergence"]["t_s"] == 5
    assert e["first_divergence"]["candidate"] == []


def test_retimed_same_times_other_targets_or_action() -> None:
    assert one(diff([dec(1, ("A",))], [dec(1, ("B",))]))["change"] == "retimed"
    assert one(diff([dec(1, action="scale")], [dec(1, action="pause")]))["change"] == "retimed"


def test_added_and_removed_rules() -> None:
    entries = diff_decisions(
        [dec(2, rule="old")],
        [dec(3, rule="new")],
        baseline_rules=[("p", "old"), ("p", "kept")],
        candidate_rules=[("p", "new"), ("p", "kept")],
    )
    by_rule = {e["rule"]: e for e in entries}
    assert [e["rule"] for e in entries] == ["kept", "new", "old"]  # sorted by (policy, rule)
    assert (by_rule["new"]["change"], by_rule["new"]["baseline"], by_rule["new"]["candidate"]) == ("added", 0, 1)
    assert by_rule["new"]["first_divergence"]["t_s"] == 3
    assert (by_rule["old"]["change"], by_rule["old"]["first_divergence"]["t_s"]) == ("removed", 2)
    assert by_rule["kept"] == {**by_rule["kept"], "change": "same", "first_divergence": None}


def test_a_removed_rule_that_never_fired_has_no_divergence() -> None:
    e = one(diff([], [], b_rules=[("p", "r")], c_rules=[]))
    assert (e["change"], e["first_divergence"]) == ("removed", None)


def test_first_divergence_is_the_earliest_differing_instant() -> None:
    b = [dec(1), dec(2), dec(3, ("A",)), dec(9, ("Z",))]
    c = [dec(1), dec(2), dec(3, ("B",)), dec(9, ("Y",))]
    assert one(diff(b, c))["first_divergence"]["t_s"] == 3


def test_decisions_compare_as_multisets_per_instant() -> None:
    # order within an instant, seq and event do not matter; multiplicity does
    b = [dec(1, ("A",), seq=1, event={"x": 1}), dec(1, ("B",), seq=2)]
    c = [dec(1, ("B",), seq=7, event={"x": 2}), dec(1, ("A",), seq=8)]
    assert one(diff(b, c))["change"] == "same"
    e = one(diff([dec(1), dec(1)], [dec(1)]))
    assert e["change"] == "less"
    assert e["first_divergence"]["baseline"] == [{"action": "scale", "targets": ["A"]}] * 2


def test_divergence_event_is_the_first_differing_decision_by_seq() -> None:
    b = [dec(3, ("A",), seq=10, event={"e": "a"}), dec(3, ("C",), seq=11, event={"e": "c"})]
    c = [dec(3, ("A",), seq=12, event={"e": "a2"}), dec(3, ("D",), seq=9, event={"e": "d"})]
    first = one(diff(b, c))["first_divergence"]
    assert first["event"] == {"e": "d"}
    assert first["baseline"] == [{"action": "scale", "targets": ["A"]}, {"action": "scale", "targets": ["C"]}]
    assert first["candidate"] == [{"action": "scale", "targets": ["A"]}, {"action": "scale", "targets": ["D"]}]


def test_rules_seen_only_in_decisions_are_reported() -> None:
    entries = diff_decisions([dec(1, rule="x")], [dec(1, rule="x")], baseline_rules=[], candidate_rules=[])
    assert one(entries)["change"] == "same"


def test_streaming_diff_equals_the_list_diff() -> None:
    b = [dec(1), dec(2, ("B",)), dec(4)]
    c = [dec(1), dec(3, ("B",)), dec(4), dec(4)]
    stream = DecisionDiff()
    for t in (1, 2, 3, 4):
        stream.add(t, [d for d in b if d.t_s == t], [d for d in c if d.t_s == t])
    keys = [("p", "r")]
    assert stream.entries(baseline_rules=keys, candidate_rules=keys) == diff(b, c)


def test_decisions_of_a_runtime_result() -> None:
    policies = ballast.compile([CATALOG / "motb.bal"])
    event = json.loads(EVENTS.read_text(encoding="utf-8").splitlines()[6])  # pool B: queue 5400, load 0.95
    result = policies.evaluate(event)
    decisions = decisions_of(result, t_s=2.5, time="2025-11-15T12:00:02.500000Z", seq=6)
    assert len(decisions) == len(result.directives) >= 2
    assert {(d.rule, d.action, d.targets) for d in decisions} >= {
        ("htm_queue_critical", "scale", ("B",)),
        ("htm_queue_critical", "reroute", ("B",)),
    }
    assert all((d.t_s, d.seq, d.event) == (2.5, 6, event) for d in decisions)


# ---- merge_rule_diffs --------------------------------------------------------------------------


def test_merge_sums_counts_and_recomputes_the_change() -> None:
    seed1 = diff([dec(1)], [dec(1), dec(2)], seed=1)
    seed2 = diff([dec(1), dec(5)], [dec(1)], seed=2)
    merged = one(merge_rule_diffs([seed1, seed2]))
    assert (merged["baseline"], merged["candidate"], merged["change"]) == (3, 3, "retimed")
    assert merged["first_divergence"]["seed"] == 1
    assert one(merge_rule_diffs([seed2, seed1]))["first_divergence"]["seed"] == 2  # the given order


def test_merge_takes_the_first_seed_with_a_divergence() -> None:
    same = diff([dec(1)], [dec(1)], seed=1)
    more = diff([dec(1)], [dec(1), dec(2)], seed=2)
    merged = one(merge_rule_diffs([same, more]))
    assert (merged["change"], merged["first_divergence"]["seed"]) == ("more", 2)
    assert one(merge_rule_diffs([same, same])) == {**one(same), "baseline": 2, "candidate": 2}


def test_merge_keeps_added_and_removed_and_sorts() -> None:
    a = diff_decisions([], [dec(1, rule="z")], baseline_rules=[("p", "y")], candidate_rules=[("p", "z")], seed=1)
    b = diff_decisions([], [], baseline_rules=[("p", "y")], candidate_rules=[("p", "z")], seed=2)
    merged = merge_rule_diffs([a, b])
    assert [(e["rule"], e["change"], e["candidate"]) for e in merged] == [("y", "removed", 0), ("z", "added", 1)]


# ---- properties --------------------------------------------------------------------------------

decision = st.builds(
    lambda t, targets, action, rule, seq: Decision(float(t), None, seq, "p", rule, action, targets, {"seq": seq}),
    st.integers(0, 6),
    st.sampled_from([("A",), ("B",), ("A", "B")]),
    st.sampled_from(["scale", "pause"]),
    st.sampled_from(["r1", "r2", "r3"]),
    st.integers(0, 50),
)
decision_lists = st.lists(decision, max_size=25)
RULES = [("p", "r1"), ("p", "r2"), ("p", "r3")]
MIRROR = {"more": "less", "less": "more", "same": "same", "retimed": "retimed"}


@settings(max_examples=200, deadline=None)
@given(decision_lists)
def test_a_run_against_itself_is_all_same(decisions: list[Decision]) -> None:
    shuffled = list(reversed(decisions))  # order does not matter either
    entries = diff_decisions(decisions, shuffled, baseline_rules=RULES, candidate_rules=RULES)
    assert [e["rule"] for e in entries] == ["r1", "r2", "r3"]
    assert all(e["change"] == "same" and e["first_divergence"] is None for e in entries)


@settings(max_examples=200, deadline=None)
@given(decision_lists, decision_lists)
def test_swapping_the_sides_mirrors_the_diff(b: list[Decision], c: list[Decision]) -> None:
    forward = diff_decisions(b, c, baseline_rules=RULES, candidate_rules=RULES)
    backward = diff_decisions(c, b, baseline_rules=RULES, candidate_rules=RULES)
    for f, r in zip(forward, backward, strict=True):
        assert (f["baseline"], f["candidate"]) == (r["candidate"], r["baseline"])
        assert MIRROR[f["change"]] == r["change"]
        assert (f["first_divergence"] is None) == (r["first_divergence"] is None) == (f["change"] == "same")
        if f["first_divergence"]:
            assert f["first_divergence"]["t_s"] == r["first_divergence"]["t_s"]
            assert f["first_divergence"]["baseline"] == r["first_divergence"]["candidate"]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(decision_lists, decision_lists), min_size=1, max_size=4))
def test_merging_one_seed_changes_nothing_and_counts_add_up(seeds: list[tuple[list[Decision], list[Decision]]]) -> None:
    per_seed = [
        diff_decisions(b, c, baseline_rules=RULES, candidate_rules=RULES, seed=i) for i, (b, c) in enumerate(seeds)
    ]
    assert merge_rule_diffs(per_seed[:1]) == per_seed[0]
    merged = merge_rule_diffs(per_seed)
    for i, e in enumerate(merged):
        assert e["baseline"] == sum(s[i]["baseline"] for s in per_seed)
        assert (e["change"] == "same") == all(s[i]["change"] == "same" for s in per_seed)


# ---- telemetry ---------------------------------------------------------------------------------

SCHEMA = [
    {"name": "pool", "type": "string"},
    {"name": "load", "type": "float"},
    {"name": "queue", "type": "int"},
    {"name": "canary", "type": "bool", "optional": True},
    {"name": "ts", "type": "timestamp"},
    {"name": "tier", "type": {"enum": ["critical", "standard"]}},
]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_jsonl_events_in_order_blank_lines_skipped(tmp_path: Path) -> None:
    path = write(tmp_path, "t.jsonl", '{"pool": "A"}\n\n   \n  {"pool": "B"}\r\n{"pool": "C"}')
    assert list(read_telemetry(path, {"ev": SCHEMA})) == [
        (1, "ev", {"pool": "A"}),
        (4, "ev", {"pool": "B"}),
        (5, "ev", {"pool": "C"}),
    ]


def test_jsonl_malformed_lines_become_file_line_problems(tmp_path: Path) -> None:
    path = write(tmp_path, "t.jsonl", '{"pool": "A"}\n{"pool": \n[1, 2]\n{"pool": "B"} trailing\n{"pool": "C"}\n')
    records = list(read_telemetry(path, {"ev": SCHEMA}))
    assert records[0] == (1, "ev", {"pool": "A"})
    assert records[-1] == (5, "ev", {"pool": "C"})
    bad = records[1:4]
    assert all(isinstance(b, BadLine) for b in bad)
    assert [b.line for b in bad] == [2, 3, 4]
    assert str(bad[0]).startswith(f"{path}:2: not JSON at column ")
    assert str(bad[1]) == f"{path}:3: expected a JSON object, got a list"
    assert str(bad[2]) == f"{path}:4: extra text after the JSON object at column 15; put one object per line"
    assert bad[0].to_dict()["kind"] == "invalid-line"


def test_jsonl_envelopes_route_events_to_inputs(tmp_path: Path) -> None:
    lines = [
        {"input": "a", "event": {"pool": "A"}},
        {"input": "b", "event": {"x": 1}},
        {"input": "c", "event": {}},
        {"event": {}},
        {"input": "a", "event": [1]},
        {"input": "a", "event": {}, "extra": 1},
    ]
    path = write(tmp_path, "t.jsonl", "".join(json.dumps(x) + "\n" for x in lines))
    records = list(read_telemetry(path, {"a": SCHEMA, "b": []}))
    assert records[:2] == [(1, "a", {"pool": "A"}), (2, "b", {"x": 1})]
    messages = [str(r) for r in records[2:]]
    assert messages[0] == f"{path}:3: unknown input 'c'; inputs are a, b"
    assert messages[1].startswith(f"{path}:4: no 'input' key: each line is {{\"input\": NAME")
    assert messages[2] == f"{path}:5: the event must be a JSON object, got a list"
    assert messages[3].startswith(f"{path}:6: unexpected key 'extra'")
    # --input sends every line, as it is, to one input
    assert next(read_telemetry(path, {"a": SCHEMA, "b": []}, input="b")) == (1, "b", lines[0])


def test_csv_cells_typed_by_the_schema(tmp_path: Path) -> None:
    text = "pool,load,queue,canary,ts,tier\nA,0.5,3,true,2025-11-15T12:00:00Z,critical\nB,1,4,,1763208000,standard\n"
    records = list(read_telemetry(write(tmp_path, "t.csv", text), {"ev": SCHEMA}))
    assert records == [
        (2, "ev", {"pool": "A", "load": 0.5, "queue": 3, "canary": True, "ts": 1763208000.0, "tier": "critical"}),
        (3, "ev", {"pool": "B", "load": 1.0, "queue": 4, "ts": 1763208000.0, "tier": "standard"}),  # empty: absent
    ]
    assert type(records[1][2]["load"]) is float


def test_csv_bad_rows_become_file_line_problems(tmp_path: Path) -> None:
    text = "pool,load,queue\nA,0.5,3\nB,high,4\nC,0.1\nD,0.2,2.5\n\nE,0.3,7\n"
    path = write(tmp_path, "t.csv", text)
    records = list(read_telemetry(path, {"ev": SCHEMA}))
    assert [str(r) if isinstance(r, BadLine) else r[0] for r in records] == [
        2,
        f"{path}:3: column 'load': 'high' is not a number",
        f"{path}:4: 2 cells, but the header has 3 columns",
        f"{path}:5: column 'queue': '2.5' is not an int",
        7,
    ]


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("pool,lod", "t.csv:1: column 'lod' is not a field of the input 'ev'; did you mean 'load'?"),
        ("pool,pool", "t.csv:1: the column 'pool' appears twice"),
        (
            "pool,tags",
            "t.csv:1: column 'tags' is list<string>, which a CSV cell cannot hold; record this input as JSONL",
        ),
    ],
)
def test_csv_header_problems_are_usage_errors(tmp_path: Path, header: str, message: str) -> None:
    path = write(tmp_path, "t.csv", header + "\nA,1\n")
    schema = [*SCHEMA, {"name": "tags", "type": {"list": "string"}}]
    with pytest.raises(UsageError) as caught:
        read_telemetry(path, {"ev": schema})
    assert str(caught.value) == f"{tmp_path}/{message}"


def test_csv_with_several_inputs_needs_input(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", "pool\nA\n")
    with pytest.raises(UsageError, match=r"a CSV file feeds one input.*pass --input NAME"):
        read_telemetry(path, {"a": SCHEMA, "b": SCHEMA})
    assert list(read_telemetry(path, {"a": SCHEMA, "b": SCHEMA}, input="b")) == [(2, "b", {"pool": "A"})]


def test_format_is_sniffed_without_a_known_suffix(tmp_path: Path) -> None:
    assert list(read_telemetry(write(tmp_path, "t.log", '{"pool": "A"}\n'), {"ev": SCHEMA})) == [
        (1, "ev", {"pool": "A"})
    ]
    assert list(read_telemetry(write(tmp_path, "t.txt", "pool\nA\n"), {"ev": SCHEMA})) == [(2, "ev", {"pool": "A"})]


def test_gzipped_telemetry_and_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as out:
        out.write('{"pool": "A"}\n{"pool": "B"}\n')
    assert [r[2] for r in read_telemetry(path, {"ev": SCHEMA})] == [{"pool": "A"}, {"pool": "B"}]
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbfpool,queue\nA,1\n")
    assert list(read_telemetry(bom, {"ev": SCHEMA})) == [(2, "ev", {"pool": "A", "queue": 1})]


def test_text_that_is_not_utf8_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(b'{"pool": "\xff"}\n')
    with pytest.raises(UsageError, match=r"t.jsonl: not UTF-8 text \(invalid start byte\); convert the file to UTF-8"):
        list(read_telemetry(path, {"ev": SCHEMA}))


def test_missing_file_and_unknown_input_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such telemetry file"):
        read_telemetry(tmp_path / "nope.jsonl", {"ev": SCHEMA})
    with pytest.raises(UsageError, match="--input nope: no policy reads that input; inputs are ev"):
        read_telemetry(write(tmp_path, "t.jsonl", ""), {"ev": SCHEMA}, input="nope")


def test_reading_is_lazy(tmp_path: Path) -> None:
    path = write(tmp_path, "t.jsonl", '{"pool": "A"}\n' * 1000 + "not json\n")
    records = read_telemetry(path, {"ev": SCHEMA})
    assert next(records) == (1, "ev", {"pool": "A"})  # nothing past the first line was needed


# ---- the replay report -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def motb() -> ballast.PolicySet:
    return ballast.compile([CATALOG / "motb.bal"])


def test_replay_of_a_set_against_itself(motb: ballast.PolicySet) -> None:
    report = replay(EVENTS, motb, ballast.compile([CATALOG / "motb.bal"]))
    assert report["format"] == REPORT_FORMAT
    assert report["telemetry"] == {
        "file": str(EVENTS),
        "lines": 13,
        "evaluated": 11,
        "rejected": 2,  # lines 12 and 13: refused by the only policy of both sets
        "max_rejected": 0.001,
        "events": 13,
        "from": None,
        "to": None,
        "inputs": {"telemetry": 13},
    }
    assert report["failure"]["reason"] == "2 of 13 lines (15.4 %) were rejected, more than --max-rejected 0.1 %"
    assert report["decisions"]["baseline"] == report["decisions"]["candidate"] > 0
    assert report["decisions"]["differing_events"] == 0
    assert report["problems"]["baseline"] == report["problems"]["candidate"] == 3  # lines 12 and 13 are invalid
    assert {p["side"] for p in report["problems"]["examples"]} == {"both"}
    assert len(report["rules"]) == len(rule_keys(motb))
    assert all(r["change"] == "same" for r in report["rules"])


def test_replay_finds_a_changed_threshold(tmp_path: Path, motb: ballast.PolicySet) -> None:
    candidate = ballast.compile([variant(tmp_path, "motb.bal", SLA_RULE, SLA_RULE.replace("99.95", "99.99"))])
    report = replay(EVENTS, motb, candidate)
    changed = [r for r in report["rules"] if r["change"] != "same"]
    assert [(r["rule"], r["change"]) for r in changed] == [("sla_breach", "more")]
    first = changed[0]["first_divergence"]
    # no event time in this telemetry: t_s is the event's index, time is null
    assert (first["seed"], first["t_s"], first["time"]) == (None, 0, None)
    assert first["event"]["pool"] == "A" and first["candidate"] == [{"action": "scale", "targets": ["A"]}]
    assert report["decisions"]["differing_events"] == changed[0]["candidate"] - changed[0]["baseline"]


def test_replay_in_event_time_with_the_engine(tmp_path: Path) -> None:
    baseline = ballast.compile([CATALOG / "watchdog.bal"])
    rule = "when error_5m > error_budget * 5\n    for 1m"
    candidate = ballast.compile([variant(tmp_path, "watchdog.bal", rule, rule.replace("1m", "3m"))])
    report = replay(WATCHDOG_EVENTS, baseline, candidate)
    assert (report["telemetry"]["from"], report["telemetry"]["to"]) == ("2025-11-15T12:00:00Z", "2025-11-15T12:11:45Z")
    assert [p["kind"] for p in report["problems"]["examples"]] == ["late-event"]
    changed = {r["rule"]: r for r in report["rules"] if r["change"] != "same"}
    assert set(changed) == {"error_budget_burn"}
    first = changed["error_budget_burn"]["first_divergence"]
    assert first["time"].startswith("2025-11-15T12:") and first["t_s"] > 0
    assert first["baseline"] == [{"action": "reroute", "targets": [first["event"]["pool"]]}]


def test_replay_of_several_inputs_reads_envelopes(tmp_path: Path) -> None:
    both = ballast.compile([CATALOG / "motb.bal", CATALOG / "watchdog.bal"])
    motb_only = ballast.compile([CATALOG / "motb.bal"])
    lines = [json.dumps({"input": "telemetry", "event": json.loads(x)}) for x in EVENTS.read_text().splitlines()[:7]]
    lines += [json.dumps({"input": "layer2", "event": json.loads(x)}) for x in WATCHDOG_EVENTS.read_text().splitlines()]
    lines.insert(3, '{"input": "nope", "event": {}}')
    path = write(tmp_path, "mixed.jsonl", "\n".join(lines) + "\n")
    report = replay(path, both, motb_only)
    assert report["telemetry"]["inputs"] == {"layer2": 142, "telemetry": 7}
    assert report["problems"]["examples"][0] == {
        "side": "both",
        "kind": "invalid-line",
        "line": 4,
        "message": f"{path}:4: unknown input 'nope'; inputs are layer2, telemetry",
    }
    removed = {r["rule"] for r in report["rules"] if r["change"] == "removed"}
    assert removed == {r for p, r in rule_keys(both) if p == "motb.watchdog"}
    assert all(r["change"] == "same" for r in report["rules"] if r["policy"] == "motb.orchestration")


# ---- the command -------------------------------------------------------------------------------


def test_cli_exit_codes_and_byte_identical_reports(tmp_path: Path) -> None:
    candidate = variant(tmp_path, "motb.bal", SLA_RULE, SLA_RULE.replace("99.95", "99.99"))
    events = clean_events(tmp_path)
    args = ["replay", "--telemetry", events, "--baseline", CATALOG / "motb.bal", "--candidate", candidate]
    code, out, err = run(*args)
    assert (code, err) == (1, "")
    again = run(*args)[1]
    assert out == again and out.endswith("}\n")
    report = json.loads(out)
    assert report["format"] == REPORT_FORMAT
    assert out == json.dumps(report, indent=2, sort_keys=True) + "\n"
    code, out, _ = run(
        "replay", "--telemetry", events, "--baseline", CATALOG / "motb.bal", "--candidate", CATALOG / "motb.bal"
    )
    assert code == 0 and all(r["change"] == "same" for r in json.loads(out)["rules"])


def test_cli_writes_markdown_and_files(tmp_path: Path) -> None:
    candidate = variant(tmp_path, "motb.bal", SLA_RULE, SLA_RULE.replace("99.95", "99.99"))
    base = ["replay", "--telemetry", clean_events(tmp_path), "--baseline", CATALOG / "motb.bal", "--candidate", candidate]
    code, out, _ = run(*base, "--format", "markdown")
    assert code == 1 and "sla_breach" in out and "Replay" in out
    target = tmp_path / "report.json"
    code, out, err = run(*base, "-o", target)
    assert (code, out) == (1, "")
    assert err == f"wrote {target}: 11 lines read, 11 evaluated, 0 rejected; 1 of 11 rules decided differently\n"
    assert json.loads(target.read_text(encoding="utf-8"))["format"] == REPORT_FORMAT


def test_cli_malformed_lines_are_reported_and_skipped_within_the_declared_share(tmp_path: Path) -> None:
    path = write(tmp_path, "t.jsonl", EVENTS.read_text(encoding="utf-8").splitlines()[0] + "\n{oops\n")
    code, out, _ = run(
        "replay", "--telemetry", path, "--baseline", CATALOG / "motb.bal", "--candidate", CATALOG / "motb.bal",
        "--max-rejected", "50%",
    )  # fmt: skip
    report = json.loads(out)
    assert code == 0 and report["failure"] is None
    assert report["telemetry"]["events"] == 1
    assert report["problems"]["baseline"] == report["problems"]["candidate"] == 1
    assert report["problems"]["examples"][0]["message"].startswith(f"{path}:2: not JSON at column 2")


def test_cli_csv_telemetry(tmp_path: Path) -> None:
    events = [json.loads(x) for x in EVENTS.read_text(encoding="utf-8").splitlines()[:11]]
    columns = list(events[0])
    rows = [",".join(columns)] + [",".join(str(e.get(c, "")) for c in columns) for e in events]
    csv_path = write(tmp_path, "t.csv", "\n".join(rows) + "\n")
    jsonl_path = write(tmp_path, "t.jsonl", "\n".join(json.dumps(e) for e in events) + "\n")
    candidate = variant(tmp_path, "motb.bal", SLA_RULE, SLA_RULE.replace("99.95", "99.99"))
    reports = []
    for path in (csv_path, jsonl_path):
        code, out, _ = run("replay", "--telemetry", path, "--baseline", CATALOG / "motb.bal", "--candidate", candidate)
        assert code == 1
        reports.append({k: v for k, v in json.loads(out).items() if k != "telemetry"})
    assert reports[0] == reports[1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--telemetry", "missing.jsonl"], "missing.jsonl: no such telemetry file"),
        (["--telemetry", EVENTS, "--input", "nope"], "--input nope: no policy reads that input; inputs are telemetry"),
    ],
)
def test_cli_bad_arguments_exit_2(args: list[Any], message: str) -> None:
    code, out, err = run("replay", *args, "--baseline", CATALOG / "motb.bal", "--candidate", CATALOG / "motb.bal")
    assert (code, out) == (2, "")
    assert err == f"ballast: {message}\n"


def test_cli_bad_policies_exit_2(tmp_path: Path) -> None:
    code, _, err = run("replay", "--telemetry", EVENTS, "--baseline", tmp_path / "none.bal", "--candidate", CATALOG)
    assert (code, err) == (2, f"ballast: --baseline: {tmp_path / 'none.bal'}: no such file or directory\n")
    broken = write(
        tmp_path,
        "broken.bal",
        'policy x version "1" {\n  input ev { a: float }\n  rule r { when a > "x" then scale(targets: "p", by: 1) }\n}\n',
    )
    code, _, err = run("replay", "--telemetry", EVENTS, "--baseline", CATALOG / "motb.bal", "--candidate", broken)
    assert code == 2
    assert err.startswith("ballast replay: the --candidate policies do not compile:\n")
    assert f"{broken}:3:" in err


def test_cli_usage_errors_in_a_real_shell_show_no_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ballast.cli",
            "replay",
            "--telemetry",
            tmp_path / "x.csv",
            "--baseline",
            CATALOG / "motb.bal",
            "--candidate",
            CATALOG / "motb.bal",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "no such telemetry file" in proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "ballast.cli", "replay", "--telemetry", EVENTS],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "--baseline" in proc.stderr and "Traceback" not in proc.stderr


# ---- a replay that checked nothing fails -------------------------------------------------------


def plain_catalog_events(tmp_path: Path) -> Path:
    """The README's example: a recording of one input's events, replayed through all of catalog/."""
    return write(tmp_path, "last-24h.jsonl", EVENTS.read_text(encoding="utf-8"))


def test_cli_fails_when_no_line_was_evaluated_and_says_which_input(tmp_path: Path) -> None:
    telemetry = plain_catalog_events(tmp_path)
    code, out, err = run("replay", "--telemetry", telemetry, "--baseline", CATALOG, "--candidate", CATALOG)
    report = json.loads(out)
    assert code == 1
    assert {k: report["telemetry"][k] for k in ("lines", "evaluated", "rejected")} == {
        "lines": 13,
        "evaluated": 0,
        "rejected": 13,
    }
    assert err.splitlines() == [
        "ballast replay: FAILED: no line was evaluated: all 13 lines were rejected "
        "(13 lines read, 0 evaluated, 13 rejected)",
        "  hint: the policies read 4 inputs (layer2, pool_telemetry, signals, telemetry): when every line is an "
        'event of one of them, name it (--input telemetry); otherwise write each line as {"input": NAME, "event": {...}}',
    ]
    assert report["failure"]["hint"] == err.splitlines()[1].removeprefix("  hint: ")
    code, out, _ = run(
        "replay", "--telemetry", telemetry, "--baseline", CATALOG, "--candidate", CATALOG, "--format", "markdown"
    )
    assert code == 1
    assert "**❌ Replay failed: no line was evaluated: all 13 lines were rejected**" in out
    assert "Lines: 13 read, 0 evaluated, 13 rejected" in out


def test_cli_fails_beyond_max_rejected_and_accepts_a_declared_share(tmp_path: Path) -> None:
    base = ["replay", "--telemetry", plain_catalog_events(tmp_path), "--input", "telemetry"]
    base += ["--baseline", CATALOG, "--candidate", CATALOG]
    code, out, err = run(*base)  # lines 12 and 13 do not fit the telemetry input: 2 of 13 rejected
    assert code == 1
    assert err.startswith(
        "ballast replay: FAILED: 2 of 13 lines (15.4 %) were rejected, more than --max-rejected 0.1 % "
        "(13 lines read, 11 evaluated, 2 rejected)\n  hint: the policies refused the events on the lines reported "
        f"as problems, starting with {tmp_path / 'last-24h.jsonl'}:12 (motb.orchestration: "
    )
    assert json.loads(out)["telemetry"]["max_rejected"] == 0.001
    for share in ("0.2", "20%", "15.4%"):
        code, out, err = run(*base, "--max-rejected", share)
        assert (code, err) == (0, ""), share
        assert json.loads(out)["failure"] is None
    code, _, err = run(*base, "--max-rejected", "15%")
    assert code == 1 and "more than --max-rejected 15 %" in err


@pytest.mark.parametrize(
    ("share", "message"),
    [
        ("5", "'5' is outside 0 to 1 (0 % to 100 %); for a percentage add %, as in 5%"),
        ("150%", "'150%' is outside 0 to 1 (0 % to 100 %); for a percentage add %, as in 1%"),
        ("lots", "'lots' is not a share: write a fraction (0.01) or a percentage (1%)"),
    ],
)
def test_cli_bad_max_rejected_is_a_usage_error(share: str, message: str) -> None:
    code, out, err = run(
        "replay", "--telemetry", EVENTS, "--baseline", CATALOG / "motb.bal", "--candidate", CATALOG / "motb.bal",
        "--max-rejected", share,
    )  # fmt: skip
    assert (code, out) == (2, "")
    assert err.endswith(f"ballast replay: error: argument --max-rejected: {message}\n")


def test_an_empty_recording_fails(tmp_path: Path, motb: ballast.PolicySet) -> None:
    report = replay(write(tmp_path, "empty.jsonl", "\n"), motb, motb, max_rejected=1.0)
    assert report["telemetry"]["lines"] == report["telemetry"]["evaluated"] == 0
    assert report["failure"] == {"reason": f"{tmp_path / 'empty.jsonl'} holds no events", "hint": "point --telemetry at a recording"}


def test_events_refused_by_one_set_only_are_evaluated(tmp_path: Path, motb: ballast.PolicySet) -> None:
    # the candidate accepts what the baseline refuses (an unknown field): the candidate evaluated it
    line = {**json.loads(EVENTS.read_text(encoding="utf-8").splitlines()[0]), "zone": 3.0}
    loose = variant(tmp_path, "motb.bal", "input telemetry {", "input telemetry {\n    zone?: float")
    report = replay(write(tmp_path, "one.jsonl", json.dumps(line) + "\n"), motb, ballast.compile([loose]))
    assert report["problems"]["baseline"] >= 1
    assert (report["telemetry"]["evaluated"], report["telemetry"]["rejected"], report["failure"]) == (1, 0, None)


# ---- progress ----------------------------------------------------------------------------------


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_cli_shows_progress_on_a_terminal_only(tmp_path: Path) -> None:
    args = ["replay", "--telemetry", clean_events(tmp_path), "--baseline", CATALOG / "motb.bal"]
    args += ["--candidate", CATALOG / "motb.bal"]
    terminal, out = _Terminal(), io.StringIO()
    assert main([str(a) for a in args], stdout=out, stderr=terminal, stdin=io.StringIO("")) == 0
    assert terminal.getvalue() == "\rreplay: 11 lines\n"
    code, piped_out, piped_err = run(*args)
    assert (code, piped_err) == (0, "")
    assert piped_out == out.getvalue()  # the report itself is the same either way


def test_progress_is_called_as_lines_are_read(tmp_path: Path, motb: ballast.PolicySet, monkeypatch: Any) -> None:
    import ballast.simulator.replay as replay_module

    monkeypatch.setattr(replay_module, "PROGRESS_EVERY", 4)
    seen: list[int] = []
    report = replay(EVENTS, motb, motb, progress=seen.append)
    assert seen == [4, 8, 12] and report["telemetry"]["lines"] == 13


# ---- the first divergence names the event behind the decision -----------------------------------

LATENCY_POLICY = """policy mesh.latency version "1.0.0" {
  input svc {
    ts: timestamp
    region: string
    service: string
    latency: float
  }
  stream {
    time ts
    lateness 1m
  }
  rule slow {
    group by region
    when avg(latency, 1m) > LIMIT
    then scale(targets: service, by: 1)
  }
}
"""


def test_first_divergence_names_the_event_the_decision_was_made_on(tmp_path: Path) -> None:
    # The region's newest event is web's (t=30); api's arrives out of order (t=25, within the
    # lateness) and makes the baseline decide again, on web's event: scale web, not api.
    baseline = write(tmp_path, "base.bal", LATENCY_POLICY.replace("LIMIT", "100"))
    candidate = write(tmp_path, "cand.bal", LATENCY_POLICY.replace("LIMIT", "130"))
    rows = [("00:00", "eu", "web", 50), ("00:30", "eu", "web", 250), ("00:40", "us", "db", 10), ("00:25", "eu", "api", 20)]
    events = [{"ts": f"2025-01-01T00:{t}Z", "region": r, "service": s, "latency": v} for t, r, s, v in rows]
    telemetry = write(tmp_path, "t.jsonl", "".join(json.dumps(e) + "\n" for e in events))
    code, out, _ = run("replay", "--telemetry", telemetry, "--baseline", baseline, "--candidate", candidate)
    assert code == 1
    (rule,) = json.loads(out)["rules"]
    first = rule["first_divergence"]
    assert (first["baseline"], first["candidate"]) == ([{"action": "scale", "targets": ["web"]}], [])
    # the event as recorded (no @ slots, the timestamp in ISO 8601), typed as the policy read it
    assert first["event"] == {**events[1], "latency": 250.0}
    assert first["time"] == "2025-01-01T00:00:40Z"


# ---- headers tell the two sets apart -----------------------------------------------------------


def test_sets_of_the_same_names_and_versions_show_their_paths_and_fingerprints(tmp_path: Path) -> None:
    candidate = variant(tmp_path, "motb.bal", SLA_RULE, SLA_RULE.replace("99.95", "99.99"))
    bundle = tmp_path / "baseline.json"
    assert main(["compile", str(CATALOG / "motb.bal"), "-o", str(bundle)], stdout=io.StringIO(), stderr=io.StringIO()) == 0
    fingerprint = json.loads(bundle.read_text(encoding="utf-8"))["manifest"]["fingerprint"]["hash"]
    args = ["replay", "--telemetry", clean_events(tmp_path), "--baseline", bundle, "--candidate", candidate, "--allow-unsigned"]
    report = json.loads(run(*args)[1])
    assert report["baseline"]["policies"] == report["candidate"]["policies"]  # same names, same versions
    assert report["baseline"]["paths"] == [str(bundle)] and report["baseline"]["fingerprint"] == fingerprint
    assert report["candidate"]["paths"] == [str(candidate)]
    assert report["candidate"]["fingerprint"] not in (None, fingerprint)
    markdown = run(*args, "--format", "markdown")[1]
    assert f"Baseline from: `{bundle} sha256:{fingerprint[:12]}`" in markdown
    assert f"Candidate from: `{candidate} sha256:{report['candidate']['fingerprint'][:12]}`" in markdown


def test_markdown_writes_paths_verbatim_in_code_spans(tmp_path: Path) -> None:
    telemetry = write(tmp_path, "a>b&c_d*.jsonl", clean_events(tmp_path).read_text(encoding="utf-8"))
    code, out, _ = run(
        "replay", "--telemetry", telemetry, "--baseline", CATALOG / "motb.bal", "--candidate", CATALOG / "motb.bal",
        "--format", "markdown",
    )  # fmt: skip
    assert code == 0
    assert f"Telemetry: `{telemetry}`" in out  # no &gt;, &amp; or \\* inside a code span: it shows them as typed
    assert "**✅ Replay of 11 events" in out


def test_a_divergence_without_event_time_is_placed_by_event(tmp_path: Path) -> None:
    candidate = variant(tmp_path, "motb.bal", SLA_RULE, SLA_RULE.replace("99.95", "99.99"))
    args = ["replay", "--telemetry", clean_events(tmp_path), "--baseline", CATALOG / "motb.bal"]
    out = run(*args, "--candidate", candidate, "--format", "markdown")[1]
    assert "**motb.orchestration/sla_breach: at event 0**" in out and "(None)" not in out
