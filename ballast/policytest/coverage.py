"""Rule coverage of a test run: did each rule fire, was its condition ever false, and was each
threshold comparison seen on both sides of its threshold?

A *threshold* is a comparison `expression OP constant` with OP one of `< <= > >=` and a numeric
constant (a literal, a `const`, or arithmetic of them): `load > load_limit`,
`avg(latency_ms, 1m) > 250`, `0.5 <= error_rate`. It is covered when the tests evaluated it both
true and false: for `load > 0.8`, a sample with load > 0.8 and one with load ≤ 0.8.

Values are observed with the reference interpreter (`ballast.runtime.interpret.evaluate` with a
trace) on the compiled IR, on exactly the values the Engine decides on: the validated event for
a rule without time clauses, and the event with its window aggregates for a rule with them, each
time the Engine steps that rule. A comparison counts only when the condition evaluated it: `&&`
and `||` skip their right side once the left decides, so a threshold behind `tier == "batch" &&`
is exercised only by batch samples.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ballast.policytest.runner import Observer, Step
from ballast.policytest.target import Target
from ballast.runtime.engine import Engine
from ballast.runtime.errors import EvaluationError, InternalError
from ballast.runtime.interpret import FAULTED, evaluate
from ballast.runtime.ir import IR, unparse, walk

_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}
_NEGATE = {"<": ">=", "<=": ">", ">": "<=", ">=": "<"}
_SIGN = {"<": "<", "<=": "≤", ">": ">", ">=": "≥"}


@dataclass
class Threshold:
    """One `expression OP constant` comparison of a rule's condition."""

    check: str
    op: str  # with the expression on the left
    threshold: float
    line: int
    column: int
    true: bool = False
    false: bool = False
    nearest_true: float | None = None  # the observed value closest to the threshold on each side
    nearest_false: float | None = None

    @property
    def covered(self) -> bool:
        return self.true and self.false

    def sides(self) -> tuple[str, str]:
        """How the two sides read: (`> 0.8`, `≤ 0.8`)."""
        return f"{_SIGN[self.op]} {self.threshold:g}", f"{_SIGN[_NEGATE[self.op]]} {self.threshold:g}"

    def see(self, outcome: bool, value: Any) -> None:
        if outcome:
            self.true = True
        else:
            self.false = True
        if isinstance(value, int | float) and not isinstance(value, bool):
            attr = "nearest_true" if outcome else "nearest_false"
            best = getattr(self, attr)
            if best is None or abs(value - self.threshold) < abs(best - self.threshold):
                setattr(self, attr, value)

    def to_json(self) -> dict[str, Any]:
        true_side, false_side = self.sides()
        return {
            "check": self.check,
            "op": self.op,
            "threshold": self.threshold,
            "line": self.line,
            "column": self.column,
            "true_side": true_side,
            "false_side": false_side,
            "true": self.true,
            "false": self.false,
            "nearest_true": self.nearest_true,
            "nearest_false": self.nearest_false,
            "covered": self.covered,
        }


@dataclass
class RuleCoverage:
    policy: str
    rule: str
    file: str
    line: int
    thresholds: list[Threshold]
    fired: bool = False
    evaluated: int = 0
    evaluated_true: int = 0
    evaluated_false: int = 0
    faults: int = 0  # evaluations that faulted or had no data for a window

    def to_json(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "rule": self.rule,
            "file": self.file,
            "line": self.line,
            "fired": self.fired,
            "evaluated": self.evaluated,
            "evaluated_true": self.evaluated_true,
            "evaluated_false": self.evaluated_false,
            "faults": self.faults,
            "thresholds": [t.to_json() for t in self.thresholds],
        }


@dataclass
class _Plan:
    """How to observe one rule of one compiled set: its IR and its threshold nodes in order."""

    entry: RuleCoverage
    when: IR
    exit: IR | None
    nodes: list[tuple[IR, IR]] = field(default_factory=list)  # (comparison, its expression side)


