"""`ballast diff`: exit codes by --fail-on, every output format, and the same bytes on every run.

Documented (`ballast diff --help`): exit 0 when no finding is at or above --fail-on, 1 when one
is (or, with --require-justification, when a loosened guard has no justification).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from support import run_cli

from ballast.compiler.diff.findings import CHECKS

BASE = """\
policy shop.guard version "1.0.0" {
  input ev {
    pool: string
    load: float in [0, 1]
    queue: int in [0, 1000]
    legacy?: bool
  }

  rule hot {
    when load > 0.8
    then scale(targets: pool)
  }

  rule deep {
    when queue > 500
    then pause(targets: pool, duration: 5m)
  }
}
"""


def edit(*pairs: tuple[str, str]) -> str:
    text = BASE
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new)
    return text


BREAKING = ("    legacy?: bool\n", "")  # input-field-removed
LOOSENED = ("load > 0.8", "load > 0.9")  # rule-condition-narrowed, guard-loosened
WIDENED = ("queue > 500", "queue > 400")  # rule-condition-widened, behavioral only
COSMETIC = ('version "1.0.0"', 'version "1.0.1"')  # policy-metadata-changed

HEADS = {
    "mixed": edit(BREAKING, LOOSENED, WIDENED, COSMETIC),
    "behavioral": edit(WIDENED, COSMETIC),
    "loosened": edit(LOOSENED),
    "cosmetic": edit(COSMETIC),
    "none": BASE,
}

# the exit code for each head and --fail-on
EXIT = {
    "mixed": {"breaking": 1, "behavioral": 1, "cosmetic": 1, "guard-loosened": 1, "never": 0},
    "behavioral": {"breaking": 0, "behavioral": 1, "cosmetic": 1, "guard-loosened": 0, "never": 0},
    "loosened": {"breaking": 0, "behavioral": 1, "cosmetic": 1, "guard-loosened": 1, "never": 0},
    "cosmetic": {"breaking": 0, "behavioral": 0, "cosmetic": 1, "guard-loosened": 0, "never": 0},
    "none": {"breaking": 0, "behavioral": 0, "cosmetic": 0, "guard-loosened": 0, "never": 0},
}
FAIL_ON = ("breaking", "behavioral", "cosmetic", "guard-loosened", "never")
FORMATS = ("text", "json", "md", "github", "junit", "sarif")


@pytest.mark.parametrize("fail_on", FAIL_ON)
@pytest.mark.parametrize("head", list(HEADS))
def test_the_exit_code_follows_fail_on(head: str, fail_on: str, diff_texts) -> None:
    code, out, err = diff_texts(BASE, HEADS[head], "--format", "json", "--fail-on", fail_on)
    assert err == ""
    assert code == EXIT[head][fail_on]
    summary = json.loads(out)["summary"]
    assert summary["fail_on"] == fail_on
    assert summary["failed"] is bool(code)


def test_the_default_is_fail_on_breaking(diff_texts) -> None:
    assert diff_texts(BASE, HEADS["mixed"])[0] == 1
    assert diff_texts(BASE, HEADS["behavioral"])[0] == 0


def test_the_mixed_change_has_one_finding_of_each_kind(diff_texts) -> None:
    _, out, _ = diff_texts(BASE, HEADS["mixed"], "--format", "json")
    report = json.loads(out)
    assert [(f["id"], f["level"], f["tags"]) for f in report["findings"]] == [
        ("input-field-removed", "breaking", []),
        ("rule-condition-widened", "behavioral", ["guard-tightened"]),
        ("rule-condition-narrowed", "behavioral", ["guard-loosened"]),
        ("policy-metadata-changed", "cosmetic", []),
    ]
    assert {k: report["summary"][k] for k in ("breaking", "behavioral", "cosmetic", "guard-loosened", "findings")} == {
        "breaking": 1,
        "behavioral": 2,
        "cosmetic": 1,
        "guard-loosened": 1,
        "findings": 4,
    }


def test_require_justification(diff_texts) -> None:
    """A loosened guard without a justification fails even with --fail-on never; a widened rule
    loosens nothing."""
    code, out, _ = diff_texts(
        BASE, HEADS["loosened"], "--format", "json", "--fail-on", "never", "--require-justification"
    )
    assert code == 1
    (finding,) = json.loads(out)["findings"]
    assert finding["justification"] == "missing"
    code, out, _ = diff_texts(BASE, HEADS["behavioral"], "--fail-on", "never", "--require-justification")
    assert code == 0
    code, out, _ = diff_texts(BASE, HEADS["loosened"], "--fail-on", "never", "--require-justification")
    assert "missing justification" in out
    assert out.rstrip().endswith("FAIL: 1 loosened guard(s) without justification")  # the verdict names why


# ---------------------------------------------------------------- formats


def run_format(diff_texts, fmt: str, head: str = "mixed", *options: str) -> tuple[int, str]:
    code, out, err = diff_texts(BASE, HEADS[head], "--format", fmt, *options)
    assert err == ""
    assert out.endswith("\n")
    return code, out


def test_text(diff_texts) -> None:
    code, out = run_format(diff_texts, "text")
    lines = out.splitlines()
    assert lines[0] == "ballast diff base.bal → head.bal"
    assert lines[-2] == "4 findings: 1 breaking, 2 behavioral, 1 cosmetic (1 guard-loosened)"
    assert lines[-1] == "FAIL: 1 at or above breaking"
    assert "    base base.bal:10:10, head head.bal:9:10 (proven)" in lines
    assert code == 1


def test_json(diff_texts) -> None:
    _, out = run_format(diff_texts, "json")
    report = json.loads(out)
    assert report["format"] == "ballast-diff/1"
    assert report["base"] == {"source": "base.bal", "documents": 1}
    for finding in report["findings"]:
        assert finding["id"] in CHECKS
        assert finding["key"].startswith(finding["id"] + "/shop.guard")


def test_markdown(diff_texts) -> None:
    _, out = run_format(diff_texts, "md")
    assert out.startswith("## Ballast semantic diff\n")
    assert "`base.bal` → `head.bal`: ❌ fails `--fail-on breaking`" in out
    assert "| 1 | 2 | 1 | 1 |" in out
    for heading in ("### Breaking (1)", "### Behavioral (2)", "### Cosmetic (1)"):
        assert heading in out


def test_github(diff_texts) -> None:
    _, out = run_format(diff_texts, "github")
    *annotations, summary = out.splitlines()
    assert len(annotations) == 4
    assert all(line.startswith("::") for line in annotations), annotations
    assert [line.split(" ", 1)[0] for line in annotations] == ["::error", "::warning", "::warning", "::notice"]
    assert annotations[0].startswith("::error file=base.bal,line=6,col=5,title=input-field-removed (breaking)::")  # its declaration
    assert summary == "4 findings: 1 breaking, 2 behavioral, 1 cosmetic (1 guard-loosened)"


def test_github_escapes_what_would_end_an_annotation(diff_texts) -> None:
    """A percent sign (GitHub's escape character) is escaped, and no line break reaches an annotation."""
    base = BASE.replace("then scale(targets: pool)\n", 'then scale(targets: pool)\n    reason "at 80%"\n')
    head = base.replace('"at 80%"', '"at 80%\\nor more"')
    _, out, _ = diff_texts(base, head, "--format", "github")
    annotation, summary = out.splitlines()
    assert annotation.startswith("::notice file=head.bal,line=9,col=3,title=rule-reason-changed (cosmetic)::")
    assert "at 80%25" in annotation and "80%" not in annotation.replace("80%25", "")
    assert summary.startswith("1 finding: ")


def test_junit(diff_texts) -> None:
    _, out = run_format(diff_texts, "junit", "mixed", "--fail-on", "behavioral")
    root = ET.fromstring(out)
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures")) == ("4", "3")
    cases = root.findall("./testsuite/testcase")
    assert len(cases) == 4
    failed = [case.get("name") for case in cases if case.find("failure") is not None]
    assert failed == [
        "input-field-removed shop.guard/legacy",
        "rule-condition-widened shop.guard/deep",
        "rule-condition-narrowed shop.guard/hot",
    ]
    assert cases[3].find("system-out").text.startswith("cosmetic: policy version 1.0.0 → 1.0.1")


def test_sarif(diff_texts) -> None:
    _, out = run_format(diff_texts, "sarif")
    document = json.loads(out)
    assert document["version"] == "2.1.0"
    (run,) = document["runs"]
    rules = run["tool"]["driver"]["rules"]
    results = run["results"]
    assert len(results) == 4
    assert [r["level"] for r in results] == ["error", "warning", "warning", "note"]
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["ruleId"] in CHECKS
        (location,) = result["locations"]
        # what was removed is shown where it was
        expected = "base.bal" if result["ruleId"].endswith("-removed") else "head.bal"
        assert location["physicalLocation"]["artifactLocation"]["uri"] == expected


def test_sarif_and_github_name_a_git_file_by_its_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A finding on a git side points at the file's path in the repository, not at `REF:path`
    (GitHub annotated a file named `HEAD:p.bal`)."""
    if subprocess.run(["git", "--version"], capture_output=True, check=False).returncode != 0:
        pytest.skip("git is not installed")
    monkeypatch.chdir(tmp_path)
    Path("p.bal").write_text(BASE, encoding="utf-8")
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "p"]):
        git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"]
        subprocess.run([*git, *args], check=True, capture_output=True)
    Path("p.bal").write_text(
        edit(("  rule deep {\n    when queue > 500\n    then pause(targets: pool, duration: 5m)\n  }\n", "")),
        encoding="utf-8",
    )
    _, out, err = run_cli("diff", "HEAD:p.bal", "p.bal", "--format", "sarif")
    assert err == ""
    (result,) = [r for r in json.loads(out)["runs"][0]["results"] if r["ruleId"] == "rule-removed"]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "p.bal"
    _, out, _ = run_cli("diff", "HEAD:p.bal", "p.bal", "--format", "github")
    (annotation,) = [line for line in out.splitlines() if "rule-removed" in line]
    assert annotation.startswith("::error file=p.bal,line=14,col=3,title=rule-removed (breaking)::")


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_has_output_even_without_findings(fmt: str, diff_texts) -> None:
    code, out = run_format(diff_texts, fmt, "none")
    assert code == 0
    assert out.strip()


@pytest.mark.parametrize("fmt", FORMATS)
def test_two_runs_give_the_same_bytes(fmt: str, diff_texts) -> None:
    first = run_format(diff_texts, fmt)
    assert run_format(diff_texts, fmt) == first


def test_two_processes_give_the_same_bytes(tmp_path: Path) -> None:
    """Other hash seeds, other processes: the JSON report is the same."""
    (tmp_path / "base.bal").write_text(BASE, encoding="utf-8")
    (tmp_path / "head.bal").write_text(HEADS["mixed"], encoding="utf-8")
    outputs = []
    for seed in ("1", "2"):
        done = subprocess.run(
            [sys.executable, "-m", "ballast.cli", "diff", "base.bal", "head.bal", "--format", "json"],
            cwd=tmp_path,
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            check=False,
        )
        assert done.returncode == 1, done.stderr
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
    assert json.loads(outputs[0])["summary"]["findings"] == 4


@pytest.mark.parametrize("fmt", ["text", "json", "github"])
def test_output_to_a_file(fmt: str, diff_texts, tmp_path: Path) -> None:
    _, expected = run_format(diff_texts, fmt)
    code, out, err = diff_texts(BASE, HEADS["mixed"], "--format", fmt, "-o", "report.out")
    assert (code, out) == (1, "")
    assert (tmp_path / "report.out").read_text(encoding="utf-8") == expected
    # text and github name the verdict on stderr, so a CI log still shows it
    assert err == ("" if fmt == "json" else expected.rstrip("\n").rsplit("\n", 1)[-1] + "\n")


# ---------------------------------------------------------------- the team's files


def test_since_a_previous_report(diff_texts, tmp_path: Path) -> None:
    """Diff on diff: what the previous report had is left out (and counted); only what is new
    decides the exit code."""
    _, previous, _ = diff_texts(BASE, HEADS["mixed"], "--format", "json")
    (tmp_path / "previous.json").write_text(previous, encoding="utf-8")
    code, out, _ = diff_texts(BASE, HEADS["mixed"], "--format", "json", "--since", "previous.json")
    report = json.loads(out)
    assert (code, report["findings"], report["unchanged_since"]) == (0, [], 4)
    head = HEADS["mixed"].replace("then pause(targets: pool, duration: 5m)", "then pause(targets: pool, duration: 10m)")
    code, out, _ = diff_texts(BASE, head, "--format", "json", "--since", "previous.json")
    report = json.loads(out)
    assert [f["id"] for f in report["findings"]] == ["rule-action-argument-changed"]
    assert (code, report["unchanged_since"]) == (0, 4)


def test_an_override_relevels_a_check(diff_texts, tmp_path: Path) -> None:
    (tmp_path / "overrides.yaml").write_text(
        "overrides:\n"
        "  - id: rule-condition-narrowed\n    level: breaking\n    reason: thresholds are reviewed by SRE\n"
        "  - id: rule-condition-widened\n    level: cosmetic\n    reason: old\n    expires: 2001-01-01\n",
        encoding="utf-8",
    )
    code, out, _ = diff_texts(BASE, HEADS["loosened"], "--format", "json", "--overrides", "overrides.yaml")
    report = json.loads(out)
    (finding,) = report["findings"]
    assert (code, finding["level"]) == (1, "breaking")
    assert finding["details"]["overridden"] == {"from": "behavioral", "reason": "thresholds are reviewed by SRE"}
    assert report["notes"] == [
        "overrides.yaml:5: the override of rule-condition-widened expired on 2001-01-01 and no longer applies: renew or remove it"
    ]


def test_an_ignore_file_accepts_findings(diff_texts, tmp_path: Path) -> None:
    (tmp_path / "ignore.yaml").write_text(
        "ignore:\n"
        "  - finding: input-field-removed/shop.guard/legacy\n    reason: no producer sends it\n    expires: 2099-01-01\n"
        "  - finding: rule-removed/shop.guard/hot\n    reason: not removed\n",
        encoding="utf-8",
    )
    code, out, _ = diff_texts(BASE, HEADS["mixed"], "--format", "json", "--ignore", "ignore.yaml")
    report = json.loads(out)
    assert code == 0  # the breaking finding is accepted
    assert [f["id"] for f in report["findings"]] == [
        "rule-condition-widened",
        "rule-condition-narrowed",
        "policy-metadata-changed",
    ]
    assert report["ignored"] == [
        {"key": "input-field-removed/shop.guard/legacy", "reason": "no producer sends it", "expires": "2099-01-01"}
    ]
    assert report["notes"] == [
        "ignore.yaml:5: the ignore entry for rule-removed/shop.guard/hot matches no finding: remove it"
    ]
