"""`ballast explain --events FILE --at TIME`: a stateful rule's state after replaying a history.

Every expectation is cross-checked against what `ballast eval` reports for the same history, so
explain and the Engine cannot disagree unnoticed.
"""

from __future__ import annotations

import json
from pathlib import Path

from support import run_cli

REPO = Path(__file__).resolve().parents[2]
WATCHDOG = REPO / "catalog" / "watchdog.bal"
HISTORY = REPO / "catalog" / "watchdog-events.jsonl"

LIMITED = """policy t.lim version "1.0.0" {
  input ev { ts: timestamp, pool: string, load: float }
  stream { time ts }
  rule hot {
    group by pool
    when avg(load, 30s) > 0.9
    then scale(targets: pool, by: 1)
    at most 2 per 10m
    priority 5
  }
}
"""
T0 = 1_700_000_000


run = run_cli  # the CLI in-process: (exit code, stdout, stderr)


def explain(rule: str, at: str, policy: Path = WATCHDOG, history: Path = HISTORY) -> dict:
    code, out, err = run("explain", policy, "--rule", rule, "--events", history, "--at", at, "--format", "json")
    assert code == 0, err
    return json.loads(out)


def engine_events(rule: str, policy: Path = WATCHDOG, history: Path = HISTORY) -> list[dict]:
    """The rule's RuleState/Suppressed events and directives as `ballast eval` prints them."""
    _, out, _ = run("eval", policy, "--events", history)
    found = []
    for record in map(json.loads, out.splitlines()):
        found += [e for e in record.get("events", []) if e.get("rule") == rule]
        found += [{"type": "Directive", **d} for d in record["directives"] if d["rule"] == rule]
    return found


def key(report: dict, **names: str) -> dict:
    return next(k for k in report["keys"] if k["key"] == names)


def test_a_stateful_rule_for_one_event_is_refused_with_the_way_to_explain_it() -> None:
    event = HISTORY.read_text(encoding="utf-8").splitlines()[0]
    code, out, err = run("explain", WATCHDOG, "--rule", "workers_lost", "--event", event)
    assert (code, out) == (2, "")
    assert err == (
        "ballast: rule 'workers_lost' has windows or time clauses: "
        "explain it over a history with --events FILE [--at TIME]\n"
    )


def test_a_pending_for_timer_shows_since_when_and_when_it_fires() -> None:
    pending = next(e for e in engine_events("htm_queue_warning") if e.get("state") == "pending")
    firing = next(e for e in engine_events("htm_queue_warning") if e.get("state") == "firing")
    report = explain("htm_queue_warning", "2025-11-15T12:03:30Z")
    state = key(report, **pending["key"])["state"]
    assert state["name"] == "pending" and state["since"] == pending["time"]
    assert state["fires_at"] == firing["time"]  # `for 1m` completes where the Engine fired it
    assert report["clauses"] == {"group_by": "pool", "hysteresis": True, "for": "1m", "cooldown": "10m"}


def test_an_entered_hysteresis_rule_is_decided_by_its_exit_condition_with_the_window_value() -> None:
    report = explain("latency_slo", "2025-11-15T12:06:30Z")
    firing = key(report, pool="B")
    assert firing["state"]["name"] == "firing" and report["fires"] is True
    assert firing["condition"]["clause"] == "exit when" and firing["condition"]["holds"] is False
    p95 = firing["windows"]["percentile(latency_ms, 95, 5m)"]
    assert firing["condition"]["tree"]["inputs"]["latency_p95"] == p95 > 250
    seen = [{"state": e["state"], "time": e["time"]} for e in engine_events("latency_slo") if e["type"] == "RuleState"]
    assert firing["transitions"] == [t for t in seen if t["time"] <= report["at"]]
    assert key(report, pool="A")["condition"]["clause"] == "enter when"


def test_a_keep_that_is_running_out_shows_when_the_rule_resolves() -> None:
    resolved = next(e for e in engine_events("htm_queue_critical") if e.get("state") == "resolved")
    state = key(explain("htm_queue_critical", "2025-11-15T12:08:00Z"), **resolved["key"])["state"]
    assert state["name"] == "clearing" and state["resolves_at"] == resolved["time"]


