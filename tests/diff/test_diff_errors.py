"""`ballast diff` on bad input: exit 2 and a message that says where, never a traceback; and sides
read from git (`REF:PATH`)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from support import run_cli

REPO = Path(__file__).resolve().parents[2]

POLICY = """\
policy shop.guard version "1" {
  input ev {
    pool: string
    load: float in [0, 1]
  }

  rule hot {
    when load > 0.8
    then scale(targets: pool)
  }
}
"""
HEAD = POLICY.replace("load > 0.8", "load > 0.9")
BROKEN = POLICY.replace("load > 0.8", 'load > "high"')  # line 8, column 17: the operator


@pytest.fixture
def sides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """base.bal, head.bal (a narrowed threshold) and broken.bal in the current directory."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "base.bal").write_text(POLICY, encoding="utf-8")
    (tmp_path / "head.bal").write_text(HEAD, encoding="utf-8")
    (tmp_path / "broken.bal").write_text(BROKEN, encoding="utf-8")
    return tmp_path


def assert_usage_error(code: int, out: str, err: str) -> None:
    assert code == 2, err
    assert out == ""
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("base", "head", "label"), [("broken.bal", "head.bal", "base"), ("base.bal", "broken.bal", "head")]
)
def test_a_side_that_does_not_compile(sides: Path, base: str, head: str, label: str) -> None:
    code, out, err = run_cli("diff", base, head, "--format", "json")
    assert_usage_error(code, out, err)
    assert f"the {label} side (broken.bal) has errors" in err
    assert re.search(r"^broken\.bal:8:\d+: error\[type\]: '>' cannot order float and string$", err, re.M), err


def test_a_bad_git_ref(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    code, out, err = run_cli("diff", "nosuch:catalog/", "catalog/")
    assert_usage_error(code, out, err)
    assert "nosuch:catalog/: 'nosuch' is not a git revision here" in err


def test_a_missing_path(sides: Path) -> None:
    code, out, err = run_cli("diff", "base.bal", "missing.bal")
    assert_usage_error(code, out, err)
    assert "missing.bal: no such file or directory" in err


def test_a_folder_without_policies(sides: Path) -> None:
    (sides / "empty").mkdir()
    code, out, err = run_cli("diff", "base.bal", "empty")
    assert_usage_error(code, out, err)
    assert "empty: no policy files (.bal, .yaml, .yml) or scenarios (*.scenario.yaml) in this directory" in err


IGNORE = """\
ignore:
  - finding: rule-condition-narrowed/shop.guard/hot
    reason: the new threshold was agreed with the owners
    expires: 2099-01-01
"""


@pytest.mark.parametrize(
    ("text", "where", "problem"),
    [
        (
            IGNORE.replace("    reason: the new threshold was agreed with the owners\n", ""),
            ":2:5:",
            "missing required key 'reason'",
        ),
        (IGNORE.replace("2099-01-01", "someday"), ":4:14:", "expires 'someday' is not a date"),
        (IGNORE.replace("2099-01-01", "2099-13-01"), ":4:14:", "month must be in 1..12"),
        (
            IGNORE.replace("rule-condition-narrowed/", "rule-condition-tightened/"),
            ":2:14:",
            "does not start with a check id",
        ),
        (IGNORE.replace("    expires", "    expiry"), ":4:5:", "unknown key 'expiry' in an ignore entry"),
        ("ignore: [\n  - x\n", ":2:3:", "error[yaml]: invalid YAML"),
        ("- finding: x\n", ":1:1:", "YAML mapping with a top-level `ignore:` list"),
        ("ignored:\n  - finding: x\n", ":1:1:", "unknown key 'ignored' in an ignore file"),
    ],
    ids=[
        "no reason",
        "not a date",
        "month 13",
        "unknown check",
        "unknown key",
        "not YAML",
        "a list",
        "misspelt top key",
    ],
)
def test_a_malformed_ignore_file(sides: Path, text: str, where: str, problem: str) -> None:
    (sides / "ignore.yaml").write_text(text, encoding="utf-8")
    code, out, err = run_cli("diff", "base.bal", "head.bal", "--ignore", "ignore.yaml")
    assert_usage_error(code, out, err)
    assert f"ignore.yaml{where}" in err, err
    assert problem in err, err


def test_a_well_formed_ignore_file_is_accepted(sides: Path) -> None:
    """The counterpart of the malformed files above: the same entry, complete, ignores the finding."""
    (sides / "ignore.yaml").write_text(IGNORE, encoding="utf-8")
    code, out, err = run_cli("diff", "base.bal", "head.bal", "--ignore", "ignore.yaml", "--format", "json")
    assert (code, err) == (0, "")
    report = json.loads(out)
    assert report["findings"] == []
    assert [i["key"] for i in report["ignored"]] == ["rule-condition-narrowed/shop.guard/hot"]


def test_a_malformed_override_file(sides: Path) -> None:
    (sides / "overrides.yaml").write_text(
        "overrides:\n  - id: rule-condition-narrowed\n    level: severe\n    reason: x\n", encoding="utf-8"
    )
    code, out, err = run_cli("diff", "base.bal", "head.bal", "--overrides", "overrides.yaml")
    assert_usage_error(code, out, err)
    assert "overrides.yaml:3:12: error[diff-config]: unknown value 'severe'" in err


def test_a_missing_ignore_file(sides: Path) -> None:
    code, out, err = run_cli("diff", "base.bal", "head.bal", "--ignore", "nothere.yaml")
    assert_usage_error(code, out, err)
    assert "nothere.yaml" in err


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"format": "something/1", "findings": []}\n', "not a `ballast diff --format json` report"),
        ("[1, 2]\n", "not a `ballast diff --format json` report"),
        ("ballast diff base.bal → head.bal\n", "previous.json:1:1: not JSON"),
    ],
    ids=["another format", "a list", "a text report"],
)
def test_since_a_file_that_is_not_a_report(sides: Path, text: str, problem: str) -> None:
    (sides / "previous.json").write_text(text, encoding="utf-8")
    code, out, err = run_cli("diff", "base.bal", "head.bal", "--since", "previous.json")
    assert_usage_error(code, out, err)
    assert problem in err, err


