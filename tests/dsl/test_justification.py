"""The `justification` clause of a rule: parsed, formatted, and spelled the same in YAML.

A justification says why a loosened safety guard is acceptable; `ballast diff
--require-justification` reads it. Evaluation never does, so these tests are about the front-ends:
the text and where it is written, its place in the canonical layout, and the YAML twin.
"""

from __future__ import annotations

import pytest

from ballast.compiler.pipeline import compile_paths
from ballast.dsl import ast
from ballast.dsl.format import format_document
from ballast.dsl.parser import SyntaxProblem, parse_document
from ballast.dsl.yaml_front import parse_yaml_document
from ballast.runtime.errors import Span

WHY = "load limit raised after the pool doubled (CHG-1234)"

POLICY_BAL = f"""\
policy t.loosened version "1" {{
  input ev {{
    pool: string
    load: float
  }}

  rule shed {{
    when load > 0.95  # was 0.9
    then pause(targets: pool)
    reason "load {{load:.2f}}"
    justification "{WHY}"
    labels {{ seed: "s" }}
  }}
}}
"""

POLICY_YAML = f"""\
policy: t.loosened
version: "1"
input:
  ev:
    pool: string
    load: float
rules:
  - name: shed
    when: load > 0.95
    then: "pause(targets: pool)"
    reason: "load {{load:.2f}}"
    justification: "{WHY}"
    labels: {{seed: s}}
"""


def _rule(document: ast.Document) -> ast.Rule:
    (rule,) = document.of(ast.Rule)
    return rule


def _text_at(text: str, span: Span) -> str:
    assert span.line == span.end_line
    return text.split("\n")[span.line - 1][span.column - 1 : span.end_column - 1]


def test_the_clause_parses_into_the_rule_with_the_span_of_its_text() -> None:
    rule = _rule(parse_document(POLICY_BAL, "p.bal"))
    assert rule.justification == WHY
    assert (rule.justification_span.line, rule.justification_span.column) == (11, 20)
    assert _text_at(POLICY_BAL, rule.justification_span) == WHY  # quotes excluded


def test_a_rule_without_the_clause_has_no_justification() -> None:
    rule = _rule(parse_document(POLICY_BAL.replace(f'    justification "{WHY}"\n', ""), "p.bal"))
    assert (rule.justification, rule.justification_span) == ("", None)


def test_justification_is_a_keyword_only_where_a_clause_can_stand() -> None:
    text = """\
policy t.k version "1" {
  input ev { pool: string, justification: string }
  rule justification {
    when justification == "ticket"
    then pause(targets: pool)
    reason "{justification}"
    justification "the word stays usable as a name"
  }
}
"""
    compilation = compile_paths(["k.bal"], sources={"k.bal": text})
    assert compilation.errors == []
    assert compilation.ir["policies"][0]["rules"][0]["justification"] == "the word stays usable as a name"


# ---- ballast fmt ----


def test_the_canonical_policy_formats_to_itself_with_its_comment() -> None:
    assert format_document(parse_document(POLICY_BAL, "p.bal")) == POLICY_BAL


def test_fmt_puts_the_clause_after_reason_and_before_labels_and_is_idempotent() -> None:
    shuffled = f"""\
policy t.loosened version "1" {{
  input ev {{ pool: string, load: float }}
  rule shed {{
    labels {{ seed: "s" }}
    justification '{WHY}'
    when load > 0.95  # was 0.9
    reason "load {{load:.2f}}"
    then pause(targets: pool)
  }}
}}
"""
    once = format_document(parse_document(shuffled, "p.bal"))
    assert once == POLICY_BAL
    assert format_document(parse_document(once, "p.bal")) == once


def test_fmt_keeps_a_comment_on_the_justification_line() -> None:
    commented = POLICY_BAL.replace(f'"{WHY}"\n', f'"{WHY}"  # approved by sre-core\n')
    once = format_document(parse_document(commented, "p.bal"))
    assert f'    justification "{WHY}"  # approved by sre-core\n' in once
    assert format_document(parse_document(once, "p.bal")) == once


# ---- the YAML form ----


def test_the_yaml_key_reads_as_the_clause() -> None:
    rule = _rule(parse_yaml_document(POLICY_YAML, "p.yaml"))
    assert rule.justification == WHY
    assert _text_at(POLICY_YAML, rule.justification_span) == WHY
    assert [clause for clause, _, _ in rule.clause_lines] == ["when", "then", "reason", "justification", "labels"]


def test_the_yaml_and_bal_forms_compile_to_identical_ir() -> None:
    bal = compile_paths(["p.bal"], sources={"p.bal": POLICY_BAL}).ir
    yaml = compile_paths(["p.yaml"], sources={"p.yaml": POLICY_YAML}).ir
    assert bal["policies"][0]["rules"][0]["justification"] == WHY
    assert _without_positions(yaml) == _without_positions(bal)


@pytest.mark.parametrize(
    ("value", "kind"), [("7", "an integer"), ("[a, b]", "a list"), ("{why: x}", "a mapping"), ("true", "a boolean")]
)
def test_a_justification_that_is_not_a_string_is_reported_at_its_value(value: str, kind: str) -> None:
    text = POLICY_YAML.replace(f'justification: "{WHY}"', f"justification: {value}")
    with pytest.raises(SyntaxProblem) as info:
        parse_yaml_document(text, "p.yaml")
    (problem,) = info.value.diagnostics
    assert (problem.code, problem.span.line, problem.span.column) == ("yaml-kind", 12, 20)
    assert problem.message == f"'justification' of rule 'shed' must be a string, not {kind}"


def _without_positions(ir):
    """The IR without what differs between two files by construction: positions and file names."""
    if isinstance(ir, dict):
        return {k: _without_positions(v) for k, v in ir.items() if k not in ("at", "file")}
    if isinstance(ir, list):
        return [_without_positions(v) for v in ir]
    return ir
