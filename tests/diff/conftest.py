"""Shared by the `ballast diff` tests: run the command on two policy texts written to a folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from support import run_cli

DiffRun = Callable[..., tuple[int, str, str]]


@pytest.fixture
def diff_texts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DiffRun:
    """`diff_texts(base, head, *options)`: write base.bal and head.bal into a fresh folder and run
    `ballast diff base.bal head.bal *options` there (relative paths); (exit code, stdout, stderr)."""
    monkeypatch.chdir(tmp_path)

    def run(
        base: str, head: str, *options: str, names: tuple[str, str] = ("base.bal", "head.bal")
    ) -> tuple[int, str, str]:
        (tmp_path / names[0]).write_text(base, encoding="utf-8")
        (tmp_path / names[1]).write_text(head, encoding="utf-8")
        return run_cli("diff", *names, *options)

    return run
