"""IR → Python code objects, through the `ast` module (never by formatting text for `exec`).

Generated nodes carry the line and column of the policy source they came from and are compiled
under the policy's file name, so a traceback or profiler points at the user's rule. Each
generated function gets a fresh, explicit namespace holding only the helpers it uses.

Three kinds of function are generated:

* an expression function (`compile_expression`): `def expression(event): return <expr>`;
* a policy matcher: one fused function over all rules, laid out by the optimizer's plan
  (dispatch on a discriminating field, threshold chains, shared sub-expressions hoisted);
* per-rule argument builders, called only for rules that fired.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable
from typing import Any

from ballast.runtime.functions import FUNCTIONS, index, regex
from ballast.runtime.interpret import describe_fault, lookup
from ballast.runtime.ir import (
    IR,
    can_fault,
    conjuncts,
    field_path,
    fields_used,
    may_be_null,
    slot_key,
    unparse,
    walk,
)
from ballast.runtime.values import format_duration

_BIN = {"+": ast.Add, "-": ast.Sub, "*": ast.Mult, "/": ast.Div, "%": ast.Mod}
_CMP = {"==": ast.Eq, "!=": ast.NotEq, "<": ast.Lt, "<=": ast.LtE, ">": ast.Gt, ">=": ast.GtE, "in": ast.In}
_DIRECT_BUILTINS = {"abs": "abs", "len": "len"}  # Python's own, same semantics: call directly
_KEY_SKIP = ("at", "t", "text", "const", "method", "folded")


def node_key(node: IR) -> str:
    """A structural identity for an expression: equal keys compute equal values."""

    def strip(n: Any) -> Any:
        if isinstance(n, dict):
            if n.get("k") == "let":
                return {"let": n["name"]}
            return {k: strip(v) for k, v in n.items() if k not in _KEY_SKIP}
        if isinstance(n, list):
            return [strip(v) for v in n]
        return n

    return json.dumps(strip(node), sort_keys=True, separators=(",", ":"))


def _truth(value: Any) -> bool:
    if value is True or value is False:
        return value
    raise TypeError("a NoneType value is absent where a bool is needed")


class _Namespace:
    """The globals of one generated module: helpers and constants, each under a stable name."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {"__builtins__": {"abs": abs, "len": len, "Exception": Exception}}
        self._ids: dict[tuple[str, str], str] = {}

    def bind(self, kind: str, key: str, value: Any) -> str:
        name = self._ids.get((kind, key))
        if name is None:
            name = f"_{kind}{len(self._ids)}"
            self._ids[(kind, key)] = name
            self.values[name] = value
        return name


def _loc(node: ast.AST, ir: IR | None) -> ast.AST:
    if ir is not None and "at" in ir:
        line, col, end_line, end_col = ir["at"]
        node.lineno, node.col_offset = line, max(col - 1, 0)
        node.end_lineno, node.end_col_offset = end_line, max(end_col - 1, 0)
    return node


def _name(identifier: str, ctx: type = ast.Load) -> ast.Name:
    return ast.Name(id=identifier, ctx=ctx())


def _const(value: Any) -> ast.expr:
    if isinstance(value, list):
        return ast.List(elts=[_const(v) for v in value], ctx=ast.Load())
    return ast.Constant(value=value)


def field_local(path: list[str] | tuple[str, ...]) -> str:
    return "f_" + "__".join(path)