def test_a_running_cooldown_is_shown_until_it_ends() -> None:
    issued = next(e for e in engine_events("htm_queue_warning") if e["type"] == "Directive")
    report = explain("htm_queue_warning", "2025-11-15T12:09:00Z")
    assert [(c["action"], c["targets"]) for c in report["cooldowns"]] == [(issued["action"], issued["targets"])]
    assert report["cooldowns"][0]["until"] == "2025-11-15T12:13:45Z"  # the directive at 12:03:45 plus 10m
    assert [d["directive_id"] for d in report["directives"]] == [issued["directive_id"]]


def test_a_full_rate_limit_and_an_empty_window_are_explained(tmp_path: Path) -> None:
    policy, history = tmp_path / "lim.bal", tmp_path / "ev.jsonl"
    policy.write_text(LIMITED, encoding="utf-8")
    events = [{"ts": T0 + 10 * i, "pool": "A", "load": load} for i, load in enumerate([0.95, 0.96, 0.97, 0.98])]
    history.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    held = [e for e in engine_events("hot", policy, history) if e["type"] == "Suppressed"]
    report = explain("hot", str(T0 + 30), policy, history)
    assert report["limit"]["at_most"] == 2 and len(report["limit"]["used"]) == 2
    assert len(report["suppressed"]) == len(held) == 2
    later = explain("hot", str(T0 + 100), policy, history)  # 30s window, last sample 70s ago
    condition = key(later, pool="A")["condition"]
    assert condition["no_data"] is True and condition["holds"] is None and condition["error"] == ""
    code, out, _ = run("explain", policy, "--rule", "hot", "--events", history, "--at", str(T0 + 100))
    assert code == 0 and "no data: avg(load, 30s) has no samples at" in out


def test_text_shows_the_same_state_as_json() -> None:
    code, out, _ = run("explain", WATCHDOG, "--rule", "htm_queue_warning", "--events", HISTORY, "--at", "2025-11-15T12:03:30Z")
    report = explain("htm_queue_warning", "2025-11-15T12:03:30Z")
    assert code == 0 and out == report["text"]
    assert f"state: pending since {key(report, pool='A')['state']['since']}" in out


def test_history_problems_are_listed_with_file_and_line_and_exit_1() -> None:
    code, out, _ = run("explain", WATCHDOG, "--rule", "htm_queue_critical", "--events", HISTORY)
    late = [r for r in (json.loads(line) for line in run("eval", WATCHDOG, "--events", HISTORY)[1].splitlines()) if r["errors"]]
    assert code == 1 and late
    assert f"problem: {HISTORY}:{late[0]['line']}: late-event: " in out


def test_bad_history_and_times_are_usage_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jsonl"
    broken.write_text(HISTORY.read_text(encoding="utf-8").splitlines()[0] + "\n{oops\n", encoding="utf-8")
    untimed = tmp_path / "untimed.jsonl"
    untimed.write_text('{"ts": "not a time"}\n', encoding="utf-8")
    cases = [
        (("--events", broken), f"ballast: {broken}:2:2: not valid JSON"),
        (("--events", untimed), f"ballast: {untimed}: no event with a valid 'ts'"),
        (("--events", HISTORY, "--at", "yesterday"), "ballast: --at yesterday: not a time"),
        (("--events", HISTORY, "--at", "2025-11-15T11:00:00Z"), "ballast: --at 2025-11-15T11:00:00Z is before the first event"),
        (("--event", "{}", "--at", "2025-11-15T11:00:00Z"), "ballast: --at needs --events FILE"),
    ]
    for extra, message in cases:
        code, _, err = run("explain", WATCHDOG, "--rule", "htm_queue_warning", *extra)
        assert code == 2 and err.startswith(message) and err.count("\n") == 1, err
    code, _, err = run("explain", WATCHDOG, "--rule", "workers_lost", "--events", tmp_path / "missing.jsonl")
    assert code == 2 and "cannot read events from" in err
    code, _, err = run("explain", WATCHDOG, "--rule", "htm_queue_warning")
    assert code == 2 and "one of the arguments --event --events is required" in err
