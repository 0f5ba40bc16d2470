"""The docs' command examples print what the commands print.

Each ```` ```console ```` block of a checked page is a list of `$ command` lines, each followed by
the output it prints (standard output and standard error together). The test runs them in order,
through a shell, in a scratch directory that holds a copy of `catalog/` and of every file in
`docs/examples/`, with `SOURCE_DATE_EPOCH=0` and an 80-column terminal, and compares.

Two HTML comments, invisible on the rendered page, steer it; each goes on the line before a fence:

* `<!-- file: NAME -->`: the block is the content of `docs/examples/NAME` (the test checks that
  they are equal, so the text shown and the file provided cannot drift);
* `<!-- not-checked: REASON -->`: the console block is not run, for the reason given (its output
  cannot be reproduced, such as the clock's time).

Commands of a page share the scratch directory, so a bundle compiled in one block is there for the
next.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
EXAMPLES = DOCS / "examples"
# Pages whose examples are deterministic and must match; the others may be added one by one.
CHECKED_PAGES = (
    "getting-started.md",
    "compiler.md",
    "cli.md",
    "index.md",
    "diff.md",
    "ci.md",
    "ledger.md",
    "security.md",
    "governance.md",
    "rollouts.md",
    "service.md",
    "scoring.md",
    "profiles.md",
    "telemetry.md",
    "stateful-rules.md",
)
FENCE = re.compile(r"^(`{3,})(\w*)\s*$")
DIRECTIVE = re.compile(r"^<!--\s*(file|not-checked):\s*(.+?)\s*-->$")


@dataclass
class Example:
    """One `$ command` of a console block and the output the page shows for it."""

    page: str
    line: int
    command: str
    output: list[str] = field(default_factory=list)


@dataclass
class Page:
    """What a page asks of the test: files to provide, commands to run (in page order)."""

    files: dict[str, tuple[int, str]] = field(default_factory=dict)  # name → (line, content)
    steps: list[Example] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)


def read_page(path: Path) -> Page:
    """Parse a page's fenced blocks and the directives right before them."""
    name = path.name
    lines = path.read_text(encoding="utf-8").splitlines()
    page = Page()
    directive: tuple[str, str] | None = None
    i = 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if not fence:
            found = DIRECTIVE.match(lines[i].strip())
            if found:
                directive = (found[1], found[2])
            elif lines[i].strip():
                directive = None  # a directive applies to the block right after it
            i += 1
            continue
        start, end = i + 1, i + 1
        while end < len(lines) and lines[end] != fence[1]:
            end += 1
        body = lines[start:end]
        kind, value = directive or ("", "")
        if kind == "file":
            page.files[value] = (start, "\n".join(body) + "\n")
        elif fence[2] == "console" and kind == "not-checked":
            page.skipped.append((start, value))
        elif fence[2] == "console":
            page.steps.extend(_examples(name, start, body))
        directive = None
        i = end + 1
    return page


def _examples(page: str, first_line: int, body: list[str]) -> list[Example]:
    examples: list[Example] = []
    for number, text in enumerate(body, start=first_line + 1):
        if text.startswith("$ "):
            examples.append(Example(page, number, text[2:]))
        elif examples:
            examples[-1].output.append(text)
        else:
            raise AssertionError(f"docs/{page}:{number}: a console block starts with output, not `$ command`")
    return examples


def workspace(tmp_path: Path) -> Path:
    """A scratch directory holding `catalog/` and the files of `docs/examples/`."""
    root = tmp_path / "work"
    shutil.copytree(REPO / "catalog", root / "catalog", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for example in EXAMPLES.iterdir():
        if example.is_file():
            shutil.copy(example, root / example.name)
    return root


def run_shell(command: str, cwd: Path) -> str:
    """What a reader's shell prints for the command: stdout and stderr as they come."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCE_DATE_EPOCH", "COLUMNS", "LINES"))}
    env.update(
        SOURCE_DATE_EPOCH="0",
        COLUMNS="80",  # argparse wraps --help to the terminal's width
        PYTHONUTF8="1",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",  # `ballast` and `python`
    )
    done = subprocess.run(
        ["bash", "-c", command],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        timeout=120,
    )
    return done.stdout


@pytest.mark.parametrize("name", CHECKED_PAGES)
def test_example_files_are_the_files_the_page_shows(name: str) -> None:
    for file, (line, content) in read_page(DOCS / name).files.items():
        provided = EXAMPLES / file
        assert provided.is_file(), f"docs/{name}:{line}: the block marks docs/examples/{file}, which does not exist"
        assert provided.read_text(encoding="utf-8") == content, (
            f"docs/{name}:{line}: the block differs from docs/examples/{file}"
        )


@pytest.mark.parametrize("name", CHECKED_PAGES)
def test_commands_print_what_the_page_shows(name: str, tmp_path: Path) -> None:
    page = read_page(DOCS / name)
    assert page.steps, f"docs/{name} has no console example to check"
    assert all(reason.strip() for _, reason in page.skipped), f"docs/{name}: a not-checked block needs a reason"
    root = workspace(tmp_path)
    mismatches = []
    for example in page.steps:
        printed = run_shell(example.command, root).rstrip("\n").split("\n")
        shown = example.output or [""]
        if printed != shown:
            mismatches.append(
                f"docs/{name}:{example.line}: $ {example.command}\n--- shown\n"
                + "\n".join(shown)
                + "\n--- printed\n"
                + "\n".join(printed)
            )
    if mismatches:
        pytest.fail("\n\n".join(mismatches), pytrace=False)


def test_a_not_checked_block_is_skipped_and_a_file_block_is_collected(tmp_path: Path) -> None:
    """The directives mean what the module docstring says (on a page of this test's own)."""
    text = (
        "<!-- file: a.bal -->\n```\npolicy p\n```\n\n"
        "<!-- not-checked: the clock -->\n```console\n$ date\nTue\n```\n"
        "```console\n$ echo hi\nhi\n$ true\n```\n"
    )
    (tmp_path / "page.md").write_text(text, encoding="utf-8")
    page = read_page(tmp_path / "page.md")
    assert page.files == {"a.bal": (2, "policy p\n")}
    assert page.skipped == [(7, "the clock")]
    assert [(e.command, e.output) for e in page.steps] == [("echo hi", ["hi"]), ("true", [])]
    assert run_shell("echo hi", tmp_path) == "hi\n"