class ExprBuilder:
    """Builds `ast.expr` for IR expressions.

    `locals_` maps field paths and shared-expression keys to local variable names; anything not
    there is read from the event parameter `ev`.
    """

    def __init__(self, ns: _Namespace, locals_: dict[Any, str] | None = None) -> None:
        self.ns = ns
        self.locals = locals_ or {}

    def bool(self, node: IR) -> ast.expr:
        """A node in a bool context: an optional field must be checked, not read as falsy."""
        value = self.expr(node)
        if self._maybe_null(node):
            helper = self.ns.bind("h", "truth", _truth)
            return _loc(ast.Call(func=_name(helper), args=[value], keywords=[]), node)
        return value

    def _maybe_null(self, node: IR) -> bool:
        # Validated events hold no nulls but in optional fields; a literal null is the other way.
        return may_be_null(node)

    def expr(self, node: IR) -> ast.expr:
        key = None
        if self.locals and node["k"] not in ("lit", "field"):
            key = node_key(node)
            if key in self.locals:
                return _loc(_name(self.locals[key]), node)
        return _loc(self._build(node), node)

    def _build(self, node: IR) -> ast.expr:
        k = node["k"]
        if k == "lit":
            return _const(node["v"])
        if k == "field":
            return self._field(node)
        if k == "has":
            helper = self.ns.bind("h", "has", _has)
            return ast.Call(func=_name(helper), args=[_name("ev"), _const(list(field_path(node)))], keywords=[])
        if k == "let":
            return self.expr(node["e"])
        if k == "not":
            return ast.UnaryOp(op=ast.Not(), operand=self.bool(node["e"]))
        if k == "neg":
            return ast.UnaryOp(op=ast.USub(), operand=self.expr(node["e"]))
        if k in ("and", "or"):
            op = ast.And() if k == "and" else ast.Or()
            operands = self._flatten(node, k)
            return ast.BoolOp(op=op, values=[self.bool(o) for o in operands])
        if k == "bin":
            return ast.BinOp(left=self.expr(node["l"]), op=_BIN[node["op"]](), right=self.expr(node["r"]))
        if k == "cmp":
            right = node["r"]
            if node["op"] == "in" and right["k"] == "list" and all(i["k"] == "lit" for i in right["items"]):
                # A literal list on the right of `in` becomes a constant tuple: no list per event.
                values = tuple(i["v"] for i in right["items"])
                return ast.Compare(left=self.expr(node["l"]), ops=[ast.In()], comparators=[ast.Constant(value=values)])
            return ast.Compare(left=self.expr(node["l"]), ops=[_CMP[node["op"]]()], comparators=[self.expr(right)])
        if k == "cond":
            return ast.IfExp(test=self.bool(node["c"]), body=self.expr(node["a"]), orelse=self.expr(node["b"]))
        if k == "index":
            helper = self.ns.bind("h", "index", index)
            return ast.Call(func=_name(helper), args=[self.expr(node["e"]), self.expr(node["i"])], keywords=[])
        if k == "attr":
            if node.get("opt"):  # an optional record field: absent reads as null
                get = ast.Attribute(value=self.expr(node["e"]), attr="get", ctx=ast.Load())
                return ast.Call(func=get, args=[ast.Constant(value=node["name"])], keywords=[])
            return ast.Subscript(value=self.expr(node["e"]), slice=ast.Constant(value=node["name"]), ctx=ast.Load())
        if k == "call":
            return self._call(node)
        if k == "list":
            return ast.List(elts=[self.expr(i) for i in node["items"]], ctx=ast.Load())
        if k == "agg":  # the Engine put the aggregate's value in the event under its slot key
            return ast.Subscript(value=_name("ev"), slice=ast.Constant(value=slot_key(node)), ctx=ast.Load())
        raise ValueError(f"unknown IR node kind {k!r}")

    def _flatten(self, node: IR, kind: str, top: bool = True) -> list[IR]:
        """`a && (b && c)` as one BoolOp of three, unless a part is a shared local already."""
        if node["k"] == kind and (top or not (self.locals and node_key(node) in self.locals)):
            return self._flatten(node["l"], kind, False) + self._flatten(node["r"], kind, False)
        return [node]

    def _field(self, node: IR) -> ast.expr:
        path = field_path(node)
        if path in self.locals:
            return _name(self.locals[path])
        return field_access(self.ns, path, bool(node.get("opt")))

    def _call(self, node: IR) -> ast.expr:
        fn = node["fn"]
        args = [self.expr(a) for a in node["args"]]
        if fn == "matches":
            compiled = regex(node["args"][1]["v"])
            pattern = self.ns.bind("re", compiled.pattern, compiled)
            search = ast.Call(
                func=ast.Attribute(value=_name(pattern), attr="search", ctx=ast.Load()),
                args=[args[0]],
                keywords=[],
            )
            return ast.Compare(left=search, ops=[ast.IsNot()], comparators=[ast.Constant(value=None)])
        if fn in _DIRECT_BUILTINS:
            return ast.Call(func=_name(_DIRECT_BUILTINS[fn]), args=args, keywords=[])
        helper = self.ns.bind("fn", fn, FUNCTIONS[fn])
        return ast.Call(func=_name(helper), args=args, keywords=[])


