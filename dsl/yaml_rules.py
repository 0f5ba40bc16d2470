"""A rule of the YAML form as an `ast.Rule`: its condition, actions, and its time clauses.

Besides `when`/`then`, a rule may be stateful (`enter_when`/`exit_when`, `group_by`) and timed
(`for`, `keep`, `cooldown`, `repeat_every`, `at_most: {count, per}`); these read into the same fields as the
`.bal` clauses, and `clause_lines` records where each clause is written, as the `.bal` parser does.
"""

from __future__ import annotations

from ballast.dsl import ast
from ballast.dsl.parser import parse_action_call
from ballast.dsl.yaml_reader import Node
from ballast.dsl.yaml_values import duration, expression, is_name, labels, string_value, text_of

_CLAUSES = (
    "description", "when", "then", "priority", "impact", "reason", "justification", "labels",
    "group_by", "enter_when", "exit_when", "for", "keep", "cooldown", "repeat_every", "at_most",
)
# YAML key → the clause name the .bal parser records in Rule.clause_lines
_CLAUSE_NAMES = {
    "group_by": "group", "enter_when": "enter", "exit_when": "exit", "at_most": "limit", "repeat_every": "repeat",
}


def read_rule(rules: Node, index: int) -> ast.Rule | None:
    """rules[index] as a rule; None when it has no valid name (the schema has said why)."""
    if not rules.has(index, dict) or not is_name(rules[index].get("name")):
        return None
    rule = rules.child(index)
    when = expression(rule, "when") if rule.has("when", str | bool) else None
    enter = expression(rule, "enter_when") if rule.has("enter_when", str | bool) else None
    exit_ = expression(rule, "exit_when") if rule.has("exit_when", str | bool) else None
    group = rule.value("group_by")
    group_by = tuple(g for g in group if isinstance(g, str)) if isinstance(group, list) else ()
    limit = None
    if rule.has("at_most", dict):
        at_most = rule.child("at_most")
        if isinstance(at_most.value("count"), int) and (per := duration(at_most, "per")):
            limit = (at_most["count"], per)
    then: list[ast.ActionCall | None] = []
    if rule.has("then", str):
        then.append(rule.parse("then", parse_action_call))
    elif rule.has("then", list):
        calls = rule.child("then")
        then.extend(calls.parse(i, parse_action_call) for i in calls if calls.has(i, str))
    priority = rule.value("priority")
    if isinstance(priority, bool) or not isinstance(priority, int | float):
        priority = None
    elif isinstance(priority, float):
        priority = int(priority) if priority.is_integer() else None
    else:
        priority = int(priority)
    impact = rule.value("impact") if rule.has("impact", str) else None
    reason = string_value(rule, "reason") if rule.has("reason", str) else None
    justification = string_value(rule, "justification") if rule.has("justification", str) else None
    return ast.Rule(
        name=rule["name"],
        span=rule.value_span("name"),
        when=when,
        then=tuple(c for c in then if c is not None),
        priority=priority,
        priority_span=rule.value_span("priority") if priority is not None else None,
        impact=impact,
        impact_span=rule.value_span("impact") if impact is not None else None,
        reason=reason,
        labels=labels(rule, "labels"),
        description=text_of(rule, "description"),
        justification=justification.value if justification else "",
        justification_span=justification.span if justification else None,
        clause_lines=tuple(_clause_lines(rule)),
        group_by=group_by,
        group_span=rule.value_span("group_by") if group_by else None,
        enter=enter,
        exit=exit_,
        hold=duration(rule, "for"),
        keep=duration(rule, "keep"),
        cooldown=duration(rule, "cooldown"),
        repeat=duration(rule, "repeat_every"),
        limit=limit,
        limit_span=rule.value_span("at_most") if limit else None,
    )


def _clause_lines(rule: Node) -> list[tuple[str, int, int]]:
    """(clause, first line, last line) of each clause as written, as the `.bal` parser keeps them."""
    out = []
    for key in rule:
        if key in _CLAUSES:
            last = rule.value_span(key).end_line
            if rule.has(key, list) and rule[key]:  # a block list ends with its last item
                items = rule.child(key)
                last = max(last, items.value_span(len(items) - 1).end_line)
            out.append((_CLAUSE_NAMES.get(key, key), rule.key_span(key).line, last))
    return out
