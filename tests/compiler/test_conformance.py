"""The conformance corpus: `tests/cases/<topic>/<name>.yaml`, run against both back-ends.

Each case holds `note` (what it shows), `schema` (field -> type as written in the DSL, `?` for
optional), `expr`, `input` (an event; validated against the schema as the runtime would, so a
duration may be written "90s") and exactly one expectation:

* `want`: the value (type-strict: `true` is not `1`, `2.0` is not `2`; floats bit for bit);
* `want_error`: a substring of the EvaluationError message, from either back-end;
* `want_compile_error`: a substring of the CompileError message.

An optional `known_issue` marks a case whose expectation is what the language promises but not
what the implementation does yet: it runs as a strict xfail, so fixing the issue shows up.

Both back-ends: the reference interpreter on the checked (and folded) IR, and the generated
function. An expression of type bool is evaluated as a condition, so a null at its top faults
in both (the compiled function checks it; the interpreter's null is read in a bool context here).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from support import same_value

from ballast import CompileError, EvaluationError
from ballast.compiler import types as T
from ballast.compiler.expression import build_model, check_expression
from ballast.runtime.codegen import compile_expression_function
from ballast.runtime.errors import ErrorList
from ballast.runtime.interpret import evaluate
from ballast.runtime.validate import validate

CASES_DIR = Path(__file__).parents[1] / "cases"
TOPICS = ("arithmetic", "logic", "comparison", "strings", "collections", "optional", "errors", "durations")
EXPECTATIONS = ("want", "want_error", "want_compile_error")
KEYS = {"note", "schema", "expr", "input", "known_issue", *EXPECTATIONS}


def load_cases() -> list[tuple[str, dict[str, Any]]]:
    yaml = YAML(typ="safe")
    cases = []
    for path in sorted(CASES_DIR.glob("*/*.yaml")):
        case = yaml.load(path.read_text("utf-8"))
        cases.append((f"{path.parent.name}/{path.stem}", case))
    return cases


CASES = load_cases()


def _params() -> list[Any]:
    params = []
    for name, case in CASES:
        marks = []
        if isinstance(case, dict) and case.get("known_issue"):
            marks.append(pytest.mark.xfail(strict=True, reason=case["known_issue"]))
        params.append(pytest.param(case, id=name, marks=marks))
    return params


def event_for(case: dict[str, Any]) -> dict[str, Any]:
    """The case's input as the runtime would see it after validation."""
    model = build_model(case["schema"], ErrorList())
    fields = [T.field_to_json(f) for f in model.input.fields]
    data, problems = validate(case.get("input") or {}, fields)
    assert data is not None, f"the case's input does not match its schema: {[p.message for p in problems]}"
    return data


def run_interpreter(ir: dict[str, Any], typ: T.Type, event: dict[str, Any]) -> Any:
    value = evaluate(ir, event)
    if typ == T.BOOL and value is None:
        raise EvaluationError("the expression is absent (null) where a bool is needed")
    return value


def test_the_corpus_is_well_formed() -> None:
    assert len(CASES) >= 40
    assert {name.split("/")[0] for name, _ in CASES} == set(TOPICS)
    for name, case in CASES:
        assert isinstance(case, dict), name
        assert set(case) <= KEYS, f"{name}: unknown keys {set(case) - KEYS}"
        assert {"note", "schema", "expr"} <= set(case), name
        assert sum(key in case for key in EXPECTATIONS) == 1, f"{name}: give exactly one of {EXPECTATIONS}"


@pytest.mark.parametrize("backend", ["interpreter", "compiled"])
@pytest.mark.parametrize("case", _params())
def test_case(case: dict[str, Any], backend: str) -> None:
    source = case["expr"]
    if "want_compile_error" in case:
        with pytest.raises(CompileError) as caught:
            check_expression(source, case["schema"])
        assert case["want_compile_error"] in str(caught.value)
        return
    ir, typ = check_expression(source, case["schema"])
    event = event_for(case)
    if backend == "interpreter":

        def run() -> Any:
            return run_interpreter(ir, typ, event)

    else:
        compiled = compile_expression_function(ir, "<expression>", source)

        def run() -> Any:
            return compiled(event)

    if "want_error" in case:
        with pytest.raises(EvaluationError) as caught:
            run()
        assert case["want_error"] in str(caught.value)
        return
    got = run()
    assert same_value(got, case["want"]), f"{source} = {got!r} ({type(got).__name__}), want {case['want']!r}"
