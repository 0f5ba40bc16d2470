"""Every package in the source tree ships: a subpackage missing from pyproject.toml works in the
editable install that tests use, and is missing from a real install."""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_every_package_folder_is_listed_in_pyproject() -> None:
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    folders = {folder: name for name, folder in setuptools["package-dir"].items()}
    found = set()
    for top in folders:
        for init in (REPO / top).rglob("__init__.py"):
            relative = init.parent.relative_to(REPO).as_posix()
            # the nearest mapped folder gives the package name; deeper folders add their own names
            base = max((f for f in folders if relative == f or relative.startswith(f + "/")), key=len)
            rest = relative[len(base) :].strip("/")
            found.add(".".join([folders[base], *rest.split("/")]) if rest else folders[base])
    assert found - listed == set(), "add these to [tool.setuptools] packages and package-dir"
    assert listed - found == set(), "these listed packages have no folder"
