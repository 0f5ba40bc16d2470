"""A cache of the built LALR parser on disk, so a run loads the tables instead of rebuilding them.

Building the parser from `ballast.lark` takes ~125 ms; loading the saved tables (`Lark.save` /
`Lark.load`) takes a fraction of that. The file is keyed by everything the tables depend on: the
grammar text, the Lark options, the Lark and Python versions and `FORMAT`. A changed grammar or an
upgrade gives a new name, so a stale file is never read (and old files are simply never read again).

The cache is only ever a shortcut (where it lives, and why a file is trusted: `disk_cache`). When
its directory cannot be written the parser is built in memory and nothing is reported; a file that
cannot be loaded (truncated, corrupt, from another Lark) is rebuilt and replaced.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Any

import lark
from lark import Lark

from ballast.dsl.disk_cache import cache_dir, load_trusted, save_atomically

# Bump when the way the file is written changes, so older files are ignored.
FORMAT = 1


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
    return load_trusted(path, Lark.load)


def _save(parser: Lark, path: Path) -> None:
    save_atomically(path, parser.save)
