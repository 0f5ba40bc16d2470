"""Files Ballast keeps between runs to start faster: where they live, and how they are read and written.

Two caches use this: the built LALR parser (`parser_cache`) and parsed `.bal` documents
(`document_cache`). Both are only ever shortcuts. The directory is `$BALLAST_CACHE_DIR`, else
`$XDG_CACHE_HOME/ballast`, else `~/.cache/ballast`. When it cannot be created or written (a
read-only home, a full disk) nothing is saved and nothing is reported. Files are written to a
temporary name and renamed into place, so concurrent runs never read a half-written file.
Because both caches unpickle, a file is read only when it belongs to the current user and neither
it nor its directory is writable by others. This module imports no third-party package, so a
cache hit costs no import of lark.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


def cache_dir() -> Path:
    """Where caches live: $BALLAST_CACHE_DIR, $XDG_CACHE_HOME/ballast or ~/.cache/ballast."""
    explicit = os.environ.get("BALLAST_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "ballast"


def load_trusted(path: Path, read: Callable[[IO[bytes]], Any]) -> Any | None:
    """`read(file)` of the cache file at `path`, or None when it is missing, untrusted or damaged."""
    try:
        with path.open("rb") as f:
            if not trusted(path, os.fstat(f.fileno())):
                return None
            return read(f)
    except FileNotFoundError:
        return None
    # Defused on purpose: a damaged cache file must cost a rebuild, never a failed run, and
    # unpickling a damaged file can raise nearly anything (EOFError, UnpicklingError, KeyError…).
    except Exception:
        return None


def trusted(path: Path, st: os.stat_result) -> bool:
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


def save_atomically(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write the file through `write(file)` under a temporary name and rename it into place;
    give up silently when the directory cannot be created or written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem[:16]}-", suffix=".tmp")
    except OSError:  # not writable: the cache is a shortcut, so run without it
        return
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except Exception:  # an unpicklable value or a full disk: no cache, the same result
        with contextlib.suppress(OSError):
            os.unlink(tmp)
