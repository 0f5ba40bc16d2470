"""Which rules of a policy run as column operations, and why the others do not.

A rule is *columnar* when its condition compiles (`codegen.compile_condition`); otherwise it
falls back to the row path (`fallback`), with the reason kept for `ballast replay
--explain-plan`. A policy is columnar at all only when its input schema is one the column
readers type exactly (flat int, float, bool, string and enum fields) and no rule has a time
clause; a policy that is not runs row by row as a whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ballast.compiler.columnar.codegen import Unsupported, compile_condition, kind_of
from ballast.runtime.policy import CompiledPolicy
from ballast.runtime.validate import describe_type

ROW_REASON_TIME = "it has a time clause or a window: run by the Engine"


@dataclass(frozen=True)
class RulePlan:
    """How one rule is evaluated: `run` is the compiled condition, or None with `reason`."""

    index: int
    name: str
    run: Any
    reason: str = ""

    @property
    def columnar(self) -> bool:
        return self.run is not None


def schema_problem(fields: list[dict[str, Any]]) -> str:
    """Why the column readers cannot type this input schema exactly, or "" when they can."""
    for f in fields:
        if kind_of(f["type"]) is None:
            return (
                f"the field {f['name']} is {describe_type(f['type'])}; columns hold int, float, bool, string and enum"
            )
        for bound in ("min", "max"):
            value = f.get(bound)
            if value is not None and abs(value) > 2**53:
                return f"the field {f['name']} has a {bound} beyond ±2**53"
    return ""


def policy_problem(policy: CompiledPolicy) -> str:
    """Why this policy cannot run on columns at all, or ""."""
    if policy.timing_ir["rules"] or policy.timing_ir["stream"].get("time"):
        return "it has event time or rules with time clauses: the Engine runs it row by row"
    return schema_problem(policy.fields)


def plan_rules(policy: CompiledPolicy) -> list[RulePlan]:
    """One RulePlan per rule of a policy that `policy_problem` accepts, in rule order."""
    plans = []
    for index, rule in enumerate(policy.rules):
        try:
            plans.append(RulePlan(index, rule.name, compile_condition(rule.when, policy.fields)))
        except Unsupported as exc:
            plans.append(RulePlan(index, rule.name, None, exc.reason))
    return plans


def describe(policy: CompiledPolicy, plans: list[RulePlan] | None, problem: str = "") -> list[str]:
    """The plan as text lines, for `--explain-plan`."""
    if plans is None:
        return [f"policy {policy.name}: row path ({problem})"]
    columnar = sum(1 for p in plans if p.columnar)
    lines = [f"policy {policy.name}: {columnar} of {len(plans)} rules columnar"]
    for p in plans:
        lines.append(f"  {p.name}: " + ("columnar" if p.columnar else f"row path ({p.reason})"))
    return lines


__all__ = ["RulePlan", "describe", "plan_rules", "policy_problem", "schema_problem"]
