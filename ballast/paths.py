"""Command-line paths: files as given, directories expanded to the files of interest under them.

`expand_policies` is what every command that reads a policy set uses, the CLI's and the
simulator's shadow workers alike; it lives here, below both, so neither imports the other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from ballast.runtime.errors import UsageError
from ballast.runtime.reading import shown_path

POLICY_SUFFIXES = (".bal", ".yaml", ".yml")


SCENARIO_SUFFIXES = (".scenario.yaml", ".scenario.yml")


# Files that `check` would misread as policies: (suffixes, the command that reads them).
OTHER_DOCUMENTS = (
    ((".scenario.yaml", ".scenario.yml"), "a simulator scenario: check it with `ballast simulate --check {path}`"),
    ((".test.yaml", ".test.yml"), "a policy test file: run it with `ballast test {path}`"),
)


def expand_paths(paths: Sequence[str], wanted: Callable[[Path, Path], bool], nothing_found: str) -> list[str]:
    """Files as given; each directory expanded to the files under it that `wanted` accepts, sorted.

    Raises UsageError for a path that does not exist, or a directory with no wanted file
    (`nothing_found` says what was looked for).
    """
    out: list[str] = []
    for raw in paths:
        path = Path(raw)
        try:
            is_dir, exists = path.is_dir(), path.exists()
        except OSError as exc:  # "File name too long" and the like: pathlib raises only those
            raise UsageError(f"{shown_path(raw)}: {exc.strerror or exc}") from None
        if is_dir:
            found = sorted(str(p) for p in path.rglob("*") if p.is_file() and wanted(p, path))
            if not found:
                raise UsageError(f"{raw}: {nothing_found} in this directory")
            out.extend(found)
        elif not exists:
            raise UsageError(f"{shown_path(raw)}: no such file or directory")
        else:
            out.append(raw)
    return out


def expand_policies(paths: list[str], suffixes: tuple[str, ...] = POLICY_SUFFIXES) -> list[str]:
    """Files as given; directories expanded to the policy files under them, sorted.

    A directory expands to its `.bal` files and to the `.yaml`/`.yml` files that have no `.bal`
    sibling of the same stem: `x.yaml` next to `x.bal` is that policy's YAML twin, and compiling
    both would clash on the policy name. A twin is checked when it is named explicitly.
    """

    def wanted(p: Path, root: Path) -> bool:
        return is_policy_file(p, suffixes, Path.is_file, root=root)

    if ".yaml" in suffixes:
        _refuse_non_policies(paths)
    return expand_paths(paths, wanted, f"no policy files ({', '.join(suffixes)})")


def is_policy_file(
    p: Path,
    suffixes: tuple[str, ...] = POLICY_SUFFIXES,
    exists: Callable[[Path], bool] = Path.is_file,
    *,
    root: Path | None = None,
) -> bool:
    """Whether a directory's file `p` is a policy file (`exists` tells whether a file is there:
    on disk, or in a git tree for `ballast diff REF:PATH`). A `tests/` folder below `root`, the
    directory given, holds test fixtures, not policies; the folders above it do not count (a
    policy tree may itself live under a `tests/` folder)."""
    below = p.relative_to(root).parts if root is not None else p.parts
    return (
        p.suffix in suffixes
        and "tests" not in below
        and not p.name.endswith((".test.yaml", ".test.yml"))  # policy tests: `ballast test`
        and not p.name.endswith(SCENARIO_SUFFIXES)  # simulator scenarios: `ballast simulate`
        and not (p.suffix in (".yaml", ".yml") and exists(p.with_suffix(".bal")))  # a .bal's YAML twin
    )


def _refuse_non_policies(paths: list[str]) -> None:
    """A scenario or test file named explicitly is a usage error that names the right command."""
    for path in paths:
        for suffixes, what in OTHER_DOCUMENTS:
            if path.endswith(suffixes):
                raise UsageError(f"{path}: {what.format(path=path)}")
