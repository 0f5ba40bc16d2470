"""Pass `optimize`: fold constants, warn about rules that cannot matter, and plan the evaluator.

* Constant folding evaluates every sub-expression whose inputs are all literals with the
  reference interpreter, so folding can never disagree with evaluation; a sub-expression that
  always faults (`1 / 0`) is a compile error.
* Warnings: a condition that can never hold (contradictory bounds such as `x > 5 && x < 3`, or
  bounds outside the field's declared range), one that always holds, and a rule shadowed by an
  earlier one (whenever it fires, the earlier rule fires with the same actions).
* The plan (read by the runtime's code generator): rules are grouped by a discriminating
  equality (`service == "checkout"` → one dict lookup picks the group), rules guarded by
  thresholds on the same field form sorted chains that stop at the first threshold not met,
  and sub-expressions shared by several rules of a group are computed once per event.

Reordering is only ever done across conjuncts that cannot fault, so an indexed evaluator
reports exactly the faults a rule-by-rule evaluation would.

The pass runs each document kind's `optimize` hook; the policy kind's is `optimize_policy`.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from typing import TYPE_CHECKING, Any

from ballast.runtime.codegen import node_key
from ballast.runtime.errors import ErrorList, EvaluationError, Span
from ballast.runtime.interpret import evaluate
from ballast.runtime.ir import IR, can_fault, children, conjuncts, may_be_null, unparse, walk

if TYPE_CHECKING:
    from ballast.compiler.pipeline import Compilation

_ORDERED = ("<", "<=", ">", ">=")
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


def run(compilation: Compilation) -> None:
    errors = ErrorList()
    for kind in compilation.kinds:
        kind.optimize(compilation.ir.get(kind.ir_key, []), errors)
    compilation.diagnostics.extend(errors.items)


def optimize_policy(policy: IR, errors: ErrorList) -> None:
    """Fold a policy's conditions and arguments, warn about dead and shadowed rules, plan it."""
    file = policy["file"]
    for rule in policy["rules"]:
        rule["when"] = fold(rule["when"], errors, file)
        for call in rule["then"]:
            call["args"] = {k: fold(v, errors, file) for k, v in call["args"].items()}
        _warn_rule(policy, rule, errors)
    _warn_shadowed(policy, errors)
    policy["plan"] = plan(policy)


# ---- constant folding ----


def fold(node: IR, errors: ErrorList | None = None, file: str = "<expr>") -> IR:
    """The node with every all-literal sub-expression replaced by its value."""
    k = node["k"]
    if k in ("lit", "field", "has", "agg"):
        return node
    new = dict(node)
    for key in ("e", "l", "r", "c", "a", "b", "i"):
        if key in new:
            new[key] = fold(new[key], errors, file)
    if "args" in new:
        new["args"] = [fold(a, errors, file) for a in new["args"]]
    if "items" in new:
        new["items"] = [fold(i, errors, file) for i in new["items"]]
    if k == "let":
        return new
    if k in ("and", "or"):
        return _fold_logic(new)
    if k == "cond" and _is_lit(new["c"]) and isinstance(new["c"]["v"], bool):
        return new["a"] if new["c"]["v"] else new["b"]
    if all(_is_lit(c) for c in children(new)):
        try:
            value = evaluate(new, {})
        except EvaluationError as exc:
            if errors is not None:
                errors.error("fault", f"this always fails: {exc}", _span(new, file), "fix the constant expression")
            return new
        return {"k": "lit", "v": value, "t": new.get("t", ""), "at": new.get("at"), "folded": True}
    return new


def _is_lit(node: IR) -> bool:
    return node["k"] == "lit" or (node["k"] == "let" and node["e"]["k"] == "lit")


def _lit_value(node: IR) -> Any:
    return node["v"] if node["k"] == "lit" else node["e"]["v"]


def _fold_logic(node: IR) -> IR:
    left, right = node["l"], node["r"]
    stop = node["k"] == "or"  # the value that decides: true for ||, false for &&
    if _is_lit(left) and isinstance(_lit_value(left), bool):
        if _lit_value(left) == stop:
            return {"k": "lit", "v": stop, "t": "bool", "at": node.get("at"), "folded": True}
        # `true && x` is x, unless x may be null: the `&&` faults on a null, x alone does not
        return node if may_be_null(right) else right
    if _is_lit(right) and isinstance(_lit_value(right), bool) and _lit_value(right) != stop:
        # `x && true` is x (unless x may be null, as above); `x && false` is kept: x may fault,
        # and faults are observable
        return node if may_be_null(left) else left
    return node


def _span(node: IR, file: str) -> Span:
    line, col, end_line, end_col = node.get("at") or [1, 1, 1, 2]
    return Span(file, line, col, end_line, end_col)


