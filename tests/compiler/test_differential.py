"""Differential tests of the expression back-ends.

A type-directed generator produces well-typed expression sources over a fixed schema; for random
events (with edge values) the reference interpreter (`ballast.runtime.interpret.evaluate`) and the
generated code (`compile_expression_function`) must give the same value — same type, floats bit
for bit — or both raise EvaluationError. Constant folding must not change what the interpreter
computes either: the unfolded IR and the folded IR agree.

One deliberate asymmetry: a compiled *bool* expression evaluates its top node in a bool context
(as a rule's condition is), so an absent optional bool (`ob`) faults there, as docs/language.md
promises (`canary` alone is an evaluation error), while the interpreter returns its value, null.
The comparison therefore applies that bool context to the interpreter's top-level value
(`as_condition`). Folded and unfolded IR are compared raw.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from support import same_value

import ballast.compiler.expression as expression_module
from ballast import CompileError, EvaluationError
from ballast.compiler import types as T
from ballast.compiler.expression import check_expression
from ballast.runtime.codegen import compile_expression_function
from ballast.runtime.interpret import evaluate

SCHEMA = {
    "i": "int",
    "j": "int",
    "x": "float",
    "y": "float",
    "s": "string",
    "t": "string",
    "b": "bool",
    "xs": "list<int>",
    "ss": "list<string>",
    "m": "map<string, int>",
    "o": "int?",
    "ob": "bool?",
    "os": "string?",
    "d": "duration",
    "e": 'enum("red", "green", "blue")',
    "r": "{a: int, n?: int}?",
    "rs": "list<{a: int, n?: int}>",
}

INT, FLOAT, BOOL, STR, DUR, LINT, LSTR = "int", "float", "bool", "string", "duration", "list<int>", "list<string>"
MAX_DEPTH = 3

# ---- the expression generator: (source, type) ----

INT_LITS = ["0", "1", "2", "3", "7", "10", "(-1)", "(-7)", "4611686018427387904", "100000000000000000000"]
FLOAT_LITS = ["0.0", "(-0.0)", "0.5", "1.5", "2.5", "(-2.5)", "0.1", "3.0", "1e300", "1e-300", "(-1e300)"]
STR_LITS = ['""', '"a"', '"ab"', '"Hello"', '"k"', '"42"', '" 7 "', '"nan"', '"1e3"', '"ünï"', '"A.b"', '"red"']
DUR_LITS = ["0s", "30s", "5m", "250ms", "1h30m", "1.5s", "2d"]
PATTERNS = ['"^a"', '"b$"', '"[0-9]+"', '"a.c"', '""', '"(?i)hello"', '"^$"', '"\\\\d"', '"ü"']
ENUM_LITS = ['"red"', '"green"', '"blue"']
CMP_OPS = ["==", "!=", "<", "<=", ">", ">="]

LEAVES: dict[str, list[str]] = {
    INT: ["i", "j", "o", "o", "r.a", "r.n", "len(s)", "len(xs)", "len(m)", "m.k", *INT_LITS],
    FLOAT: ["x", "y", *FLOAT_LITS],
    BOOL: [
        "b",
        "true",
        "false",
        "ob",
        "ob",
        "ob",
        "has(o)",
        "has(ob)",
        "has(r)",
        "has(r.n)",
        "(o == null)",
        "(null != o)",
        "(ob == true)",
        "(os == null)",
        # short circuits whose right side would fault
        "(b || ((1 / j) > 0))",
        "(false && (xs[5] > 0))",
        '(true || (m["zz"] > 0))',
        "(b && ((i % j) == 0))",
        "(has(o) && (o > 0))",
        "(!has(o) || (o < 3))",
        "(has(r.n) && (r.n > 0))",
    ],
    STR: ["s", "t", "os", "string(e)", *STR_LITS],
    DUR: ["d", *DUR_LITS],
    LINT: ["xs", "[]", "[1, 2, 3]"],
    LSTR: ["ss", '["a", ""]'],
}


def fmt(template: str, *parts: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(*parts).map(lambda values: template.format(*values))


@st.composite
def weighted(draw: st.DrawFn, branches: tuple[tuple[int, st.SearchStrategy[str]], ...]) -> str:
    """One of the branches, chosen with the given weights; shrinks towards the first.

    (st.one_of cannot weight: it flattens nested unions and drops repeated branches.)
    """
    pick = draw(st.integers(0, sum(weight for weight, _ in branches) - 1))
    for weight, branch in branches:
        if pick < weight:
            return draw(branch)
        pick -= weight
    raise AssertionError("unreachable")


@functools.cache
def expr(ty: str, depth: int = MAX_DEPTH) -> st.SearchStrategy[str]:
    """Source text of an expression of type `ty`, at most `depth` operators deep.

    At each level a leaf half of the time, so most expressions stay small enough that what
    happens near their top is observable rather than masked by an outer fault.
    """
    leaves = st.sampled_from(LEAVES[ty])
    if depth == 0:
        return leaves
    groups = _compounds(ty, depth - 1)
    return weighted(((len(groups), leaves), *((1, st.one_of(*group)) for group in groups)))


def _compounds(ty: str, depth: int) -> list[list[st.SearchStrategy[str]]]:
    """The compound forms of `ty`, in groups drawn equally often."""

    def sub(t: str) -> st.SearchStrategy[str]:
        return expr(t, depth)

    num = st.one_of(sub(INT), sub(FLOAT))
    small = st.sampled_from(["0", "1", "2", "(-1)"])
    ops = st.sampled_from(CMP_OPS)
    if ty == INT:
        return [
            [
                fmt("({} {} {})", sub(INT), st.sampled_from(["+", "-", "*", "%"]), sub(INT)),
                fmt("(-{})", sub(INT)),
                fmt("abs({})", sub(INT)),
                fmt("{}({}, {})", st.sampled_from(["min", "max"]), sub(INT), sub(INT)),
                fmt("{}({})", st.sampled_from(["min", "max"]), sub(LINT)),
                fmt("clamp({}, {}, {})", sub(INT), sub(INT), sub(INT)),
                fmt("({} ? {} : {})", sub(BOOL), sub(INT), sub(INT)),
                fmt("{}[{}]", st.sampled_from(["xs", "[4, 5, 6]"]), sub(INT)),
                fmt("m[{}]", sub(STR)),
                fmt("rs[{}].{}", sub(INT), st.sampled_from(["a", "n"])),
                fmt("round({})", num),
                fmt("int({})", st.one_of(num, sub(STR))),
                fmt("len({})", st.one_of(sub(STR), sub(LINT), sub(LSTR))),
                fmt("(has(o) ? o : {})", sub(INT)),
            ]
        ]
    if ty == FLOAT:
        arith = st.sampled_from(["+", "-", "*", "%"])
        return [
            [
                fmt("({} / {})", num, num),
                fmt("({} {} {})", sub(FLOAT), arith, num),
                fmt("({} {} {})", num, arith, sub(FLOAT)),
                fmt("(-{})", sub(FLOAT)),
                fmt("abs({})", sub(FLOAT)),
                fmt("float({})", st.one_of(num, sub(STR))),
                fmt("round({}, {})", num, st.one_of(small, sub(INT))),
                fmt("{}({}, {})", st.sampled_from(["min", "max"]), sub(FLOAT), num),
                fmt("clamp({}, {}, {})", sub(FLOAT), num, num),
                fmt("({} ? {} : {})", sub(BOOL), sub(INT), sub(FLOAT)),
                fmt("({} ? {} : {})", sub(BOOL), sub(FLOAT), num),
                fmt("({} / {})", sub(DUR), sub(DUR)),
            ]
        ]
    if ty == BOOL:
        logic = st.sampled_from(["&&", "||", "and", "or"])
        constant = st.sampled_from(["true", "false", "(1 < 2)", "!true"])
        connectives = [
            fmt("({} {} {})", sub(BOOL), logic, sub(BOOL)),
            # a constant beside `&&`/`||` is what folding simplifies; an absent `ob` beside it
            # is where a simplification can lose the bool check
            fmt("({} {} {})", constant, logic, sub(BOOL)),
            fmt("({} {} {})", sub(BOOL), logic, constant),
            fmt("({} ? ob : {})", sub(BOOL), sub(BOOL)),
            fmt("({} ? {} : ob)", sub(BOOL), sub(BOOL)),
            fmt("({}{})", st.sampled_from(["!", "not ", "!!", "not not ", "!not "]), sub(BOOL)),
            fmt("({} ? {} : {})", sub(BOOL), sub(BOOL), sub(BOOL)),
            fmt("(ob {} {})", st.sampled_from(["==", "!=", "&&", "||"]), sub(BOOL)),
        ]
        # the connectives as likely as all the comparisons and functions together
        return [
            connectives,
            [
                fmt("({} {} {})", num, ops, num),
                fmt("({} {} {})", sub(STR), ops, sub(STR)),
                fmt("({} {} {})", sub(DUR), ops, sub(DUR)),
                fmt("({} {} {})", sub(BOOL), st.sampled_from(["==", "!="]), sub(BOOL)),
                fmt("({} in {})", sub(INT), sub(LINT)),
                fmt("({} in [{}, {}])", num, num, num),
                fmt("({} in {})", sub(STR), sub(LSTR)),
                fmt("({} in m)", sub(STR)),
                fmt('({} in ["a", "", "Hello"])', sub(STR)),
                fmt("({} {} {})", sub(LINT), st.sampled_from(["==", "!="]), sub(LINT)),
                fmt("({} == {})", sub(LSTR), sub(LSTR)),
                fmt("(e {} {})", st.sampled_from(["==", "!="]), st.sampled_from(ENUM_LITS)),
                fmt("({} == e)", st.sampled_from(ENUM_LITS)),
                fmt("(e in [{}, {}])", st.sampled_from(ENUM_LITS), st.sampled_from(ENUM_LITS)),
                fmt("(e {} {})", st.sampled_from(["<", "<=", ">", ">="]), sub(STR)),
                fmt("{}({}, {})", st.sampled_from(["startswith", "endswith", "contains"]), sub(STR), sub(STR)),
                fmt("{}.{}({})", sub(STR), st.sampled_from(["startswith", "endswith", "contains"]), sub(STR)),
                fmt("contains({}, {})", sub(LINT), sub(INT)),
                fmt("contains(ss, {})", sub(STR)),
                fmt("contains(m, {})", sub(STR)),
                fmt("matches({}, {})", sub(STR), st.sampled_from(PATTERNS)),
                fmt("{}.matches({})", sub(STR), st.sampled_from(PATTERNS)),
                fmt("({} == null)", st.one_of(sub(INT), sub(STR))),
            ],
        ]
    if ty == STR:
        return [
            [
                fmt("({} + {})", sub(STR), sub(STR)),
                fmt("{}({})", st.sampled_from(["lower", "upper"]), sub(STR)),
                fmt("{}.{}()", sub(STR), st.sampled_from(["lower", "upper"])),
                fmt("string({})", st.one_of(sub(INT), sub(FLOAT), sub(BOOL), sub(STR))),
                fmt("ss[{}]", sub(INT)),
                fmt("({} ? {} : {})", sub(BOOL), sub(STR), sub(STR)),
                fmt("(e + {})", sub(STR)),
                fmt("{}({}, {})", st.sampled_from(["min", "max"]), sub(STR), sub(STR)),
            ]
        ]
    if ty == DUR:
        return [
            [
                fmt("({} {} {})", sub(DUR), st.sampled_from(["+", "-"]), sub(DUR)),
                fmt("({} * {})", sub(DUR), num),
                fmt("({} * {})", num, sub(DUR)),
                fmt("({} / {})", sub(DUR), num),
                fmt("(-{})", sub(DUR)),
                fmt("abs({})", sub(DUR)),
                fmt("clamp({}, {}, {})", sub(DUR), sub(DUR), sub(DUR)),
                fmt("({} ? {} : {})", sub(BOOL), sub(DUR), sub(DUR)),
            ]
        ]
    if ty == LINT:
        return [
            [
                fmt("[{}, {}]", sub(INT), sub(INT)),
                fmt("({} + {})", sub(LINT), sub(LINT)),
                fmt("({} ? {} : {})", sub(BOOL), sub(LINT), sub(LINT)),
            ]
        ]
    if ty == LSTR:
        return [
            [
                fmt("[{}]", sub(STR)),
                fmt("({} + {})", sub(LSTR), sub(LSTR)),
                fmt("({} ? {} : {})", sub(BOOL), sub(LSTR), sub(LSTR)),
            ]
        ]
    raise AssertionError(ty)


TYPES = [INT, FLOAT, BOOL, STR, DUR, LINT, LSTR]
GENERATED_TYPES = {
    INT: T.INT,
    FLOAT: T.FLOAT,
    BOOL: T.BOOL,
    STR: T.STRING,
    DUR: T.DURATION,
    LINT: T.ListT(T.INT),
    LSTR: T.ListT(T.STRING),
}
# bool most often: short circuits, nulls in bool contexts and comparisons all live there
typed_expressions = st.sampled_from([BOOL, BOOL, BOOL, INT, INT, FLOAT, FLOAT, STR, DUR, LINT, LSTR]).flatmap(
    lambda ty: expr(ty).map(lambda source: (source, ty))
)

# ---- the event generator ----

ints = st.one_of(
    st.sampled_from([0, 1, -1, 2, 3, 5, -7, 2**31, -(2**63), 2**64, 10**20, 2**1100, -(2**1100)]),
    st.integers(-20, 20),
    st.integers(),
)
floats = st.one_of(
    st.sampled_from([0.0, -0.0, 0.5, 1.5, 2.5, -2.5, 3.0, 0.1, 1e300, -1e300, 5e-324, 1e16, 2.0**53]),
    st.floats(allow_nan=False, allow_infinity=False),
)
strings = st.one_of(
    st.sampled_from(["", "a", "ab", "abc", "Hello", "hello world", "k", "42", " 7 ", "-7", "1e3", "nan", "inf", "ünï"]),
    st.text(max_size=5),
)
record = st.fixed_dictionaries({"a": ints}, optional={"n": ints})
events = st.fixed_dictionaries(
    {
        "i": ints,
        "j": ints,
        "x": floats,
        "y": floats,
        "s": strings,
        "t": strings,
        "b": st.booleans(),
        "xs": st.lists(ints, max_size=4),
        "ss": st.lists(strings, max_size=3),
        "m": st.dictionaries(st.sampled_from(["k", "a", "", "Hello", "zz"]), ints, max_size=3),
        "d": st.one_of(st.sampled_from([0.0, 30.0, 90.5, 3600.0]), floats),
        "e": st.sampled_from(["red", "green", "blue"]),
        "rs": st.lists(record, max_size=3),
    },
    optional={
        # an absent optional field is either missing or null; both mean null
        "o": st.one_of(st.none(), ints),
        "ob": st.one_of(st.none(), st.booleans()),
        "os": st.one_of(st.none(), strings),
        "r": st.one_of(st.none(), record),
    },
)

# ---- comparing outcomes ----

Outcome = tuple[str, Any]  # ("value", v) or ("error", message)


def run(thunk: Callable[[], Any]) -> Outcome:
    """The value, or the EvaluationError; any other exception escapes and fails the test."""
    try:
        return ("value", thunk())
    except EvaluationError as exc:
        return ("error", str(exc))


def agree(a: Outcome, b: Outcome) -> bool:
    if a[0] != b[0]:
        return False
    return a[0] == "error" or same_value(a[1], b[1])


def as_condition(outcome: Outcome, ty: str) -> Outcome:
    """The interpreter's value read in the bool context a compiled bool expression applies."""
    if ty == BOOL and outcome[0] == "value" and outcome[1] is None:
        return ("error", "absent (null) where a bool is needed")
    return outcome


