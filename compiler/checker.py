"""The type checker: type every expression against the declared schema and lower it to IR.

Every document kind uses it (`ballast.compiler.kinds`): a policy lowers whole rules with it, a
threat its sources. Pass `check-types` runs it through the kinds.

The IR is plain JSON (dicts, lists, numbers, strings) so it can be dumped, bundled and rebuilt
by the runtime without the compiler. Every node has `k` (kind), `t` (type, for humans and
tools) and `at` ([line, column, end line, end column]); the node kinds are documented in
`ballast.runtime.ir`.

All type errors of a file are reported in one run: a node with an error gets the type `any`,
which is compatible with everything, so one mistake does not cascade into many.
"""

from __future__ import annotations

import re
import string
from typing import Any

from ballast.compiler import types as T
from ballast.compiler.functions import check_call
from ballast.compiler.passes.optimize import fold
from ballast.compiler.passes.resolve import FUNCTIONS, ActionSig, PolicyModel, resolve_type, suggest
from ballast.compiler.spans import at
from ballast.compiler.windows import AGGREGATES, check_aggregate, is_aggregate
from ballast.dsl import ast
from ballast.dsl.format import format_expr
from ballast.runtime.errors import ErrorList, Span
from ballast.runtime.ir import walk
from ballast.runtime.values import spec_problem

IR = dict[str, Any]