# ---- warnings ----


class _Bounds:
    """What the conjuncts of a condition say about one field: an interval, equalities."""

    def __init__(self, low: float = -math.inf, high: float = math.inf) -> None:
        self.low, self.low_open = low, False
        self.high, self.high_open = high, False
        self.equal: set[Any] | None = None
        self.unequal: set[Any] = set()

    def add(self, op: str, value: Any) -> None:
        if op == "==":
            self.equal = {value} if self.equal is None else self.equal & {value}
            if isinstance(value, int | float) and not isinstance(value, bool):
                self.add(">=", value)
                self.add("<=", value)
        elif op == "!=":
            self.unequal.add(value)
        elif op == "in":
            values = set(value)
            self.equal = values if self.equal is None else self.equal & values
        elif op in (">", ">="):
            if value > self.low or (value == self.low and op == ">"):
                self.low, self.low_open = value, op == ">"
        elif op in ("<", "<=") and (value < self.high or (value == self.high and op == "<")):
            self.high, self.high_open = value, op == "<"

    def empty(self) -> bool:
        if self.low > self.high or (self.low == self.high and (self.low_open or self.high_open)):
            return True
        if self.equal is not None:
            remaining = self.equal - self.unequal
            numeric = [v for v in remaining if isinstance(v, int | float) and not isinstance(v, bool)]
            if not remaining:
                return True
            if numeric and len(numeric) == len(remaining) and not any(self._holds(v) for v in numeric):
                return True
        return False

    def _holds(self, v: float) -> bool:
        above = v > self.low or (v == self.low and not self.low_open)
        below = v < self.high or (v == self.high and not self.high_open)
        return above and below

    def within(self, other: _Bounds) -> bool:
        """Whether every value these bounds allow, `other` allows too."""
        if other.equal is not None and (self.equal is None or not self.equal <= other.equal):
            return False
        if other.unequal - self.unequal and not (self.equal is not None and not (self.equal & other.unequal)):
            return False
        low_ok = self.low > other.low or (self.low == other.low and (self.low_open or not other.low_open))
        high_ok = self.high < other.high or (self.high == other.high and (self.high_open or not other.high_open))
        return low_ok and high_ok


def _simple(node: IR) -> tuple[tuple[str, ...], str, Any] | None:
    """`field OP literal` (either way round) as (path, op, value); None for anything else."""
    if node["k"] == "let":
        return _simple(node["e"])
    if node["k"] != "cmp":
        return None
    left, right, op = node["l"], node["r"], node["op"]
    if left["k"] == "field" and _is_lit(right) and not left.get("opt"):
        value = _lit_value(right)
        return tuple(left["path"]), op, value
    if right["k"] == "field" and _is_lit(left) and op != "in" and not right.get("opt"):
        return tuple(right["path"]), _FLIP[op], _lit_value(left)
    return None


def _constraints(parts: list[IR]) -> dict[tuple[str, ...], _Bounds] | None:
    bounds: dict[tuple[str, ...], _Bounds] = {}
    for part in parts:
        simple = _simple(part)
        if simple is None:
            continue
        path, op, value = simple
        if op in _ORDERED and not isinstance(value, int | float):
            continue
        if op in _ORDERED and isinstance(value, bool):
            continue
        bounds.setdefault(path, _Bounds()).add(op, value)
    return bounds


def _declared(policy: IR) -> dict[tuple[str, ...], tuple[float, float]]:
    out = {}
    for f in policy["input"]["fields"]:
        if "min" in f or "max" in f:
            out[(f["name"],)] = (f.get("min", -math.inf), f.get("max", math.inf))
    return out


def _warn_rule(policy: IR, rule: IR, errors: ErrorList) -> None:
    file, when = policy["file"], rule["when"]
    span = _span(when, file)
    if when["k"] == "lit" and when["v"] is False:
        errors.warning(
            "never",
            f"rule '{rule['name']}' can never fire: its condition is always false",
            span,
            "fix the condition or delete the rule",
        )
        return
    if when["k"] == "lit" and when["v"] is True and when.get("folded"):  # `when true` is meant
        errors.warning(
            "always",
            f"rule '{rule['name']}' fires for every event: its condition is always true",
            span,
            "if that is intended, say `when true`",
        )
        return
    parts = conjuncts(when)
    bounds = _constraints(parts) or {}
    declared = _declared(policy)
    for path, b in bounds.items():
        if path in declared:
            low, high = declared[path]
            b.add(">=", low)
            b.add("<=", high)
        if b.empty():
            involved = [unparse(p) for p in parts if (s := _simple(p)) and s[0] == path]
            where = f" (declared range [{declared[path][0]:g}, {declared[path][1]:g}])" if path in declared else ""
            errors.warning(
                "never",
                f"rule '{rule['name']}' can never fire: {_contradiction(involved)}{where}",
                span,
                "no value of '" + ".".join(path) + "' satisfies all of these",
            )
            return
    for part in parts:
        simple = _simple(part)
        if simple is None or simple[0] not in declared or simple[1] not in _ORDERED:
            continue
        path, op, value = simple
        low, high = declared[path]
        always = {
            ">": low > value,
            ">=": low >= value,
            "<": high < value,
            "<=": high <= value,
        }[op]
        if always:
            errors.warning(
                "always",
                f"'{unparse(part)}' is always true: '{'.'.join(path)}' is declared in [{low:g}, {high:g}]",
                _span(part, file),
                "drop the check or fix the threshold",
            )


