"""`ballast explain`: the value of every sub-condition of one rule for one event, or, for a
stateful rule, its state at a time after replaying a history.

It evaluates with the reference interpreter and its trace, so what it shows is the language's
definition of the result, not a re-implementation; short-circuited parts are shown as skipped.
A stateful rule's history is replayed through the Engine itself, and its state is read from the
Engine's snapshot; the windows are recomputed from the snapshot's samples (each key's packed
histories) with the Engine's own aggregate functions.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from typing import Any

from ballast.runtime.engine import Engine, iso
from ballast.runtime.errors import EvaluationError, UsageError
from ballast.runtime.functions import render
from ballast.runtime.history_codec import unpack_histories
from ballast.runtime.interpret import FAULTED, evaluate_condition
from ballast.runtime.ir import IR, slot_key, unparse, walk
from ballast.runtime.policy import PolicySet
from ballast.runtime.reading import loads
from ballast.runtime.suggest import closest
from ballast.runtime.validate import validate
from ballast.runtime.values import format_duration, parse_timestamp
from ballast.runtime.windows import aggregate


def explain_rule(ir: dict[str, Any], rule_name: str, event: Any) -> dict[str, Any]:
    """A report {rule, policy, fires, error, tree, text} for the rule named `rule_name`."""
    policy, rule = _find(ir, rule_name)
    if "state" in rule:  # its windows and timers need history: one event cannot say
        raise UsageError(
            f"rule '{rule['name']}' has windows or time clauses: explain it over a history with --events FILE [--at TIME]"
        )
    data, problems = validate(event, policy["input"]["fields"])
    lines = [f"rule {policy['name']}/{rule['name']}"]
    if data is None:
        lines.append("  the event does not match the policy's input:")
        lines.extend(f"    - {p.message}" + (f" ({p.hint})" if p.hint else "") for p in problems)
        lines.append("  verdict: not evaluated")
        return {
            "policy": policy["name"],
            "rule": rule["name"],
            "fires": False,
            "error": "invalid event",
            "problems": [p.message for p in problems],
            "tree": None,
            "text": "\n".join(lines) + "\n",
        }
    trace: dict[int, Any] = {}
    error = ""
    try:
        fires = evaluate_condition(rule["when"], data, trace)
    except EvaluationError as exc:
        fires = False
        error = str(exc)
    tree = _tree(rule["when"], trace)
    _render(tree, 1, lines)
    if error:
        lines.append(f"  verdict: evaluation error: {error}; the rule does not fire")
    elif fires:
        actions = ", ".join(a["action"] for a in rule["then"])
        lines.append(f"  verdict: FIRES ({actions})")
    else:
        lines.append("  verdict: does not fire")
    return {
        "policy": policy["name"],
        "rule": rule["name"],
        "fires": fires,
        "error": error,
        "tree": tree,
        "text": "\n".join(lines) + "\n",
    }


def _find(ir: dict[str, Any], name: str) -> tuple[IR, IR]:
    policy_name, _, rule_name = name.rpartition("/")
    matches = [
        (p, r)
        for p in ir["policies"]
        for r in p["rules"]
        if r["name"] == rule_name and (not policy_name or p["name"] == policy_name)
    ]
    if not matches:
        names = sorted(r["name"] for p in ir["policies"] for r in p["rules"])
        close = closest(rule_name, names)
        hint = f"; did you mean '{close}'?" if close else f"; rules are {', '.join(names)}"
        raise UsageError(f"no rule named '{name}'{hint}")
    if len(matches) > 1:
        raise UsageError(f"several policies have a rule '{rule_name}'; write policy/rule")
    return matches[0]


def _tree(node: IR, trace: dict[int, Any]) -> dict[str, Any]:
    faulted = trace.get(id(node)) is FAULTED
    evaluated = id(node) in trace and not faulted
    out: dict[str, Any] = {"expr": unparse(node), "evaluated": evaluated, "faulted": faulted}
    if evaluated:
        out["value"] = trace[id(node)]
        if node.get("t") == "duration":
            out["type"] = "duration"
    k = node["k"]
    if k == "let":
        out["let"] = node["name"]
        out["children"] = [_tree(node["e"], trace)]
    elif k in ("and", "or", "not"):
        parts = [node["e"]] if k == "not" else _flatten(node, k)
        out["children"] = [_tree(p, trace) for p in parts]
    else:
        inputs = {}
        durations = []  # shown with their unit, as the language writes them (450ms, not 0.45)
        for n in walk(node):
            name = None
            if n["k"] == "field" and id(n) in trace:
                name, inputs[".".join(n["path"])] = ".".join(n["path"]), trace[id(n)]
            if n["k"] == "lit" and "const" in n:
                name, inputs[n["const"]] = n["const"], n["v"]
            if n["k"] == "let" and id(n) in trace and trace[id(n)] is not FAULTED:  # a named window's value
                name, inputs[n["name"]] = n["name"], trace[id(n)]
            if name is not None and n.get("t") == "duration" and name not in durations:
                durations.append(name)
        if inputs:
            out["inputs"] = inputs
        if durations:
            out["durations"] = durations
    return out


def _shown(value: Any, duration: bool) -> str:
    if duration and isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return format_duration(value)
    return render(value)


def _flatten(node: IR, kind: str) -> list[IR]:
    if node["k"] == kind and kind != "not":
        return _flatten(node["l"], kind) + _flatten(node["r"], kind)
    return [node]


def _render(tree: dict[str, Any], depth: int, lines: list[str]) -> None:
    pad = "  " * depth
    if tree.get("faulted"):
        mark, value = "✘", "fault (see the verdict)"
    elif not tree["evaluated"]:
        mark, value = "-", "skipped (short-circuit)"
    else:
        v = tree["value"]
        mark = "✔" if v is True else "✘" if v is False else "•"
        value = _shown(v, tree.get("type") == "duration")
    label = f"{tree['let']} = " if "let" in tree else ""
    detail = ""
    leaf = tree["children"][0] if "let" in tree else tree  # a let shows its body's inputs
    if "inputs" in leaf:
        durations = leaf.get("durations", ())
        detail = "   where " + ", ".join(f"{k} = {_shown(v, k in durations)}" for k, v in leaf["inputs"].items())
    expr = tree["expr"] if not label else tree["children"][0]["expr"]
    lines.append(f"{pad}{mark} {label}{expr}  → {value}{detail}")
    children = tree.get("children", [])
    if "let" in tree:
        children = children[0].get("children", [])
    for child in children:
        _render(child, depth + 1, lines)


# ---- stateful rules: replay a history through an Engine, then explain the state at a time ----


def explain_history(
    ir: dict[str, Any], policies: PolicySet, rule_name: str, lines: Iterable[str], source: str, at: float | None
) -> dict[str, Any]:
    """A report on a stateful rule at event time `at` (default: the newest event) after replaying
    the JSONL `lines` (named `source` in messages) through an Engine.

    Per key of the rule: its state (pending since, firing, clearing), the condition that decides
    now (the exit condition of an entered hysteresis rule) with every window's value as of `at`;
    and the rule's cooldowns and rate limit. Raises UsageError for a stateless rule, an empty
    replay or an `at` before every event.
    """
    policy_ir, rule = _find(ir, rule_name)
    if "state" not in rule:
        raise UsageError(
            f"rule '{rule['name']}' has no windows or time clauses: explain it for one event with --event JSON"
        )
    compiled = next(p for p in policies.policies if p.name == policy_ir["name"])
    replay = _replay(policies, compiled, rule, lines, source, at)
    state = replay.snapshot
    report: dict[str, Any] = {
        "policy": policy_ir["name"],
        "rule": rule["name"],
        "at": iso(replay.at),
        "history": source,
        "replayed": replay.count,
        "problems": replay.problems,
        "clauses": _clauses(rule["state"]),
        "keys": [_explain_key(rule, key, replay) for key in _keys_of(rule, state)],
        "cooldowns": [
            {"action": rule["then"][a]["action"], "targets": targets, "until": iso(until)}
            for r, a, targets, until in state["cooldowns"]
            if r == rule["index"] and until > replay.at
        ],
        "limit": _limit(rule, state, replay.at),
        "directives": replay.directives,
        "suppressed": replay.suppressed,
    }
    report["fires"] = any(k["fires"] for k in report["keys"])
    report["error"] = next((k["condition"]["error"] for k in report["keys"] if k["condition"]["error"]), "")
    report["text"] = _history_text(report)
    return report


class _Replay:
    """What replaying the history gave: the Engine's snapshot of the rule's policy, and more."""

    def __init__(self, at: float) -> None:
        self.at = at
        self.count = 0
        self.problems: list[str] = []
        self.snapshot: dict[str, Any] = {}
        self.transitions: dict[str, list[dict[str, str]]] = {}  # by key, as JSON
        self.directives: list[dict[str, Any]] = []
        self.suppressed: list[dict[str, Any]] = []


def _replay(
    policies: PolicySet, compiled: Any, rule: IR, lines: Iterable[str], source: str, at: float | None
) -> _Replay:
    time_field = compiled.timing_ir["stream"]["time"]
    events = list(_timed_events(lines, source, compiled, time_field))
    times = [t for _, t, _ in events if math.isfinite(t)]
    if not times:
        raise UsageError(
            f"{source}: no event with a valid '{time_field}' (the time of the input '{compiled.input_name}')"
        )
    first = min(times)
    if at is None:
        at = max(times)
    if at < first:
        raise UsageError(f"--at {iso(at)} is before the first event of {source} ({iso(first)}): nothing to replay")
    replay = _Replay(at)
    engine = Engine(policies)
    for number, t, event in events:
        if t > at:
            continue  # the decision at `at` knows nothing of later events
        replay.count += 1
        _note(replay, rule, engine.process(event, input=compiled.input_name), f"{source}:{number}", t)
    _note(replay, rule, engine.advance(at), f"--at {iso(at)}", at)  # what time alone does up to `at`
    replay.snapshot = next(p for p in engine.snapshot()["policies"] if p["policy"] == compiled.name)
    return replay


def _timed_events(
    lines: Iterable[str], source: str, compiled: Any, time_field: str
) -> Iterator[tuple[int, float, Any]]:
    """(line number, event time, event) for each line; lines that are not JSON raise UsageError."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            event = loads(line.rstrip("\r\n"))  # within the limits of ballast.runtime.reading
        except json.JSONDecodeError as exc:
            raise UsageError(
                f"{source}:{number}:{exc.colno}: not valid JSON ({exc.msg}); each line must be one JSON object"
            ) from None
        t = parse_timestamp(event.get(time_field)) if isinstance(event, dict) else None
        # an event without a valid time still goes to the Engine, which reports why it is rejected
        yield number, t if t is not None else -math.inf, event


