"""`--require-justification`: a loosened guard fails the diff unless the rule says why."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support import run_cli

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
JUSTIFIED = '    cooldown 2m\n    justification "the v2 pools scale in 90 s (INC-2291)"\n'


def _sides(tmp_path: Path, justified: bool) -> tuple[Path, Path]:
    base, head = tmp_path / "base.bal", tmp_path / "head.bal"
    base.write_text((EXAMPLES / "guard-base.bal").read_text(encoding="utf-8"), encoding="utf-8")
    text = (EXAMPLES / "guard-head.bal").read_text(encoding="utf-8")
    head.write_text(text.replace("    cooldown 2m\n", JUSTIFIED) if justified else text, encoding="utf-8")
    return base, head


def test_an_unjustified_loosened_guard_fails_whatever_the_fail_on_level(tmp_path: Path) -> None:
    base, head = _sides(tmp_path, justified=False)
    code, out, _ = run_cli("diff", base, head, "--fail-on", "never", "--require-justification")
    assert code == 1
    assert out.count("missing justification") == 2  # the narrowed condition and the shorter cooldown
    assert out.rstrip().endswith("FAIL: 2 loosened guard(s) without justification")


def test_a_justified_rule_passes_and_the_json_report_marks_only_the_unjustified(tmp_path: Path) -> None:
    base, head = _sides(tmp_path, justified=True)
    code, out, _ = run_cli("diff", base, head, "--fail-on", "never", "--require-justification")
    assert code == 0, out
    assert "missing justification" not in out
    base, head = _sides(tmp_path, justified=False)
    code, out, _ = run_cli("diff", base, head, "--require-justification", "--format", "json")
    assert code == 1
    assert '"justification": "missing"' in out


def test_without_the_option_justifications_are_not_required(tmp_path: Path) -> None:
    base, head = _sides(tmp_path, justified=False)
    code, out, _ = run_cli("diff", base, head)
    assert code == 0
    assert "missing justification" not in out


def test_a_safety_class_that_loosens_a_guard_needs_its_justification_too() -> None:
    base, head = EXAMPLES / "safety-base.bal", EXAMPLES / "safety-head.bal"
    code, out, _ = run_cli("diff", base, head, "--fail-on", "never", "--require-justification", "--format", "json")
    findings = json.loads(out)["findings"]
    missing = sorted((f["id"], f["subject"]) for f in findings if f.get("justification") == "missing")
    # bulk_delete's shorter hold is justified in the head; bulk_export's changes are not
    assert code == 1 and missing == [
        ("safety-condition-narrowed", "bulk_export"),
        ("safety-enforcement-loosened", "bulk_export"),
    ]