def field_access(ns: _Namespace, path: tuple[str, ...], optional: bool) -> ast.expr:
    """`ev["a"]["b"]` for required paths, a None-tolerant lookup for optional ones."""
    if optional:
        if len(path) == 1:
            return ast.Call(
                func=ast.Attribute(value=_name("ev"), attr="get", ctx=ast.Load()),
                args=[ast.Constant(value=path[0])],
                keywords=[],
            )
        helper = ns.bind("h", "lookup", lookup)
        return ast.Call(
            func=_name(helper), args=[_name("ev"), _const(list(path)), ast.Constant(value=True)], keywords=[]
        )
    value: ast.expr = _name("ev")
    for part in path:
        value = ast.Subscript(value=value, slice=ast.Constant(value=part), ctx=ast.Load())
    return value


def _has(ev: Any, path: list[str]) -> bool:
    value = ev
    for part in path:
        if not isinstance(value, dict) or value.get(part) is None:
            return False
        value = value[part]
    return True


def _finish(module: ast.Module, filename: str, ns: _Namespace, name: str) -> Callable[..., Any]:
    ast.fix_missing_locations(module)
    code = compile(module, filename, "exec")
    exec(code, ns.values)
    return ns.values[name]


def _function(name: str, params: list[str], body: list[ast.stmt]) -> ast.FunctionDef:
    return ast.FunctionDef(
        name=name,
        args=ast.arguments(
            posonlyargs=[],
            args=[ast.arg(arg=p) for p in params],
            vararg=None,
            kwonlyargs=[],
            kw_defaults=[],
            kwarg=None,
            defaults=[],
        ),
        body=body,
        decorator_list=[],
        returns=None,
        type_params=[],
    )


# ---- expressions ----


def compile_expression_function(node: IR, filename: str, source: str) -> Callable[[Any], Any]:
    """`def expression(ev): return <node>`, faults raised as EvaluationError naming the source.

    The try block costs nothing in CPython 3.11+ until something raises, so the happy path is
    the same bytecode a person would write by hand.
    """
    module, ns = _expression_module(node, source)
    return _finish(module, filename, ns, "expression")


def expression_source(node: IR, source: str) -> str:
    """The Python source of `compile_expression_function(node, …, source)`, for audit."""
    module, _ = _expression_module(node, source)
    return ast.unparse(ast.fix_missing_locations(module))


def timed_rules_source(timing_ir: IR) -> str:
    """The generated code the Engine runs for a policy's rules with windows or time clauses: each
    rule's condition functions, with comments naming the window slots the Engine fills in `ev`."""
    parts = []
    for rule in timing_ir["rules"]:
        state = rule["state"]
        clauses = [f"group by {', '.join(state['group_by'])}"] if state.get("group_by") else []
        clauses += [f"{name} {format_duration(state[name])}" for name in ("for", "keep", "cooldown") if state.get(name)]
        if "limit" in state:
            clauses.append(f"at most {state['limit'][0]} per {format_duration(state['limit'][1])}")
        title = f"# rule {rule['name']}: run by the Engine ({', '.join(clauses) or 'windows only'})\n"
        blocks = []
        roots = [("enter" if "exit" in state else "when", rule["when"])]
        if "exit" in state:
            roots.append(("exit", state["exit"]))
        for label, root in roots:
            slots = sorted({slot_key(n) for n in walk(root) if n["k"] == "agg"})
            lines = [f"# {label} condition: {unparse(root)}"]
            lines += [f"#   ev[{slot!r}]: the window over the key's history at the rule's time" for slot in slots]
            blocks.append("\n".join(lines) + "\n" + expression_source(root, unparse(root)))
        parts.append(title + "\n\n".join(blocks))
    return "\n\n".join(parts)