def _note(replay: _Replay, rule: IR, result: Any, where: str, t: float) -> None:
    for problem in result.errors:
        replay.problems.append(f"{where}: {problem.kind}: {problem.message}")
    for d in result.directives:
        if d.rule == rule["name"]:
            replay.directives.append(
                {"time": iso(t), "action": d.action, "targets": d.targets, "directive_id": d.directive_id}
            )
    for e in result.events:
        if e.get("rule") != rule["name"]:
            continue
        if e["type"] == "RuleState":
            key = json.dumps(e["key"], sort_keys=True)
            replay.transitions.setdefault(key, []).append({"state": e["state"], "time": e["time"]})
        elif e["type"] == "Suppressed":
            replay.suppressed.append({"time": e["time"], "action": e["action"], "targets": e["targets"], "by": e["by"]})


def _keys_of(rule: IR, state: dict[str, Any]) -> list[dict[str, Any]]:
    """The snapshot's keys of the rule's grouping (every one was stepped by it), sorted, each
    with its histories by field path and the rule's state (a snapshot leaves out initial ones)."""
    grouping = state["groupings"].index(list(rule["state"].get("group_by", [])))
    paths = [tuple(p) for p in state["fields"][grouping]]
    held = []
    for k in state["keys"]:
        if k["grouping"] != grouping:
            continue
        histories = unpack_histories(k["histories"], [math.inf] * len(paths)) if "histories" in k else []
        held.append(
            {
                **k,
                "series": {path: s for path, s in zip(paths, histories, strict=True) if s is not None},
                "rule": next((st for i, st in k.get("rules", ()) if i == rule["index"]), [False, None, False, None]),
            }
        )
    return sorted(held, key=lambda k: json.dumps(k["key"]))


