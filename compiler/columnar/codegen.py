"""IR → column operations: a stateless rule's condition as numpy/pyarrow work over a whole batch.

`compile_condition(when, fields)` turns a checked condition into `run(columns) -> (value,
unsafe)`: `value` is the condition on every row, `unsafe` marks the rows where the vectorised
value may differ from the row path's. The columnar engine decides a row here only where `unsafe`
is false; every other row goes to the row path, which is the definition. So the question this
module answers per row is never "what would the row path say" in a hard case, only "is this row
an easy case", and an over-cautious answer costs speed, never exactness.

What makes a row unsafe (the row path may fault or compute a value numpy would not):

* a divisor of `/` or `%` that is 0 (ZeroDivisionError, a rule fault);
* an int beyond ±2**53, read or computed (Python ints are exact and unbounded, int64 and its
  conversion to float64 are not), unless the declared ranges prove it cannot happen;
* a float operation whose result is not finite.

Short-circuit evaluation is over-approximated: `a && b` is unsafe where `b` is, even on rows
where `a` is false and the row path would never evaluate `b`. Those rows just take the row path.

What is compiled: literals (bool, int, float, string), required top-level fields of type int,
float, bool, string and enum, `let`, `!`, `&&`, `||`, unary `-`, `+ - * / %`, comparisons
between numbers, `==`/`!=` between strings or bools, `in` a literal list, `c ? a : b` of one
kind, and `abs`. Anything else (optional fields and `has`, records, lists, maps, indexing,
other functions, windows) raises `Unsupported` with the reason, and the rule falls back to the
row path (`compiler.columnar.fallback`).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from typing import Any

from ballast.compiler.columnar.deps import require
from ballast.compiler.columnar.strings import bools, plain, string_test
from ballast.runtime.ir import IR, field_path, slot_key

# the aggregates the window screen computes (a percentile and a stddev only within bounds)
WINDOW_FUNCTIONS = ("count", "absent", "min", "max", "sum", "avg", "delta", "rate", "percentile", "stddev")
UNSAFE = "?"  # columns[UNSAFE + slot]: rows where the aggregate may differ from the Engine's
ERROR = "±"  # columns[ERROR + slot]: a bound on the error of a float sum or average, a percentile, a stddev
EXACT_INT = 2**53  # every int of at most this magnitude is exactly a float64, and int64 sums of two stay exact

Columns = Mapping[str, Any]  # field -> numpy array (int64, float64, bool) or pyarrow string (or dictionary) array
Run = Callable[[Columns, list[Any]], Any]  # (columns, unsafe masks to add to) -> value
Bounds = tuple[float, float] | None  # an int expression's proven range, or None when unknown


class Unsupported(Exception):
    """The condition uses something the columnar back-end does not compile (`reason` says what)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Value:
    """A compiled sub-expression: its kind (int, float, bool, str), how to compute it, and for an
    int its proven range."""

    __slots__ = ("bounds", "err", "kind", "run")

    def __init__(self, kind: str, run: Run, bounds: Bounds = None, err: Run | None = None) -> None:
        self.kind = kind
        self.run = run
        self.bounds = bounds
        # a bound on |value - the row path's value| (a float sum or average of a window), or
        # None when the value is exact; such a value may only be compared (`_cmp`)
        self.err = err


def kind_of(t: Any) -> str | None:
    """The column kind of a schema type, or None for a type the columnar back-end does not read."""
    if isinstance(t, dict):
        return "str" if "enum" in t else None
    return {"int": "int", "float": "float", "bool": "bool", "string": "str"}.get(t)


def column_kind(t: Any) -> str | None:
    """The kind a column reader types a field as: `kind_of`, and a timestamp as its text (which
    `schema.timestamps` parses as the row path does; conditions cannot read it)."""
    return "str" if t == "timestamp" else kind_of(t)


def compile_condition(
    when: IR, fields: list[dict[str, Any]], *, windows: Callable[[str], str] | None = None
) -> Callable[[Columns, int], tuple[Any, Any]]:
    """`run(columns, rows) -> (value, unsafe)` for a bool condition, as numpy bool arrays of `rows`.

    `windows`: window aggregates among WINDOW_FUNCTIONS are read from the columns the window
    screen adds, `windows(slot)` naming the column of a slot (`_Compiler._agg`). Raises Unsupported when the condition uses what is not compiled
    (see the module docstring).
    """
    np, _, _ = require()
    value = _Compiler(np, {f["name"]: f for f in fields}, windows).exact(when)
    if value.kind != "bool":
        raise Unsupported(f"the condition is {value.kind}, not bool")
    return finish(value)


def compile_expression(node: IR, fields: list[dict[str, Any]]) -> _Value:
    """The compiled form of any expression (the conformance tests run all kinds through it)."""
    np, _, _ = require()
    return _Compiler(np, {f["name"]: f for f in fields}).value(node)