def check_unfolded(source: str) -> dict[str, Any]:
    """The checked IR before constant folding (check_expression with the fold step skipped)."""
    with mock.patch.object(expression_module, "fold", lambda ir, *args, **kwargs: ir):
        ir, _ = check_expression(source, SCHEMA)
    return ir


def check_backends(source: str, ty: str, evs: list[dict[str, Any]]) -> None:
    try:
        folded, typ = check_expression(source, SCHEMA)
    except CompileError as exc:
        # Only a constant sub-expression that always faults (`[4, 5, 6][7]`, `1 % 0`, even in
        # a branch never taken) may reject a generated expression; anything else is a bug of
        # the generator or of the checker.
        assert exc.code == "fault", f"{source}: {exc}"
        assume(False)
        raise
    assert T.assignable(typ, GENERATED_TYPES[ty]), f"{source}: the checker says {typ}, the generator meant {ty}"
    unfolded = check_unfolded(source)
    compiled = compile_expression_function(folded, "<expr>", source)
    compiled_unfolded = compile_expression_function(unfolded, "<expr>", source)
    for ev in evs:
        reference = run(lambda ev=ev: evaluate(folded, ev))
        got = run(lambda ev=ev: compiled(ev))
        assert agree(got, as_condition(reference, ty)), f"{source} on {ev}: compiled {got} != interpreted {reference}"
        unfolded_reference = run(lambda ev=ev: evaluate(unfolded, ev))
        assert agree(reference, unfolded_reference), (
            f"{source} on {ev}: folding changed the result: {unfolded_reference} -> {reference}"
        )
        got = run(lambda ev=ev: compiled_unfolded(ev))
        assert agree(got, as_condition(unfolded_reference, ty)), (
            f"{source} on {ev}: compiled unfolded {got} != interpreted {unfolded_reference}"
        )


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=typed_expressions, evs=st.lists(events, min_size=1, max_size=5))
def test_interpreter_and_compiled_code_agree(case: tuple[str, str], evs: list[dict[str, Any]]) -> None:
    source, ty = case
    check_backends(source, ty, evs)