def _explain_key(rule: IR, key: dict[str, Any], replay: _Replay) -> dict[str, Any]:
    at = replay.at
    group_by = rule["state"].get("group_by", [])
    names = dict(zip(group_by, key["key"], strict=True))
    active, since, firing, clear_at = key["rule"][:4]
    series = key["series"]
    exit_node = rule["state"].get("exit")
    deciding, label = (exit_node, "exit when") if exit_node is not None and active else (rule["when"], "when")
    if exit_node is not None and label == "when":
        label = "enter when"
    context = {**key["event"], "@now": at}
    windows: dict[str, Any] = {}
    for node in walk(deciding):
        if node["k"] == "agg":
            value = aggregate(node, series.get(tuple(node["path"])), at)
            context[slot_key(node)] = value
            windows[unparse(node)] = value
    trace: dict[int, Any] = {}
    error = ""
    try:
        holds: bool | None = evaluate_condition(deciding, context, trace)
    except EvaluationError as exc:
        holds, error = None, str(exc)
    no_data = holds is None and any(v is None for v in windows.values())
    if no_data:
        error = ""  # an empty window is no evidence, not a fault: the Engine counts it as no_data
    hold = rule["state"].get("for", 0.0)
    keep = rule["state"].get("keep", 0.0)
    edge = bool(hold or keep or exit_node is not None)
    name = _state_name(edge, bool(active), since, bool(firing), clear_at, holds)
    return {
        "key": names,
        "last_event": iso(key["last_seen"]) if key["last_seen"] is not None else None,
        "state": {
            "at": iso(at),
            "name": name,
            "active": bool(active),
            "since": iso(since) if since is not None else None,
            "fires_at": iso(since + hold) if since is not None and not firing else None,
            "clearing_since": iso(clear_at) if clear_at is not None else None,
            "resolves_at": iso(clear_at + keep) if clear_at is not None else None,
        },
        "condition": {
            "clause": label,
            "holds": holds,
            "no_data": no_data,
            "error": error,
            "tree": _tree(deciding, trace),
        },
        "windows": windows,
        "transitions": replay.transitions.get(json.dumps(names, sort_keys=True), []),
        "fires": name == "firing" or (not edge and holds is True),
    }


