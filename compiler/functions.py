"""Type rules of the builtin functions (the runtime holds their implementations).

`matches` patterns are compiled here, at compile time, so a bad regular expression is a compile
error with a position and never a fault at evaluation time.
"""

from __future__ import annotations

import re
from typing import Any

from ballast.compiler import types as T
from ballast.compiler.spans import at
from ballast.dsl import ast
from ballast.runtime.errors import ErrorList

IR = dict[str, Any]
Typed = tuple[IR, T.Type]


def check_call(node: ast.Call, typed: list[Typed], errors: ErrorList) -> Typed:
    """Type a call of a builtin; reports every problem and returns a node typed `any` on error."""
    name = node.func
    types = [t for _, t in typed]
    irs = [ir for ir, _ in typed]
    result = _RULES[name](node, irs, types, errors)

    ir: IR = {"k": "call", "fn": name, "args": irs, "t": str(result), "at": at(node.span)}
    if node.method:
        ir["method"] = True
    return ir, result


def _arity(node: ast.Call, n: int, low: int, high: int, errors: ErrorList, usage: str) -> bool:
    if low <= n <= high:
        return True
    errors.error(
        "arity",
        f"{node.func}() takes {low if low == high else f'{low} to {high}'} argument{'s' if high != 1 else ''}, got {n}",
        node.span,
        f"write {usage}",
    )
    return False


def _want(node: ast.Call, i: int, typ: T.Type, ok: bool, expected: str, errors: ErrorList) -> None:
    if not ok and typ != T.ANY:
        errors.error("type", f"argument {i + 1} of {node.func}() must be {expected}, got {typ}", node.args[i].span, "")


def _abs(node, irs, types, errors):
    if not _arity(node, len(types), 1, 1, errors, "abs(x)"):
        return T.ANY
    t = types[0]
    _want(node, 0, t, T.is_numeric(t) or t == T.DURATION, "a number", errors)
    return t if (T.is_numeric(t) or t == T.DURATION) else T.ANY


def _minmax(node, irs, types, errors):
    if not types:
        _arity(node, 0, 1, 99, errors, f"{node.func}(a, b) or {node.func}(list)")
        return T.ANY
    if len(types) == 1:
        t = types[0]
        if isinstance(t, T.ListT):
            _want(
                node, 0, t.element, T.ordered(t.element, t.element), "a list of numbers, strings or durations", errors
            )
            return t.element
        errors.error(
            "arity",
            f"{node.func}() of one value needs a list",
            node.span,
            f"write {node.func}(a, b) or {node.func}(list)",
        )
        return T.ANY
    result: T.Type | None = types[0]
    for i, t in enumerate(types):
        _want(node, i, t, T.ordered(t, t), "a number, string or duration", errors)
        result = T.unify(result, t) if result is not None else None
    if result is None or not T.ordered(result, result):
        if all(t != T.ANY for t in types):
            errors.error(
                "type", f"{node.func}() mixes {', '.join(map(str, types))}", node.span, "give it values of one kind"
            )
        return T.ANY
    return result


def _len(node, irs, types, errors):
    if _arity(node, len(types), 1, 1, errors, "len(x)"):
        t = types[0]
        _want(node, 0, t, T.is_stringy(t) or isinstance(t, T.ListT | T.MapT), "a string, list or map", errors)
    return T.INT


def _string_fn(node, irs, types, errors):
    if _arity(node, len(types), 1, 1, errors, f"{node.func}(s)"):
        _want(node, 0, types[0], T.is_stringy(types[0]), "a string", errors)
    return T.STRING


def _affix(node, irs, types, errors):
    if _arity(node, len(types), 2, 2, errors, f"{node.func}(s, part)"):
        for i in (0, 1):
            _want(node, i, types[i], T.is_stringy(types[i]), "a string", errors)
    return T.BOOL


def _contains(node, irs, types, errors):
    if not _arity(node, len(types), 2, 2, errors, "contains(s, part) or contains(list, item)"):
        return T.BOOL
    hay, needle = types
    if isinstance(hay, T.ListT):
        _want(node, 1, needle, T.comparable(needle, hay.element), f"a {hay.element}", errors)
    elif isinstance(hay, T.MapT):
        _want(node, 1, needle, T.is_stringy(needle), "a string key", errors)
    else:
        _want(node, 0, hay, T.is_stringy(hay), "a string, list or map", errors)
        _want(node, 1, needle, T.is_stringy(needle), "a string", errors)
    return T.BOOL


def _matches(node, irs, types, errors):
    if not _arity(node, len(types), 2, 2, errors, 'matches(s, "regex")'):
        return T.BOOL
    _want(node, 0, types[0], T.is_stringy(types[0]), "a string", errors)
    pattern = irs[1]
    if pattern["k"] != "lit" or not isinstance(pattern["v"], str):
        if types[1] != T.ANY:
            errors.error(
                "regex",
                "the pattern of matches() must be a string literal or constant",
                node.args[1].span,
                "patterns are compiled when the policy compiles",
            )
        return T.BOOL
    try:
        re.compile(pattern["v"])
    except re.error as exc:
        errors.error(
            "regex",
            f"invalid regular expression: {exc.msg}",
            node.args[1].span,
            f"at position {exc.pos} of the pattern" if exc.pos is not None else "",
        )
    return T.BOOL


def _round(node, irs, types, errors):
    if not _arity(node, len(types), 1, 2, errors, "round(x) or round(x, digits)"):
        return T.ANY
    _want(node, 0, types[0], T.is_numeric(types[0]), "a number", errors)
    if len(types) == 2:
        _want(node, 1, types[1], types[1] == T.INT, "an int", errors)
        return T.FLOAT
    return T.INT


def _clamp(node, irs, types, errors):
    if not _arity(node, len(types), 3, 3, errors, "clamp(x, low, high)"):
        return T.ANY
    for i, t in enumerate(types):
        _want(node, i, t, T.is_numeric(t) or t == T.DURATION, "a number", errors)
    result = T.unify(T.unify(types[0], types[1]) or T.ANY, types[2])
    return result or T.ANY


def _convert(target: T.Type, accepts):
    def rule(node, irs, types, errors):
        if _arity(node, len(types), 1, 1, errors, f"{node.func}(x)"):
            _want(
                node,
                0,
                types[0],
                accepts(types[0]),
                "a number, string or bool" if target == T.STRING else "a number or string",
                errors,
            )
        return target

    return rule


_RULES = {
    "abs": _abs,
    "min": _minmax,
    "max": _minmax,
    "len": _len,
    "lower": _string_fn,
    "upper": _string_fn,
    "startswith": _affix,
    "endswith": _affix,
    "contains": _contains,
    "matches": _matches,
    "round": _round,
    "clamp": _clamp,
    "int": _convert(T.INT, lambda t: T.is_numeric(t) or T.is_stringy(t)),
    "float": _convert(T.FLOAT, lambda t: T.is_numeric(t) or T.is_stringy(t)),
    "string": _convert(T.STRING, lambda t: t in (T.INT, T.FLOAT, T.BOOL, T.ANY) or T.is_stringy(t)),
}
