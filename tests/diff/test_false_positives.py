"""Changes that decide alike: `ballast diff` must report no behavioral and no breaking finding.

Each case is a base and a head that compile to the same decisions on every event; the test also
pins which cosmetic findings, if any, the change gives (none for a comment, `rule-reordered` for
moved rules, `rule-condition-rewritten` where the solver proved a rewrite), so a cosmetic change
that silently stops being reported fails too.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from support import run_cli

REPO = Path(__file__).resolve().parents[2]

POLICY = """\
# capacity rules of the shop
policy shop.guard version "1.0.0" {
  owner "sre-core"

  input ev {
    pool: string
    load: float in [0, 1]
    queue: int in [0, 1000]
    errors: int in [0, 1000]
    tier: enum("a", "b", "c")
    canary?: bool
    weight?: float in [0, 1]
  }

  const queue_limit = 500
  let busy = load > 0.8 && queue > queue_limit

  rule hot {
    when busy && tier != "a"
    then scale(targets: pool, by: 2)
    priority 10
    reason "pool {pool} is busy at load {load:.2f}"
  }

  rule errors {
    when errors >= 4 && !(tier == "c")
    then pause(targets: pool, duration: 5m)
  }

  rule canary {
    when has(canary) && canary && load > 0.5
    then downgrade(targets: pool)
  }
}
"""


def change(*pairs: tuple[str, str]) -> str:
    text = POLICY
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new)
    return text


REWRITTEN = ["rule-condition-rewritten"]

# (name, head, the cosmetic findings it gives)
CASES = [
    ("comment only", change(("# capacity rules of the shop", "# the capacity rules, reviewed")), []),
    ("a comment added in a rule", change(("  rule hot {\n", "  rule hot {\n    # scale out first\n")), []),
    (
        "whitespace and layout",
        change(
            ("  input ev {\n    pool: string\n", "  input ev { pool: string,\n"),
            ('when busy && tier != "a"', "when   busy&&tier!='a'"),
            ("then scale(targets: pool, by: 2)", "then scale( targets:pool , by:2 )"),
        ),
        [],
    ),
    ("the words for the operators", change(('when busy && tier != "a"', 'when busy and tier != "a"')), []),
    ("not (==) for !=", change(('when busy && tier != "a"', 'when busy and not (tier == "a")')), REWRITTEN),
    (
        "redundant parentheses",
        change(('when errors >= 4 && !(tier == "c")', 'when ((errors >= 4)) && (!(tier == "c"))')),
        [],
    ),
    (
        "rules reordered",
        change(
            (
                '  rule errors {\n    when errors >= 4 && !(tier == "c")\n    then pause(targets: pool, duration: 5m)\n  }\n\n',
                "",
            ),
            (
                "  rule hot {\n",
                '  rule errors {\n    when errors >= 4 && !(tier == "c")\n    then pause(targets: pool, duration: 5m)\n  }\n\n  rule hot {\n',
            ),
        ),
        ["rule-reordered"],
    ),
    (
        "declarations reordered",
        change(
            (
                "  const queue_limit = 500\n  let busy = load > 0.8 && queue > queue_limit\n",
                "  let busy = load > 0.8 && queue > queue_limit\n  const queue_limit = 500\n",
            ),
        ),
        [],
    ),
    ("operands of && swapped", change(('when busy && tier != "a"', 'when tier != "a" && busy')), REWRITTEN),
    ("operands of a comparison swapped", change(("when errors >= 4", "when 4 <= errors")), REWRITTEN),
    ("5 < x for x > 5", change(("queue > queue_limit", "queue_limit < queue")), REWRITTEN),
    ("De Morgan", change(('when busy && tier != "a"', 'when !(!busy || tier == "a")')), REWRITTEN),
    (
        "double negation",
        change(("when has(canary) && canary && load > 0.5", "when !!(has(canary) && canary && load > 0.5)")),
        REWRITTEN,
    ),
    ("x >= 4 for x > 3 on an int", change(("errors >= 4", "errors > 3")), REWRITTEN),
    ("a constant inlined", change(("queue > queue_limit", "queue > 500")), []),
    ("a constant renamed", change(("queue_limit", "max_queue")), []),
    (
        "a let inlined",
        change(('when busy && tier != "a"', 'when load > 0.8 && queue > queue_limit && tier != "a"')),
        [],
    ),
    ("a let renamed", change(("let busy", "let overloaded"), ("when busy", "when overloaded")), []),
    (
        "a let for a sub-condition",
        change(
            ('when busy && tier != "a"', "when busy && spared"),
            ("  let busy", '  let spared = tier != "a"\n  let busy'),
        ),
        [],
    ),
    ('tier != "a" for tier in ["b", "c"]', change(('tier != "a"', 'tier in ["b", "c"]')), REWRITTEN),
    ("an enum test as a disjunction", change(('!(tier == "c")', '(tier == "a" || tier == "b")')), REWRITTEN),
    # a fault stops a rule as surely as a false condition: the guard decides nothing here
    ("a has() guard dropped", change(("has(canary) && canary", "canary")), REWRITTEN),
    ("has() && x for x == true", change(("has(canary) && canary", "canary == true")), REWRITTEN),
    ("a product for a quotient", change(("load > 0.5", "load * 2 > 1")), REWRITTEN),
    ("a threshold as a fraction", change(("load > 0.5", "load > 1 / 2")), REWRITTEN),
    (
        "min() for a conjunction",
        change(("load > 0.8 && queue > queue_limit", "min(load - 0.8, queue - queue_limit) > 0")),
        REWRITTEN,
    ),
    ("a duration in other units", change(("duration: 5m", "duration: 300s")), []),
    ("an argument computed alike", change(("by: 2", "by: 1 + 1")), ["rule-action-argument-rewritten"]),
    ("an argument left to its default", change(("downgrade(targets: pool)", "downgrade(targets: pool, level: 1)")), []),
    (
        "reason reworded",
        change(('reason "pool {pool} is busy at load {load:.2f}"', 'reason "busy: {pool} at {load:.0%}"')),
        ["rule-reason-changed"],
    ),
    (
        "a description and labels",
        change(
            ("  rule hot {\n", '  rule hot {\n    description "Scale out busy pools"\n    labels { runbook: "RB-1" }\n')
        ),
        ["rule-metadata-changed"],
    ),
    (
        "the version and owner",
        change(('version "1.0.0"', 'version "1.0.1"'), ('owner "sre-core"', 'owner "sre"')),
        ["policy-metadata-changed"],
    ),
    ("the input renamed", change(("input ev {", "input telemetry {")), ["input-renamed"]),
]


def ids(stdout: str) -> list[str]:
    return [f["id"] for f in json.loads(stdout)["findings"]]


def assert_cosmetic_only(code: int, out: str, err: str) -> dict:
    assert err == ""
    report = json.loads(out)
    summary = report["summary"]
    wrong = [f["message"] for f in report["findings"] if f["level"] != "cosmetic"]
    assert not wrong, wrong
    assert (summary["breaking"], summary["behavioral"], summary["guard-loosened"]) == (0, 0, 0)
    assert code == 0
    return report


@pytest.mark.parametrize(("name", "head", "cosmetic"), CASES, ids=[case[0] for case in CASES])
def test_no_behavioral_finding(name: str, head: str, cosmetic: list[str], diff_texts) -> None:
    code, out, err = diff_texts(POLICY, head, "--format", "json", "--fail-on", "behavioral")
    assert_cosmetic_only(code, out, err)
    assert ids(out) == cosmetic


def test_the_formatters_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    messy = """\
policy   mesh.messy version "1" {
# thresholds first
const limit=0.8   # the load limit
const floor = 0.1 # never below
  input ev { pool: string, load: float in [0,1], tier: enum("a","b") }
rule hot { when ((load>limit)) and not (tier=='a') then scale(targets:pool,by:1+1) impact high }
rule idle {
  when load < floor # nearly idle
  then downgrade(targets: pool)
}
}
"""
    monkeypatch.chdir(tmp_path)
    Path("messy.bal").write_text(messy, encoding="utf-8")
    Path("formatted.bal").write_text(messy, encoding="utf-8")
    assert run_cli("fmt", "formatted.bal")[0] == 0
    assert Path("formatted.bal").read_text(encoding="utf-8") != messy  # the formatter did change it
    code, out, err = run_cli("diff", "messy.bal", "formatted.bal", "--format", "json", "--fail-on", "behavioral")
    assert_cosmetic_only(code, out, err)
    assert ids(out) == []


def test_the_catalog_unindented_and_formatted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every catalog document (policies, a threat, imports) without its indentation, against the
    formatter's output for it: the layout changes everywhere, the decisions nowhere."""
    ignore = shutil.ignore_patterns("tests", "scenarios", "*.jsonl", "*.py", "__pycache__")
    shutil.copytree(REPO / "catalog", tmp_path / "messy", ignore=ignore)
    for path in (tmp_path / "messy").rglob("*.bal"):
        lines = path.read_text(encoding="utf-8").splitlines()
        path.write_text("\n".join(line.lstrip() for line in lines) + "\n", encoding="utf-8")
    shutil.copytree(tmp_path / "messy", tmp_path / "formatted")
    monkeypatch.chdir(tmp_path)
    assert run_cli("fmt", "formatted")[0] == 0
    for path in (tmp_path / "formatted").rglob("*.bal"):  # back to the catalog's own text
        original = REPO / "catalog" / path.relative_to(tmp_path / "formatted")
        assert path.read_text(encoding="utf-8") == original.read_text(encoding="utf-8"), path
    code, out, err = run_cli("diff", "messy", "formatted", "--format", "json", "--fail-on", "behavioral")
    report = assert_cosmetic_only(code, out, err)
    assert report["base"]["documents"] == report["head"]["documents"] >= 3
    assert ids(out) == []


def test_the_yaml_form_of_a_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    code, out, err = run_cli(
        "diff", "catalog/motb.bal", "catalog/motb.yaml", "--format", "json", "--fail-on", "behavioral"
    )
    assert_cosmetic_only(code, out, err)
    assert ids(out) == []