def _contradiction(involved: list[str]) -> str:
    if len(involved) == 1:
        return f"{involved[0]} cannot hold"
    return f"{' && '.join(involved)} contradict each other"


def _warn_shadowed(policy: IR, errors: ErrorList) -> None:
    rules = policy["rules"]
    by_signature: dict[str, list[int]] = defaultdict(list)
    for i in sorted(range(len(rules)), key=lambda i: rank(rules[i])):
        if "state" not in rules[i]:  # a rule with time clauses fires on its own schedule
            by_signature[action_signature(rules[i])].append(i)
    facts = [_Facts(r["when"]) for r in rules]
    for members in by_signature.values():
        for position, later in enumerate(members):
            for earlier in members[:position]:
                if facts[later].implies(facts[earlier]):
                    name, other = rules[later]["name"], rules[earlier]["name"]
                    errors.warning(
                        "shadowed",
                        f"rule '{name}' is shadowed by rule '{other}': whenever it fires, '{other}' fires with the same actions",
                        _span(rules[later], policy["file"]),
                        "merge the two rules, or give this one a distinct action or target",
                    )
                    break


def rank(rule: IR) -> tuple[int, int]:
    """Where a rule's directives come in its policy's: higher priority first, then file order
    (the runtime's order, and the order in which a directive queue keeps the first of two
    directives for the same action and targets)."""
    return -rule.get("priority", 0), rule["index"]


def action_signature(rule: IR) -> str:
    """The rule's actions and their arguments, up to positions and constant names: rules with
    equal signatures emit equal directives on the same event."""
    return node_key({"k": "sig", "then": [{"action": a["action"], "args": a["args"]} for a in rule["then"]]})


class _Facts:
    """What a condition's conjuncts say, computed once so that comparing rules pairwise is cheap."""

    def __init__(self, when: IR) -> None:
        parts = conjuncts(when)
        self.keys = {node_key(p) for p in parts}
        self.bounds = _constraints(parts) or {}
        # (key, (path, op, value) or None) of each conjunct, for `implies` to look through
        self.needs = [(node_key(p), _simple(p)) for p in parts]
        self.equal = {path: b.equal for path, b in self.bounds.items() if b.equal is not None}

    def implies(self, other: _Facts) -> bool:
        """Whether this condition can only hold when `other` holds (sound, not complete)."""
        for path, values in other.equal.items():  # the cheap test that rejects most pairs
            mine = self.equal.get(path)
            if mine is None or not mine <= values:
                return False
        for key, simple in other.needs:
            if key in self.keys:
                continue
            if simple is None:
                return False
            path, op, value = simple
            if op in _ORDERED and (isinstance(value, bool) or not isinstance(value, int | float)):
                return False
            need = _Bounds()
            need.add(op, value)
            have = self.bounds.get(path)
            if have is None or not have.within(need):
                return False
        return True


# ---- the evaluator's plan ----


def plan(policy: IR) -> IR:
    """How the code generator lays the rules out; see the module docstring."""
    rules = policy["rules"]
    parts = [conjuncts(r["when"]) for r in rules]
    candidates: dict[tuple[str, ...], dict[int, tuple[int, list[Any]]]] = defaultdict(dict)
    # Rules with time clauses or window aggregates are the Engine's: the fused matcher skips them.
    stateless = [i for i, r in enumerate(rules) if "state" not in r]
    for i, conj in enumerate(parts):
        if "state" in rules[i]:
            continue
        for j, part in enumerate(conj):
            eq = _equality(part)
            if eq is not None:
                path, values = eq
                candidates[path].setdefault(i, (j, values))
            if can_fault(part):
                break  # conjuncts after a faulting one must stay behind it
    dispatch: tuple[str, ...] | None = None
    if candidates:
        best = max(candidates, key=lambda p: (len(candidates[p]), p))
        distinct = {v for _, values in candidates[best].values() for v in values}
        if len(candidates[best]) >= 2 and len(distinct) >= 2:
            dispatch = best
    groups = []
    if dispatch is not None:
        by_value: dict[Any, list[tuple[int, list[int]]]] = defaultdict(list)
        for i, (j, values) in sorted(candidates[dispatch].items()):
            for v in values:
                by_value[v].append((i, [j]))
        for value in sorted(by_value, key=lambda v: (type(v).__name__, v)):
            groups.append(_layout(rules, parts, by_value[value], list(dispatch), [value]))
        rest = [(i, []) for i in stateless if i not in candidates[dispatch]]
    else:
        rest = [(i, []) for i in stateless]
    groups.append(_layout(rules, parts, rest, None, []))
    return {"groups": groups, "optional_keys": []}


