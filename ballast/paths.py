"""Command-line paths: files as given, directories expanded to the files of interest under them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from ballast.runtime.errors import UsageError
from ballast.runtime.reading import shown_path


def expand_paths(paths: Sequence[str], wanted: Callable[[Path], bool], nothing_found: str) -> list[str]:
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
            found = sorted(str(p) for p in path.rglob("*") if p.is_file() and wanted(p))
            if not found:
                raise UsageError(f"{raw}: {nothing_found} in this directory")
            out.extend(found)
        elif not exists:
            raise UsageError(f"{shown_path(raw)}: no such file or directory")
        else:
            out.append(raw)
    return out
