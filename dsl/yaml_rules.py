"""A rule of the YAML form as an `ast.Rule`: its condition, actions, and its time clauses.

Besides `when`/`then`, a rule may be stateful (`enter_when`/`exit_when`, `group_by`) and timed
(`for`, `keep`, `cooldown`, `repeat_every`, `at_most: {count, per}`); these read into the same fields as the
`.bal` clauses, and `clause_lines` records where each clause is written, as the `.bal` parser does.
"""

from __future__ import annotations

from typing import Any

from ballast.dsl import ast
from ballast.dsl.parser import parse_action_call
from ballast.dsl.yaml_file import YamlFile
from ballast.dsl.yaml_values import duration, expression, is_name, labels, string_value, text_of

_CLAUSES = (
    "description", "when", "then", "priority", "impact", "reason", "justification", "labels",
    "group_by", "enter_when", "exit_when", "for", "keep", "cooldown", "repeat_every", "at_most",
)
# YAML key → the clause name the .bal parser records in Rule.clause_lines
_CLAUSE_NAMES = {
    "group_by": "group", "enter_when": "enter", "exit_when": "exit", "at_most": "limit", "repeat_every": "repeat",
}


def read_rule(yaml_file: YamlFile, rules: Any, index: int) -> ast.Rule | None:
    """rules[index] as a rule; None when it has no valid name (the schema has said why)."""
    rule = rules[index]
    if not isinstance(rule, dict) or not is_name(rule.get("name")):
        return None
    when = expression(yaml_file, rule, "when") if isinstance(rule.get("when"), str | bool) else None
    enter = expression(yaml_file, rule, "enter_when") if isinstance(rule.get("enter_when"), str | bool) else None
    exit_ = expression(yaml_file, rule, "exit_when") if isinstance(rule.get("exit_when"), str | bool) else None
    group = rule.get("group_by")
    group_by = tuple(g for g in group if isinstance(g, str)) if isinstance(group, list) else ()
    limit = None
    at_most = rule.get("at_most")
    if (
        isinstance(at_most, dict)
        and isinstance(at_most.get("count"), int)
        and (per := duration(yaml_file, at_most, "per"))
    ):
        limit = (at_most["count"], per)
    then: list[ast.ActionCall | None] = []
    calls = rule.get("then")
    if isinstance(calls, str):
        then.append(yaml_file.embedded(rule, "then").parse(parse_action_call, yaml_file.problems))
    elif isinstance(calls, list):
        for i, call in enumerate(calls):
            if isinstance(call, str):
                then.append(yaml_file.embedded(calls, i).parse(parse_action_call, yaml_file.problems))
    priority = rule.get("priority")
    if isinstance(priority, bool) or not isinstance(priority, int | float):
        priority = None
    elif isinstance(priority, float):
        priority = int(priority) if priority.is_integer() else None
    else:
        priority = int(priority)
    impact = rule.get("impact") if isinstance(rule.get("impact"), str) else None
    reason = _optional_string(yaml_file, rule, "reason")
    justification = _optional_string(yaml_file, rule, "justification")
    return ast.Rule(
        name=rule["name"],
        span=yaml_file.node_span(rule, "name"),
        when=when,
        then=tuple(c for c in then if c is not None),
        priority=priority,
        priority_span=yaml_file.node_span(rule, "priority") if priority is not None else None,
        impact=impact,
        impact_span=yaml_file.node_span(rule, "impact") if impact is not None else None,
        reason=reason,
        labels=labels(yaml_file, rule.get("labels")),
        description=text_of(rule, "description"),
        justification=justification.value if justification else "",
        justification_span=justification.span if justification else None,
        clause_lines=tuple(_clause_lines(yaml_file, rule)),
        group_by=group_by,
        group_span=yaml_file.node_span(rule, "group_by") if group_by else None,
        enter=enter,
        exit=exit_,
        hold=duration(yaml_file, rule, "for"),
        keep=duration(yaml_file, rule, "keep"),
        cooldown=duration(yaml_file, rule, "cooldown"),
        repeat=duration(yaml_file, rule, "repeat_every"),
        limit=limit,
        limit_span=yaml_file.node_span(rule, "at_most") if limit else None,
    )


def _optional_string(yaml_file: YamlFile, rule: Any, key: str) -> ast.StringValue | None:
    """rule[key] with the span of its text; None when absent or not a string (the schema has said why)."""
    return string_value(yaml_file, rule, key) if isinstance(rule.get(key), str) else None


def _clause_lines(yaml_file: YamlFile, rule: Any) -> list[tuple[str, int, int]]:
    """(clause, first line, last line) of each clause as written, as the `.bal` parser keeps them."""
    out = []
    for key in rule:
        if key in _CLAUSES:
            value, last = rule[key], yaml_file.node_span(rule, key).end_line
            if isinstance(value, list) and value:  # a block list ends with its last item
                last = max(last, yaml_file.node_span(value, len(value) - 1).end_line)
            out.append((_CLAUSE_NAMES.get(key, key), yaml_file.key_span(rule, key).line, last))
    return out
