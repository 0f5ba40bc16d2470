"""The YAML front-end: same AST, same IR, same decisions as `.bal`; exact positions in errors.

Golden cases live in `tests/golden/yaml/NAME.yaml`; each is compiled from inside that folder (so
paths in messages are short) and its rendered errors must equal `NAME.expected`. Set
BALLAST_UPDATE_GOLDEN=1 to rewrite the expected files, then read the diff: the positions are the
product.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ruamel.yaml import YAML

from ballast.compiler.pipeline import attach_source_lines, compile_paths
from ballast.dsl import ast
from ballast.dsl.parser import SyntaxProblem, parse_document
from ballast.dsl.yaml_front import parse_yaml_document, policy_schema
from ballast.paths import expand_policies as expand
from ballast.runtime.errors import CompileError, Diagnostic, Span

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "catalog"
GOLDEN = Path(__file__).parents[1] / "golden" / "yaml"
CASES = sorted(GOLDEN.glob("*.yaml"))


def plain(node: Any) -> Any:
    """An AST as nested dicts without positions (spans, the file name, comments)."""
    if isinstance(node, Span):
        return None
    if is_dataclass(node) and not isinstance(node, type):
        out = {"node": type(node).__name__}
        for f in fields(node):
            if f.name in ("file", "comments"):
                continue
            value = getattr(node, f.name)
            if f.name == "clause_lines":  # (clause, first line, last line): keep the clauses only
                value = tuple(clause for clause, _, _ in value)
            if not isinstance(value, Span):
                out[f.name] = plain(value)
        return out
    if isinstance(node, list | tuple):
        return [plain(v) for v in node]
    return node


def strip_positions(ir: Any) -> Any:
    if isinstance(ir, dict):
        return {k: strip_positions(v) for k, v in ir.items() if k not in ("at", "file")}
    if isinstance(ir, list):
        return [strip_positions(v) for v in ir]
    return ir


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


# ---- the catalog twin ----


def test_catalog_twin_parses_to_the_same_ast() -> None:
    bal = parse_document(read(CATALOG / "motb.bal"), "motb.bal")
    yaml = parse_yaml_document(read(CATALOG / "motb.yaml"), "motb.yaml")
    assert plain(yaml) == plain(bal)


def test_catalog_twin_compiles_to_identical_rules() -> None:
    bal = compile_paths([str(CATALOG / "motb.bal")])
    yaml = compile_paths([str(CATALOG / "motb.yaml")])
    assert strip_positions(yaml.ir["policies"][0]["rules"]) == strip_positions(bal.ir["policies"][0]["rules"])
    assert strip_positions(yaml.ir) == strip_positions(bal.ir)
    assert yaml.errors == [] and bal.errors == []


def test_catalog_twin_makes_identical_decisions() -> None:
    bal = compile_paths([str(CATALOG / "motb.bal")]).program
    yaml = compile_paths([str(CATALOG / "motb.yaml")]).program
    compared = fired = 0
    for line in read(CATALOG / "events.jsonl").splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue  # the sample ends with malformed lines on purpose
        expected, actual = bal.evaluate(event).to_dict(), yaml.evaluate(event).to_dict()
        assert actual == expected, line
        compared += 1
        fired += len(expected["directives"])
    assert compared >= 10 and fired > 0


def test_yaml_module_imported_by_yaml_policy(tmp_path: Path) -> None:
    """The thresholds module in YAML reads as the .bal module; the policy compiles the same."""
    module = """\
module: motb.thresholds
const:
  load_limit: 0.8          # CLE loadFactor above which non-critical work is shed
  risk_limit: 80
  htm_queue_warn: 1000
  htm_queue_critical: 5000
  min_subscriptions: 5
  min_dispatch_rate: 1.0
  sla_latency_ms: 250.0
  error_budget: 0.01
