"""`ballast explain`: the value of every sub-condition of one rule for one event.

It evaluates with the reference interpreter and its trace, so what it shows is the language's
definition of the result, not a re-implementation; short-circuited parts are shown as skipped.
"""

from __future__ import annotations

from typing import Any

from ballast.runtime.errors import EvaluationError, UsageError
from ballast.runtime.functions import render
from ballast.runtime.interpret import FAULTED, evaluate_condition
from ballast.runtime.ir import IR, unparse
from ballast.runtime.validate import validate


def explain_rule(ir: dict[str, Any], rule_name: str, event: Any) -> dict[str, Any]:
    """A report {rule, policy, fires, error, tree, text} for the rule named `rule_name`."""
    policy, rule = _find(ir, rule_name)
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
        import difflib

        close = difflib.get_close_matches(rule_name, names, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else f"; rules are {', '.join(names)}"
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
    k = node["k"]
    if k == "let":
        out["let"] = node["name"]
        out["children"] = [_tree(node["e"], trace)]
    elif k in ("and", "or", "not"):
        parts = [node["e"]] if k == "not" else _flatten(node, k)
        out["children"] = [_tree(p, trace) for p in parts]
    else:
        inputs = {}
        from ballast.runtime.ir import walk

        for n in walk(node):
            if n["k"] == "field" and id(n) in trace:
                inputs[".".join(n["path"])] = trace[id(n)]
            if n["k"] == "lit" and "const" in n:
                inputs[n["const"]] = n["v"]
        if inputs:
            out["inputs"] = inputs
    return out


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
        value = render(v)
    label = f"{tree['let']} = " if "let" in tree else ""
    detail = ""
    leaf = tree["children"][0] if "let" in tree else tree  # a let shows its body's inputs
    if "inputs" in leaf:
        detail = "   where " + ", ".join(f"{k} = {render(v)}" for k, v in leaf["inputs"].items())
    expr = tree["expr"] if not label else tree["children"][0]["expr"]
    lines.append(f"{pad}{mark} {label}{expr}  → {value}{detail}")
    children = tree.get("children", [])
    if "let" in tree:
        children = children[0].get("children", [])
    for child in children:
        _render(child, depth + 1, lines)
