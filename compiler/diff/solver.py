"""Conditions as SMT formulas: where two rule conditions agree, and where they differ.

A condition's IR is translated into z3 over the typed inputs of its policy: integers as `Int`,
floats, durations and timestamps as `Real` within their declared ranges, enums and strings as
`String` (an enum constrained to its values), booleans as `Bool`, optional fields with a presence
flag. Evaluation faults are modelled, not ignored: every term carries `ok`, true when evaluating
it raises nothing, because a rule whose condition faults does not fire (an absent optional field
compared with `>`, a division by zero). A rule fires where `ok and value` holds.

What the solver cannot reason about (a regular expression, `lower(name)`, a list index) becomes
an *opaque* term: a fresh variable keyed by the term's structure, so the same term on both sides
is the same unknown. A difference that depends on one is reported with that assumption named.

Used by the compiler only (`ballast diff`, `ballast check`); the runtime never imports z3.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import z3

from ballast.compiler.diff.findings import DEFAULT_TIMEOUT_MS
from ballast.runtime.ir import IR, slot_key, unparse
from ballast.runtime.values import format_duration, iso

NUMERIC = ("int", "float", "duration", "timestamp")


class Unsupported(Exception):
    """A term the translation cannot even make opaque (a list where a scalar is needed)."""


@dataclass
class Term:
    value: Any  # a z3 expression, or a Python list of Terms for a list literal
    ok: Any  # z3 Bool: evaluating the term raised nothing
    null: Any  # z3 Bool: the value is null (an absent optional field, an empty window)
    sort: str  # "int" | "real" | "str" | "bool" | "null" | "list"


def _true() -> Any:
    return z3.BoolVal(True)


def _false() -> Any:
    return z3.BoolVal(False)


@dataclass
class Variable:
    """One input the formulas read: a field, an aggregate, an opaque term."""

    name: str  # how a witness shows it: `load`, `avg(latency_ms, 5m)`
    expr: Any  # its z3 constant
    sort: str
    present: Any = None  # z3 Bool for an optional input, None when always present
    opaque: bool = False  # a term the solver does not understand
    unit: str = ""  # "duration" or "timestamp": how a witness shows its value


class Domain:
    """The inputs of one comparison: the fields of the policies' input schemas, with their ranges.

    Built from one or more schemas (`input.fields` of the IR): a field declared by both sides is
    one variable constrained by both declarations, so conditions are compared over the events
    both policies accept.
    """

    def __init__(self, *schemas: list[IR]) -> None:
        self.fields: dict[str, list[IR]] = {}
        for fields in schemas:
            for f in _flatten_fields(fields, ()):
                self.fields.setdefault(f["name"], []).append(f)
        self.variables: dict[str, Variable] = {}
        self.constraints: list[Any] = []

    def field(self, path: list[str]) -> Variable:
        name = ".".join(path)
        if name in self.variables:
            return self.variables[name]
        declarations = self.fields.get(name)
        if not declarations:
            raise Unsupported(f"field {name} is not in the input schema")
        types = [_type_name(d["type"]) for d in declarations]
        sort = _sort_of(types)
        if sort is None:
            raise Unsupported(f"field {name} has type {types[0]}")
        var = _const(name, sort)
        optional = any(d.get("optional") for d in declarations)
        present = z3.Bool(f"present({name})") if optional else None
        for d in declarations:
            self.constraints.extend(_range(var, d, sort))
        unit = types[0] if types[0] in ("duration", "timestamp") else ""
        self.variables[name] = Variable(name, var, sort, present, unit=unit)
        return self.variables[name]

    def aggregate(self, node: IR) -> Variable:
        name = slot_key(node)[1:]
        if name in self.variables:
            return self.variables[name]
        fn = node["fn"]
        if fn == "absent":
            var = Variable(name, z3.Bool(name), "bool")
        elif fn == "count":
            var = Variable(name, z3.Int(name), "int")
            self.constraints.append(var.expr >= 0)
        elif fn == "anomaly":
            raise Unsupported("anomaly() is a record")
        else:
            # an empty window is null; the aggregates of the field's values stay within its range
            var = Variable(name, z3.Real(name), "real", present=z3.Bool(f"present({name})"))
            source = self.fields.get(".".join(node["path"]), [])
            if fn in ("avg", "min", "max", "percentile", "ewma"):
                for d in source:
                    self.constraints.extend(_range(var.expr, d, "real"))
            elif fn == "stddev":
                self.constraints.append(var.expr >= 0)
        self.variables[name] = var
        return var

    def opaque(self, node: IR, sort: str, name: str = "") -> Variable:
        name = name or unparse(node)
        key = "opaque:" + json.dumps(_shape(node), sort_keys=True)
        if key not in self.variables:
            self.variables[key] = Variable(name, _const(key, sort), sort, opaque=True)
        return self.variables[key]


def _flatten_fields(fields: list[IR], prefix: tuple[str, ...]) -> list[IR]:
    """Nested record fields as dotted names (`peer.region`), optional when any level is."""
    out = []
    for f in fields:
        path = (*prefix, f["name"])
        typ = f["type"]
        if isinstance(typ, dict) and "record" in typ:
            for inner in _flatten_fields(typ["record"], path):
                out.append({**inner, "optional": inner.get("optional") or f.get("optional", False)})
        else:
            out.append({**f, "name": ".".join(path)})
    return out


def _type_name(typ: Any) -> str:
    if isinstance(typ, dict) and "enum" in typ:
        return "enum"
    return typ if isinstance(typ, str) else next(iter(typ))


def _sort_of(types: list[str]) -> str | None:
    if all(t == "int" for t in types):
        return "int"
    if all(t in NUMERIC for t in types):
        return "real"
    if all(t in ("string", "enum") for t in types):
        return "str"
    if all(t == "bool" for t in types):
        return "bool"
    return None


def _const(name: str, sort: str) -> Any:
    return {"int": z3.Int, "real": z3.Real, "str": z3.String, "bool": z3.Bool}[sort](name)


def _range(var: Any, declaration: IR, sort: str) -> list[Any]:
    out = []
    if "min" in declaration:
        out.append(var >= _number(declaration["min"], sort))
    if "max" in declaration:
        out.append(var <= _number(declaration["max"], sort))
    typ = declaration["type"]
    if isinstance(typ, dict) and "enum" in typ:
        out.append(z3.Or(*[var == z3.StringVal(v) for v in typ["enum"]]))
    return out


def _number(value: float, sort: str) -> Any:
    if sort == "int":
        return z3.IntVal(int(value)) if float(value).is_integer() else z3.RealVal(_exact(value))
    return z3.RealVal(_exact(value))


def _exact(value: float | int) -> str:
    """A number as z3 reads it exactly: 0.8 is 4/5 (its decimal, as the author wrote it)."""
    fraction = Fraction(repr(value)) if isinstance(value, float) else Fraction(value)
    return f"{fraction.numerator}/{fraction.denominator}"


def _shape(node: Any) -> Any:
    """The node without positions, names of inlined constants and lets: its meaning's structure."""
    if isinstance(node, dict):
        if node.get("k") == "let":
            return _shape(node["e"])
        return {k: _shape(v) for k, v in node.items() if k not in ("at", "const", "text", "t")}
    if isinstance(node, list):
        return [_shape(v) for v in node]
    return node