"""
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "thresholds.yaml").write_text(module, encoding="utf-8")
    policy = read(CATALOG / "motb.yaml").replace("imports: [lib/thresholds.bal]", "imports: [lib/thresholds.yaml]")
    (tmp_path / "motb.yaml").write_text(policy, encoding="utf-8")

    bal_module = parse_document(read(CATALOG / "lib" / "thresholds.bal"), "thresholds.bal")
    assert plain(parse_yaml_document(module, "thresholds.yaml")) == plain(bal_module)
    bal = compile_paths([str(CATALOG / "motb.bal")])
    yaml = compile_paths([str(tmp_path / "motb.yaml")])
    assert strip_positions(yaml.ir["policies"][0]["rules"]) == strip_positions(bal.ir["policies"][0]["rules"])


# ---- every construct ----

EVERY_CONSTRUCT_BAL = """\
policy demo.all version "2.0" {
  owner "team"
  description "all constructs"
  labels { tier: "platform", seed: "x" }
  import "lib/shared.bal"
  input telemetry {
    pool: string
    load: float in [0, 1]
    delta: float in [-1, 1.5]
    tags: list<string>
    meta: map<string, int>
    canary?: bool
    resources: {
      cpu: float
      mem?: int
    }
  }
  type Percent = float in [0, 100]
  type Box = { w: int }
  const limit = 0.8
  const big = 1000000
  const neg = -5
  const standby = "standby"
  const wait = 5m
  const tiers = ["a", "b"]
  const nested = [[1, 2], [3]]
  const flag = true
  const nothing = null
  const typed: float = 1
  let hot = load > limit and not canary
  let pct = load * 100 > 50 ? true : false
  let member = "a" in tags || has(resources.mem)
  action notify(targets: selector, channel: string = "#ops", severity?: int, box: { w: int })
  rule r1 {
    description "d"
    when hot || resources.cpu > 0.5
    then scale(targets: pool, by: 2), notify(targets: [pool, "x"], channel: "c")
    priority -3
    impact high
    reason "load {load:.2f}"
    justification "r1 may fire earlier since the pools doubled"
    labels { seed: "s" }
  }
  rule r2 {
    when true
    then pause(targets: pool)
  }
}
"""

EVERY_CONSTRUCT_YAML = """\
policy: demo.all
version: "2.0"
owner: team
description: all constructs
labels: {tier: platform, seed: x}
imports: [lib/shared.bal]
input:
  telemetry:
    pool: string
    load: float in [0, 1]
    delta: float in [-1, 1.5]
    tags: list<string>
    meta: map<string, int>
    "canary?": bool
    resources:
      cpu: float
      mem?: int
types:
  Percent: float in [0, 100]
  Box: {w: int}
const:
  limit: 0.8
  big: 1000000
  neg: -5
  standby: '"standby"'
  wait: 5m
  tiers: ['"a"', '"b"']
  nested: [[1, 2], [3]]
  flag: true
  nothing: null
  typed: {type: float, value: 1}
let:
  hot: load > limit and not canary
  pct: "load * 100 > 50 ? true : false"
  member: '"a" in tags || has(resources.mem)'
actions:
  notify:
    targets: selector
    channel: string = "#ops"
    severity?: int
    box: {w: int}
rules:
  - name: r1
    description: d
    when: hot || resources.cpu > 0.5
    then: ["scale(targets: pool, by: 2)", 'notify(targets: [pool, "x"], channel: "c")']
    priority: -3
    impact: high
    reason: "load {load:.2f}"
    justification: r1 may fire earlier since the pools doubled
    labels: {seed: s}
  - name: r2
    when: true
    then: "pause(targets: pool)"