def _equality(part: IR) -> tuple[tuple[str, ...], list[Any]] | None:
    simple = _simple(part)
    if simple is None:
        return None
    path, op, value = simple
    if op == "==" and isinstance(value, str | int) and not isinstance(value, bool):
        return path, [value]
    if op == "in" and isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return path, sorted(set(value))
    return None


def _layout(
    rules: list[IR],
    parts: list[list[IR]],
    members: list[tuple[int, list[int]]],
    key_path: list[str] | None,
    values: list[Any],
) -> IR:
    thresholds: dict[tuple[tuple[str, ...], str], list[tuple[int, list[int], int, str, float]]] = defaultdict(list)
    for i, drop in members:
        for j, part in enumerate(parts[i]):
            if j in drop:
                continue
            simple = _simple(part)
            if (
                simple
                and simple[1] in _ORDERED
                and isinstance(simple[2], int | float)
                and not isinstance(simple[2], bool)
                and _numeric_field(part)
            ):
                direction = ">" if simple[1] in (">", ">=") else "<"
                thresholds[(simple[0], direction)].append((i, drop, j, simple[1], simple[2]))
            if can_fault(part):
                break
    chosen: dict[int, tuple[tuple[str, ...], str]] = {}
    for key in sorted(thresholds, key=lambda k: (-len(thresholds[k]), k)):
        if len(thresholds[key]) < 2:
            continue
        for i, *_ in thresholds[key]:
            chosen.setdefault(i, key)
    chains = []
    for key, steps in sorted(thresholds.items()):
        mine = [s for s in steps if chosen.get(s[0]) == key]
        # One step per rule: a rule with two thresholds on the field (`n > 1 && n > 5`) keeps its
        # first as the step and the other in its residual; two steps would fire it twice.
        firsts: dict[int, Any] = {}
        mine = [firsts.setdefault(s[0], s) for s in mine if s[0] not in firsts]
        if len(mine) < 2:
            for s in mine:
                chosen.pop(s[0], None)
            continue
        path, direction = key
        if direction == ">":
            mine.sort(key=lambda s: (s[4], s[3] == ">", s[0]))  # at a tie, >= breaks before >
        else:
            mine.sort(key=lambda s: (-s[4], s[3] == "<", s[0]))
        chains.append(
            {
                "path": list(path),
                "op": direction,
                "steps": [
                    {"rule": i, "drop": sorted([*drop, j]), "threshold": value, "op": op}
                    for i, drop, j, op, value in mine
                ],
            }
        )
    singles = [{"rule": i, "drop": sorted(drop)} for i, drop in members if i not in chosen]
    group = {"key_path": key_path, "values": values, "chains": chains, "singles": singles}
    group["shared"] = _shared(parts, group)
    return group


def _numeric_field(part: IR) -> bool:
    node = part["e"] if part["k"] == "let" else part
    side = node["l"] if node["l"]["k"] == "field" else node["r"]
    return side.get("t") in ("int", "float", "duration", "timestamp")


def _shared(parts: list[list[IR]], group: IR) -> list[IR]:
    entries = group["singles"] + [s for c in group["chains"] for s in c["steps"]]
    counts: Counter[str] = Counter()
    nodes: dict[str, IR] = {}
    for entry in entries:
        seen: set[str] = set()
        for j, part in enumerate(parts[entry["rule"]]):
            if j in entry["drop"]:
                continue
            for node in walk(part):
                if node["k"] in ("lit", "field", "has") or can_fault(node):
                    continue
                key = node_key(node)
                if key not in seen:
                    seen.add(key)
                    counts[key] += 1
                    nodes.setdefault(key, node)
    shared = [nodes[k] for k, n in counts.items() if n >= 2]
    # Children before parents, so a hoisted parent reads its hoisted children.
    shared.sort(key=lambda n: (sum(1 for _ in walk(n)), node_key(n)))
    return shared
