"""The rule decision diff shared by shadow and replay reports: a table and first divergences."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ballast.simulator.render.document import BAD, GOOD, MIXED, Details, Item, Table
from ballast.simulator.render.numbers import MINUS, clock, number, plural

MAX_RULE_ROWS = 50  # a pull-request comment must stay short; the JSON report has every rule
MAX_DIVERGENCES = 10
CHANGES = {
    "more": "fires more",
    "less": "fires less",
    "retimed": "same count, other times or targets",
    "added": "candidate only",
    "removed": "baseline only",
}
TONES = {"more": MIXED, "less": MIXED, "retimed": MIXED, "added": GOOD, "removed": BAD}


def changed(rules: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The rules whose decisions differ between baseline and candidate, in report order."""
    return [r for r in rules if r.get("change") != "same"]


def rule_name(rule: Mapping[str, Any]) -> str:
    """`policy/rule`, the name a reader can search the policy files for."""
    return f"{rule.get('policy', '')}/{rule.get('rule', '')}"


def _delta(rule: Mapping[str, Any]) -> str:
    delta = int(rule.get("candidate") or 0) - int(rule.get("baseline") or 0)
    if delta == 0:
        return "0"
    return ("+" if delta > 0 else MINUS) + number(abs(delta))


def rule_table(rules: Sequence[Mapping[str, Any]]) -> Table:
    """Only the changed rules, then how many did not change."""
    moved = changed(rules)
    shown = moved[:MAX_RULE_ROWS]
    rows = tuple(
        (
            rule_name(r),
            number(int(r.get("baseline") or 0)),
            number(int(r.get("candidate") or 0)),
            _delta(r),
            f"{r.get('change')}: {CHANGES.get(str(r.get('change')), '')}".rstrip(": "),
        )
        for r in shown
    )
    notes = []
    if len(moved) > len(shown):
        notes.append(f"… and {plural(len(moved) - len(shown), 'more changed rule')} in the JSON report.")
    unchanged = len(rules) - len(moved)
    notes.append(f"{plural(unchanged, 'rule')} unchanged.")
    return Table(
        key="rules",
        title="Rule decisions",
        columns=("Rule", "Baseline fired", "Candidate fired", "Difference", "Change"),
        rows=rows,
        numeric=frozenset({1, 2, 3}),
        tones=tuple(TONES.get(str(r.get("change"))) for r in shown),
        note=" ".join(notes),
        empty="No rule changed its decisions.",
    )


def _actions(directives: Sequence[Mapping[str, Any]] | None) -> str:
    if not directives:
        return "nothing"
    return "; ".join(
        f"{d.get('action')} → {', '.join(str(t) for t in d.get('targets', ())) or 'no targets'}" for d in directives
    )


def divergence_details(rules: Sequence[Mapping[str, Any]]) -> Details | None:
    """Where each changed rule first decided differently: the event and both sides' directives."""
    found = [r for r in changed(rules) if r.get("first_divergence")]
    if not found:
        return None
    items = []
    for rule in found[:MAX_DIVERGENCES]:
        divergence = rule["first_divergence"]
        seed = divergence.get("seed")
        where = f"seed {seed}, " if seed is not None else ""
        time = divergence.get("time")
        # a replay without event time places decisions by the event's index in the file, not in time
        when = f"at {clock(float(divergence['t_s']))} ({time})" if time else f"at event {int(divergence['t_s'])}"
        heading = f"{rule_name(rule)}: {where}{when}"
        lines = (
            f"baseline: {_actions(divergence.get('baseline'))}",
            f"candidate: {_actions(divergence.get('candidate'))}",
        )
        event = json.dumps(divergence.get("event"), sort_keys=True, indent=2, ensure_ascii=False)
        items.append(Item(heading, lines, event))
    summary = f"First divergence of {plural(len(found), 'changed rule')}"
    if len(found) > MAX_DIVERGENCES:
        summary += f" (the first {MAX_DIVERGENCES} shown)"
    return Details("divergences", summary, tuple(items))
