"""The CI files that other repositories copy or use run commands that Ballast accepts.

`.pre-commit-hooks.yaml` (Ballast's pre-commit hooks) and `examples/ci/ballast-policies.yml` (the
GitHub Actions workflow of docs/ci.md) hold `ballast …` command lines that no other test runs.
Each is parsed here with Ballast's own argument parser, so a renamed command, flag or choice
breaks this test rather than a user's CI. The hooks' check, fmt, test and diff commands also run
for real on `catalog/`, and the workflow shown in docs/ci.md is the file in `examples/ci/`.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from ruamel.yaml import YAML

from ballast.cli import build_parser
from ballast.paths import is_policy_file

REPO = Path(__file__).resolve().parents[2]
HOOKS = REPO / ".pre-commit-hooks.yaml"
WORKFLOW = REPO / "examples" / "ci" / "ballast-policies.yml"
CI_PAGE = REPO / "docs" / "ci.md"
HOOK_IDS = ("ballast-check", "ballast-fmt", "ballast-test", "ballast-diff")
EXPRESSION = re.compile(r"\$\{\{.*?\}\}")  # a GitHub Actions expression, `${{ github.base_ref }}`
WORKFLOW_MARKER = "<!-- example: examples/ci/ballast-policies.yml -->"


def load(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


def hooks() -> dict[str, dict[str, Any]]:
    return {hook["id"]: hook for hook in load(HOOKS)}


def hook_argv(hook: dict[str, Any], filenames: list[str]) -> list[str]:
    """The command line pre-commit runs for a hook: entry, args, then the files (unless told not to)."""
    argv = shlex.split(hook["entry"]) + [str(a) for a in hook.get("args", [])]
    return argv + filenames if hook.get("pass_filenames", True) else argv


def triggers(hook: dict[str, Any], path: str) -> bool:
    """Whether pre-commit runs the hook for a staged file at `path` (relative, with slashes)."""
    return bool(re.search(hook.get("files", ""), path)) and not ("exclude" in hook and re.search(hook["exclude"], path))


def parse(argv: list[str], where: str) -> Any:
    """Parse `ballast …` with Ballast's own parser; fail the test with argparse's message if it refuses."""
    assert argv[:1] == ["ballast"], f"{where}: not a ballast command: {shlex.join(argv)}"
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            args = build_parser().parse_args(argv[1:])
    except SystemExit:
        pytest.fail(f"{where}: `{shlex.join(argv)}` does not parse:\n{stderr.getvalue()}", pytrace=False)
    assert args.command == argv[1]
    return args


def ballast_commands(script: str) -> list[list[str]]:
    """The `ballast …` simple commands of a shell script, `${{ … }}` expressions read as `main`.

    Lines continued with a backslash are joined; a command ends at a control operator or a
    redirection (`||`, `&&`, `;`, `|`, `>`, …).
    """
    commands = []
    for line in EXPRESSION.sub("main", script.replace("\\\n", " ")).splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        current: list[str] = []
        for token in [*lexer, ";"]:
            if token and set(token) <= set(lexer.punctuation_chars):
                if current[:1] == ["ballast"]:
                    commands.append(current)
                current = []
            elif current or token:
                current.append(token)
    return commands


def workflow_steps() -> list[dict[str, Any]]:
    workflow = load(WORKFLOW)
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def workflow_commands() -> list[list[str]]:
    return [argv for step in workflow_steps() if "run" in step for argv in ballast_commands(step["run"])]


def run_ballast(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """Run a `ballast …` command line from the repository's root, as pre-commit would."""
    script = Path(sys.executable).parent / "ballast"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "ballast.cli"]
    env = {**os.environ, "PYTHONUTF8": "1"}
    return subprocess.run(
        command + argv[1:],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        timeout=300,
    )


# --- .pre-commit-hooks.yaml ---------------------------------------------------------------------


def test_every_hook_has_what_pre_commit_needs() -> None:
    listed = load(HOOKS)
    assert isinstance(listed, list), ".pre-commit-hooks.yaml is a list of hooks"
    ids = [hook.get("id") for hook in listed]
    assert ids == list(HOOK_IDS)
    for hook in listed:
        for key in ("id", "name", "entry", "language"):
            assert isinstance(hook.get(key), str) and hook[key].strip(), f"{hook.get('id')}: no {key}"
        assert hook["language"] == "python", f"{hook['id']}: pre-commit installs Ballast with pip"
        for key in ("files", "exclude"):
            if key in hook:
                re.compile(hook[key])
        assert isinstance(hook.get("args", []), list), f"{hook['id']}: args is a list"
    # The folder hooks read a folder (or two sides), never the staged files.
    for hook_id in ("ballast-check", "ballast-test", "ballast-diff"):
        assert hooks()[hook_id]["pass_filenames"] is False, hook_id


@pytest.mark.parametrize("hook_id", HOOK_IDS)
def test_hook_command_line_parses(hook_id: str) -> None:
    hook = hooks()[hook_id]
    args = parse(hook_argv(hook, ["policies/motb.bal", "policies/lib/thresholds.bal"]), f"hook {hook_id}")
    expected = {
        "ballast-check": ("check", {"paths": ["policies/"]}),
        "ballast-fmt": ("fmt", {"check": True}),
        "ballast-test": ("test", {"paths": ["policies/"], "quiet": True}),
        "ballast-diff": ("diff", {"base": "origin/main:policies/", "head": "policies/", "fail_on": "breaking"}),
    }[hook_id]
    assert args.command == expected[0]
    for name, value in expected[1].items():
        assert getattr(args, name) == value, f"hook {hook_id}: {name}"


