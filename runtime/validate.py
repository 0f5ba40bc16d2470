"""Checking incoming events against a policy's input schema.

Two paths, same verdict. `fast_checker` generates one function per schema that answers "is this
event valid exactly as it is?" with type identity tests and no allocation; it is what runs for
well-formed traffic. When it says no, `validate` walks the event, converts what may be
converted without loss (an int where a float is declared, "30s" for a duration, an RFC 3339
string for a timestamp) and names every problem: missing, unknown, wrong type, out of range.
"""

from __future__ import annotations

import ast
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ballast.runtime.suggest import did_you_mean
from ballast.runtime.values import EARLIEST_TIME, LATEST_TIME, parse_duration, parse_timestamp

TypeJSON = Any  # "float" | {"enum": [...]} | {"list": T} | {"map": T} | {"record": [fields]}


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One thing wrong with an event: where, what, and how to fix it."""

    field: str
    message: str
    hint: str = ""


def describe_type(t: TypeJSON) -> str:
    if isinstance(t, str):
        return t
    if "enum" in t:
        return "enum(" + ", ".join(f'"{v}"' for v in t["enum"]) + ")"
    if "list" in t:
        return f"list<{describe_type(t['list'])}>"
    if "map" in t:
        return f"map<string, {describe_type(t['map'])}>"
    return "record"


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a bool"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {value!r}" if len(value) < 40 else "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def validate(event: Any, fields: list[dict[str, Any]]) -> tuple[dict[str, Any] | None, list[FieldProblem]]:
    """The event normalized to the schema, or None with every problem found."""
    problems: list[FieldProblem] = []
    if not isinstance(event, dict):
        return None, [FieldProblem("", f"an event must be a JSON object, got {_json_kind(event)}")]
    out = _record(event, fields, "", problems)
    return (out if not problems else None), problems


def _record(
    value: dict[str, Any], fields: list[dict[str, Any]], prefix: str, problems: list[FieldProblem]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    declared = {f["name"]: f for f in fields}
    for key in value:
        if key not in declared:
            hint = did_you_mean(key, declared) or "declare it in the input schema, or drop it from the event"
            problems.append(FieldProblem(prefix + str(key), f"unknown field '{prefix}{key}'", hint))
    for f in fields:
        name = f["name"]
        path = prefix + name
        if name not in value or value[name] is None:
            if not f.get("optional"):
                what = "is null" if name in value else "is missing"
                problems.append(
                    FieldProblem(
                        path, f"required field '{path}' {what}", f"send '{name}' as {describe_type(f['type'])}"
                    )
                )
            continue
        converted = _value(value[name], f["type"], path, problems)
        if converted is _INVALID:
            continue
        if _in_range(converted, f, path, problems):
            out[name] = converted
    return out


def _in_range(value: Any, bounds: dict[str, Any], path: str, problems: list[FieldProblem]) -> bool:
    low, high = bounds.get("min"), bounds.get("max")
    if (low is not None and value < low) or (high is not None and value > high):
        message = f"'{path}' = {value!r} is out of range [{_num(low)}, {_num(high)}]"
        problems.append(FieldProblem(path, message, "fix the producer, or widen the range in the policy"))
        return False
    return True


def _num(x: float | None) -> str:
    if x is None:
        return "…"
    return str(int(x)) if float(x).is_integer() else repr(x)


_INVALID = object()


def _value(value: Any, t: TypeJSON, path: str, problems: list[FieldProblem]) -> Any:
    def wrong(hint: str = "") -> object:
        problems.append(FieldProblem(path, f"'{path}' must be {describe_type(t)}, got {_json_kind(value)}", hint))
        return _INVALID

    if isinstance(t, str):
        if t == "float":
            if isinstance(value, bool) or not isinstance(value, int | float):
                return wrong()
            if not math.isfinite(value):
                return wrong("send a finite number")
            return float(value)
        if t == "int":
            if isinstance(value, bool):
                return wrong()
            if isinstance(value, float) and value.is_integer():
                return int(value)
            return value if isinstance(value, int) else wrong()
        if t == "string":
            return value if isinstance(value, str) else wrong()
        if t == "bool":
            return value if isinstance(value, bool) else wrong()
        if t == "duration":
            if isinstance(value, str):
                seconds = parse_duration(value)
                return (
                    seconds
                    if seconds is not None
                    else wrong("write a duration such as 30s, 5m or 1h30m, or a number of seconds")
                )
            if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
                return float(value)
            return wrong("write a duration such as 30s or a number of seconds")
        if t == "timestamp":
            moment = parse_timestamp(value)
            if moment is not None:
                return moment
            if isinstance(value, int | float | str) and not isinstance(value, bool) and _looks_like_time(value):
                return wrong(
                    "a time must lie between 1900-01-01 and 9000-01-01 (epoch seconds -2208988800 to 221845392000)"
                )
            return wrong("send an RFC 3339 time such as 2026-01-31T12:00:00Z or epoch seconds")
        if t in ("any", "selector"):
            return value
        return wrong()
    if "enum" in t:
        if isinstance(value, str) and value in t["enum"]:
            return value
        return wrong(did_you_mean(value, t["enum"]))
    if "list" in t:
        if not isinstance(value, list):
            return wrong()
        items = [_element(v, t, "list", f"{path}[{i}]", problems) for i, v in enumerate(value)]
        return _INVALID if any(i is _INVALID for i in items) else items
    if "map" in t:
        if not isinstance(value, dict):
            return wrong()
        entries = {k: _element(v, t, "map", f"{path}[{json.dumps(k)}]", problems) for k, v in value.items()}
        return _INVALID if any(v is _INVALID for v in entries.values()) else entries
    if "record" in t:
        if not isinstance(value, dict):
            return wrong()
        before = len(problems)
        record = _record(value, t["record"], path + ".", problems)
        return record if len(problems) == before else _INVALID
    return wrong()


def _looks_like_time(value: float | str) -> bool:
    """A number, or a well-formed RFC 3339 text: refused for its range, not for its form."""
    if not isinstance(value, str):
        return True
    try:
        datetime.fromisoformat(value.strip().removesuffix("Z"))
    except ValueError:
        return False
    return True


def _element(value: Any, container: dict[str, Any], kind: str, path: str, problems: list[FieldProblem]) -> Any:
    """A list or map element: its type, then the container's element bounds."""
    converted = _value(value, container[kind], path, problems)
    if converted is _INVALID or not _in_range(converted, container, path, problems):
        return _INVALID
    return converted