"""


def test_every_construct_reads_as_in_bal() -> None:
    bal = parse_document(EVERY_CONSTRUCT_BAL, "all.bal")
    yaml = parse_yaml_document(EVERY_CONSTRUCT_YAML, "all.yaml")
    assert plain(yaml) == plain(bal)


def test_every_construct_validates_against_the_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(policy_schema())
    for text in (EVERY_CONSTRUCT_YAML, read(CATALOG / "motb.yaml")):
        data = YAML(typ="safe").load(text)
        assert list(jsonschema.Draft202012Validator(policy_schema()).iter_errors(data)) == []


def test_the_schema_ships_with_the_package() -> None:
    assert (ROOT / "dsl" / "policy.schema.json").is_file()
    assert policy_schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


# ---- positions ----


def _source_at(text: str, span: Span) -> str:
    assert span.line == span.end_line, span
    return text.split("\n")[span.line - 1][span.column - 1 : span.end_column - 1]


def test_every_name_and_literal_of_the_twin_points_at_its_text() -> None:
    text = read(CATALOG / "motb.yaml")
    document = parse_yaml_document(text, "motb.yaml")
    checked = 0
    for item in document.items:
        exprs: list[ast.Expr] = []
        if isinstance(item, ast.Let):
            exprs.append(item.value)
        if isinstance(item, ast.Rule):
            exprs.append(item.when)
            exprs.extend(arg.value for call in item.then for arg in call.args)
            assert _source_at(text, item.span) == item.name
            assert _source_at(text, item.impact_span) == item.impact
            assert _source_at(text, item.reason.span) == item.reason.value
            for call in item.then:
                assert _source_at(text, call.span).startswith(call.name + "(")
                assert _source_at(text, call.span).endswith(")")
        for expr in exprs:
            for node in ast.walk(expr):
                if isinstance(node, ast.Name):
                    assert _source_at(text, node.span) == node.name
                    checked += 1
                elif isinstance(node, ast.Literal):
                    assert _source_at(text, node.span) == node.text
                    checked += 1
        if isinstance(item, ast.Input):
            for f in item.fields:
                assert _source_at(text, f.span).rstrip("?") == f.name
    assert checked > 50


STYLES = {
    "plain": 'when: load > 0.5 && tier != "critical"',
    "single": "when: 'load > 0.5 && tier != \"critical\"'",
    "double_escaped": 'when: "load > 0.5 && tier != \\"critical\\""',
    "literal_block": 'when: |\n      load > 0.5 &&\n        tier != "critical"',
    "folded_block": 'when: >-\n      load > 0.5\n      && tier != "critical"',
    "plain_multiline": 'when: load > 0.5\n      && tier != "critical"',
    "double_multiline": 'when: "load > 0.5\n      && tier != \\"critical\\""',
}


@pytest.mark.parametrize("style", list(STYLES))
def test_positions_are_exact_in_every_scalar_style(style: str) -> None:
    text = (
        "policy: demo\nversion: '1'\ninput:\n  t:\n    load: float\n    tier: string\n"
        "rules:\n  - name: r\n    " + STYLES[style] + '\n    then: "scale(targets: tier)"\n'
    )
    rule = parse_yaml_document(text, "x.yaml").of(ast.Rule)[0]
    names = {n.name: n for n in ast.walk(rule.when) if isinstance(n, ast.Name)}
    literals = [n for n in ast.walk(rule.when) if isinstance(n, ast.Literal)]
    assert _source_at(text, names["load"].span) == "load"
    assert _source_at(text, names["tier"].span) == "tier"
    assert _source_at(text, literals[0].span) == "0.5"
    # escaped quotes: the span runs from the opening quote to the closing one, escapes inside
    assert _source_at(text, literals[1].span).replace("\\", "") == '"critical"'


def test_positions_in_a_flow_rule() -> None:
    text = (
        "policy: demo\nversion: '1'\ninput: {t: {load: float}}\n"
        "rules: [{name: r, when: load > 0.5, then: 'scale(targets: \"p\", by: 1)'}]\n"
    )
    rule = parse_yaml_document(text, "x.yaml").of(ast.Rule)[0]
    load = next(n for n in ast.walk(rule.when) if isinstance(n, ast.Name))
    assert (load.span.line, load.span.column) == (4, 25)
    assert _source_at(text, rule.then[0].args[1].value.span) == "1"


# ---- problems ----


def _problems(text: str) -> list[Diagnostic]:
    with pytest.raises(SyntaxProblem) as info:
        parse_yaml_document(text, "x.yaml")
    assert all(isinstance(d, Diagnostic) and d.severity == "error" for d in info.value.diagnostics)
    return info.value.diagnostics


def test_all_structural_errors_are_reported_at_once() -> None:
    diagnostics = _problems(read(GOLDEN / "wrong_kind.yaml"))
    assert len(diagnostics) == 8
    assert [d.span.line for d in diagnostics] == sorted(d.span.line for d in diagnostics)


def test_duplicates_and_schema_errors_are_reported_together() -> None:
    text = "policy: a\nversion: '1'\npolicy: b\nrules:\n  - name: r\n    whenn: x\n    then: 'scale(targets: x)'\n"
    messages = [d.message for d in _problems(text)]
    assert messages == ["duplicate key 'policy'", "unknown key 'whenn' in rule 'r'"]


@pytest.mark.parametrize(
    "text",
    [
        "- just\n- a list\n",
        "policy: a\nversion: '1'\n? [complex, key]\n: 1\n",
        "policy: a\nversion: 2024-01-01\n",
        "policy: !custom a\nversion: '1'\n",
        "policy: a\nversion: '1'\nconst: {x: .inf, 1: 2}\n",
        "policy: a\nversion: '1'\nrules: [{name: r, when: x, then: [1, {a: b}]}]\n",
        "policy: a\nversion: '1'\ninput: {t: {x: [int]}}\n",
        "policy: a\nversion: '1'\nconst: {x: {type: int}}\n",
        "\x00",
        "a: &x [*x]\n",
        "policy: a\n---\nmodule: b\n",
    ],
)
def test_odd_documents_give_diagnostics_not_exceptions(text: str) -> None:
    diagnostics = _problems(text)
    assert diagnostics
    for d in diagnostics:
        assert d.span.file == "x.yaml" and d.span.line >= 1 and d.span.column >= 1


def test_compile_reports_yaml_errors_as_compile_errors(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("policy: a\nversion: '1'\nrules:\n  - name: r\n    when: 'x >'\n    then: 'pause(targets: x)'\n")
    with pytest.raises(CompileError) as info:
        compile_paths([str(path)])
    assert (info.value.line, info.value.column) == (5, 15)  # the end of 'x >'


# ---- the CLI expands a directory without the YAML twins ----


def test_directory_expansion_skips_yaml_twins_of_bal_files(tmp_path: Path) -> None:
    for name in ("a.bal", "a.yaml", "b.yaml", "c.yml", "c.bal"):
        (tmp_path / name).write_text("", encoding="utf-8")
    assert expand([str(tmp_path)]) == [str(tmp_path / "a.bal"), str(tmp_path / "b.yaml"), str(tmp_path / "c.bal")]
    assert expand([str(tmp_path / "a.yaml")]) == [str(tmp_path / "a.yaml")]


def test_the_catalog_directory_compiles_without_a_name_clash(tmp_path: Path) -> None:
    shutil.copytree(CATALOG, tmp_path / "catalog", ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    paths = expand([str(tmp_path / "catalog")])
    assert not any(p.endswith("motb.yaml") for p in paths)
    compile_paths(paths)


# ---- golden errors ----


def render(case: Path) -> str:
    try:
        compile_paths([case.name])
    except CompileError as exc:
        diagnostics = attach_source_lines(exc.diagnostics, {case.name: read(case)})
        return "\n".join(d.render() for d in diagnostics) + "\n"
    return "ok\n"


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_yaml_errors_match_golden(case: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(GOLDEN)
    actual = render(case)
    expected_path = case.with_suffix(".expected")
    if os.environ.get("BALLAST_UPDATE_GOLDEN"):
        expected_path.write_text(actual, encoding="utf-8")
    assert expected_path.exists(), f"no golden file for {case.name}; run with BALLAST_UPDATE_GOLDEN=1"
    assert actual == read(expected_path)
    assert actual != "ok\n", "a golden case must fail"


def test_there_are_golden_cases_for_each_kind_of_problem() -> None:
    names = {c.stem for c in CASES}
    assert {
        "yaml_syntax_colon",
        "duplicate_key",
        "unknown_key",
        "wrong_kind",
        "missing_when",
        "type_error_in_expression",
        "syntax_in_quoted_expression",
        "bad_type_in_input",
    } <= names


# ---- the positioned YAML reader other document kinds use (dsl/yaml_reader.py) ----


def test_the_yaml_reader_reports_every_problem_at_its_position_with_a_suggestion() -> None:
    from ballast.dsl.yaml_reader import Node, YamlReader

    reader = YamlReader("quota: q1\nwindw: 5m\nlimits:\n  - {pool: a, rate: -1}\n  - {rate: 5}\n", "q.yaml", code="quota")
    root = reader.root()
    root.keys(("quota", "window", "limits"), "a quota file")
    assert root.string("quota") == "q1" and root.duration("window", default=60.0) == 60.0

    def limit(items: Node, i: int) -> tuple[str, float]:
        item = items.mapping(i, "a limit")
        return item.string("pool"), item.number("rate", 0.0, 1e6)

    assert root.sequence("limits", "limits").each(limit) == []
    with pytest.raises(CompileError) as caught:
        reader.raise_if_problems()
    found = [(d.code, d.span.line, d.span.column, d.message, d.hint) for d in caught.value.diagnostics]
    assert found == [
        ("quota", 2, 1, "unknown key 'windw' in a quota file", "did you mean 'window'?"),
        ("quota", 4, 21, "-1 is out of range: expected [0, 1e+06]", ""),
        ("quota", 5, 5, "missing required key 'pool'", "add `pool:`"),
    ]
    assert all(d.source_line for d in caught.value.diagnostics)


def test_the_yaml_reader_turns_bad_yaml_into_diagnostics() -> None:
    from ballast.dsl.yaml_reader import YamlReader

    reader = YamlReader("a: [1\n", "q.yaml", code="quota")
    assert not reader.loaded and reader.root().data is None
    assert [(d.code, d.span.line) for d in reader.problems] == [("yaml", 2)]
    duplicated = YamlReader("a: 1\na: 2\n", "q.yaml", code="quota")
    assert duplicated.loaded and duplicated.data == {"a": 1}  # ruamel keeps the first value
    assert [d.message for d in duplicated.problems] == ["duplicate key 'a'"]


def test_one_suggestion_helper_for_every_did_you_mean() -> None:
    from ballast.runtime.suggest import closest, did_you_mean

    assert closest("duraton", ["scenario", "duration"]) == "duration"
    assert closest(3, ["x"]) is None
    assert did_you_mean("lod", ("load", "risk")) == "did you mean 'load'?"
    assert did_you_mean("zzz", ["load"]) == ""
