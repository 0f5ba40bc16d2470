"""The columnar back-end (`ballast.compiler.columnar`) against the row back-ends.

The contract: wherever the compiled column operations call a row *safe*, their value is the row
path's value (same type, floats bit for bit); wherever the row path faults, the row is unsafe.
An expression the back-end does not compile must say so (Unsupported), never compute something.
Checked on the conformance corpus (`tests/cases/`) and on the differential generator's random
expressions and events (`test_differential`), including ints beyond int64 and 2**53.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from support import same_value
from test_conformance import CASES, event_for
from test_differential import SCHEMA, events, typed_expressions

from ballast import CompileError, EvaluationError
from ballast.compiler import types as T
from ballast.compiler.columnar.codegen import Unsupported, compile_expression, finish, kind_of
from ballast.compiler.expression import build_model, check_expression
from ballast.runtime.codegen import compile_expression_function
from ballast.runtime.errors import ErrorList

INT64 = 2**63


def columns_of(rows: list[dict[str, Any]], fields: list[dict[str, Any]]) -> tuple[dict[str, Any], list[bool]]:
    """Columns of the fields the back-end reads, and which rows fit them (an int beyond int64
    does not: the column readers hand such a row to the row path)."""
    fits = [all(not (type(r.get(f["name"])) is int and abs(r[f["name"]]) >= INT64) for f in fields) for r in rows]
    columns: dict[str, Any] = {}
    for f in fields:
        kind = kind_of(f["type"])
        values = [r.get(f["name"]) if ok else None for r, ok in zip(rows, fits, strict=True)]
        if kind == "str":
            columns[f["name"]] = pa.array(values, type=pa.string())
        else:
            dtype = {"int": np.int64, "float": np.float64, "bool": bool}[kind]
            columns[f["name"]] = np.array([0 if v is None else v for v in values], dtype=dtype)
    return columns, fits


def python_value(value: Any, kind: str) -> Any:
    if kind == "str":
        return value.as_py() if hasattr(value, "as_py") else value
    return {"int": int, "float": float, "bool": bool}[kind](value)


def column_fields(schema: dict[str, str]) -> list[dict[str, Any]]:
    model = build_model(schema, ErrorList())
    fields = [T.field_to_json(f) for f in model.input.fields]
    return [f for f in fields if kind_of(f["type"]) is not None]


def vectorised(ir: dict[str, Any], fields: list[dict[str, Any]], rows: list[dict[str, Any]]) -> list[tuple[bool, Any]]:
    """(safe, value) per row; raises Unsupported."""
    compiled = compile_expression(ir, fields)
    columns, fits = columns_of(rows, fields)
    values, unsafe = finish(compiled)(columns, len(rows))
    out = []
    for i, ok in enumerate(fits):
        safe = ok and not unsafe[i]
        out.append((safe, python_value(values[i], compiled.kind) if safe else None))
    return out


# ---- the conformance corpus ----

COMPILED: list[str] = []


@pytest.mark.parametrize("case", [pytest.param(c, id=name) for name, c in CASES])
def test_conformance_case(case: dict[str, Any]) -> None:
    if "want_compile_error" in case or case.get("known_issue"):
        return
    ir, _ = check_expression(case["expr"], case["schema"])
    event = event_for(case)
    try:
        [(safe, value)] = vectorised(ir, column_fields(case["schema"]), [event])
    except Unsupported:
        return  # the rule would run on the row path: allowed, never wrong
    if "want_error" in case:
        assert not safe, f"{case['expr']}: the row path faults, the columns computed {value!r}"
        return
    if safe:
        COMPILED.append(case["expr"])
        assert same_value(value, case["want"]), f"{case['expr']} = {value!r}, want {case['want']!r}"


def test_the_corpus_exercises_the_columnar_back_end() -> None:
    """A back-end that compiled nothing would pass every case above: count what it decided."""
    decided = 0
    for _, case in CASES:
        if "want" not in case or case.get("known_issue"):
            continue
        ir, _ = check_expression(case["expr"], case["schema"])
        try:
            [(safe, _)] = vectorised(ir, column_fields(case["schema"]), [event_for(case)])
        except Unsupported:
            continue
        decided += safe
    assert decided >= 25


# ---- the differential generator ----

FIELDS = column_fields(SCHEMA)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=typed_expressions, rows=st.lists(events, min_size=1, max_size=8))
def test_columns_agree_with_the_row_path(case: tuple[str, str], rows: list[dict[str, Any]]) -> None:
    source, _ = case
    try:
        ir, _ = check_expression(source, SCHEMA)
    except CompileError:
        assume(False)
        raise
    try:
        got = vectorised(ir, FIELDS, rows)
    except Unsupported:
        return
    row = compile_expression_function(ir, "<expr>", source)
    for event, (safe, value) in zip(rows, got, strict=True):
        if not safe:
            continue
        try:
            expected = row(event)
        except EvaluationError as exc:
            raise AssertionError(f"{source} on {event}: the row path faults ({exc}), the columns said safe") from None
        assert same_value(value, expected), f"{source} on {event}: columns {value!r} != row {expected!r}"


@pytest.mark.parametrize(
    ("source", "event", "safe"),
    [
        ("i / j > 0.5", {"i": 1, "j": 0}, False),  # ZeroDivisionError in the row path
        ("i % j == 1", {"i": 1, "j": 0}, False),
        ("i * j > 0", {"i": 2**40, "j": 2**40}, False),  # beyond int64 in Python only
        ("i > 0", {"i": 2**60}, False),  # beyond 2**53: compared exactly by Python
        ("i + 1 == 3", {"i": 2}, True),
        ("x * 2.0 > 1.0", {"x": 1e308}, False),  # inf: left to the row path
        ('s == "a" || i / j > 0', {"s": "a", "i": 1, "j": 0}, False),  # short circuit over-approximated
        ('e == "red" && b', {"e": "red", "b": True}, True),
    ],
)
def test_faults_and_inexact_rows_are_unsafe(source: str, event: dict[str, Any], safe: bool) -> None:
    ir, _ = check_expression(source, SCHEMA)
    full = {"i": 0, "j": 0, "x": 0.0, "y": 0.0, "s": "", "t": "", "b": False, "e": "red", **event}
    [(got_safe, value)] = vectorised(ir, FIELDS, [full])
    assert got_safe == safe
    if safe:
        assert value is compile_expression_function(ir, "<expr>", source)(full)


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("o > 1", "optional"),
        ("len(xs) > 1", "function len"),
        ("xs[0] > 1", "indexing"),
        ("d > 30s", "the field d"),
        ('s < "b"', "< on str"),
    ],
)
def test_what_is_not_compiled_says_why(source: str, reason: str) -> None:
    ir, _ = check_expression(source, SCHEMA)
    with pytest.raises(Unsupported) as caught:
        compile_expression(ir, FIELDS)
    assert reason in caught.value.reason
