"""A plain tree-walking interpreter of the IR: the reference the generated code must agree with.

It is deliberately simple (one function, one case per node kind) so that it can be read as the
definition of the language's evaluation rules. `explain` uses it to report the value of every
sub-condition; the property tests compare it with the compiled code; the benchmark measures the
cost of interpretation against it.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from typing import Any

from ballast.runtime.errors import EvaluationError
from ballast.runtime.functions import FUNCTIONS, index, render
from ballast.runtime.ir import IR, field_path, slot_key, unparse

_ARITH = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv, "%": operator.mod}
_COMPARE = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "in": lambda a, b: a in b,
}


_CHILDREN = {
    "lit": (),
    "field": (),
    "has": (),
    "agg": (),
    "let": ("e",),
    "not": ("e",),
    "neg": ("e",),
    "attr": ("e",),
    "and": ("l", "r"),
    "or": ("l", "r"),
    "bin": ("l", "r"),
    "cmp": ("l", "r"),
    "cond": ("c", "a", "b"),
    "index": ("e", "i"),
    "call": (),
    "list": (),
}


def check_expression(node: IR) -> None:
    """Raise ValueError unless every node of an expression has a shape `evaluate` knows.

    For the expressions a loaded bundle interprets (threat sources, reasons and conditions when a
    directive is explained) rather than compiles: a bundle's IR is read, not trusted, so an
    unknown kind, operator or function is refused when the bundle is loaded, not met on every
    event.
    """
    stack = [node]
    while stack:
        n = stack.pop()
        k = n.get("k") if isinstance(n, dict) else None
        if k not in _CHILDREN:
            raise ValueError(f"unknown IR node kind {str(k)[:40]!r}")
        if k in ("field", "has", "agg"):
            field_path(n)
        if (k == "bin" and n["op"] not in _ARITH) or (k == "cmp" and n["op"] not in _COMPARE):
            raise ValueError(f"unknown operator {str(n['op'])[:40]!r}")
        if k == "call" and not (isinstance(n["fn"], str) and n["fn"] in FUNCTIONS and isinstance(n["args"], list)):
            raise ValueError(f"unknown function {str(n['fn'])[:40]!r}")
        if k in ("attr", "let") and not isinstance(n["name"], str):
            raise ValueError("a name in an expression is a string")
        if k == "list" and not isinstance(n["items"], list):
            raise ValueError("a list's items are a list")
        stack.extend(n[c] for c in _CHILDREN[k])
        stack.extend(n["args"] if k == "call" else n["items"] if k == "list" else ())
    unparse(node)  # what messages and explanations print: it must not fail later either


def evaluate(node: IR, event: Mapping[str, Any], trace: dict[int, Any] | None = None) -> Any:
    """The value of `node` for `event`; raises EvaluationError on a fault.

    With `trace`, records the value of every node evaluated, keyed by `id(node)`; nodes skipped
    by short-circuiting are absent from it.
    """
    try:
        value = _eval(node, event, trace)
    except EvaluationError:
        raise
    except (TypeError, ValueError, ArithmeticError, KeyError, IndexError, AttributeError) as exc:
        raise EvaluationError(describe_fault(exc, node), expression=unparse(node)) from None
    return value


class _Faulted:
    """The trace's mark on a node whose evaluation began and did not finish: the fault's path."""

    def __repr__(self) -> str:
        return "FAULTED"


FAULTED = _Faulted()


def evaluate_condition(node: IR, event: Mapping[str, Any], trace: dict[int, Any] | None = None) -> bool:
    """A rule's condition: a bool, or EvaluationError (an absent optional bool is a fault, as in
    generated code, never a silent false)."""
    return _truth(evaluate(node, event, trace), node)


def _eval(node: IR, ev: Mapping[str, Any], trace: dict[int, Any] | None) -> Any:
    k = node["k"]
    if trace is not None:
        trace[id(node)] = FAULTED  # replaced by the value if evaluation completes
    if k == "lit":
        value = node["v"]
    elif k == "field":
        value = lookup(ev, node["path"], node.get("opt", False))
    elif k == "has":
        value = _has(ev, node["path"])
    elif k == "let":
        value = _eval(node["e"], ev, trace)
    elif k == "not":
        value = not _truth(_eval(node["e"], ev, trace), node["e"])
    elif k == "neg":
        value = -_eval(node["e"], ev, trace)
    elif k == "and":
        value = _truth(_eval(node["l"], ev, trace), node["l"]) and _truth(_eval(node["r"], ev, trace), node["r"])
    elif k == "or":
        value = _truth(_eval(node["l"], ev, trace), node["l"]) or _truth(_eval(node["r"], ev, trace), node["r"])
    elif k == "bin":
        value = _ARITH[node["op"]](_eval(node["l"], ev, trace), _eval(node["r"], ev, trace))
    elif k == "cmp":
        value = _COMPARE[node["op"]](_eval(node["l"], ev, trace), _eval(node["r"], ev, trace))
    elif k == "cond":
        if _truth(_eval(node["c"], ev, trace), node["c"]):
            value = _eval(node["a"], ev, trace)
        else:
            value = _eval(node["b"], ev, trace)
    elif k == "index":
        value = index(_eval(node["e"], ev, trace), _eval(node["i"], ev, trace))
    elif k == "attr":
        record = _eval(node["e"], ev, trace)
        if record is None:
            raise EvaluationError(f"reading '{node['name']}' of an absent value")
        value = record.get(node["name"]) if node.get("opt") else record[node["name"]]
    elif k == "call":
        args = [_eval(a, ev, trace) for a in node["args"]]
        if node["fn"] == "matches":
            args[1] = node["args"][1]["v"]
        value = FUNCTIONS[node["fn"]](*args)
    elif k == "list":
        value = [_eval(i, ev, trace) for i in node["items"]]
    elif k == "agg":
        try:
            value = ev[slot_key(node)]  # a lazy Engine context computes it on first read
        except KeyError:
            raise EvaluationError(f"{unparse(node)} needs history: evaluate this rule with an Engine") from None
    else:
        raise EvaluationError(f"unknown IR node kind {k!r}")
    if trace is not None:
        trace[id(node)] = value
    return value


def _truth(value: Any, node: IR) -> bool:
    if value is True or value is False:
        return value
    if value is None:
        raise EvaluationError(f"'{unparse(node)}' is absent (null) where a bool is needed", expression=unparse(node))
    raise EvaluationError(f"'{unparse(node)}' is {render(value)}, not a bool", expression=unparse(node))


def lookup(ev: Mapping[str, Any], path: list[str], optional: bool) -> Any:
    value: Any = ev
    for i, part in enumerate(path):
        if value is None:
            return None  # an absent optional record: everything under it is absent
        try:
            value = value[part]
        except KeyError:
            if optional:
                return None
            raise EvaluationError(f"missing field '{'.'.join(path[: i + 1])}'", field=".".join(path)) from None
        except TypeError:
            raise EvaluationError(f"'{'.'.join(path[:i])}' is not a record", field=".".join(path)) from None
    return value


def _has(ev: Mapping[str, Any], path: list[str]) -> bool:
    value: Any = ev
    for part in path:
        if not isinstance(value, Mapping) or value.get(part) is None:
            return False
        value = value[part]
    return True


def describe_fault(exc: BaseException, node: IR | None = None) -> str:
    """A sentence for a Python exception raised while evaluating (by either back-end)."""
    if isinstance(exc, EvaluationError):
        return str(exc)
    if isinstance(exc, ZeroDivisionError):
        return "division by zero"
    if isinstance(exc, KeyError):
        return f"missing field or key {exc.args[0]!r}" if exc.args else "missing key"
    if isinstance(exc, TypeError) and "NoneType" in str(exc):
        return "an optional field is absent (null) here; guard it with has(field)"
    if isinstance(exc, TypeError):
        return f"wrong type of value: {exc}"
    if isinstance(exc, OverflowError):
        return "numeric overflow"
    return f"{type(exc).__name__}: {exc}"