def _expression_module(node: IR, source: str) -> tuple[ast.Module, _Namespace]:
    from ballast.runtime.errors import EvaluationError

    ns = _Namespace()
    builder = ExprBuilder(ns)
    value = builder.bool(node) if node.get("t") == "bool" else builder.expr(node)

    def fault(exc: BaseException) -> EvaluationError:
        field = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else ""
        return EvaluationError(f"{describe_fault(exc)} in `{source}`", expression=source, field=field)

    fault_name = ns.bind("h", "fault", fault)
    handler = ast.ExceptHandler(
        type=_name("Exception"),
        name="exc",
        body=[
            ast.Raise(
                exc=ast.Call(func=_name(fault_name), args=[_name("exc")], keywords=[]), cause=ast.Constant(value=None)
            )
        ],
    )
    body = [ast.Try(body=[ast.Return(value=value)], handlers=[handler], orelse=[], finalbody=[])]
    return ast.Module(body=[_function("expression", ["ev"], body)], type_ignores=[]), ns


# ---- policies ----


def compile_matcher(policy: IR) -> tuple[Callable[[Any, Any, Any], None], str]:
    """The fused matcher `match(ev, fired, faulted)` of a policy, and its Python source.

    `fired(i)` is called with the index of each rule whose condition holds, `faulted((i, exc))`
    with each rule whose condition faulted. Rules are laid out as the plan says; the order of
    calls is not the rule order (the caller sorts).
    """
    ns = _Namespace()
    rules = policy["rules"]
    plan = policy.get("plan") or default_plan(policy)
    body: list[ast.stmt] = []
    group_sources: list[str] = []
    once = ns.bind("h", "once", (None,))
    for group_index, group in enumerate(plan["groups"]):
        stmts = _group(ns, rules, group, once)
        if group.get("key_path") is None:
            body.extend(stmts)
            continue
        # A dispatch group: its own function, chosen by one dict lookup on the field's value.
        fn_name = f"group{group_index}"
        module_fn = _function(fn_name, ["ev", "fired", "faulted"], stmts or [ast.Pass()])
        sub = _finish(ast.Module(body=[module_fn], type_ignores=[]), policy.get("file", "<policy>"), ns, fn_name)
        ns.values.pop(fn_name)
        table_name = ns.bind("dispatch", json.dumps(group["key_path"]), {})
        values = ", ".join(json.dumps(v) for v in group["values"])
        group_sources.append(f"# {table_name}[{'.'.join(group['key_path'])}] for {values}\n{ast.unparse(module_fn)}")
        for value in group["values"]:
            ns.values[table_name][_hashable(value)] = sub
    dispatch_stmts = []
    for (kind, key), table_name in list(ns._ids.items()):
        if kind != "dispatch":
            continue
        path = tuple(json.loads(key))
        optional = path in {tuple(p) for p in plan.get("optional_keys", [])}
        lookup_call = ast.Call(
            func=ast.Attribute(value=_name(table_name), attr="get", ctx=ast.Load()),
            args=[field_access(ns, path, optional)],
            keywords=[],
        )
        target = f"g_{table_name}"
        dispatch_stmts.append(ast.Assign(targets=[_name(target, ast.Store)], value=lookup_call))
        dispatch_stmts.append(
            ast.If(
                test=ast.Compare(left=_name(target), ops=[ast.IsNot()], comparators=[ast.Constant(value=None)]),
                body=[
                    ast.Expr(
                        value=ast.Call(
                            func=_name(target), args=[_name("ev"), _name("fired"), _name("faulted")], keywords=[]
                        )
                    )
                ],
                orelse=[],
            )
        )
    body = dispatch_stmts + body
    module = ast.Module(body=[_function("match", ["ev", "fired", "faulted"], body or [ast.Pass()])], type_ignores=[])
    ast.fix_missing_locations(module)
    source = "\n\n".join([ast.unparse(module), *group_sources])
    return _finish(module, policy.get("file", "<policy>"), ns, "match"), source


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def default_plan(policy: IR) -> IR:
    """No indexing: every rule in one group, in order (what the optimizer refines)."""
    return {
        "groups": [
            {
                "key_path": None,
                "values": [],
                "chains": [],
                "singles": [{"rule": i, "drop": []} for i in range(len(policy["rules"]))],
                "shared": [],
            }
        ]
    }