def same_shape(a: IR, b: IR) -> bool:
    """Whether two expressions are the same up to positions, constant names and lets: the fast
    path before the solver (most unchanged rules stop here)."""
    return bool(_shape(a) == _shape(b))


class Translator:
    """IR expressions to z3 terms over one `Domain`."""

    def __init__(self, domain: Domain) -> None:
        self.domain = domain
        self.opaque_used: set[str] = set()

    def fires(self, condition: IR) -> Any:
        """The formula of "the rule's condition holds and evaluating it does not fault"."""
        term = self.term(condition)
        if term.sort != "bool":
            raise Unsupported(f"{unparse(condition)} is not a condition")
        return z3.And(term.ok, z3.Not(term.null), term.value)

    def term(self, node: IR) -> Term:
        method = getattr(self, "t_" + node["k"], None)
        if method is None:
            return self._opaque(node)
        return method(node)

    def _opaque(self, node: IR) -> Term:
        sort = _sort_of([_type_name(_parse_type(node.get("t", "any")))])
        if sort is None:
            raise Unsupported(f"{unparse(node)} has type {node.get('t')}")
        var = self.domain.opaque(node, sort)
        self.opaque_used.add(var.name)
        # an unknown function may fault: whether it does is as unknown as its value
        ok = self.domain.opaque({"k": "ok", "e": _shape(node)}, "bool", f"ok({var.name})").expr
        return Term(var.expr, ok, _false(), sort)

    # ---- leaves ----
    def t_lit(self, node: IR) -> Term:
        v = node["v"]
        if v is None:
            return Term(_false(), _true(), _true(), "null")
        if isinstance(v, bool):
            return Term(z3.BoolVal(v), _true(), _false(), "bool")
        if isinstance(v, int):
            return Term(z3.IntVal(v), _true(), _false(), "int")
        if isinstance(v, float):
            return Term(z3.RealVal(_exact(v)), _true(), _false(), "real")
        if isinstance(v, str):
            return Term(z3.StringVal(v), _true(), _false(), "str")
        return self._opaque(node)

    def t_field(self, node: IR) -> Term:
        try:
            var = self.domain.field(node["path"])
        except Unsupported:
            return self._opaque(node)
        null = z3.Not(var.present) if var.present is not None else _false()
        return Term(var.expr, _true(), null, var.sort)

    def t_has(self, node: IR) -> Term:
        var = self.domain.field(node["path"])
        return Term(var.present if var.present is not None else _true(), _true(), _false(), "bool")

    def t_agg(self, node: IR) -> Term:
        var = self.domain.aggregate(node)
        null = z3.Not(var.present) if var.present is not None else _false()
        return Term(var.expr, _true(), null, var.sort)

    def t_let(self, node: IR) -> Term:
        return self.term(node["e"])

    def t_list(self, node: IR) -> Term:
        return Term([self.term(i) for i in node["items"]], _true(), _false(), "list")

    # ---- logic ----
    def _bool(self, node: IR) -> Term:
        """A term in a bool context: null there is a fault."""
        t = self.term(node)
        if t.sort not in ("bool", "null"):
            raise Unsupported(f"{unparse(node)} is not a bool")
        return Term(t.value, z3.And(t.ok, z3.Not(t.null)), _false(), "bool")

    def t_not(self, node: IR) -> Term:
        e = self._bool(node["e"])
        return Term(z3.Not(e.value), e.ok, _false(), "bool")

    def t_and(self, node: IR) -> Term:
        a, b = self._bool(node["l"]), self._bool(node["r"])
        return Term(z3.And(a.value, b.value), z3.And(a.ok, z3.Or(z3.Not(a.value), b.ok)), _false(), "bool")

    def t_or(self, node: IR) -> Term:
        a, b = self._bool(node["l"]), self._bool(node["r"])
        return Term(z3.Or(a.value, b.value), z3.And(a.ok, z3.Or(a.value, b.ok)), _false(), "bool")

    def t_cond(self, node: IR) -> Term:
        c, a, b = self._bool(node["c"]), self.term(node["a"]), self.term(node["b"])
        if a.sort == "list" or b.sort == "list":
            return self._opaque(node)
        sort = _unify(a, b)
        ok = z3.And(c.ok, z3.If(c.value, a.ok, b.ok))
        return Term(z3.If(c.value, _cast(a, sort), _cast(b, sort)), ok, z3.If(c.value, a.null, b.null), sort)

    # ---- arithmetic ----
    def t_neg(self, node: IR) -> Term:
        e = self.term(node["e"])
        if e.sort not in ("int", "real"):
            return self._opaque(node)
        return Term(-e.value, z3.And(e.ok, z3.Not(e.null)), _false(), e.sort)

    def t_bin(self, node: IR) -> Term:
        a, b = self.term(node["l"]), self.term(node["r"])
        op = node["op"]
        ok = z3.And(a.ok, b.ok, z3.Not(a.null), z3.Not(b.null))
        if op == "+" and a.sort == b.sort == "str":
            return Term(z3.Concat(a.value, b.value), ok, _false(), "str")
        if a.sort not in ("int", "real") or b.sort not in ("int", "real"):
            return self._opaque(node)
        if op == "/":
            divisor = _cast(b, "real")
            return Term(_cast(a, "real") / divisor, z3.And(ok, divisor != 0), _false(), "real")
        if op == "%":
            # Python's % follows the divisor's sign, z3's mod is Euclidean: equal for a positive
            # literal divisor of integers, which is what rules write (`count % 10`)
            positive = node["r"]["k"] == "lit" and isinstance(node["r"]["v"], int) and node["r"]["v"] > 0
            if not (a.sort == b.sort == "int" and positive):
                return self._opaque(node)
            return Term(a.value % b.value, ok, _false(), "int")
        sort = "int" if a.sort == b.sort == "int" else "real"
        x, y = _cast(a, sort), _cast(b, sort)
        value = {"+": x + y, "-": x - y, "*": x * y}[op]
        return Term(value, ok, _false(), sort)

    # ---- comparisons ----
    def t_cmp(self, node: IR) -> Term:
        op = node["op"]
        a, b = self.term(node["l"]), self.term(node["r"])
        ok = z3.And(a.ok, b.ok)
        if op == "in":
            return self._membership(node, a, b, ok)
        if a.sort == "list" or b.sort == "list":
            return self._opaque(node)
        if op in ("==", "!="):
            equal = self._equal(a, b)
            if equal is None:
                return self._opaque(node)
            return Term(equal if op == "==" else z3.Not(equal), ok, _false(), "bool")
        if a.sort not in ("int", "real") or b.sort not in ("int", "real"):
            return self._opaque(node)  # string and duration ordering: rare, and not modelled
        sort = "int" if a.sort == b.sort == "int" else "real"
        x, y = _cast(a, sort), _cast(b, sort)
        value = {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]
        return Term(value, z3.And(ok, z3.Not(a.null), z3.Not(b.null)), _false(), "bool")

    def _equal(self, a: Term, b: Term) -> Any:
        """Python's ==, null included: null equals only null."""
        if a.sort == "null" or b.sort == "null":
            other = b if a.sort == "null" else a
            return other.null
        if a.sort == b.sort or {a.sort, b.sort} == {"int", "real"}:
            sort = a.sort if a.sort == b.sort else "real"
            both = z3.And(z3.Not(a.null), z3.Not(b.null), _cast(a, sort) == _cast(b, sort))
            return z3.Or(z3.And(a.null, b.null), both)
        return None

    def _membership(self, node: IR, a: Term, b: Term, ok: Any) -> Term:
        if b.sort != "list":
            return self._opaque(node)
        options = []
        for item in b.value:
            equal = self._equal(a, item)
            if equal is None:
                return self._opaque(node)
            options.append(z3.And(item.ok, equal))
        oks = [item.ok for item in b.value]
        return Term(z3.Or(*options) if options else _false(), z3.And(ok, *oks), _false(), "bool")

    # ---- builtins ----
    def t_call(self, node: IR) -> Term:
        fn, args = node["fn"], node["args"]
        if fn in ("abs", "min", "max", "clamp") and not any(a.get("t", "").startswith("list") for a in args):
            terms = [self.term(a) for a in args]
            if all(t.sort in ("int", "real") for t in terms):
                sort = "int" if all(t.sort == "int" for t in terms) else "real"
                values = [_cast(t, sort) for t in terms]
                ok = z3.And(*[z3.And(t.ok, z3.Not(t.null)) for t in terms])
                return Term(_numeric_builtin(fn, values), ok, _false(), sort)
        if fn in ("startswith", "endswith") or (fn == "contains" and args[0].get("t") == "string"):
            s, p = self.term(args[0]), self.term(args[1])
            if s.sort == p.sort == "str":
                value = {"startswith": z3.PrefixOf, "endswith": z3.SuffixOf}.get(fn)
                result = value(p.value, s.value) if value else z3.Contains(s.value, p.value)
                ok = z3.And(s.ok, p.ok, z3.Not(s.null), z3.Not(p.null))
                return Term(result, ok, _false(), "bool")
        if fn == "len" and args[0].get("t") == "string":
            s = self.term(args[0])
            if s.sort == "str":
                return Term(z3.Length(s.value), z3.And(s.ok, z3.Not(s.null)), _false(), "int")
        return self._opaque(node)