def finish(value: _Value) -> Callable[[Columns, int], tuple[Any, Any]]:
    """`run(columns, rows) -> (value, unsafe)` of a compiled expression, both broadcast to `rows`."""
    np, pa, _pc = require()

    def run(columns: Columns, rows: int) -> tuple[Any, Any]:
        masks: list[Any] = []
        with np.errstate(all="ignore"):  # overflow, 0/0, …: those rows are marked unsafe
            result = value.run(columns, masks)
        unsafe = np.zeros(rows, dtype=bool)
        for mask in masks:
            unsafe |= mask
        if isinstance(result, pa.Array | pa.ChunkedArray):
            return result, unsafe
        if isinstance(result, str):  # a constant string: as a column, like a string field
            return pa.array([result] * rows, type=pa.string()), unsafe
        return np.broadcast_to(np.asarray(result), (rows,)), unsafe

    return run


class _Compiler:
    def __init__(
        self, np: Any, fields: Mapping[str, dict[str, Any]], windows: Callable[[str], str] | None = None
    ) -> None:
        self.np = np
        self.fields = fields
        self.windows = windows

    def value(self, node: IR) -> _Value:
        k = node["k"]
        method = getattr(self, f"_{k}", None)
        if method is None:
            raise Unsupported(f"{_KIND_NAMES.get(k, k)} is evaluated row by row")
        value: _Value = method(node)
        return value

    def exact(self, node: IR) -> _Value:
        """A sub-expression used otherwise than compared: its value must be exact."""
        value = self.value(node)
        if value.err is not None:
            raise Unsupported(
                "a percentile or stddev, or a sum or avg of a float field, used otherwise than compared, is evaluated row by row"
            )
        return value

    def _agg(self, node: IR) -> _Value:
        """A window aggregate, read from the columns the window screen computed (`window`):
        `columns[slot]` its value per row, `columns[UNSAFE + slot]` the rows where it may differ
        from the Engine's (no data, beyond ±2**53), `columns[ERROR + slot]` for a float sum or
        average, a percentile and a stddev, a bound on how much it may differ."""
        fn = node["fn"]
        if self.windows is None or fn not in WINDOW_FUNCTIONS:
            raise Unsupported(f"the aggregate {fn} is evaluated by the Engine")
        path = field_path(node)
        spec = self.fields.get(path[0]) if len(path) == 1 else None
        if spec is None or spec["type"] not in ("int", "float"):
            raise Unsupported(f"{fn} of {'.'.join(path)}: windows are computed over top-level int and float fields")
        slot = self.windows(slot_key(node))
        unsafe = UNSAFE + slot

        def read(c: Columns, m: list[Any]) -> Any:
            m.append(c[unsafe])
            return c[slot]

        if fn == "absent":
            return _Value("bool", read)
        if fn == "count" or (node.get("t") == "int"):
            return _Value("int", read, (-EXACT_INT, EXACT_INT))
        if (fn in ("sum", "avg") and spec["type"] == "float") or fn in ("percentile", "stddev"):
            error = ERROR + slot
            return _Value("float", read, err=lambda c, m: c[error])
        return _Value("float", read)

    # ---- leaves ----

    def _lit(self, node: IR) -> _Value:
        v = node["v"]
        if type(v) is bool:
            return _Value("bool", lambda c, m: v)
        if type(v) is int:
            if abs(v) > EXACT_INT:
                raise Unsupported(f"the int {v} is beyond ±2**53")
            return _Value("int", lambda c, m: v, (v, v))
        if type(v) is float:
            if not math.isfinite(v):
                raise Unsupported("a literal that is not finite")
            return _Value("float", lambda c, m: v)
        if type(v) is str:
            return _Value("str", lambda c, m: v)
        raise Unsupported("a null or list literal")

    def _field(self, node: IR) -> _Value:
        path = field_path(node)
        if len(path) != 1 or node.get("opt"):
            raise Unsupported("an optional or nested field is read row by row")
        spec = self.fields.get(path[0])
        kind = kind_of(spec["type"]) if spec is not None else None
        if spec is None or kind is None or spec.get("optional"):
            raise Unsupported(f"the field {'.'.join(path)} is not a required int, float, bool, string or enum")
        name = path[0]
        if kind != "int":
            return _Value(kind, lambda c, m: c[name])
        low, high = spec.get("min"), spec.get("max")
        if low is not None and high is not None and low >= -EXACT_INT and high <= EXACT_INT:
            return _Value("int", lambda c, m: c[name], (low, high))
        np = self.np

        def read(c: Columns, m: list[Any]) -> Any:
            column = c[name]
            m.append(np.abs(column) > EXACT_INT)
            return column

        return _Value("int", read, (-EXACT_INT, EXACT_INT))

    # ---- logic ----

    def _let(self, node: IR) -> _Value:
        return self.value(node["e"])

    def _not(self, node: IR) -> _Value:
        e = self._bool(node["e"])
        np = self.np
        return _Value("bool", lambda c, m: np.logical_not(e.run(c, m)))

    def _and(self, node: IR) -> _Value:
        left, right = self._bool(node["l"]), self._bool(node["r"])
        np = self.np
        return _Value("bool", lambda c, m: np.logical_and(left.run(c, m), right.run(c, m)))

    def _or(self, node: IR) -> _Value:
        left, right = self._bool(node["l"]), self._bool(node["r"])
        np = self.np
        return _Value("bool", lambda c, m: np.logical_or(left.run(c, m), right.run(c, m)))

    def _bool(self, node: IR) -> _Value:
        value = self.exact(node)
        if value.kind != "bool":
            raise Unsupported(f"a {value.kind} where a bool is needed")
        return value

    def _cond(self, node: IR) -> _Value:
        c, a, b = self._bool(node["c"]), self.exact(node["a"]), self.exact(node["b"])
        if a.kind != b.kind or a.kind == "str":
            raise Unsupported("a ?: whose branches are of different kinds, or strings")
        np = self.np
        bounds = _hull(a.bounds, b.bounds) if a.kind == "int" else None
        return _Value(a.kind, lambda cols, m: np.where(c.run(cols, m), a.run(cols, m), b.run(cols, m)), bounds)

    # ---- arithmetic ----

    def _neg(self, node: IR) -> _Value:
        e = self._number(node["e"])
        bounds = None if e.bounds is None else (-e.bounds[1], -e.bounds[0])
        np = self.np
        return _Value(e.kind, lambda c, m: np.negative(e.run(c, m)), bounds)

    def _call(self, node: IR) -> _Value:
        if node["fn"] != "abs" or len(node["args"]) != 1:
            raise Unsupported(f"the function {node['fn']} is evaluated row by row")
        e = self._number(node["args"][0])
        bounds = None
        if e.bounds is not None:
            lo, hi = e.bounds
            bounds = (0 if lo <= 0 <= hi else min(abs(lo), abs(hi)), max(abs(lo), abs(hi)))
        np = self.np
        return _Value(e.kind, lambda c, m: np.abs(e.run(c, m)), bounds)

    def _number(self, node: IR) -> _Value:
        value = self.exact(node)
        if value.kind not in ("int", "float"):
            raise Unsupported(f"arithmetic on a {value.kind}")
        return value

    def _bin(self, node: IR) -> _Value:
        op = node["op"]
        left, right = self._number(node["l"]), self._number(node["r"])
        np = self.np
        ints = left.kind == "int" and right.kind == "int"
        if op in ("/", "%"):
            divide = op == "/"
            kind = "float" if divide or not ints else "int"
            ufunc = np.true_divide if divide else np.remainder

            def divided(c: Columns, m: list[Any]) -> Any:
                a, b = left.run(c, m), right.run(c, m)
                m.append(np.equal(b, 0))  # ZeroDivisionError in the row path: a fault
                if divide or not ints:
                    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
                result = ufunc(a, b)
                if kind == "float":
                    m.append(~np.isfinite(result))
                return result

            bounds = None
            if kind == "int" and right.bounds is not None:
                limit = max(abs(right.bounds[0]), abs(right.bounds[1]))
                bounds = (-limit, limit)  # Python's % takes the divisor's sign and is smaller
            return _Value(kind, divided, bounds)
        ufunc = {"+": np.add, "-": np.subtract, "*": np.multiply}[op]
        if not ints:

            def floats(c: Columns, m: list[Any]) -> Any:
                result = ufunc(np.asarray(left.run(c, m), dtype=float), np.asarray(right.run(c, m), dtype=float))
                m.append(~np.isfinite(result))
                return result

            return _Value("float", floats)
        bounds = _int_bounds(op, left.bounds, right.bounds)
        if bounds is not None and bounds[0] >= -EXACT_INT and bounds[1] <= EXACT_INT:
            return _Value("int", lambda c, m: ufunc(left.run(c, m), right.run(c, m)), bounds)
        python_op = {"+": operator.add, "-": operator.sub, "*": operator.mul}[op]

        def checked(c: Columns, m: list[Any]) -> Any:
            a, b = left.run(c, m), right.run(c, m)
            # the same operation in float64 approximates the exact result closely enough to tell
            # whether int64 held it exactly; rows where it may not are the row path's
            approx = python_op(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
            m.append(~(np.abs(approx) <= EXACT_INT / 2))
            return ufunc(a, b)

        return _Value("int", checked, (-EXACT_INT, EXACT_INT))

    # ---- comparisons ----

    def _cmp(self, node: IR) -> _Value:
        op = node["op"]
        if op == "in":
            return self._in(node)
        left, right = self.value(node["l"]), self.value(node["r"])
        numbers = {left.kind, right.kind} <= {"int", "float"}
        if not numbers and left.kind != right.kind:
            raise Unsupported(f"a comparison of {left.kind} and {right.kind}")
        if not numbers and op not in ("==", "!="):
            raise Unsupported(f"{op} on {left.kind} values")
        np = self.np
        if left.kind == "str":
            _, _, pc = require()
            fn = pc.equal if op == "==" else pc.not_equal
            return _Value("bool", lambda c, m: _strings_compared(np, fn, left.run(c, m), right.run(c, m)))
        ufunc = {"==": np.equal, "!=": np.not_equal, "<": np.less, "<=": np.less_equal}
        ufunc |= {">": np.greater, ">=": np.greater_equal}
        fn = ufunc[op]
        if left.err is None and right.err is None:
            return _Value("bool", lambda c, m: fn(left.run(c, m), right.run(c, m)))
        # a side known within a bound: decided only where the sides are further apart than the
        # bounds (and the rounding of their difference), where every value within them compares alike
        errors = [side.err for side in (left, right) if side.err is not None]

        def bounded(c: Columns, m: list[Any]) -> Any:
            a, b = left.run(c, m), right.run(c, m)
            slack = sum(err(c, m) for err in errors)
            apart = np.abs(np.asarray(a, dtype=float) - np.asarray(b, dtype=float))
            m.append(~(apart > slack * (1 + 2.0**-50) + 2.0**-1000))
            return fn(a, b)

        return _Value("bool", bounded)

    def _in(self, node: IR) -> _Value:
        right = node["r"]
        if right["k"] == "lit" and isinstance(right["v"], list):  # folded by the compiler
            items = right["v"]
        elif right["k"] == "list" and all(i["k"] == "lit" for i in right["items"]):
            items = [i["v"] for i in right["items"]]
        else:
            raise Unsupported("`in` a list that is not written out")
        left = self.exact(node["l"])
        np = self.np
        if left.kind == "str" and all(type(i) is str for i in items):
            _, pa, pc = require()
            values = pa.array(items, type=pa.string())

            def member(column: Any) -> Any:
                return pc.is_in(column, value_set=values)

            key = ("in", tuple(items))
            return _Value("bool", lambda c, m: _string_values(np, left.run(c, m), member, key))
        if left.kind in ("int", "float") and all(type(i) in (int, float) and abs(i) <= EXACT_INT for i in items):
            array = np.array(items, dtype=float)
            return _Value("bool", lambda c, m: np.isin(left.run(c, m), array))
        raise Unsupported(f"`in` a list of other values than the {left.kind} on its left")


def _strings_compared(np: Any, fn: Callable[[Any, Any], Any], a: Any, b: Any) -> Any:
    """`fn` (pyarrow's equal or not_equal) on two string values as numpy bools: a column against a
    constant once per dictionary entry (`strings.string_test`), two columns row by row."""
    if isinstance(b, str) and not isinstance(a, str):
        return string_test(a, lambda column: fn(column, b), (fn, b))
    if isinstance(a, str) and not isinstance(b, str):
        return string_test(b, lambda column: fn(a, column), (fn, a))
    return bools(np, fn(plain(a), plain(b)))


def _string_values(np: Any, value: Any, test: Callable[[Any], Any], key: Any) -> Any:
    """`test` on a string column (once per dictionary entry) or on a constant string; `key` says
    what the test is (`strings.string_test`)."""
    if isinstance(value, str):
        return bools(np, test(value))
    return string_test(value, test, key)


def _hull(a: Bounds, b: Bounds) -> Bounds:
    if a is None or b is None:
        return None
    return (min(a[0], b[0]), max(a[1], b[1]))


def _int_bounds(op: str, a: Bounds, b: Bounds) -> Bounds:
    if a is None or b is None:
        return None
    if op == "+":
        return (a[0] + b[0], a[1] + b[1])
    if op == "-":
        return (a[0] - b[1], a[1] - b[0])
    products = [x * y for x in a for y in b]
    return (min(products), max(products))


_KIND_NAMES = {
    "index": "indexing",
    "attr": "a record field",
    "has": "has()",
    "list": "a list",
    "agg": "a window aggregate",
}


__all__ = [
    "ERROR",
    "EXACT_INT",
    "UNSAFE",
    "WINDOW_FUNCTIONS",
    "Unsupported",
    "column_kind",
    "compile_condition",
    "compile_expression",
    "finish",
    "kind_of",
]
