"""What a hot reload does to an Engine's state: which rules keep it, which start over, and why.

A rule with time clauses or window aggregates keeps, for each key, where it stands (inactive,
pending since t, firing, resolved at t) and its cooldowns. Across a reload that state is kept
for a rule of the same policy and name whose **state shape** did not change, and reset (the rule
starts inactive for every key, as in a new Engine) for the others. The shape is what the state
was computed from, read from the rule's timing IR:

* its grouping (`group by`), its time clauses (`for`, `keep`, `cooldown`, `repeat every`,
  `at most N per W`) and whether it has an `exit when`;
* the window aggregates its `when` and `exit when` read (function, field, window).

A changed threshold, action, reason or priority keeps the shape: a `for 30s` rule that has held
for 20 s fires 10 s later under the new version if the new condition still holds. What a policy
keeps whatever its rules do: the stream position (watermark, ids seen, sequence numbers) and the
history of every field an aggregate of the new version reads. A threat keeps its index and mode
when nothing but its version changed (its IR, positions and version aside, is the same), and
starts over otherwise, since the index is a function of all its sources and weights.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ballast.runtime.ir import IR, slot_key, walk
from ballast.runtime.threat import semantic_ir
from ballast.runtime.values import format_duration

if TYPE_CHECKING:
    from ballast.runtime.policy import CompiledPolicy, PolicySet

__all__ = ["KEPT", "NEW", "RESET", "ReloadReport", "StateCarry", "plan_reload", "state_shape", "threat_shape"]

KEPT, RESET, NEW = "kept", "reset", "new"
_TIME_CLAUSES = ("for", "keep", "cooldown", "repeat", "limit")


@dataclass(frozen=True, slots=True)
class StateCarry:
    """What a reload does to the state of one timed rule (`kind` "rule") or threat ("threat").

    `state` is `kept`, `reset` (the shape changed: `why` says how) or `new` (no rule of that
    name had state before).
    """

    kind: str
    policy: str  # the policy of a rule; "" for a threat
    name: str
    state: str
    why: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "policy": self.policy, "name": self.name, "state": self.state, "why": self.why}

    @property
    def text(self) -> str:
        where = f"{self.policy}/{self.name}" if self.policy else f"threat {self.name}"
        return f"{where}: state {self.state}" + (f" ({self.why})" if self.why else "")


@dataclass(frozen=True, slots=True)
class ReloadReport:
    """What a reload did to the state, rule by rule and threat by threat (timed rules only)."""

    carries: tuple[StateCarry, ...]

    @property
    def kept(self) -> list[StateCarry]:
        return [c for c in self.carries if c.state == KEPT]

    @property
    def reset(self) -> list[StateCarry]:
        return [c for c in self.carries if c.state == RESET]

    def to_dict(self) -> dict[str, Any]:
        return {"state": [c.to_dict() for c in self.carries]}


def state_shape(rule: IR) -> dict[str, Any]:
    """The state shape of a timed rule's IR (see the module docstring), as plain JSON."""
    state = rule["state"]
    roots = [rule["when"], *([state["exit"]] if "exit" in state else [])]
    return {
        "group by": list(state.get("group_by", ())),
        **{clause: state[clause] for clause in _TIME_CLAUSES if clause in state},
        "exit when": "exit" in state,
        "aggregates": sorted({slot_key(n)[1:] for root in roots for n in walk(root) if n["k"] == "agg"}),
    }


def threat_shape(threat: IR) -> str:
    """What a threat's state depends on: its IR without positions, file and version, hashed."""
    material = {k: v for k, v in semantic_ir(threat).items() if k != "version"}
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def plan_reload(old: PolicySet | None, new: PolicySet) -> ReloadReport:
    """What replacing `old` by `new` does to the state of each timed rule and threat of `new`
    (an Engine running `old` keeps or resets it; `ballast verify --against` shows it)."""
    before = {p.name: p for p in old.policies} if old is not None else {}
    carries = [c for policy in new.policies for c in _plan_policy(before.get(policy.name), policy)]
    old_threats = {t["name"]: t for t in old.threats} if old is not None else {}
    for threat in new.threats:
        previous = old_threats.get(threat["name"])
        if previous is None:
            carries.append(StateCarry("threat", "", threat["name"], NEW))
        elif threat_shape(previous) == threat_shape(threat):
            carries.append(StateCarry("threat", "", threat["name"], KEPT))
        else:
            carries.append(StateCarry("threat", "", threat["name"], RESET, "its sources, smoothing or modes changed"))
    return ReloadReport(tuple(carries))


def _plan_policy(old: CompiledPolicy | None, new: CompiledPolicy) -> list[StateCarry]:
    shapes = _shapes(old) if old is not None else {}
    out = []
    for name, shape in _shapes(new).items():
        previous = shapes.get(name)
        if previous is None and (old is None or name not in _names(old)):
            out.append(StateCarry("rule", new.name, name, NEW))
        elif previous is None:
            out.append(StateCarry("rule", new.name, name, RESET, "it had no time clauses or windows before"))
        elif previous == shape:
            out.append(StateCarry("rule", new.name, name, KEPT))
        else:
            out.append(StateCarry("rule", new.name, name, RESET, _difference(previous, shape)))
    return out


def _names(policy: CompiledPolicy) -> set[str]:
    return {rule.name for rule in policy.rules}


def _shapes(policy: CompiledPolicy) -> dict[str, dict[str, Any]]:
    """The state shape of each timed rule of a policy, by rule name."""
    return {policy.rules[r["index"]].name: state_shape(r) for r in policy.timing_ir["rules"]}


def _difference(old: dict[str, Any], new: dict[str, Any]) -> str:
    """How two shapes differ, in words: `for 30s → 1m; aggregates avg(load, 1m) → avg(load, 5m)`."""
    parts = []
    for clause in sorted(set(old) | set(new)):
        a, b = old.get(clause), new.get(clause)
        if a != b:
            parts.append(f"{clause} {_shown(a)} → {_shown(b)}")
    return "state shape changed: " + "; ".join(parts)


def _shown(value: Any) -> str:
    if value is None or value is False or value == []:
        return "none"
    if value is True:
        return "yes"
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, int | float) for v in value):
        return f"{value[0]} per {format_duration(value[1])}"  # at most N per W
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, int | float):
        return format_duration(value)
    return str(value)
