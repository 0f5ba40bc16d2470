"""Policy parameters: the `const` thresholds of a compiled policy set, read and changed without
recompiling the source (what the meta-loop supervisor's `adjust_threshold` directives change).

A parameter is named `POLICY.CONST` (`motb.orchestration.load_limit`). The compiler keeps, on
each literal a const was inlined as, the const's name (`{"k": "lit", "v": 0.8, "const":
"load_limit"}`), so `retune` rewrites exactly the places the const is read, then plans the
policy again (the evaluator's plan copies thresholds into its index). A const computed from
another (`const b = a * 2`) was folded into its own literal: changing `a` does not change `b`.

`retune` returns a new `PolicySet`; hand it to `Engine.reload` to run it from the next event on,
with the state of every timed rule kept. The set must have been compiled in this process (a
loaded bundle carries no IR to rewrite): a signed bundle is changed by signing another.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

from ballast.compiler.passes.optimize import plan
from ballast.runtime.errors import UsageError
from ballast.runtime.policy import PolicySet
from ballast.runtime.suggest import did_you_mean

IR = dict[str, Any]


def _lits(node: Any) -> Iterator[IR]:
    """Every literal that stands for a const, anywhere under `node`."""
    if isinstance(node, dict):
        if node.get("k") == "lit" and "const" in node:
            yield node
        for value in node.values():
            yield from _lits(value)
    elif isinstance(node, list):
        for value in node:
            yield from _lits(value)


def _ir(policies: PolicySet) -> IR:
    if policies.ir is None:
        raise UsageError(
            "this policy set was loaded from a bundle: its parameters change by compiling and signing another"
        )
    return policies.ir


def parameters(policies: PolicySet) -> dict[str, float]:
    """Every numeric parameter of the set and its value, by `POLICY.CONST`, sorted."""
    found: dict[str, float] = {}
    for policy in _ir(policies)["policies"]:
        for lit in _lits(policy):
            value = lit["v"]
            if isinstance(value, int | float) and not isinstance(value, bool):
                found[f"{policy['name']}.{lit['const']}"] = value
    return dict(sorted(found.items()))


def retune(policies: PolicySet, values: Mapping[str, float]) -> PolicySet:
    """A copy of `policies` with the parameters in `values` changed; `UsageError` for a name no
    policy has (with did-you-mean) or a value its const's type cannot hold (an int const takes
    whole numbers only)."""
    known = parameters(policies)
    for name, value in values.items():
        if name not in known:
            raise UsageError(
                f"no parameter '{name}' in the policy set: "
                + (did_you_mean(name, known) or f"its parameters are {', '.join(known) or 'none'}")
            )
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise UsageError(f"parameter '{name}' takes a number, got {value!r}")
    ir = copy.deepcopy(_ir(policies))
    for policy in ir["policies"]:
        changed = False
        for lit in _lits(policy):
            name = f"{policy['name']}.{lit['const']}"
            if name not in values:
                continue
            value = values[name]
            if lit.get("t") == "int":
                if not float(value).is_integer():
                    raise UsageError(f"parameter '{name}' is an int: {value:g} is not a whole number")
                value = int(value)
            else:
                value = float(value)
            lit["v"] = value
            changed = True
        if changed:
            policy["plan"] = {**policy["plan"], "groups": plan(policy)["groups"]}
    out = PolicySet(ir, keep_ir=True)
    out.warnings = list(policies.warnings)
    return out
