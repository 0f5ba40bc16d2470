"""Rules that decide alike on two sets: where the columns can count their directives.

In a replay, a row on which a baseline rule and its candidate twin both fire, with the same
actions, targets computed by the same expressions from the same event, and no way for an
argument to fault, adds the same directives on both sides: the rule's counts grow by its number
of actions on each side and nothing else in the report changes. Such rows need not go through
the row path one by one; `twin_rules` says which rules of two policies are twins.
"""

from __future__ import annotations

import json
from typing import Any

from ballast.compiler.columnar.codegen import kind_of
from ballast.compiler.columnar.policy import ColumnarPolicy
from ballast.runtime.codegen import node_key
from ballast.runtime.ir import IR
from ballast.runtime.policy import CompiledPolicy


def twin_rules(baseline: ColumnarPolicy, candidate: ColumnarPolicy) -> list[int] | None:
    """Per rule, the number of directives a firing issues when it emits alike on both sides (0 when
    it does not); None when the policies cannot be paired rule by rule (other names, another
    number or order of rules, a rule that falls back to the row path)."""
    b, c = baseline.policy, candidate.policy
    if baseline.plans is None or candidate.plans is None or b.name != c.name:
        return None
    if [r.name for r in b.rules] != [r.name for r in c.rules]:
        return None
    if not all(p.columnar for p in baseline.plans + candidate.plans):
        return None
    return [
        len(rb.then) if _alike(b, rb.then, c, rc.then) and _cannot_fault(b, rb.then) else 0
        for rb, rc in zip(b.rules, c.rules, strict=True)
    ]


def _alike(a: CompiledPolicy, a_then: list[IR], b: CompiledPolicy, b_then: list[IR]) -> bool:
    if [node_key(call) for call in a_then] != [node_key(call) for call in b_then]:
        return False
    actions = {call["action"] for call in a_then}
    return all(_signature(a, name) == _signature(b, name) for name in actions)


def _signature(policy: CompiledPolicy, action: str) -> str:
    return json.dumps(policy.signatures.get(action), sort_keys=True)


def _cannot_fault(policy: CompiledPolicy, then: list[IR]) -> bool:
    """Whether every argument is a literal (checked when compiling) or targets read from required
    string fields, which an emitter copies without a check that could fail."""
    for call in then:
        for name, arg in call["args"].items():
            if not (arg["k"] == "lit" or (name == "targets" and _plain_targets(policy, arg))):
                return False
    return True


def _plain_targets(policy: CompiledPolicy, arg: IR) -> bool:
    if arg["k"] == "list":
        return all(item["k"] == "lit" or _string_field(policy, item) for item in arg["items"])
    return _string_field(policy, arg)


def _string_field(policy: CompiledPolicy, node: IR) -> bool:
    if node["k"] != "field" or node.get("opt") or len(node["path"]) != 1:
        return False
    spec: dict[str, Any] | None = next((f for f in policy.fields if f["name"] == node["path"][0]), None)
    return spec is not None and not spec.get("optional") and kind_of(spec["type"]) == "str"


__all__ = ["twin_rules"]