def _group(ns: _Namespace, rules: list[IR], group: IR, once: str) -> list[ast.stmt]:
    entries = list(group["singles"]) + [step for chain in group["chains"] for step in chain["steps"]]
    residuals = {(e["rule"], tuple(e["drop"])): _residual(rules[e["rule"]]["when"], e["drop"]) for e in entries}
    locals_: dict[Any, str] = {}
    stmts: list[ast.stmt] = []
    paths: dict[tuple[str, ...], bool] = {}
    for residual in residuals.values():
        for node in residual:
            for path in fields_used(node):
                paths.setdefault(path, False)
    for chain in group["chains"]:
        paths.setdefault(field_path(chain), False)
    optional_paths = set()
    for residual in residuals.values():
        for node in residual:
            optional_paths.update(_optional_paths(node))
    for path in paths:
        local = field_local(path)
        locals_[path] = local
        stmts.append(
            ast.Assign(targets=[_name(local, ast.Store)], value=field_access(ns, path, path in optional_paths))
        )
    builder = ExprBuilder(ns, locals_)
    for i, shared in enumerate(group.get("shared", [])):
        local = f"s{i}"
        stmts.append(ast.Assign(targets=[_name(local, ast.Store)], value=builder.expr(shared)))
        locals_[node_key(shared)] = local
    for entry in group["singles"]:
        stmts.extend(
            _rule_check(builder, entry["rule"], residuals[(entry["rule"], tuple(entry["drop"]))], rules[entry["rule"]])
        )
    for chain in group["chains"]:
        loop_body: list[ast.stmt] = []
        local = locals_[field_path(chain)]
        for step in chain["steps"]:
            op = _CMP[step.get("op", chain["op"])]()
            guard = ast.Compare(left=_name(local), ops=[op], comparators=[ast.Constant(value=step["threshold"])])
            loop_body.append(ast.If(test=ast.UnaryOp(op=ast.Not(), operand=guard), body=[ast.Break()], orelse=[]))
            loop_body.extend(
                _rule_check(builder, step["rule"], residuals[(step["rule"], tuple(step["drop"]))], rules[step["rule"]])
            )
        # A one-pass loop so that `break` skips every rule above the first threshold not met:
        # thresholds are sorted, so none of those can fire.
        stmts.append(ast.For(target=_name("_", ast.Store), iter=_name(once), body=loop_body, orelse=[]))
    return stmts


def _optional_paths(node: IR) -> set[tuple[str, ...]]:
    from ballast.runtime.ir import walk

    # `has(f)` reads f too (its path gets a local), and f may be absent whatever its declaration
    return {tuple(n["path"]) for n in walk(node) if n["k"] == "has" or (n["k"] == "field" and n.get("opt"))}


def _residual(when: IR, drop: list[int]) -> list[IR]:
    parts = conjuncts(when)
    return [c for i, c in enumerate(parts) if i not in set(drop)]


def _rule_check(builder: ExprBuilder, index_: int, residual: list[IR], rule: IR) -> list[ast.stmt]:
    fire = ast.Expr(value=ast.Call(func=_name("fired"), args=[ast.Constant(value=index_)], keywords=[]))
    _loc(fire, rule)
    if not residual:
        return [fire]
    tests = [builder.bool(c) for c in residual]
    test = tests[0] if len(tests) == 1 else ast.BoolOp(op=ast.And(), values=tests)
    check = _loc(ast.If(test=test, body=[fire], orelse=[]), rule["when"])
    if not any(can_fault(c) for c in residual):
        return [check]  # a validated event cannot make this condition fault
    handler = ast.ExceptHandler(
        type=_name("Exception"),
        name="exc",
        body=[
            ast.Expr(
                value=ast.Call(
                    func=_name("faulted"),
                    args=[ast.Tuple(elts=[ast.Constant(value=index_), _name("exc")], ctx=ast.Load())],
                    keywords=[],
                )
            )
        ],
    )
    return [ast.Try(body=[check], handlers=[handler], orelse=[], finalbody=[])]


def _targets(value: Any) -> list[str]:
    return [value] if type(value) is str else list(value)