class Checker:
    """Types and lowers the expressions of one resolved model; errors go to `errors`.

    `policy()` lowers a whole policy; `expr(node)` one expression, as (IR, type).
    """

    def __init__(self, model: PolicyModel, errors: ErrorList) -> None:
        self.model = model
        self.errors = errors
        self.const_ir: dict[str, tuple[IR, T.Type]] = {}
        self.let_ir: dict[str, tuple[IR, T.Type]] = {}
        self.in_const = 0

    # ---- documents ----
    def policy(self) -> IR:
        doc = self.model.document
        for name in self.model.consts:
            self.constant(name)
        for name in self.model.lets:
            self.let(name)
        rules = [self.rule(rule, i) for i, rule in enumerate(self.model.rules)]
        stream = self.stream()
        for rule, ir in zip(self.model.rules, rules, strict=True):
            if _uses_history(ir):
                ir.setdefault("state", {})
            if "state" in ir and not stream.get("time"):
                self.errors.error(
                    "time",
                    f"rule '{rule.name}' depends on time but the policy declares no event time",
                    rule.span,
                    "add `stream { time ts }` naming a timestamp field of the input",
                )
        used_actions = sorted({a["action"] for r in rules for a in r["then"]})
        return {
            "name": doc.name,
            "version": doc.version.value if doc.version else "",
            "file": doc.file,
            "owner": doc.owner,
            "description": doc.description,
            "labels": {label.key: label.value for label in doc.labels},
            "input": {
                "name": self.model.input_name,
                "fields": [T.field_to_json(f) for f in self.model.input.fields],
            },
            "actions": {name: self.action_signature(self.model.actions[name]) for name in used_actions},
            "lets": {name: ir for name, (ir, _) in self.let_ir.items()},
            "stream": stream,
            "rules": rules,
        }

    def action_signature(self, sig: ActionSig) -> list[IR]:
        out = []
        for p in sig.params:
            param: IR = {"name": p.name, "type": T.to_json(p.type), "optional": p.optional or p.default is not None}
            if p.low is not None:
                param["min"] = p.low
            if p.high is not None:
                param["max"] = p.high
            out.append(param)
        return out

    def rule(self, rule: ast.Rule, index: int) -> IR:
        # With hysteresis, `when` is the enter condition (what explanations and rationales show).
        condition = rule.when if rule.when is not None else rule.enter
        when = (
            self.condition(condition, f"the condition of rule '{rule.name}'")
            if condition is not None
            else _lit(True, T.BOOL, rule.span)
        )
        then = [self.action_call(call) for call in rule.then if call.name in self.model.actions]
        out: IR = {
            "name": rule.name,
            "index": index,
            "at": at(rule.span),
            "priority": rule.priority if rule.priority is not None else 0,
            "impact": rule.impact or "moderate",
            "labels": {label.key: label.value for label in rule.labels},
            "description": rule.description,
            "when": when,
            "then": then,
            "reason": self.reason(rule),
        }
        if rule.justification:  # unwritten (or empty): omitted, so bundles of older policies stay byte-identical
            out["justification"] = rule.justification
        if rule.enforce:  # the same: written only when the rule writes it
            out["enforce"] = rule.enforce
        if rule.mode:
            out["mode"] = rule.mode
        state = self.state(rule)
        if state:
            out["state"] = state
        return out

    def stream(self) -> IR:
        streams = self.model.document.of(ast.Stream)
        if not streams:
            return {}
        stream = streams[0]
        out: IR = {"time": stream.time}
        if stream.id:
            out["id"] = stream.id
        out["lateness"] = stream.lateness.seconds if stream.lateness else 0.0
        if stream.sequence:
            out["sequence"] = [stream.sequence, stream.sequence_by]
        if stream.idle:
            out["idle"] = stream.idle.seconds
        if stream.stale:  # unwritten: omitted, so bundles of older policies stay byte-identical
            out["stale"] = stream.stale.seconds
        return out

    def state(self, rule: ast.Rule) -> IR:
        """The time clauses of a rule, for the runtime's Engine; {} for a stateless rule."""
        state: IR = {}
        if rule.group_by:
            state["group_by"] = list(rule.group_by)
        if rule.enter is not None:
            state["enter"] = True  # the enter condition is `when`
        if rule.exit is not None:
            state["exit"] = self.condition(rule.exit, f"the exit condition of rule '{rule.name}'")
        durations = (("for", rule.hold), ("keep", rule.keep), ("cooldown", rule.cooldown), ("repeat", rule.repeat))
        for key, value in durations:
            if value is not None:
                state[key] = value.seconds
        if rule.limit is not None:
            state["limit"] = [rule.limit[0], rule.limit[1].seconds]
        return state

    def condition(self, expr: ast.Expr, what: str) -> IR:
        ir, typ = self.expr(expr)
        if typ not in (T.BOOL, T.ANY):
            self.errors.error(
                "type", f"{what} must be a bool, got {typ}", expr.span, 'compare it: `x > 0`, `name == "a"`'
            )
        return ir

    def action_call(self, call: ast.ActionCall) -> IR:
        sig = self.model.actions[call.name]
        args: dict[str, IR] = {}
        given = {a.name: a for a in call.args}
        for param in sig.params:
            arg = given.get(param.name)
            if arg is None:
                if param.default is not None:
                    ir, typ = self.expr(param.default)
                    args[param.name] = self.coerce(
                        ir, typ, param.type, param.default.span, f"default of '{param.name}'"
                    )
                continue
            ir, typ = self.expr(arg.value)
            args[param.name] = self.coerce(
                ir, typ, param.type, arg.value.span, f"argument '{param.name}' of {call.name}"
            )
            in_range = param.low is None or ir["k"] != "lit" or not isinstance(ir["v"], int | float)
            if not in_range and not (param.low <= ir["v"] <= (param.high if param.high is not None else ir["v"])):
                self.errors.error(
                    "range",
                    f"argument '{param.name}' = {ir['v']} is outside [{param.low:g}, {param.high:g}]",
                    arg.value.span,
                    "",
                )
        return {"action": call.name, "args": args, "at": at(call.span)}

    def coerce(self, ir: IR, typ: T.Type, expected: T.Type, span: Span, what: str) -> IR:
        if expected in (T.FLOAT, T.DURATION, T.TIMESTAMP) and ir["k"] == "lit" and type(ir["v"]) is int:
            ir = {**ir, "v": float(ir["v"]), "t": str(expected)}  # promoted now, not per event
        if not T.assignable(typ, expected):
            hint = ""
            if expected == T.DURATION and T.is_numeric(typ):
                hint = "write a duration such as 30s or 5m"
            self.errors.error("type", f"{what} must be {expected}, got {typ}", span, hint)
        return ir

    def reason(self, rule: ast.Rule) -> list[Any]:
        if rule.reason is None:
            return [f"rule {rule.name} fired"]
        text = rule.reason.value
        parts: list[Any] = []
        try:
            parsed = list(string.Formatter().parse(text))
        except ValueError as exc:
            self.errors.error(
                "reason",
                f"malformed reason template: {exc}",
                rule.reason.span,
                "write {name} or {name:.2f}; double braces {{ }} for literal ones",
            )
            return [text]
        search_from = 0
        for literal, name, spec, conversion in parsed:
            if literal:
                parts.append(literal)
            if name is None:
                continue
            offset = text.find("{" + name, search_from)
            search_from = max(offset, 0) + 1
            span = _inner_span(rule.reason.span, offset + 1, len(name))
            if conversion:
                self.errors.error(
                    "reason", f"conversion '!{conversion}' is not supported", span, "use a format spec: {x:.2f}"
                )
            try:
                expr = _parse_template_name(name, span)
            except ValueError:
                self.errors.error(
                    "reason",
                    f"'{{{name}}}' is not a name",
                    span,
                    "write {field}, {const}, {condition} or {record.field}",
                )
                continue
            root = name.split(".")[0]
            if root not in self.model.names():
                if self.model.incomplete:  # the value may come from the import that failed
                    continue
                hint = suggest(root, self.model.names()) or "a reason can name input fields, constants and conditions"
                self.errors.error("reason", f"the reason names an unknown value '{root}'", span, hint)
                continue
            ir, typ = self.expr(expr)
            if spec and typ != T.ANY:
                _check_spec(spec, typ, span, self.errors)
            parts.append({"e": ir, "spec": spec or "", "text": name, "t": str(typ)})
        return parts

    # ---- names ----
    def constant(self, name: str) -> tuple[IR, T.Type]:
        if name in self.const_ir:
            return self.const_ir[name]
        const = self.model.consts[name]
        self.const_ir[name] = (_lit(None, T.ANY, const.span), T.ANY)  # guards cycles (already reported)
        self.in_const += 1
        errors_before = len(self.errors.items)
        ir, typ = self.expr(const.value)
        self.in_const -= 1
        if len(self.errors.items) > errors_before:
            self.const_ir[name] = (_lit(None, T.ANY, const.span), T.ANY)
            return self.const_ir[name]
        if const.type is not None:
            declared = resolve_type(const.type, self.model, self.errors)
            self.coerce(ir, typ, declared, const.value.span, f"constant '{name}'")
            typ = declared
        if ir["k"] != "lit":
            errors_before = len(self.errors.items)
            ir = fold(ir, self.errors, const.span.file)
            if len(self.errors.items) > errors_before:
                return self.const_ir[name]  # folding found a fault and said so
        if ir["k"] not in ("lit", "list") or (ir["k"] == "list" and any(i["k"] != "lit" for i in ir["items"])):
            self.errors.error(
                "const",
                f"constant '{name}' must be computable when compiling",
                const.value.span,
                "use `let` for a condition that reads input fields",
            )
        self.const_ir[name] = (ir, typ)
        return ir, typ

    def let(self, name: str) -> tuple[IR, T.Type]:
        if name in self.let_ir:
            return self.let_ir[name]
        let = self.model.lets[name]
        self.let_ir[name] = (_lit(None, T.ANY, let.span), T.ANY)
        ir, typ = self.expr(let.value)
        self.let_ir[name] = (ir, typ)
        return ir, typ

    # ---- expressions ----
    def expr(self, node: ast.Expr) -> tuple[IR, T.Type]:
        method = getattr(self, "x_" + type(node).__name__)
        return method(node)

    def x_Literal(self, node: ast.Literal) -> tuple[IR, T.Type]:
        typ = {
            "int": T.INT,
            "float": T.FLOAT,
            "string": T.STRING,
            "bool": T.BOOL,
            "null": T.NULL,
            "duration": T.DURATION,
        }[node.kind]
        ir = _lit(node.value, typ, node.span)
        if node.kind == "duration":
            ir["text"] = node.text
        return ir, typ

    def x_Name(self, node: ast.Name) -> tuple[IR, T.Type]:
        name = node.name
        field = self.model.input.field(name)
        if self.in_const and name not in self.model.consts:
            self.errors.error(
                "const",
                f"a constant cannot read '{name}'",
                node.span,
                "constants are fixed when compiling; use `let` for conditions on input",
            )
            return _lit(None, T.ANY, node.span), T.ANY
        if field is not None:
            ir: IR = {"k": "field", "path": [name], "t": str(field.type), "at": at(node.span)}
            if field.optional:
                ir["opt"] = True
            return ir, field.type
        if name in self.model.consts:
            value, typ = self.constant(name)
            ir = dict(value)
            ir["at"] = at(node.span)
            ir["const"] = name
            return ir, typ
        if name in self.model.lets:
            value, typ = self.let(name)
            return {"k": "let", "name": name, "e": value, "t": str(typ), "at": at(node.span)}, typ
        return _lit(None, T.ANY, node.span), T.ANY  # unknown: reported by resolve

    def x_Attribute(self, node: ast.Attribute) -> tuple[IR, T.Type]:
        obj, typ = self.expr(node.obj)
        if isinstance(typ, T.RecordT):
            field = typ.field(node.name)
            if field is None:
                names = [f.name for f in typ.fields]
                self.errors.error(
                    "name",
                    f"record has no field '{node.name}'",
                    node.name_span,
                    suggest(node.name, names) or "its fields are " + ", ".join(names),
                )
                return _lit(None, T.ANY, node.span), T.ANY
            if obj["k"] == "field":
                ir = {"k": "field", "path": [*obj["path"], node.name], "t": str(field.type), "at": at(node.span)}
                if field.optional or obj.get("opt"):
                    ir["opt"] = True
                return ir, field.type
            ir = {"k": "attr", "e": obj, "name": node.name, "t": str(field.type), "at": at(node.span)}
            if field.optional:
                ir["opt"] = True  # absent reads as null, as for an optional input field
            return ir, field.type
        if isinstance(typ, T.MapT):
            key = _lit(node.name, T.STRING, node.name_span)
            return {"k": "index", "e": obj, "i": key, "t": str(typ.value), "at": at(node.span)}, typ.value
        if typ == T.ANY:
            return _lit(None, T.ANY, node.span), T.ANY
        hint = ""
        if node.name in FUNCTIONS:
            hint = f"to call it, write {node.name}(…)"
        self.errors.error("type", f"{typ} has no field '{node.name}'", node.name_span, hint)
        return _lit(None, T.ANY, node.span), T.ANY

    def x_Index(self, node: ast.Index) -> tuple[IR, T.Type]:
        obj, typ = self.expr(node.obj)
        index, itype = self.expr(node.index)
        if isinstance(typ, T.ListT):
            if itype not in (T.INT, T.ANY):
                self.errors.error("type", f"a list index must be an int, got {itype}", node.index.span, "")
            result = typ.element
        elif isinstance(typ, T.MapT):
            if not T.is_stringy(itype):
                self.errors.error("type", f"a map key must be a string, got {itype}", node.index.span, "")
            result = typ.value
        elif typ == T.ANY:
            result = T.ANY
        else:
            self.errors.error("type", f"cannot index {typ}", node.span, "only lists and maps can be indexed")
            result = T.ANY
        return {"k": "index", "e": obj, "i": index, "t": str(result), "at": at(node.span)}, result

    def x_Unary(self, node: ast.Unary) -> tuple[IR, T.Type]:
        operand, typ = self.expr(node.operand)
        if node.op == "!":
            if typ not in (T.BOOL, T.ANY):
                self.errors.error(
                    "type", f"'{'not' if node.keyword else '!'}' needs a bool, got {typ}", node.operand.span, ""
                )
            return {"k": "not", "e": operand, "t": "bool", "at": at(node.span)}, T.BOOL
        if not (T.is_numeric(typ) or typ == T.DURATION):
            self.errors.error("type", f"'-' needs a number or duration, got {typ}", node.operand.span, "")
            typ = T.ANY
        return {"k": "neg", "e": operand, "t": str(typ), "at": at(node.span)}, typ

    def x_Logical(self, node: ast.Logical) -> tuple[IR, T.Type]:
        left, lt = self.expr(node.left)
        right, rt = self.expr(node.right)
        word = {"&&": "and", "||": "or"}[node.op] if node.keyword else node.op
        for operand, typ in ((node.left, lt), (node.right, rt)):
            if typ not in (T.BOOL, T.ANY):
                self.errors.error(
                    "type", f"'{word}' needs bool operands, got {typ}", operand.span, "compare it: `x > 0`"
                )
        kind = "and" if node.op == "&&" else "or"
        return {"k": kind, "l": left, "r": right, "t": "bool", "at": at(node.span)}, T.BOOL

    def x_Binary(self, node: ast.Binary) -> tuple[IR, T.Type]:
        left, lt = self.expr(node.left)
        right, rt = self.expr(node.right)
        result = _arith_type(node.op, lt, rt)
        if result is None:
            self.errors.error(
                "type", f"'{node.op}' cannot combine {lt} and {rt}", node.op_span, _arith_hint(node.op, lt, rt)
            )
            result = T.ANY
        return {"k": "bin", "op": node.op, "l": left, "r": right, "t": str(result), "at": at(node.span)}, result

    def x_Compare(self, node: ast.Compare) -> tuple[IR, T.Type]:
        if len(node.ops) > 1:
            a, b, c = node.operands[0], node.operands[1], node.operands[2]
            self.errors.error(
                "chain",
                "comparisons cannot be chained",
                node.op_spans[1],
                f"write `{_text(a)} {node.ops[0]} {_text(b)} && {_text(b)} {node.ops[1]} {_text(c)}`",
            )
            return _lit(None, T.ANY, node.span), T.BOOL
        op = node.ops[0]
        left, lt = self.expr(node.operands[0])
        right, rt = self.expr(node.operands[1])
        span = node.op_spans[0]
        if op == "in":
            if isinstance(rt, T.ListT):
                if not T.comparable(lt, rt.element):
                    self.errors.error("type", f"'in' looks for {lt} in a list of {rt.element}", span, "")
                elif isinstance(lt, T.EnumT):
                    self._check_enum_values(lt, right, node.operands[1])
            elif isinstance(rt, T.MapT):
                if not T.is_stringy(lt):
                    self.errors.error("type", f"map keys are strings; got {lt}", span, "")
            elif rt != T.ANY:
                hint = "to look inside a string, write contains(s, part)" if rt == T.STRING else ""
                self.errors.error(
                    "type", f"'in' needs a list or map on its right, got {rt}", node.operands[1].span, hint
                )
        elif op in ("==", "!="):
            if not T.comparable(lt, rt):
                self.errors.error("type", f"cannot compare {lt} with {rt}", span, _compare_hint(lt, rt))
            self._check_enum_literal(lt, right, node.operands[1])
            self._check_enum_literal(rt, left, node.operands[0])
        else:
            if not T.ordered(lt, rt):
                self.errors.error("type", f"'{op}' cannot order {lt} and {rt}", span, _order_hint(lt, rt))
        return {"k": "cmp", "op": op, "l": left, "r": right, "t": "bool", "at": at(node.span)}, T.BOOL

    def _check_enum_literal(self, typ: T.Type, ir: IR, node: ast.Expr) -> None:
        if isinstance(typ, T.EnumT) and ir["k"] == "lit" and isinstance(ir["v"], str) and ir["v"] not in typ.values:
            self.errors.error(
                "enum", f'"{ir["v"]}" is not one of {typ}', node.span, suggest(ir["v"], list(typ.values)) or ""
            )

    def _check_enum_values(self, typ: T.EnumT, ir: IR, node: ast.Expr) -> None:
        if ir["k"] == "list":
            for item, sub in zip(ir["items"], getattr(node, "items", ()), strict=False):
                self._check_enum_literal(typ, item, sub)

    def x_Conditional(self, node: ast.Conditional) -> tuple[IR, T.Type]:
        cond = self.condition(node.cond, "the condition of '?:'")
        then, tt = self.expr(node.then)
        other, ot = self.expr(node.otherwise)
        result = T.unify(tt, ot)
        if result is None:
            self.errors.error(
                "type",
                f"the branches of '?:' have different types: {tt} and {ot}",
                node.span,
                "make both branches the same type",
            )
            result = T.ANY
        return {"k": "cond", "c": cond, "a": then, "b": other, "t": str(result), "at": at(node.span)}, result

    def x_ListLiteral(self, node: ast.ListLiteral) -> tuple[IR, T.Type]:
        items = []
        element: T.Type = T.ANY
        for item in node.items:
            ir, typ = self.expr(item)
            items.append(ir)
            unified = T.unify(element, typ)
            if unified is None:
                self.errors.error("type", f"list mixes {element} and {typ}", item.span, "a list holds one type")
            else:
                element = unified
        result = T.ListT(element)
        return {"k": "list", "items": items, "t": str(result), "at": at(node.span)}, result

    def x_Call(self, node: ast.Call) -> tuple[IR, T.Type]:
        if node.func not in FUNCTIONS and node.func not in AGGREGATES:
            hint = suggest(node.func, list(FUNCTIONS)) or "functions are " + ", ".join(FUNCTIONS)
            self.errors.error("name", f"unknown function '{node.func}'", node.func_span, hint)
            for arg in node.args:
                self.expr(arg)
            return _lit(None, T.ANY, node.span), T.ANY
        if node.func == "has":
            return self._has(node)
        typed = [self.expr(arg) for arg in node.args]
        if is_aggregate(node, typed):
            return check_aggregate(node, typed, self.errors)
        return check_call(node, typed, self.errors)

    def _has(self, node: ast.Call) -> tuple[IR, T.Type]:
        if len(node.args) != 1:
            self.errors.error("arity", "has() takes one field", node.span, "write has(field) or has(record.field)")
            return _lit(None, T.ANY, node.span), T.BOOL
        ir, _ = self.expr(node.args[0])
        if ir["k"] != "field":
            self.errors.error(
                "type", "has() needs an input field", node.args[0].span, "write has(field) for an optional field"
            )
            return _lit(None, T.ANY, node.span), T.BOOL
        if not ir.get("opt"):
            self.errors.warning(
                "always",
                f"has({'.'.join(ir['path'])}) is always true: the field is required",
                node.span,
                "mark the field optional with `?` or drop the check",
            )
        return {"k": "has", "path": ir["path"], "t": "bool", "at": at(node.span)}, T.BOOL