def _state_name(
    edge: bool, active: bool, since: float | None, firing: bool, clear_at: float | None, holds: bool | None
) -> str:
    if not edge:  # a level rule has no state of its own: it fires on each event its condition holds
        return "holds" if holds else "inactive"
    if firing:
        return "clearing" if clear_at is not None else "firing"
    return "pending" if since is not None else "inactive"


def _clauses(state: IR) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if state.get("group_by"):
        out["group_by"] = ", ".join(state["group_by"])
    if "exit" in state:
        out["hysteresis"] = True
    for name in ("for", "keep", "cooldown"):
        if state.get(name):
            out[name] = format_duration(state[name])
    if "limit" in state:
        out["at_most"] = f"{state['limit'][0]} per {format_duration(state['limit'][1])}"
    return out


def _limit(rule: IR, state: dict[str, Any], at: float) -> dict[str, Any] | None:
    if "limit" not in rule["state"]:
        return None
    count, window = rule["state"]["limit"]
    times = next((ts for r, ts in state["emitted"] if r == rule["index"]), [])
    used = sorted(t for t in times if at - window < t <= at)
    return {
        "at_most": count,
        "per": format_duration(window),
        "used": [iso(t) for t in used],
        "free_at": iso(used[0] + window) if len(used) >= count else None,
    }


def _history_text(report: dict[str, Any]) -> str:
    lines = [f"rule {report['policy']}/{report['rule']} at {report['at']}"]
    lines.append(f"  replayed {report['replayed']} event(s) of {report['history']} up to {report['at']}")
    clauses = report["clauses"]
    if clauses:
        lines.append(
            "  clauses: " + ", ".join(f"{k.replace('_', ' ')} {v}" if v is not True else k for k, v in clauses.items())
        )
    for problem in report["problems"]:
        lines.append(f"  problem: {problem}")
    for c in report["cooldowns"]:
        lines.append(f"  cooldown: {c['action']} {', '.join(c['targets'])} held back until {c['until']}")
    limit = report["limit"]
    if limit is not None:
        used = f"{len(limit['used'])} of {limit['at_most']} used per {limit['per']}"
        lines.append(f"  at most: {used}" + (f", full until {limit['free_at']}" if limit["free_at"] else ""))
    for kind, verb in (("directives", "issued"), ("suppressed", "held back")):
        if report[kind]:
            last = report[kind][-1]
            lines.append(
                f"  {verb}: {len(report[kind])} directive(s), the last at {last['time']}: {last['action']} {', '.join(last['targets'])}"
            )
    if not report["keys"]:
        lines.append("  no key has reached this rule yet")
    for key in report["keys"]:
        _key_text(key, lines)
    return "\n".join(lines) + "\n"


def _key_text(key: dict[str, Any], lines: list[str]) -> None:
    names = ", ".join(f"{k}={v}" for k, v in key["key"].items()) or "(no group by)"
    lines.append(f"  key {names} (last event {key['last_event']})")
    state, condition = key["state"], key["condition"]
    describe = {
        "inactive": "inactive",
        "holds": "the condition holds: the rule fires on each event (unless held back)",
        "pending": f"pending since {state['since']}: fires at {state['fires_at']} if the condition holds until then",
        "firing": f"firing (condition holding since {state['since']})",
        "clearing": f"firing, clearing since {state['clearing_since']}: resolves at {state['resolves_at']} unless the condition holds again",
    }
    lines.append(f"    state: {describe[state['name']]}")
    if condition["clause"] == "exit when":
        lines.append("    hysteresis: entered, so the exit condition decides; the rule clears when it holds")
    elif condition["clause"] == "enter when":
        lines.append("    hysteresis: not entered, so the enter condition decides")
    if key["windows"]:
        values = ", ".join(f"{w} = {render(v)}" for w, v in key["windows"].items())
        lines.append(f"    windows at {key['state']['at']}: {values}")
    lines.append(f"    {condition['clause']}:")
    _render(condition["tree"], 3, lines)
    if condition["no_data"]:
        empty = ", ".join(w for w, v in key["windows"].items() if v is None)
        lines.append(
            f"    no data: {empty} has no samples at {state['at']}, so the condition cannot hold (no evidence)"
        )
    elif condition["error"]:
        lines.append(f"    evaluation error: {condition['error']}")
    if key["transitions"]:
        lines.append("    history: " + ", ".join(f"{t['state']} {t['time']}" for t in key["transitions"]))
