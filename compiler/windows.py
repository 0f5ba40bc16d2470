"""Type rules of the window aggregates: `avg(latency_ms, 1m)`, `percentile(x, 95, 5m)`, `absent(x, 30s)`.

An aggregate reads the history of one input field for the key of the rule evaluating it (the
rule's `group by`), kept by the runtime's `Engine`. Windows and parameters are literals checked
here, so an impossible window (`avg(x, 0s)`) is a compile error with a position, never a runtime
surprise. `min` and `max` are aggregates when their second argument is a duration.
"""

from __future__ import annotations

from typing import Any

from ballast.compiler import types as T
from ballast.compiler.spans import at
from ballast.dsl import ast
from ballast.runtime.errors import ErrorList

IR = dict[str, Any]

# name → (result type, or None for "the field's type"; extra literal parameter between field and window)
AGGREGATES: dict[str, tuple[T.Type | None, str]] = {
    "avg": (T.FLOAT, ""),
    "min": (None, ""),
    "max": (None, ""),
    "sum": (None, ""),
    "count": (T.INT, ""),
    "rate": (T.FLOAT, ""),
    "delta": (None, ""),
    "stddev": (T.FLOAT, ""),
    "percentile": (T.FLOAT, "p"),
    "zscore": (T.FLOAT, ""),
    "slope": (T.FLOAT, ""),
    "absent": (T.BOOL, ""),
    "ewma": (T.FLOAT, "alpha"),
    "anomaly": (None, ""),
}
ANOMALY = T.RecordT(
    (
        T.FieldT("kind", T.EnumT(("none", "spike", "drop", "drift", "oscillation"))),
        T.FieldT("severity", T.FLOAT),
        T.FieldT("zscore", T.FLOAT),
        T.FieldT("slope", T.FLOAT),
    )
)
DEFAULT_ANOMALY_WINDOW = 600.0  # the Maestro Conductor's detector looks back ten minutes


def is_aggregate(node: ast.Call, typed: list[tuple[IR, T.Type]]) -> bool:
    """Whether this call is a window aggregate rather than a plain builtin."""
    if node.func not in AGGREGATES:
        return False
    if node.func in ("min", "max"):
        # `min(latency_ms, 1m)` is a window; `min(d, 1m)` of a duration field is the plain minimum
        return len(typed) == 2 and typed[1][1] == T.DURATION and typed[0][1] != T.DURATION
    return True


def check_aggregate(node: ast.Call, typed: list[tuple[IR, T.Type]], errors: ErrorList) -> tuple[IR, T.Type]:

    name = node.func
    result, extra = AGGREGATES[name]
    usage = _usage(name)
    fail: tuple[IR, T.Type] = ({"k": "lit", "v": None, "t": "any", "at": at(node.span)}, T.ANY)
    expected = 2 + (1 if extra and name != "ewma" else 0)
    if name == "ewma":
        expected = 2
    if name == "anomaly" and len(typed) == 1:
        typed = [*typed, ({"k": "lit", "v": DEFAULT_ANOMALY_WINDOW, "t": "duration"}, T.DURATION)]
    if len(typed) != expected:
        errors.error("arity", f"{name}() takes {expected} arguments, got {len(typed)}", node.span, f"write {usage}")
        return fail
    field_ir, field_type = typed[0]
    if field_ir["k"] != "field":
        errors.error(
            "window",
            f"{name}() reads the history of an input field",
            node.args[0].span,
            f"write {usage} with a field name",
        )
        return fail
    numeric = T.is_numeric(field_type) or field_type == T.DURATION
    if name != "absent" and not numeric and field_type != T.ANY:
        errors.error("type", f"{name}() needs a number field, got {field_type}", node.args[0].span, "")
        return fail
    out: IR = {"k": "agg", "fn": name, "path": field_ir["path"], "at": at(node.span)}
    if name == "ewma":
        alpha = _literal(typed[1][0])
        if not isinstance(alpha, int | float) or isinstance(alpha, bool) or not 0 < alpha <= 1:
            errors.error(
                "window",
                f"ewma() smoothing factor must be a number in (0, 1], got {alpha!r}",
                node.args[1].span,
                "write ewma(x, 0.3)",
            )
            return fail
        out["alpha"] = float(alpha)
    else:
        window_ir, window_type = typed[-1]
        window = _literal(window_ir)
        if window_type != T.DURATION or not isinstance(window, int | float):
            errors.error(
                "window", f"the window of {name}() must be a duration such as 1m", node.args[-1].span, f"write {usage}"
            )
            return fail
        if window <= 0:
            errors.error(
                "window",
                f"impossible window {window_ir.get('text', window)}: a window must be longer than 0s",
                node.args[-1].span,
                "write a positive duration such as 30s or 5m",
            )
            return fail
        out["window"] = float(window)
        if extra == "p":
            p = _literal(typed[1][0])
            if not isinstance(p, int | float) or isinstance(p, bool) or not 0 <= p <= 100:
                errors.error(
                    "window",
                    f"the percentile must be a number from 0 to 100, got {p!r}",
                    node.args[1].span,
                    "write percentile(x, 95, 5m)",
                )
                return fail
            out["p"] = float(p)
    if name == "anomaly":
        typ: T.Type = ANOMALY
    elif result is None:
        typ = field_type if name not in ("sum", "delta") or field_type != T.ANY else T.FLOAT
    else:
        typ = result
    out["t"] = str(typ)
    return out, typ


def _literal(ir: IR) -> Any:
    if ir["k"] == "lit":
        return ir["v"]
    if ir["k"] == "neg" and ir["e"]["k"] == "lit" and isinstance(ir["e"]["v"], int | float):
        return -ir["e"]["v"]
    return None


def _usage(name: str) -> str:
    return {
        "percentile": "percentile(x, 95, 5m)",
        "ewma": "ewma(x, 0.3)",
        "absent": "absent(x, 30s)",
        "anomaly": "anomaly(x) or anomaly(x, 10m)",
    }.get(name, f"{name}(x, 1m)")