def test_since_a_missing_report(sides: Path) -> None:
    code, out, err = run_cli("diff", "base.bal", "head.bal", "--since", "previous.json")
    assert_usage_error(code, out, err)
    assert "previous.json" in err


@pytest.mark.parametrize("value", ["0", "-5"])
def test_a_timeout_below_one_millisecond(sides: Path, value: str) -> None:
    code, out, err = run_cli("diff", "base.bal", "head.bal", "--timeout-ms", value)
    assert_usage_error(code, out, err)
    assert f"--timeout-ms must be at least 1, got {value}" in err


def test_an_unwritable_output(sides: Path) -> None:
    code, out, err = run_cli("diff", "base.bal", "head.bal", "-o", "no/such/folder/report.json")
    assert_usage_error(code, out, err)
    assert "no/such/folder/report.json: cannot write the report" in err


# ---------------------------------------------------------------- git sides


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repository with p.bal (importing lib/limits.bal) committed, then changed in the work
    tree: the threshold moved in the module, and nothing else."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "limits.bal").write_text(
        "module shop.limits {\n  const load_limit = 0.8\n}\n", encoding="utf-8"
    )
    policy = POLICY.replace("  input ev", '  import "lib/limits.bal"\n\n  input ev').replace("0.8", "load_limit")
    (tmp_path / "p.bal").write_text(policy, encoding="utf-8")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "the policy")
    (tmp_path / "lib" / "limits.bal").write_text(
        "module shop.limits {\n  const load_limit = 0.9\n}\n", encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_git_side_against_the_work_tree(repo: Path) -> None:
    before = (repo / "p.bal").read_text(encoding="utf-8")
    code, out, err = run_cli("diff", "HEAD:p.bal", "p.bal", "--format", "json")
    assert (code, err) == (0, "")
    report = json.loads(out)
    (finding,) = report["findings"]
    assert finding["id"] == "rule-condition-narrowed"
    assert finding["details"]["thresholds"] == [{"name": "load_limit", "before": 0.8, "after": 0.9}]
    assert finding["base"] == {"file": "HEAD:p.bal", "line": 10, "column": 10}  # the revision's name
    assert finding["head"] == {"file": "p.bal", "line": 10, "column": 10}
    assert report["base"]["source"] == "HEAD:p.bal"
    assert (repo / "p.bal").read_text(encoding="utf-8") == before  # the work tree is left alone
    assert (repo / "lib" / "limits.bal").read_text(encoding="utf-8").count("0.9") == 1


def test_a_git_folder_side_from_a_subdirectory(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PATH is relative to the current directory, as for a file side; positions name the
    revision and the path from the repository's top."""
    monkeypatch.chdir(repo / "lib")
    code, out, err = run_cli("diff", "HEAD:../", "..", "--format", "json")
    assert (code, err) == (0, "")
    (finding,) = json.loads(out)["findings"]
    assert finding["base"]["file"] == "HEAD:p.bal"
    assert finding["head"]["file"] == "../p.bal"


def test_two_git_sides(repo: Path) -> None:
    git(repo, "commit", "-q", "-am", "raise the limit")
    code, out, err = run_cli("diff", "HEAD~1:p.bal", "HEAD:p.bal", "--format", "json")
    assert (code, err) == (0, "")
    (finding,) = json.loads(out)["findings"]
    assert (finding["base"]["file"], finding["head"]["file"]) == ("HEAD~1:p.bal", "HEAD:p.bal")


def test_a_git_side_that_does_not_compile_names_the_revision(repo: Path) -> None:
    (repo / "p.bal").write_text(BROKEN, encoding="utf-8")
    git(repo, "commit", "-q", "-am", "broken")
    code, out, err = run_cli("diff", "HEAD:p.bal", "p.bal")
    assert_usage_error(code, out, err)
    assert "the base side (HEAD:p.bal) has errors" in err
    assert re.search(r"^HEAD:p\.bal:8:\d+: error\[type\]", err, re.M), err


def test_a_git_path_missing_at_the_revision(repo: Path) -> None:
    code, out, err = run_cli("diff", "HEAD:nope.bal", "p.bal")
    assert_usage_error(code, out, err)
    assert "HEAD:nope.bal: no such file or directory at HEAD" in err


def test_a_bad_ref_in_a_repository(repo: Path) -> None:
    code, out, err = run_cli("diff", "nosuch:p.bal", "p.bal")
    assert_usage_error(code, out, err)
    assert "'nosuch' is not a git revision here" in err