def _numeric_builtin(fn: str, values: list[Any]) -> Any:
    if fn == "abs":
        return z3.If(values[0] >= 0, values[0], -values[0])
    if fn == "clamp":
        x, low, high = values
        return z3.If(x < low, low, z3.If(x > high, high, x))
    out = values[0]
    for v in values[1:]:
        out = z3.If(v < out, v, out) if fn == "min" else z3.If(v > out, v, out)
    return out


def _unify(a: Term, b: Term) -> str:
    if a.sort == b.sort:
        return a.sort
    if {a.sort, b.sort} == {"int", "real"}:
        return "real"
    if a.sort == "null":
        return b.sort
    if b.sort == "null":
        return a.sort
    raise Unsupported("branches of different types")


def _cast(t: Term, sort: str) -> Any:
    if t.sort == "null":
        return _const("null", sort) if sort != "null" else _false()
    if sort == "real" and t.sort == "int":
        return z3.ToReal(t.value)
    return t.value


def _parse_type(text: str) -> Any:
    if text.startswith("enum("):
        return {"enum": []}
    if text.startswith(("list<", "map<", "{")):
        return {"list": None}
    return text


# ---------------------------------------------------------------- queries


@dataclass
class Witness:
    """An input on which two conditions decide differently; `values` by field, None = absent."""

    values: dict[str, Any]
    units: dict[str, str] = field(default_factory=dict)  # inputs that are durations or timestamps

    def text(self) -> str:
        return ", ".join(
            f"{name} = {_show(v, self.units.get(name, ''))}" if v is not None else f"{name} absent"
            for name, v in self.values.items()
        )


