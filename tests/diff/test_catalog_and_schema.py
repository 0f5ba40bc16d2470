"""docs/diff.md lists exactly the checks of the catalog, and the JSON report follows its schema."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema

from ballast.compiler.diff.findings import CHECKS, LEVELS
from tests.support import run_cli

REPO = Path(__file__).resolve().parents[2]
ROW = re.compile(r"^\| `([a-z-]+)` \| (\w+) \| (.+) \|$", re.M)


def test_the_page_lists_every_check_with_its_level_and_summary() -> None:
    page = (REPO / "docs" / "diff.md").read_text(encoding="utf-8")
    rows = {check: (level, summary) for check, level, summary in ROW.findall(page)}
    assert rows == {c.id: (c.level, c.summary) for c in CHECKS.values()}, (
        "docs/diff.md: the checks table is out of date"
    )


def test_every_check_has_a_known_level_and_a_kebab_case_id() -> None:
    for check in CHECKS.values():
        assert check.level in LEVELS
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", check.id), check.id


def test_the_json_report_follows_the_published_schema() -> None:
    schema = json.loads((REPO / "docs" / "schemas" / "diff-report.schema.json").read_text(encoding="utf-8"))
    examples = REPO / "docs" / "examples"
    code, out, _ = run_cli("diff", examples / "guard-base.bal", examples / "guard-head.bal", "--format", "json")
    assert code == 0
    report = json.loads(out)
    jsonschema.validate(report, schema)
    assert report["format"] == "ballast-diff/1"
    assert {f["id"] for f in report["findings"]} >= {"rule-renamed", "rule-condition-narrowed", "rule-cooldown-changed"}


def test_every_document_kind_has_its_removed_and_added_checks() -> None:
    # `diff_ir` reports a document on one side only as `<kind>-removed` / `<kind>-added`
    from ballast.compiler.kinds import registry

    for kind in registry():
        assert {f"{kind.name}-removed", f"{kind.name}-added"} <= set(CHECKS), kind.name