def _uses_history(rule: IR) -> bool:
    """Whether a rule reads a window aggregate anywhere (condition, exit, arguments, reason)."""
    roots = [
        rule["when"],
        *rule.get("state", {}).values(),
        *(a for call in rule["then"] for a in call["args"].values()),
        *(part["e"] for part in rule.get("reason", []) if isinstance(part, dict)),  # `{peak}` of a let
    ]
    return any(n.get("k") == "agg" for root in roots if isinstance(root, dict) and "k" in root for n in walk(root))


def _lit(value: object, typ: T.Type, span: Span) -> IR:
    return {"k": "lit", "v": value, "t": str(typ), "at": at(span)}


def _arith_type(op: str, a: T.Type, b: T.Type) -> T.Type | None:
    if a == T.ANY or b == T.ANY:
        return T.ANY
    if T.is_numeric(a) and T.is_numeric(b):
        if op == "/":
            return T.FLOAT  # true division, as the language reference promises
        return T.INT if a == b == T.INT else T.FLOAT
    if op == "+":
        if T.is_stringy(a) and T.is_stringy(b):
            return T.STRING
        if isinstance(a, T.ListT) and isinstance(b, T.ListT):
            element = T.unify(a.element, b.element)
            return T.ListT(element) if element else None
        if {a, b} == {T.TIMESTAMP, T.DURATION}:
            return T.TIMESTAMP
        if a == b == T.DURATION:
            return T.DURATION
    if op == "-":
        if a == b == T.DURATION:
            return T.DURATION
        if a == T.TIMESTAMP and b == T.DURATION:
            return T.TIMESTAMP
        if a == b == T.TIMESTAMP:
            return T.DURATION
    if op == "*" and {a, b} <= {T.DURATION, T.INT, T.FLOAT} and (a == T.DURATION) != (b == T.DURATION):
        return T.DURATION
    if op == "/" and a == T.DURATION:
        if b == T.DURATION:
            return T.FLOAT
        if T.is_numeric(b):
            return T.DURATION
    return None


