"""Every `ballast … --help` block in docs/cli.md is exactly what the command prints."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from ballast.cli import main

CLI_MD = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
# A console block that shows one help text: "$ ballast [COMMAND [SUBCOMMAND]] --help", then the output.
HELP_BLOCK = re.compile(r"^```console\n\$ ballast((?: [a-z-]+)*) --help\n(.*?)^```$", re.M | re.S)
BLOCKS = {command.strip(): text for command, text in HELP_BLOCK.findall(CLI_MD.read_text(encoding="utf-8"))}


def test_the_page_documents_the_help_of_every_command_it_describes() -> None:
    headed = set(re.findall(r"^## `ballast ([a-z-]+)`", CLI_MD.read_text(encoding="utf-8"), re.M))
    assert headed and headed <= set(BLOCKS), f"no --help block for: {sorted(headed - set(BLOCKS))}"


@pytest.mark.parametrize("command", sorted(BLOCKS))
def test_a_help_block_matches_the_real_help(command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")  # argparse wraps to the terminal: pin the width the docs use
    out = io.StringIO()
    code = main([*command.split(), "--help"], stdout=out, stderr=io.StringIO())
    assert code == 0
    assert BLOCKS[command] == out.getvalue(), f"docs/cli.md: the `ballast {command} --help` block is out of date"
