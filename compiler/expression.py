"""The expression language on its own, like CEL's compile → program → evaluate.

`compile_expression("load > 0.8 && risk > 80", {"load": "float", "risk": "float"})` returns a
plain Python function of one event mapping. It runs the same passes a policy does (parse,
resolve names, check types, fold) and the same code generator, so an expression behaves
exactly as it would inside a rule.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ballast.compiler import types as T
from ballast.compiler.checker import Checker
from ballast.compiler.passes.optimize import fold
from ballast.compiler.passes.resolve import PolicyModel, resolve_type, suggest
from ballast.dsl import ast
from ballast.dsl.parser import SyntaxProblem, parse_expression, parse_type
from ballast.runtime.codegen import compile_expression_function
from ballast.runtime.errors import CompileError, ErrorList, Span, UsageError

EXPRESSION_FILE = "<expression>"


def build_model(schema: Mapping[str, str], errors: ErrorList) -> PolicyModel:
    """A policy model whose input is the schema (field → type as written in the DSL)."""
    document = ast.Document("policy", "expression", Span(EXPRESSION_FILE, 1, 1, 1, 1), EXPRESSION_FILE)
    model = PolicyModel(document)
    fields = []
    for name, written in schema.items():
        if not isinstance(name, str) or not isinstance(written, str):
            raise UsageError(f"schema entries map field names to type names, got {name!r}: {written!r}")
        optional = written.endswith("?")
        text = written[:-1] if optional else written
        where = f"<schema field {name}>"
        try:
            type_expr = parse_type(text, where)
        except SyntaxProblem as problem:
            raise UsageError(
                f"schema field {name!r}: cannot read the type {written!r}: {problem.diagnostic.message}"
            ) from None
        field_errors = ErrorList()
        resolved = resolve_type(type_expr, model, field_errors)
        if field_errors.has_errors:
            raise UsageError(f"schema field {name!r}: {field_errors.items[0].message} ({field_errors.items[0].hint})")
        low = high = None
        if isinstance(type_expr, ast.RangeType):
            low, high = type_expr.low, type_expr.high
        fields.append(T.FieldT(name, resolved, optional, low, high))
    model.input = T.RecordT(tuple(fields))
    return model


def check_expression(source: str, schema: Mapping[str, str]) -> tuple[dict[str, Any], T.Type]:
    """Parse and type-check; returns the folded IR and its type, or raises CompileError."""
    if not isinstance(source, str):
        raise UsageError(f"an expression is a string, got {type(source).__name__}")
    errors = ErrorList()
    model = build_model(schema, errors)
    try:
        tree = parse_expression(source, EXPRESSION_FILE)
    except SyntaxProblem as problem:
        raise CompileError(_with_lines(problem.diagnostics, source)) from None
    known = [f.name for f in model.input.fields]
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.name not in known:
            errors.error(
                "name", f"unknown name '{node.name}'", node.span, suggest(node.name, known) or "add it to the schema"
            )
    if errors.has_errors:
        raise CompileError(_with_lines(errors.items, source))
    checker = Checker(model, errors)
    ir, typ = checker.expr(tree)
    if not errors.has_errors:
        ir = fold(ir, errors, EXPRESSION_FILE)
    if errors.has_errors:
        raise CompileError(_with_lines(errors.items, source))
    return ir, typ


def compile_expression(
    source: str, schema: Mapping[str, str], *, validate: bool = False
) -> Callable[[Mapping[str, Any]], Any]:
    ir, _ = check_expression(source, schema)
    fn = compile_expression_function(ir, EXPRESSION_FILE, source)
    fn.__doc__ = f"Evaluates `{source}`."
    if not validate:
        return fn
    return _validating(fn, build_model(schema, ErrorList()), source)


def _validating(fn: Callable[[Any], Any], model: PolicyModel, source: str) -> Callable[[Any], Any]:
    """`fn` behind the runtime's event validation: a wrong event raises EvaluationError naming
    every problem instead of computing with a value of the wrong type."""
    from ballast.runtime.errors import EvaluationError
    from ballast.runtime.validate import fast_checker, validate

    fields = [T.field_to_json(f) for f in model.input.fields]
    check = fast_checker(fields)

    def checked(event: Mapping[str, Any]) -> Any:
        if check(event):
            return fn(event)
        data, problems = validate(event, fields)
        if data is None:
            detail = "; ".join(p.message + (f" ({p.hint})" if p.hint else "") for p in problems)
            raise EvaluationError(f"invalid event for `{source}`: {detail}", expression=source, field=problems[0].field)
        return fn(data)

    checked.__doc__ = fn.__doc__
    return checked


def _with_lines(diagnostics: list, source: str) -> list:
    from ballast.compiler.pipeline import attach_source_lines

    return attach_source_lines(diagnostics, {EXPRESSION_FILE: source})