def test_check_hook_runs_for_every_policy_file_and_not_for_tests_or_scenarios() -> None:
    """The check hook's `files`/`exclude` follow ballast/paths.py: it runs when a policy changes."""
    check, test = hooks()["ballast-check"], hooks()["ballast-test"]
    files = [p.relative_to(REPO).as_posix() for p in (REPO / "catalog").rglob("*") if p.is_file()]
    for name in files:
        path = PurePosixPath(name)
        if is_policy_file(path, exists=lambda p: (REPO / p).is_file()):
            assert triggers(check, name), f"ballast-check does not run when {name} changes"
        if name.endswith((".test.yaml", ".scenario.yaml")) or "tests" in path.parts:
            assert not triggers(check, name), f"ballast-check runs when {name} (not a policy) changes"
        if name.endswith(".test.yaml"):
            assert triggers(test, name), f"ballast-test does not run when {name} changes"
    assert any(name.endswith(".test.yaml") for name in files) and any(name.endswith(".bal") for name in files)
    for other in ("policies/x.scenario.yml", "x/tests/y.bal", "policies/a.test.yml"):
        assert not triggers(check, other), other


@pytest.mark.parametrize("hook_id", HOOK_IDS)
def test_hook_passes_on_the_catalog(hook_id: str) -> None:
    """Each hook, pointed at `catalog/` (the repository's own policies), runs and exits 0.

    The folder hooks get `catalog/` for `policies/` in their args; the diff hook compares the
    catalog with itself (a git side would depend on this checkout's history). ballast-fmt gets
    the catalog's files that its `files`/`exclude` select, as pre-commit would pass them.
    """
    hook = hooks()[hook_id]
    hook = {**hook, "args": [re.sub(r"^(?:origin/main:)?policies/", "catalog/", str(a)) for a in hook.get("args", [])]}
    staged = sorted(
        name
        for name in (p.relative_to(REPO).as_posix() for p in (REPO / "catalog").rglob("*") if p.is_file())
        if triggers(hook, name)
    )
    assert staged, f"{hook_id} would not run for any file of catalog/"
    argv = hook_argv(hook, staged)
    assert "policies/" not in " ".join(argv)
    done = run_ballast(argv)
    assert done.returncode == 0, f"`{shlex.join(argv)}` exited {done.returncode}:\n{done.stdout}"


# --- examples/ci/ballast-policies.yml -----------------------------------------------------------


def test_the_command_finder_reads_shell_lines() -> None:
    script = (
        'code=0\nballast diff "origin/${{ github.base_ref }}:policies/" policies/ --fail-on breaking || code=$?\n'
        "echo hi; ballast check a/ \\\n  b/ > out.txt\nballast test x/ && true  # ballast fmt y\n"
    )
    assert ballast_commands(script) == [
        ["ballast", "diff", "origin/main:policies/", "policies/", "--fail-on", "breaking"],
        ["ballast", "check", "a/", "b/"],
        ["ballast", "test", "x/"],
    ]


def test_every_ballast_command_of_the_workflow_parses() -> None:
    commands = workflow_commands()
    assert commands, "the workflow runs no ballast command"
    for argv in commands:
        parse(argv, WORKFLOW.relative_to(REPO).as_posix())


def test_the_workflow_runs_every_check_and_the_three_diff_reports() -> None:
    parsed = [parse(argv, "workflow") for argv in workflow_commands()]
    by_command: dict[str, list[Any]] = {}
    for args in parsed:
        by_command.setdefault(args.command, []).append(args)
    assert [a.paths for a in by_command["check"]] == [["policies/"]]
    assert [(a.paths, a.check) for a in by_command["fmt"]] == [(["policies/"], True)]
    assert [a.paths for a in by_command["test"]] == [["policies/"]]
    diffs = {a.format: a for a in by_command["diff"]}
    assert sorted(diffs) == ["github", "json", "md"]
    for args in diffs.values():
        assert (args.base, args.head) == ("origin/main:policies/", "policies/")
    assert (diffs["md"].output, diffs["md"].fail_on) == ("ballast-diff.md", "breaking")
    assert diffs["github"].output is None, "annotations are workflow commands: they go to standard output"
    assert diffs["json"].output == "ballast-diff.json"


def test_the_workflow_has_the_history_the_permission_and_the_artifact() -> None:
    workflow = load(WORKFLOW)
    assert "pull_request" in workflow["on"]
    assert workflow["permissions"]["pull-requests"] == "write"
    steps = workflow_steps()
    uses = {step["uses"].split("@")[0]: step for step in steps if "uses" in step}
    assert uses["actions/checkout"]["with"]["fetch-depth"] == 0, "the diff reads the base branch from git"
    assert str(uses["actions/setup-python"]["with"]["python-version"]) == "3.11"
    assert "ballast-diff.json" in uses["actions/upload-artifact"]["with"]["path"]
    assert "ballast-diff.md" in uses["actions/github-script"]["with"]["script"]
    install = next(step["run"] for step in steps if step.get("id") == "install")
    assert "pip install" in install and "ballast" in install


def test_docs_show_the_workflow_file_as_it_is() -> None:
    """docs/ci.md shows the whole workflow: the yaml block after the marker is the file, byte for byte."""
    lines = CI_PAGE.read_text(encoding="utf-8").split("\n")
    assert WORKFLOW_MARKER in lines, f"docs/ci.md: no `{WORKFLOW_MARKER}` line before the workflow's block"
    start = lines.index(WORKFLOW_MARKER) + 1
    assert lines[start] == "```yaml", "docs/ci.md: the marker goes on the line right before a ```yaml fence"
    end = lines.index("```", start + 1)
    shown = "\n".join(lines[start + 1 : end]) + "\n"
    assert shown.encode("utf-8") == WORKFLOW.read_bytes(), (
        "docs/ci.md: the workflow shown differs from examples/ci/ballast-policies.yml: copy the file into the page"
    )