class Coverage(Observer):
    """Collects coverage over every test of a run; `to_json()` and `render()` report it."""

    def __init__(self) -> None:
        self.rules: dict[tuple[str, str, str], RuleCoverage] = {}
        self._plans: dict[int, list[list[_Plan]]] = {}  # id(target) → per policy, per rule
        self._targets: list[Target] = []  # keeps the ids above valid

    # ---- registration ----
    def plans(self, target: Target) -> list[list[_Plan]]:
        if id(target) not in self._plans:
            self._targets.append(target)
            self._plans[id(target)] = [[self._plan(p, r) for r in p["rules"]] for p in target.policies]
        return self._plans[id(target)]

    def _plan(self, policy: IR, rule: IR) -> _Plan:
        ident = (policy.get("file", ""), policy["name"], rule["name"])
        exit_ = rule.get("state", {}).get("exit")
        nodes: list[tuple[IR, IR]] = []
        thresholds: list[Threshold] = []
        for root in [rule["when"], *([exit_] if exit_ else [])]:
            for node in walk(root):
                found = _threshold(node)
                if found is None:
                    continue
                expression, value, flipped = found
                op = _FLIP[node["op"]] if flipped else node["op"]
                at = node.get("at") or [rule["at"][0], rule["at"][1]]
                thresholds.append(Threshold(unparse(node), op, value, at[0], at[1]))
                nodes.append((node, expression))
        entry = self.rules.get(ident)
        if entry is None:
            entry = self.rules[ident] = RuleCoverage(ident[1], ident[2], ident[0], rule["at"][0], thresholds)
        return _Plan(entry, rule["when"], exit_, nodes)

    # ---- observation ----
    @contextlib.contextmanager
    def attach(self, engine: Engine, target: Target) -> Iterator[None]:
        plans = self.plans(target)
        policies = engine.policies.policies
        if len(policies) != len(plans):
            raise InternalError("coverage cannot observe this Engine: its policies are not the target's")
        # Stateless rules are all decided by one fused matcher: each sees every event it decides on.
        stateless = [
            [p for p, r in zip(rule_plans, policy.rules, strict=True) if not _timed(policy, r.name)]
            for policy, rule_plans in zip(policies, plans, strict=True)
        ]

        def on_decide(policy: int, event: Any) -> None:
            for plan in stateless[policy]:
                self.observe(plan, event)

        def on_condition(policy: int, rule: int, context: Any) -> None:
            self.observe(plans[policy][rule], context)

        with engine.observing(on_decide, on_condition):
            yield

    def observe(self, plan: _Plan, event: Any) -> None:
        entry = plan.entry
        trace: dict[int, Any] = {}
        entry.evaluated += 1
        try:
            outcome = evaluate(plan.when, event, trace)
        except EvaluationError:
            entry.faults += 1
            outcome = None
        if outcome is True:
            entry.evaluated_true += 1
        elif outcome is False:
            entry.evaluated_false += 1
        if plan.exit is not None:
            with contextlib.suppress(EvaluationError):
                evaluate(plan.exit, event, trace)
        for (node, expression), threshold in zip(plan.nodes, entry.thresholds, strict=True):
            result = trace.get(id(node), FAULTED)
            if result is True or result is False:
                threshold.see(result, trace.get(id(expression)))

    def step(self, step: Step) -> None:
        for d in step.directives:
            self.fire(d.policy, d.rule)
        for ev in step.events:
            if ev.get("type") == "Suppressed" or (ev.get("type") == "RuleState" and ev.get("state") == "firing"):
                self.fire(ev.get("policy", ""), ev.get("rule", ""))

    def fire(self, policy: str, rule: str) -> None:
        for (_, p, r), entry in self.rules.items():
            if p == policy and r == rule:
                entry.fired = True

    # ---- reports ----
    def totals(self) -> dict[str, int]:
        rules = list(self.rules.values())
        thresholds = [t for r in rules for t in r.thresholds]
        return {
            "rules": len(rules),
            "fired": sum(r.fired for r in rules),
            "evaluated_false": sum(r.evaluated_false > 0 for r in rules),
            "thresholds": len(thresholds),
            "thresholds_covered": sum(t.covered for t in thresholds),
        }

    def to_json(self) -> dict[str, Any]:
        return {"rules": [r.to_json() for r in self.rules.values()], "totals": self.totals()}

    def render(self) -> str:
        """The coverage report as text: one block per rule, then the totals."""
        lines = ["coverage:"]
        many = len({r.policy for r in self.rules.values()}) > 1
        for r in self.rules.values():
            name = f"{r.policy}/{r.rule}" if many else r.rule
            fired = "fired" if r.fired else "NEVER FIRED"
            false = "seen false" if r.evaluated_false else "NEVER FALSE"
            faults = f", {r.faults} faulted or without data" if r.faults else ""
            lines.append(f"  {name} ({r.file}:{r.line}): {fired}, {false}, evaluated {r.evaluated}×{faults}")
            rows = [
                (
                    " " if t.covered else "!",
                    t.check,
                    _side(t.sides()[0], t.true, t.nearest_true),
                    _side(t.sides()[1], t.false, t.nearest_false),
                )
                for t in r.thresholds
            ]
            widths = [max((len(row[i]) for row in rows), default=0) for i in range(4)]
            for mark, check, true_side, false_side in rows:
                lines.append(f"   {mark} {check.ljust(widths[1])}   {true_side.ljust(widths[2])}   {false_side}")
        n = self.totals()
        lines.append(
            f"  total: {n['fired']}/{n['rules']} rules fired, {n['evaluated_false']}/{n['rules']} seen false, "
            f"{n['thresholds_covered']}/{n['thresholds']} thresholds exercised on both sides"
        )
        return "\n".join(lines)


def _side(label: str, seen: bool, nearest: float | None) -> str:
    if not seen:
        return f"{label}: never"
    value = f" (nearest {nearest:g})" if nearest is not None else ""
    return f"{label}: yes{value}"


def _timed(policy: Any, rule_name: str) -> bool:
    return any(r["name"] == rule_name for r in policy.timing_ir["rules"])


def _constant(node: IR) -> bool:
    return not any(n["k"] in ("field", "has", "agg") for n in walk(node))


def _threshold(node: IR) -> tuple[IR, float, bool] | None:
    """(the expression side, the threshold, whether the constant is on the left) of a threshold."""
    if node["k"] != "cmp" or node["op"] not in _FLIP:
        return None
    left, right = node["l"], node["r"]
    if _constant(left) == _constant(right):
        return None
    constant, expression, flipped = (left, right, True) if _constant(left) else (right, left, False)
    try:
        value = evaluate(constant, {})
    except EvaluationError:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return expression, value, flipped


__all__ = ["Coverage", "RuleCoverage", "Threshold"]