def _ranged(value: Any, to_float: bool, low: Any, high: Any, name: str, action: str) -> Any:
    """A computed argument checked against its parameter: ints promoted where floats are
    declared, values outside a declared range refused (the rule then does not fire)."""
    from ballast.runtime.errors import EvaluationError
    from ballast.runtime.functions import render

    if value is None:
        return value
    if to_float and type(value) is int:
        value = float(value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise EvaluationError(
            f"argument '{name}' of {action} is {render(value)}, outside its declared range [{render(low)}, {render(high)}]"
        )
    return value


_FLOATISH = ("float", "duration", "timestamp")


def compile_emitters(policy: IR, makes: list[Callable[..., Any]]) -> list[Callable[[Any, list[Any]], None]]:
    """One `emit(ev, out)` per rule, all in one generated module (one namespace for the policy):
    each computes every action's targets and parameters, then appends
    `make(action_index, targets, params, ev)` for each action, in order.

    All arguments are computed before the first append, so a fault in any of them leaves `out`
    untouched: a rule fires with all its actions or not at all.
    """
    ns = _Namespace()
    builder = ExprBuilder(ns)
    functions = [_emitter(ns, builder, policy, rule, i, makes[i]) for i, rule in enumerate(policy["rules"])]
    if not functions:
        return []
    module = ast.Module(body=functions, type_ignores=[])
    ast.fix_missing_locations(module)
    exec(compile(module, policy.get("file", "<policy>"), "exec"), ns.values)  # safe: built from checked IR
    return [ns.values.pop(f"emit{i}") for i in range(len(functions))]


def _emitter(
    ns: _Namespace, builder: ExprBuilder, policy: IR, rule: IR, index: int, make: Callable[..., Any]
) -> ast.FunctionDef:
    signatures = policy.get("actions", {})
    make_name = ns.bind("make", str(index), make)
    body: list[ast.stmt] = []
    appends: list[ast.stmt] = []
    for k, call in enumerate(rule["then"]):
        params = {p["name"]: p for p in signatures.get(call["action"], [])}
        targets = call["args"].get("targets")
        if targets is None:
            target_expr: ast.expr = ast.List(elts=[], ctx=ast.Load())
        elif str(targets.get("t", "")).startswith(("string", "enum")):
            target_expr = ast.List(elts=[builder.expr(targets)], ctx=ast.Load())
        else:
            target_expr = ast.Call(
                func=_name(ns.bind("h", "targets", _targets)), args=[builder.expr(targets)], keywords=[]
            )
        keys, values = [], []
        for name, arg in call["args"].items():
            if name == "targets":
                continue
            value = builder.expr(arg)
            spec = params.get(name, {})
            to_float = spec.get("type") in _FLOATISH
            if arg["k"] != "lit" and (to_float or "min" in spec or "max" in spec):
                # literals were promoted and range-checked when compiling
                flags = [
                    ast.Constant(to_float),
                    _const(spec.get("min")),
                    _const(spec.get("max")),
                    ast.Constant(name),
                    ast.Constant(call["action"]),
                ]
                value = ast.Call(func=_name(ns.bind("h", "ranged", _ranged)), args=[value, *flags], keywords=[])
            keys.append(ast.Constant(value=name))
            values.append(value)
        body.append(ast.Assign(targets=[_name(f"t{k}", ast.Store)], value=target_expr))
        body.append(ast.Assign(targets=[_name(f"p{k}", ast.Store)], value=ast.Dict(keys=keys, values=values)))
        made = ast.Call(
            func=_name(make_name), args=[ast.Constant(k), _name(f"t{k}"), _name(f"p{k}"), _name("ev")], keywords=[]
        )
        appends.append(
            ast.Expr(
                value=ast.Call(
                    func=ast.Attribute(value=_name("out"), attr="append", ctx=ast.Load()), args=[made], keywords=[]
                )
            )
        )
    fn = _function(f"emit{index}", ["ev", "out"], body + appends or [ast.Pass()])
    _loc(fn, rule)
    return fn


__all__ = [
    "ExprBuilder",
    "compile_emitters",
    "compile_expression_function",
    "compile_matcher",
    "default_plan",
    "field_access",
    "node_key",
    "re",
]