def _arith_hint(op: str, a: T.Type, b: T.Type) -> str:
    if T.DURATION in (a, b) and (T.is_numeric(a) or T.is_numeric(b)) and op in "+-":
        return "write the number as a duration: 30s, 5m, 1h"
    if T.is_stringy(a) != T.is_stringy(b) and op == "+":
        return "strings only join with strings; use string(x) to convert"
    return ""


def _compare_hint(a: T.Type, b: T.Type) -> str:
    if T.DURATION in (a, b) and (T.is_numeric(a) or T.is_numeric(b)):
        return "write the number as a duration: 30s, 5m, 1h"
    if (T.is_stringy(a) and T.is_numeric(b)) or (T.is_stringy(b) and T.is_numeric(a)):
        return "numbers and strings never compare equal; quote the number or drop the quotes"
    return ""


def _order_hint(a: T.Type, b: T.Type) -> str:
    if T.DURATION in (a, b) and (T.is_numeric(a) or T.is_numeric(b)):
        return "write the number as a duration: 30s, 5m, 1h"
    if (T.is_stringy(a) and T.is_numeric(b)) or (T.is_stringy(b) and T.is_numeric(a)):
        return "order numbers with numbers; convert a numeric string with int(s) or float(s)"
    return "both sides must be numbers, strings, durations or timestamps"


