"""Parsed `.bal` documents kept between runs, so `ballast check` of unchanged files skips lark.

A run of `check` over the catalog spends about a quarter of its time importing lark, loading the
parser tables and parsing. The AST of a file depends only on the file's name (spans carry it), its
text and the front-end's own code, so it is cached under a hash of exactly those: the file's path
and text, `FORMAT`, the Python version, and the bytes of the grammar and of every module the
parse result is made of (`dsl/parser.py`, `dsl/ast.py`, `dsl/problems.py`, the spans and values
of the runtime, and Lark's version). Editing any of them, or upgrading, gives new names, so a stale AST is never read.

Only documents that parsed are cached (an error is always reported by the parser itself), and a
cached document equals what parsing gives (tests/cli/test_startup.py compares them). Where the files
live and when one is trusted: `disk_cache`. Like any build cache, old entries are never read again
and are not pruned: deleting the directory is always safe.
"""

from __future__ import annotations

import hashlib
import pickle
import sys
from functools import cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from ballast.dsl.disk_cache import cache_dir, load_trusted, save_atomically

# Bump when the way the file is written changes, so older files are ignored.
FORMAT = 1

# Everything a parsed document is made of: its classes and the code that builds them.
_FRONT_END = (
    "ballast.dsl.parser",
    "ballast.dsl.ast",
    "ballast.dsl.problems",
    "ballast.runtime.errors",
    "ballast.runtime.values",
    # The YAML front-end: YAML documents are cached too (their expressions need the parser).
    "ballast.dsl.yaml_front",
    "ballast.dsl.yaml_fleet",
    "ballast.dsl.yaml_policy",
    "ballast.dsl.yaml_rules",
    "ballast.dsl.yaml_values",
    "ballast.dsl.yaml_reader",
    "ballast.dsl.yaml_schema",
    "ballast.dsl.yaml_positions",
    "ballast.dsl.yaml_file",
    "lark",  # its __init__ names its version: an upgraded Lark may build other trees
)


@cache
def _front_end_digest() -> str:
    digest = hashlib.sha256(repr((FORMAT, sys.version_info[:3], sys.implementation.name)).encode())
    grammar = Path(__file__).with_name("ballast.lark")
    for origin in [grammar, *(Path(str(find_spec(name).origin)) for name in _FRONT_END)]:
        digest.update(origin.read_bytes())
    return digest.hexdigest()


def _cache_file(path: str, text: str) -> Path:
    key = hashlib.sha256(_front_end_digest().encode())
    key.update(path.encode("utf-8", "surrogatepass") + b"\0" + text.encode("utf-8", "surrogatepass"))
    return cache_dir() / "documents" / f"{key.hexdigest()[:40]}.pickle"


def load(path: str, text: str) -> Any | None:
    """The document parsed from `text` at `path` by an earlier run, or None."""
    try:
        return load_trusted(_cache_file(path, text), pickle.load)
    except (OSError, RuntimeError):  # no home directory, an unreadable module file: no cache
        return None


def save(path: str, text: str, document: Any) -> None:
    """Keep the document parsed from `text` at `path` for later runs (silently skipped if it cannot)."""
    try:
        where = _cache_file(path, text)
    except (OSError, RuntimeError):
        return
    save_atomically(where, lambda f: pickle.dump(document, f, protocol=pickle.HIGHEST_PROTOCOL))
