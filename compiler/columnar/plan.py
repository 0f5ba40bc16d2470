"""Which rules of a policy run as column operations, and why the others do not.

A rule is *columnar* when its condition compiles (`codegen.compile_condition`); otherwise it
falls back to the row path (`fallback`), with the reason kept for `ballast replay
--explain-plan`. A policy is columnar at all only when its input schema is one the column
readers type exactly (flat int, float, bool, string, enum and timestamp fields); a policy that
is not runs row by row as a whole. In a policy with event time, a rule with state is columnar
(*vectorised*) when it is a level rule whose condition compiles with window aggregates
(`window`); the others are stepped by the Engine on every row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ballast.compiler.columnar.codegen import Unsupported, column_kind, compile_condition, kind_of
from ballast.compiler.columnar.window import slot_of, window_slots
from ballast.runtime.ir import IR
from ballast.runtime.policy import CompiledPolicy
from ballast.runtime.validate import describe_type


@dataclass(frozen=True)
class RulePlan:
    """How one rule is evaluated: `run` is the compiled condition, or None with `reason`.

    `grouping` is the `group by` of a rule with state (None for a rule without), `aggregates`
    the window functions its compiled condition reads."""

    index: int
    name: str
    run: Any
    reason: str = ""
    grouping: tuple[str, ...] | None = None
    aggregates: tuple[IR, ...] = ()
    edge: tuple[str, ...] = ()  # its `for`, `keep`, `exit when`, `repeat`: skipped only where the Engine finds it idle

    @property
    def columnar(self) -> bool:
        return self.run is not None


def schema_problem(fields: list[dict[str, Any]]) -> str:
    """Why the column readers cannot type this input schema exactly, or "" when they can."""
    for f in fields:
        if column_kind(f["type"]) is None:
            return f"the field {f['name']} is {describe_type(f['type'])}; columns hold int, float, bool, string, enum and timestamp"
        for bound in ("min", "max"):
            value = f.get(bound)
            if value is not None and f["type"] == "timestamp":
                return f"the timestamp field {f['name']} has a {bound}"
            if value is not None and abs(value) > 2**53:
                return f"the field {f['name']} has a {bound} beyond ±2**53"
    return ""


def policy_problem(policy: CompiledPolicy) -> str:
    """Why this policy cannot run on columns at all, or ""."""
    stream = policy.timing_ir["stream"]
    time = stream.get("time")
    if policy.timing_ir["rules"] and not time:
        return "it has rules with time clauses but no event time: the Engine runs it row by row"
    if time:
        spec = next((f for f in policy.fields if f["name"] == time), None)
        if spec is None or spec["type"] != "timestamp" or spec.get("optional"):
            return f"its event time {time} is not a required timestamp field: the Engine runs it row by row"
        if stream.get("id"):
            return "it drops duplicate events (`stream { id … }`): the Engine runs it row by row"
    return schema_problem(policy.fields)


def plan_rules(policy: CompiledPolicy) -> list[RulePlan]:
    """One RulePlan per rule of a policy that `policy_problem` accepts, in rule order."""
    timed = {r["index"]: r for r in policy.timing_ir["rules"] if "state" in r}
    idle = policy.timing_ir["stream"].get("idle", 0.0)
    plans = []
    for index, rule in enumerate(policy.rules):
        ir = timed.get(index)
        try:
            if ir is None:
                plans.append(RulePlan(index, rule.name, compile_condition(rule.when, policy.fields)))
                continue
            grouping = tuple(ir["state"].get("group_by", ()))
            _check_timed(policy, ir, grouping, idle)
            run = compile_condition(ir["when"], policy.fields, windows=lambda slot, g=grouping: slot_of(g, slot))
            aggregates = tuple(window_slots(ir["when"]).values())
            edge = tuple(name for name, key in EDGE_CLAUSES if key in ir["state"])
            plans.append(RulePlan(index, rule.name, run, grouping=grouping, aggregates=aggregates, edge=edge))
        except Unsupported as exc:
            plans.append(
                RulePlan(index, rule.name, None, exc.reason, tuple(ir["state"].get("group_by", ())) if ir else None)
            )
    return plans


def _check_timed(policy: CompiledPolicy, ir: IR, grouping: tuple[str, ...], idle: float) -> None:
    """Raise Unsupported when a rule with state is not one the window screen can skip (`window`)."""
    nodes = window_slots(ir["when"]).values()
    specs = {f["name"]: f for f in policy.fields}
    for name in grouping:
        spec = specs.get(name)
        if spec is None or spec.get("optional") or kind_of(spec["type"]) is None:
            raise Unsupported(f"it groups by {name}, not a required int, float, bool, string or enum field")
    if idle and any(n["window"] > idle for n in nodes):
        raise Unsupported("a window is longer than the stream's `idle`: a forgotten key's samples may still count")


EDGE_CLAUSES = (("`for`", "for"), ("`keep`", "keep"), ("`exit when`", "exit"), ("`repeat`", "repeat"))


def describe(policy: CompiledPolicy, plans: list[RulePlan] | None, problem: str = "") -> list[str]:
    """The plan as text lines, for `--explain-plan`."""
    if plans is None:
        return [f"policy {policy.name}: row path ({problem})"]
    columnar = sum(1 for p in plans if p.columnar)
    timed = any(p.grouping is not None for p in plans)
    if not timed:
        lines = [f"policy {policy.name}: {columnar} of {len(plans)} rules columnar"]
        for p in plans:
            lines.append(f"  {p.name}: " + ("columnar" if p.columnar else f"row path ({p.reason})"))
        return lines
    lines = [
        f"policy {policy.name}: {columnar} of {len(plans)} rules skipped where proven quiet; "
        "every row goes to the Engine, in time order or busy from the first row out of order"
    ]
    for p in plans:
        if not p.columnar:
            lines.append(f"  {p.name}: stepped on every row ({p.reason})")
        elif p.grouping is None:
            lines.append(f"  {p.name}: columnar (no window)")
        else:
            functions = sorted({n["fn"] for n in p.aggregates})
            over = f"over {', '.join(functions)}" if functions else "without aggregates"
            by = f", by {', '.join(p.grouping)}" if p.grouping else ""
            edge = f"; it has {' and '.join(p.edge)}: skipped only where its state is idle" if p.edge else ""
            lines.append(f"  {p.name}: vectorised ({over}{by}){edge}")
    return lines


__all__ = ["RulePlan", "describe", "plan_rules", "policy_problem", "schema_problem"]