def _show(value: Any, unit: str = "") -> str:
    if unit == "duration" and isinstance(value, int | float):
        return format_duration(float(value))
    if unit == "timestamp" and isinstance(value, int | float):
        return iso(float(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, float):
        return format(value, ".10g")
    return str(value)


@dataclass
class Comparison:
    """How the new condition's firing set relates to the old one's."""

    verdict: str  # equivalent | narrowed | widened | changed | undecided
    gained: Witness | None = None  # fires now, did not before
    lost: Witness | None = None  # fired before, does not now
    gained_region: str | None = None
    lost_region: str | None = None
    assumptions: list[str] = field(default_factory=list)  # opaque terms the answer depends on
    reason: str = ""  # why undecided
    seconds: float = 0.0


def compare(old: IR, new: IR, domain: Domain, timeout_ms: int = DEFAULT_TIMEOUT_MS, regions: bool = True) -> Comparison:
    """Compare two conditions over `domain`: equivalent, or witnesses of each difference."""
    started = time.perf_counter()
    if same_shape(old, new):
        return Comparison("equivalent", seconds=time.perf_counter() - started)
    translator = Translator(domain)
    try:
        before, after = translator.fires(old), translator.fires(new)
    except (Unsupported, z3.Z3Exception) as exc:
        return Comparison("undecided", reason=f"not modelled: {exc}", seconds=time.perf_counter() - started)
    solver = z3.Solver()
    solver.set("timeout", timeout_ms)
    solver.add(*domain.constraints)
    gained, gained_status = _difference(solver, domain, after, before)
    lost, lost_status = _difference(solver, domain, before, after)
    result = Comparison("undecided", gained=gained, lost=lost, assumptions=sorted(translator.opaque_used))
    if z3.unknown in (gained_status, lost_status):
        result.reason = f"the solver gave no answer within {timeout_ms} ms"
        # a difference found in one direction is still a proven difference
        if gained is None and lost is None:
            result.seconds = time.perf_counter() - started
            return result
        result.verdict = "changed"
    elif gained is None and lost is None:
        result.verdict = "equivalent"
    elif gained is None:
        result.verdict = "narrowed"
    elif lost is None:
        result.verdict = "widened"
    else:
        result.verdict = "changed"
    if regions and result.verdict in ("narrowed", "widened", "changed"):
        if gained is not None:
            result.gained_region = region(solver, domain, translator, z3.And(after, z3.Not(before)), (old, new))
        if lost is not None:
            result.lost_region = region(solver, domain, translator, z3.And(before, z3.Not(after)), (old, new))
    result.seconds = time.perf_counter() - started
    return result


def _difference(solver: z3.Solver, domain: Domain, yes: Any, no: Any) -> tuple[Witness | None, Any]:
    solver.push()
    formula = z3.And(yes, z3.Not(no))
    solver.add(formula)
    status = solver.check()
    witness = _witness(_rounder_model(solver, domain, formula), domain, formula) if status == z3.sat else None
    solver.pop()
    return witness, status


def _rounder_model(solver: z3.Solver, domain: Domain, formula: Any) -> z3.ModelRef:
    """A model whose numbers are as round as the formula allows (`risk = 81`, not `80.05`): each
    real input in turn is pinned to the roundest nearby value that keeps the formula satisfiable.
    Call with `formula` asserted and checked sat; leaves the solver as it found it."""
    model = solver.model()
    read = {str(c) for c in _constants(formula)}
    pinned = 0
    for key in sorted(domain.variables):
        var = domain.variables[key]
        if var.sort != "real" or str(var.expr) not in read:
            continue
        value = python_value(model.eval(var.expr, model_completion=True), "real")
        for candidate in _round_candidates(value):
            solver.push()
            solver.add(var.expr == z3.RealVal(_exact(candidate)))
            if solver.check() == z3.sat:
                model = solver.model()
                pinned += 1
                break
            solver.pop()
    for _ in range(pinned):
        solver.pop()
    return model


def _round_candidates(value: float | int) -> list[float | int]:
    """Rounder numbers near `value`, roundest first."""
    import math

    out: list[float | int] = []
    for digits in range(0, 4):
        scale = 10**digits
        for x in (math.floor(value * scale) / scale, math.ceil(value * scale) / scale):
            x = int(x) if float(x).is_integer() else x
            if x not in out:
                out.append(x)
    return out


def same_value(
    old: IR, new: IR, domain: Domain, timeout_ms: int = DEFAULT_TIMEOUT_MS
) -> tuple[str, Witness | None, list[str]]:
    """Whether two expressions (an action's argument, a risk source) have the same value on every
    input: ("equal" | "different" | "undecided", a witness where they differ, assumptions)."""
    if same_shape(old, new):
        return "equal", None, []
    translator = Translator(domain)
    try:
        a, b = translator.term(old), translator.term(new)
        equal = translator._equal(a, b)
    except (Unsupported, z3.Z3Exception):
        return "undecided", None, []
    if equal is None or "list" in (a.sort, b.sort):
        return "undecided", None, []
    solver = z3.Solver()
    solver.set("timeout", timeout_ms)
    differ = z3.And(a.ok, b.ok, z3.Not(equal))
    solver.add(*domain.constraints, differ)
    status = solver.check()
    assumptions = sorted(translator.opaque_used)
    if status == z3.unsat:
        return "equal", None, assumptions
    if status == z3.sat:
        return "different", _witness(solver.model(), domain, differ), assumptions
    return "undecided", None, assumptions


def satisfiable(
    condition: IR, domain: Domain, timeout_ms: int = DEFAULT_TIMEOUT_MS, also: IR | None = None
) -> tuple[Any, Witness | None, list[str]]:
    """Whether a condition (and `also`) can hold within the domain: (z3 status, witness, assumptions)."""
    translator = Translator(domain)
    formula = translator.fires(condition)
    if also is not None:
        formula = z3.And(formula, translator.fires(also))
    solver = z3.Solver()
    solver.set("timeout", timeout_ms)
    solver.add(*domain.constraints, formula)
    status = solver.check()
    witness = _witness(solver.model(), domain, formula) if status == z3.sat else None
    return status, witness, sorted(translator.opaque_used)


def _witness(model: z3.ModelRef, domain: Domain, formula: Any) -> Witness:
    """The model's values of the inputs the formula reads, in a stable order."""
    read = {str(c) for c in _constants(formula)}
    values: dict[str, Any] = {}
    units: dict[str, str] = {}
    for key in sorted(domain.variables):
        var = domain.variables[key]
        if var.name.startswith("ok(") or (
            str(var.expr) not in read and (var.present is None or str(var.present) not in read)
        ):
            continue
        if var.present is not None and z3.is_false(model.eval(var.present, model_completion=True)):
            values[var.name] = None
            continue
        values[var.name] = python_value(model.eval(var.expr, model_completion=True), var.sort)
        if var.unit:
            units[var.name] = var.unit
    return Witness(values, units)


def _constants(expr: Any) -> set[Any]:
    seen: set[Any] = set()
    out: set[Any] = set()
    stack = [expr]
    while stack:
        e = stack.pop()
        if e.get_id() in seen:
            continue
        seen.add(e.get_id())
        if z3.is_const(e) and e.decl().kind() == z3.Z3_OP_UNINTERPRETED:
            out.add(e)
        stack.extend(e.children())
    return out


def python_value(value: Any, sort: str) -> Any:
    if sort == "bool":
        return z3.is_true(value)
    if sort == "str":
        return value.as_string()
    if sort == "int":
        return value.as_long()
    if z3.is_rational_value(value):
        fraction = Fraction(value.numerator_as_long(), value.denominator_as_long())
        return int(fraction) if fraction.denominator == 1 else float(fraction)
    if z3.is_algebraic_value(value):
        return float(value.approx(12).as_decimal(12).rstrip("?"))
    return float(str(value))


# ---------------------------------------------------------------- regions

MAX_REGION_FIELDS = 3
MAX_REGION_CELLS = 400


def region(
    solver: z3.Solver, domain: Domain, translator: Translator, difference: Any, conditions: tuple[IR, ...]
) -> str | None:
    """The set where `difference` holds as boxes of intervals ("0.75 < load <= 0.8 && risk > 80"),
    when it reads at most three numeric or enum inputs and is exactly a union of the cells their
    thresholds cut; None otherwise (the witness still shows it)."""
    if translator.opaque_used:
        return None
    read = {str(c) for c in _constants(difference)}
    variables = [v for v in domain.variables.values() if str(v.expr) in read]
    if not variables or len(variables) > MAX_REGION_FIELDS:
        return None
    if any(v.present is not None and str(v.present) in read for v in variables):
        return None  # absent values are not intervals
    axes = []
    for var in variables:
        cells = _cells(var, domain, conditions)
        if cells is None:
            return None
        axes.append([cell for cell in cells if _possible(solver, cell[1])])
    total = 1
    for cells in axes:
        total *= len(cells)
    if total > MAX_REGION_CELLS:
        return None
    inside: list[tuple[int, ...]] = []
    for index in _product([range(len(cells)) for cells in axes]):
        constraint = z3.And(*[axes[d][i][1] for d, i in enumerate(index)])
        solver.push()
        solver.add(constraint)
        solver.push()
        solver.add(difference)
        some = solver.check()
        solver.pop()
        if some == z3.sat:
            solver.add(z3.Not(difference))
            rest = solver.check()
            if rest != z3.unsat:  # part of the cell: the region is not a union of these cells
                solver.pop()
                return None
            inside.append(index)
        elif some != z3.unsat:
            solver.pop()
            return None
        solver.pop()
    if not inside:
        return None
    boxes = _merge([[{i} for i in index] for index in inside])
    return " || ".join(_show_box(box, variables, axes) for box in boxes)


def _possible(solver: z3.Solver, constraint: Any) -> bool:
    """Whether a cell holds any input within the domain (an int between 2 and 3 does not)."""
    solver.push()
    solver.add(constraint)
    status = solver.check()
    solver.pop()
    return status != z3.unsat


def _cells(var: Variable, domain: Domain, conditions: tuple[IR, ...]) -> list[tuple[Any, Any]] | None:
    """The cells one input's thresholds cut its range into: (description, z3 constraint)."""
    if var.sort == "str":
        values = _enum_values(domain, var)
        if values is None:
            return None
        return [(("enum", v), var.expr == z3.StringVal(v)) for v in values]
    if var.sort == "bool":
        return [(("bool", b), var.expr == z3.BoolVal(b)) for b in (False, True)]
    low, high = _bounds(domain, var)
    points = sorted({n for n in _numbers(conditions) if (low is None or n >= low) and (high is None or n <= high)})
    x = var.expr
    cells: list[tuple[Any, Any]] = []
    previous = low  # None: unbounded below
    for i, p in enumerate(points):
        if previous is None or previous < p:
            lower = ([x >= _num(previous)] if i == 0 else [x > _num(previous)]) if previous is not None else []
            cells.append((("open", previous, p), z3.And(*lower, x < _num(p))))
        cells.append((("point", p), x == _num(p)))
        previous = p
    if not points or high is None or previous is None or previous < high:
        lower = ([x >= _num(previous)] if not points else [x > _num(previous)]) if previous is not None else []
        upper = [x <= _num(high)] if high is not None else []
        cells.append((("open", previous, high), z3.And(*lower, *upper) if lower or upper else _true()))
    return cells


def _num(v: float | int) -> Any:
    return z3.RealVal(_exact(v))


def _bounds(domain: Domain, var: Variable) -> tuple[float | None, float | None]:
    lows = [d["min"] for d in domain.fields.get(var.name, []) if "min" in d]
    highs = [d["max"] for d in domain.fields.get(var.name, []) if "max" in d]
    return (max(lows) if lows else None), (min(highs) if highs else None)


def _enum_values(domain: Domain, var: Variable) -> list[str] | None:
    for d in domain.fields.get(var.name, []):
        if isinstance(d["type"], dict) and "enum" in d["type"]:
            return list(d["type"]["enum"])
    return None


def _numbers(conditions: tuple[IR, ...]) -> set[float | int]:
    out: set[float | int] = set()
    for condition in conditions:
        stack = [condition]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                if node.get("k") == "lit" and isinstance(node["v"], int | float) and not isinstance(node["v"], bool):
                    out.add(node["v"])
                stack.extend(v for k, v in node.items() if k != "at")
            elif isinstance(node, list):
                stack.extend(node)
    return out


def _product(ranges: list[range]) -> list[tuple[int, ...]]:
    out: list[tuple[int, ...]] = [()]
    for r in ranges:
        out = [(*prefix, i) for prefix in out for i in r]
    return out


def _merge(boxes: list[list[set[int]]]) -> list[list[set[int]]]:
    """Merge boxes that differ along one axis only, until none do (adjacent cells join)."""
    changed = True
    while changed:
        changed = False
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                a, b = boxes[i], boxes[j]
                differing = [d for d in range(len(a)) if a[d] != b[d]]
                if len(differing) == 1:
                    d = differing[0]
                    boxes[i] = [*a[:d], a[d] | b[d], *a[d + 1 :]]
                    del boxes[j]
                    changed = True
                    break
            if changed:
                break
    return boxes


def _show_box(box: list[set[int]], variables: list[Variable], axes: list[list[tuple[Any, Any]]]) -> str:
    parts = []
    for d, chosen in enumerate(box):
        if len(chosen) == len(axes[d]):
            continue  # the whole range: no constraint on this input
        parts.extend(_show_axis(variables[d].name, sorted(chosen), axes[d], variables[d].unit))
    return " && ".join(parts) if parts else "everywhere"


def _show_axis(name: str, chosen: list[int], cells: list[tuple[Any, Any]], unit: str = "") -> list[str]:
    kinds = [cells[i][0] for i in chosen]
    if kinds[0][0] == "enum":
        values = [k[1] for k in kinds]
        return [f"{name} == {json.dumps(values[0])}" if len(values) == 1 else f"{name} in {json.dumps(values)}"]
    if kinds[0][0] == "bool":
        return [f"{name} == {'true' if kinds[0][1] else 'false'}"] if len(kinds) == 1 else []
    # runs of consecutive cells are intervals
    runs: list[list[int]] = []
    for i in chosen:
        if runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    out = [
        _interval(name, [cells[i][0] for i in run], first=run[0] == 0, last=run[-1] == len(cells) - 1, unit=unit)
        for run in runs
    ]
    return [" || ".join(out)] if len(out) == 1 else ["(" + " || ".join(out) + ")"]


def _interval(name: str, kinds: list[Any], first: bool, last: bool, unit: str = "") -> str:
    def _fmt(v: Any) -> str:
        return _show(v, unit) if unit else _number_text(v)

    start, end = kinds[0], kinds[-1]
    if start[0] == "point" and end[0] == "point" and len(kinds) == 1:
        return f"{name} == {_fmt(start[1])}"
    lower = "" if first else (f"{_fmt(start[1])} <= " if start[0] == "point" else f"{_fmt(start[1])} < ")
    upper = "" if last else (f" <= {_fmt(end[1])}" if end[0] == "point" else f" < {_fmt(end[2])}")
    if not lower and not upper:
        return name
    if not lower:
        return f"{name}{upper}"
    if not upper:
        return f"{name} {'>=' if start[0] == 'point' else '>'} {_fmt(start[1])}"
    return f"{lower}{name}{upper}"


def _number_text(v: Any) -> str:
    return format(v, "g") if isinstance(v, float) else str(v)
