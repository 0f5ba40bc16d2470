"""Safety catalogs compiled: every mistake reported at file:line:col with a hint; the shipped
catalog compiles, formats canonically and bundles."""

from __future__ import annotations

import pytest

from ballast.compiler.pipeline import compile_paths
from ballast.dsl.format import format_document
from ballast.dsl.parser import parse_document
from ballast.runtime.errors import CompileError
from ballast.runtime.safety import SafetyCatalog

HEAD = """safety s version "1" {
  input action { actor: string, operation: string, volume: int }
"""


def compile_safety(body: str) -> dict:
    compilation = compile_paths(["s.bal"], sources={"s.bal": HEAD + body + "}\n"})
    (catalog,) = compilation.ir["safety"]
    return catalog


def errors(body: str, head: str = HEAD) -> list[str]:
    """`line:col code: message` of every error (line 3 is the first line of `body`)."""
    with pytest.raises(CompileError) as caught:
        compile_paths(["s.bal"], sources={"s.bal": head + body + "}\n"})
    return [f"{d.span.line}:{d.span.column} {d.code}: {d.message}" for d in caught.value.diagnostics]


def test_a_class_lowers_to_ir_with_defaults() -> None:
    catalog = compile_safety(
        """  class big { when volume > 10 risk high require dual_control, hold 5m, approvers role "dba" count 2 }\n"""
    )
    (cls,) = catalog["classes"]
    assert (cls["risk"], cls["enforce"], cls["mode"]) == ("high", "hard", "deny")
    assert cls["controls"] == [
        {"kind": "dual_control"},
        {"kind": "hold", "seconds": 300.0},
        {"kind": "approvers", "role": "dba", "count": 2},
    ]
    assert catalog["approvals"] == {"expire": 900.0}
    assert SafetyCatalog(catalog).assess({"actor": "a", "operation": "x", "volume": 11}).risk == "high"


def test_mistakes_are_reported_where_they_are() -> None:
    body = """  approvals expire after 10m
  class a { when volume > 1 risk hihg require hold 10m }
  class a { when volume > "x" risk low require approvers role "dba" count 0 }
  class c { risk low enforce strict mode denny require block }
  class d { when volum > 1 risk low }
"""
    assert errors(body) == [
        "4:34 risk: unknown risk level 'hihg'",
        "4:52 hold: class 'a' holds the action for 10m, but approvals expire first",
        "5:9 duplicate: class 'a' is declared twice (first at s.bal:4:3)",
        "5:25 type: '>' cannot order int and string",
        "5:75 approvers: approvers count 0: at least one approver is needed",
        "6:9 missing: class 'c' has no condition",
        "6:30 enforce: unknown enforcement level 'strict'",
        "6:42 mode: unknown mode 'denny'",
        "7:9 missing: class 'd' requires no control",
        "7:18 name: unknown name 'volum'",
    ]
    with pytest.raises(CompileError) as caught:
        compile_paths(["s.bal"], sources={"s.bal": HEAD + body + "}\n"})
    hints = {d.code: d.hint for d in caught.value.diagnostics}
    assert (hints["risk"], hints["mode"], hints["name"]) == (
        "did you mean 'high'?",
        "did you mean 'deny'?",
        "did you mean 'volume'?",
    )


def test_the_descriptor_must_name_the_requester() -> None:
    head = 'safety s version "1" {\n  input action { who: string }\n'
    assert errors('  class a { when who == "x" risk low require justification }\n', head) == [
        "1:1 missing: the action descriptor 'action' has no 'actor' field"
    ]


def test_a_block_that_blocks_nothing_is_warned_about() -> None:
    compilation = compile_paths(
        ["s.bal"], sources={"s.bal": HEAD + "  class a { when volume > 1 risk low require block mode dryrun }\n}\n"}
    )
    assert [(d.code, d.span.line) for d in compilation.warnings] == [("enforce", 3)]


def test_the_shipped_catalog_compiles_formats_and_bundles() -> None:
    path = "catalog/safety/workflows.bal"
    compilation = compile_paths([path])
    assert compilation.warnings == []
    assert compilation.bundle["manifest"]["safety"] == [{"name": "safety.workflows", "version": "1.0.0", "classes": 8}]
    with open(path, encoding="utf-8") as f:
        text = f.read()
    assert format_document(parse_document(text, path)) == text


def test_the_yaml_form_decides_as_the_bal_form() -> None:
    import itertools

    bal = SafetyCatalog(compile_paths(["catalog/safety/workflows.bal"]).ir["safety"][0])
    yaml = SafetyCatalog(compile_paths(["docs/examples/safety-lite.yaml"]).ir["safety"][0])
    shared = {c["name"] for c in yaml.classes}
    assert shared == {"mass_delete", "fleet_delete", "cross_tenant_copy", "policy_override"}
    for operation, volume, scope, target in itertools.product(
        ("delete", "copy", "policy_override", "read"),
        (5, 5000),
        ("record", "tenant", "fleet"),
        (None, "acme", "globex"),
    ):
        action = {
            "actor": "alice",
            "roles": [],
            "operation": operation,
            "tenant": "acme",
            "sensitivity": "internal",
            "volume": volume,
            "scope": scope,
            "environment": "prod",
            **({"target_tenant": target} if target else {}),
        }
        want = [(f.name, f.reason, f.rationale) for f in bal.assess(action).fired if f.name in shared]
        assert [(f.name, f.reason, f.rationale) for f in yaml.assess(action).fired] == want


def test_yaml_mistakes_are_reported_where_they_are() -> None:
    text = """safety: s
version: "1"
input:
  action: {actor: string, volume: int}
clases: []
classes:
  - name: a
    when: volume > 1
    risk: high
    require: [dual, {hold: soon}, {approvers: {role: dba}}]
    mod: warn
"""
    with pytest.raises(CompileError) as caught:
        compile_paths(["s.yaml"], sources={"s.yaml": text})
    assert [f"{d.span.line}:{d.span.column} {d.message}" for d in caught.value.diagnostics] == [
        "5:1 unknown key 'clases' in a safety catalog",
        "10:15 unknown control 'dual'",
        "10:28 'soon' is not a duration",
        "10:47 missing required key 'count'",
        "11:5 unknown key 'mod' in a class",
    ]
    assert caught.value.diagnostics[0].hint == "did you mean 'classes'?"


def test_a_yaml_catalog_meets_the_same_checks() -> None:
    text = 'safety: s\nversion: "1"\ninput:\n  action: {actor: string}\nclasses:\n  - {name: a, when: "true", risk: hihg, require: [block]}\n'
    with pytest.raises(CompileError) as caught:
        compile_paths(["s.yaml"], sources={"s.yaml": text})
    (d,) = caught.value.diagnostics
    assert (d.code, d.span.line, d.span.column, d.hint) == ("risk", 6, 35, "did you mean 'high'?")