def _text(node: ast.Expr) -> str:
    return format_expr(node)


_TEMPLATE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def _parse_template_name(name: str, span: Span) -> ast.Expr:
    if not _TEMPLATE_NAME.fullmatch(name):
        raise ValueError(name)
    parts = name.split(".")
    col = span.column
    expr: ast.Expr = ast.Name(parts[0], Span(span.file, span.line, col, span.line, col + len(parts[0])))
    col += len(parts[0])
    for part in parts[1:]:
        part_span = Span(span.file, span.line, col + 1, span.line, col + 1 + len(part))
        whole = Span(span.file, span.line, span.column, span.line, col + 1 + len(part))
        expr = ast.Attribute(expr, part, whole, part_span)
        col += 1 + len(part)
    return expr


def _inner_span(string_span: Span, offset: int, width: int) -> Span:
    if string_span.line != string_span.end_line:
        return string_span
    column = string_span.column + max(offset, 0)
    return Span(string_span.file, string_span.line, column, string_span.line, column + width)


_SAMPLES: dict[str, object] = {"int": 1, "float": 1.5, "string": "x", "bool": True, "duration": 1.0, "timestamp": 1.0}


def _check_spec(spec: str, typ: T.Type, span: Span, errors: ErrorList) -> None:
    too_big = spec_problem(spec)  # the runtime refuses a bundle with such a spec: so does the compiler
    if too_big:
        hint = "for numbers use :.2f or :d, for strings :>10"
        errors.error("reason", f"format spec ':{spec}' asks for {too_big}", span, hint)
        return
    sample = _SAMPLES.get(str(typ), "x" if T.is_stringy(typ) else None)
    if sample is None:
        return
    try:
        format(sample, spec)
    except (ValueError, TypeError):
        errors.error(
            "reason",
            f"format spec ':{spec}' does not apply to {typ}",
            span,
            "for numbers use :.2f or :d, for strings :>10",
        )