# ---- the schema itself ----

_NAMED_TYPES = frozenset({"float", "int", "string", "bool", "duration", "timestamp", "null", "any", "selector"})
_MAX_SCHEMA_DEPTH = 64  # records and containers nest no deeper than events may


def check_schema(fields: Any, depth: int = 0) -> None:
    """Raise ValueError unless `fields` is an input schema as the compiler writes it.

    A bundle's IR is read, not trusted: an `enum` that is a string, say, would be matched by
    substring, and one of a million values would be searched for a "did you mean" on every bad
    event. Checked once per policy when it is loaded.
    """
    if not isinstance(fields, list) or depth > _MAX_SCHEMA_DEPTH:
        raise ValueError("an input schema is a list of fields")
    for f in fields:
        if not isinstance(f, dict) or not isinstance(f.get("name"), str) or "type" not in f:
            raise ValueError("a field of an input schema has a name and a type")
        _check_bounds(f)
        _check_type(f["type"], depth)


def _check_type(t: Any, depth: int) -> None:
    if isinstance(t, str):
        if t not in _NAMED_TYPES:
            raise ValueError(f"unknown type {t[:40]!r} in an input schema")
        return
    if not isinstance(t, dict):
        raise ValueError("a type of an input schema is a name or an object")
    _check_bounds(t)
    if "enum" in t:
        if not isinstance(t["enum"], list) or not all(isinstance(v, str) for v in t["enum"]):
            raise ValueError("an enum's values are a list of strings")
    elif "list" in t or "map" in t:
        _check_type(t.get("list", t.get("map")), depth + 1)
    elif "record" in t:
        check_schema(t["record"], depth + 1)
    else:
        raise ValueError("a type of an input schema is an enum, list, map or record")


def _check_bounds(spec: dict[str, Any]) -> None:
    for bound in ("min", "max"):
        value = spec.get(bound)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ValueError(f"the {bound} of a field or type is a number")


# ---- the fast path ----


def _exact(value: Any, t: TypeJSON) -> bool:
    """Whether `value` is already exactly what `validate` would produce for type `t`."""
    problems: list[FieldProblem] = []
    converted = _value(value, t, "", problems)
    return not problems and _same(converted, value)