# ---- hand-picked cases the generator should reach, kept as fast regressions ----

EDGE_EVENT: dict[str, Any] = {
    "i": 7,
    "j": 0,
    "x": -0.0,
    "y": 2.5,
    "s": "",
    "t": "ab",
    "b": False,
    "xs": [],
    "ss": [],
    "m": {},
    "d": 30.0,
    "e": "red",
    "rs": [{"a": 1}],
}


@pytest.mark.parametrize(
    ("source", "ty"),
    [
        ("b || 1 / j > 0", BOOL),
        ("false && xs[5] > 0", BOOL),
        ("ob", BOOL),
        ("true && ob", BOOL),
        ("ob && true", BOOL),
        ("false || ob", BOOL),
        ("(true && ob) == false", BOOL),
        ("(b ? true : ob) || i > 0", BOOL),
        ("!(b ? true : ob)", BOOL),
        ("(b ? ob : true) ? 1 : 2", INT),
        ("o + 1", INT),
        ("has(o) ? o : -1", INT),
        ("r.n", INT),
        ("rs[0].n", INT),
        ("rs[0].n == null", BOOL),
        ("-x", FLOAT),
        ("x * -1.0", FLOAT),
        ("i / 2", FLOAT),
        ("i % j", INT),
        ("m.k", INT),
        ("xs[-1]", INT),
        ('float("1.5") + x', FLOAT),
        ("max(3, 1.5)", FLOAT),
        ("d * 2 + 30s", DUR),
    ],
)
def test_edge_cases_agree(source: str, ty: str) -> None:
    check_backends(source, ty, [EDGE_EVENT, {**EDGE_EVENT, "b": True, "ob": None, "j": 3, "xs": [1], "x": 2.5}])


def test_values_are_compared_strictly() -> None:
    assert not same_value(True, 1)
    assert not same_value(1, 1.0)
    assert not same_value(0.0, -0.0)
    assert same_value(math.nan, math.nan)
    assert not same_value([1], [1.0])
