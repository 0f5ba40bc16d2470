"""A cache of the built LALR parser on disk, so a run loads the tables instead of rebuilding them.

Building the parser from `ballast.lark` takes ~125 ms; loading the saved tables (`Lark.save` /
`Lark.load`) takes a fraction of that. The file is keyed by everything the tables depend on: the
grammar text, the Lark options, the Lark and Python versions and `FORMAT`. A changed grammar or an
upgrade gives a new name, so a stale file is never read (and old files are simply never read again).

The cache is only ever a shortcut. The directory is `$BALLAST_CACHE_DIR`, else
`$XDG_CACHE_HOME/ballast`, else `~/.cache/ballast`. When it cannot be created or written (a
read-only home, a full disk) the parser is built in memory and nothing is reported; a file that
cannot be loaded (truncated, corrupt, from another Lark) is rebuilt and replaced. Files are written
to a temporary name and renamed into place, so concurrent runs never read a half-written file.
Because loading unpickles, a file is read only when it belongs to the current user and neither it
nor its directory is writable by others.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any

import lark
from lark import Lark

# Bump when the way the file is written changes, so older files are ignored.
FORMAT = 1


def cache_dir() -> Path:
    """Where parser tables are cached: $BALLAST_CACHE_DIR, $XDG_CACHE_HOME/ballast or ~/.cache/ballast."""
    explicit = os.environ.get("BALLAST_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "ballast"


def cache_file(grammar: str, options: dict[str, Any]) -> Path:
    """The cache file for this grammar and these options under the current Lark and Python."""
    key = repr((FORMAT, grammar, sorted(options.items()), lark.__version__, sys.version_info[:2]))
    return cache_dir() / f"parser-{hashlib.sha256(key.encode('utf-8')).hexdigest()[:32]}.lark"


def cached_lark(grammar: str, options: dict[str, Any]) -> Lark:
    """A Lark parser for `grammar`: loaded from the cache when there, else built and saved."""
    try:
        path = cache_file(grammar, options)
    except RuntimeError:  # Path.home() with no HOME and no passwd entry: no cache
        return Lark(grammar, **options)
    loaded = _load(path)
    if loaded is not None:
        return loaded
    parser = Lark(grammar, **options)
    _save(parser, path)
    return parser


def _load(path: Path) -> Lark | None:
    try:
        with path.open("rb") as f:
            if not _trusted(path, os.fstat(f.fileno())):
                return None
            return Lark.load(f)
    except FileNotFoundError:
        return None
    # Defused on purpose: a damaged cache file must cost a rebuild, never a failed run, and
    # unpickling a damaged file can raise nearly anything (EOFError, UnpicklingError, KeyError…).
    except Exception:
        return None


def _trusted(path: Path, st: os.stat_result) -> bool:
    """Whether the file is ours and nobody else could have written it or swapped it in."""
    if not hasattr(os, "getuid"):  # Windows: the per-user profile directory is the protection
        return True
    directory = path.parent.stat()
    others_write = stat.S_IWGRP | stat.S_IWOTH
    return (
        st.st_uid == os.getuid()
        and directory.st_uid == os.getuid()
        and not st.st_mode & others_write
        and not directory.st_mode & others_write
    )


def _save(parser: Lark, path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".parser-", suffix=".tmp")
    except OSError:  # not writable: the cache is a shortcut, so run without it
        return
    try:
        with os.fdopen(fd, "wb") as f:
            parser.save(f)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)