def _same(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b or (a != a and b != b)


_SIMPLE = {"float": float, "int": int, "string": str, "bool": bool}


def _list_of(element: type) -> Callable[[Any], bool]:
    """A check that a value is a list whose items are all exactly of type `element`."""

    def check(value: Any) -> bool:
        return type(value) is list and all(type(x) is element for x in value)

    return check


def fast_checker(fields: list[dict[str, Any]]) -> Callable[[Any], bool]:
    """A generated `check(ev) -> bool`: True only if `validate` would accept `ev` unchanged."""
    namespace: dict[str, Any] = {
        "__builtins__": {
            "type": type,
            "dict": dict,
            "float": float,
            "int": int,
            "str": str,
            "bool": bool,
            "list": list,
            "all": all,
            "Exception": Exception,
        }
    }
    namespace["_allowed"] = frozenset(f["name"] for f in fields)
    namespace["_exact"] = _exact
    tests: list[ast.expr] = [
        ast.Compare(
            left=ast.Call(func=ast.Name("type", ast.Load()), args=[ast.Name("ev", ast.Load())], keywords=[]),
            ops=[ast.Is()],
            comparators=[ast.Name("dict", ast.Load())],
        ),
        ast.Compare(
            left=ast.Call(func=ast.Attribute(ast.Name("ev", ast.Load()), "keys", ast.Load()), args=[], keywords=[]),
            ops=[ast.LtE()],
            comparators=[ast.Name("_allowed", ast.Load())],
        ),
    ]
    for i, f in enumerate(fields):
        var = f"v{i}"
        get = ast.Call(
            func=ast.Attribute(ast.Name("ev", ast.Load()), "get", ast.Load()),
            args=[ast.Constant(f["name"])],
            keywords=[],
        )
        walrus = ast.NamedExpr(target=ast.Name(var, ast.Store()), value=get)
        t = f["type"]
        if isinstance(t, str) and t in _SIMPLE:
            check: ast.expr = ast.Compare(
                left=ast.Call(func=ast.Name("type", ast.Load()), args=[walrus], keywords=[]),
                ops=[ast.Is()],
                comparators=[ast.Name(_SIMPLE[t].__name__, ast.Load())],
            )
            bounds = []
            if f.get("min") is not None:
                bounds.append(
                    ast.Compare(left=ast.Constant(f["min"]), ops=[ast.LtE()], comparators=[ast.Name(var, ast.Load())])
                )
            if f.get("max") is not None:
                bounds.append(
                    ast.Compare(left=ast.Name(var, ast.Load()), ops=[ast.LtE()], comparators=[ast.Constant(f["max"])])
                )
            if t == "float":
                # NaN fails every comparison; a float with no declared range still must be finite.
                bounds.append(
                    ast.Compare(
                        left=ast.Constant(-math.inf),
                        ops=[ast.Lt(), ast.Lt()],
                        comparators=[ast.Name(var, ast.Load()), ast.Constant(math.inf)],
                    )
                )
            check = ast.BoolOp(ast.And(), [check, *bounds]) if bounds else check
        elif t == "timestamp" and f.get("min") is None and f.get("max") is None:
            # epoch seconds as a float are what `validate` makes of any timestamp: kept unchanged,
            # if within the range parse_timestamp accepts (a chained comparison also refuses NaN)
            check = ast.BoolOp(
                ast.And(),
                [
                    ast.Compare(
                        left=ast.Call(func=ast.Name("type", ast.Load()), args=[walrus], keywords=[]),
                        ops=[ast.Is()],
                        comparators=[ast.Name("float", ast.Load())],
                    ),
                    ast.Compare(
                        left=ast.Constant(EARLIEST_TIME),
                        ops=[ast.LtE(), ast.LtE()],
                        comparators=[ast.Name(var, ast.Load()), ast.Constant(LATEST_TIME)],
                    ),
                ],
            )
        elif isinstance(t, dict) and t.keys() == {"list"} and t["list"] in ("string", "int", "bool"):
            # A list of plain values (`roles: list<string>`), the common case of an action
            # descriptor: checked in place rather than rebuilt and compared by `_exact`.
            namespace[f"_list{i}"] = _list_of(_SIMPLE[t["list"]])
            check = ast.Call(func=ast.Name(f"_list{i}", ast.Load()), args=[walrus], keywords=[])
        elif isinstance(t, dict) and "enum" in t:
            namespace[f"_enum{i}"] = frozenset(t["enum"])
            check = ast.Compare(left=walrus, ops=[ast.In()], comparators=[ast.Name(f"_enum{i}", ast.Load())])
        else:
            namespace[f"_type{i}"] = t
            check = ast.Call(
                func=ast.Name("_exact", ast.Load()), args=[walrus, ast.Name(f"_type{i}", ast.Load())], keywords=[]
            )
            if f.get("min") is not None or f.get("max") is not None:
                check = ast.Constant(False)  # ranged durations: the slow path checks the bound
        if f.get("optional"):
            present = ast.Compare(
                left=ast.Call(
                    func=ast.Attribute(ast.Name("ev", ast.Load()), "get", ast.Load()),
                    args=[ast.Constant(f["name"])],
                    keywords=[],
                ),
                ops=[ast.Is()],
                comparators=[ast.Constant(None)],
            )
            check = ast.BoolOp(ast.Or(), [present, check])
        tests.append(check)
    body = [
        ast.Try(
            body=[ast.Return(ast.BoolOp(ast.And(), tests))],
            handlers=[
                ast.ExceptHandler(
                    type=ast.Name("Exception", ast.Load()), name=None, body=[ast.Return(ast.Constant(False))]
                )
            ],
            orelse=[],
            finalbody=[],
        )
    ]
    fn = ast.FunctionDef(
        name="check",
        args=ast.arguments(
            posonlyargs=[], args=[ast.arg("ev")], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[]
        ),
        body=body,
        decorator_list=[],
        returns=None,
        type_params=[],
    )
    module = ast.Module(body=[fn], type_ignores=[])
    ast.fix_missing_locations(module)
    exec(compile(module, "<ballast schema check>", "exec"), namespace)
    return namespace["check"]
