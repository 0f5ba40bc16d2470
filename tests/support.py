"""Helpers shared by the test modules (pytest puts this folder on sys.path)."""

from __future__ import annotations

import io
import struct
from typing import Any


def same_value(a: Any, b: Any) -> bool:
    """Equal and of the same type, recursively; floats bit for bit (so 0.0 is not -0.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return struct.pack("<d", a) == struct.pack("<d", b)
    if isinstance(a, list):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    return a == b


def run_cli(*args: object, stdin: str = "", stdout: io.StringIO | None = None) -> tuple[int, str, str]:
    """The `ballast` command in-process with string streams: (exit code, stdout, stderr)."""
    from ballast.cli import main

    out, err = stdout or io.StringIO(), io.StringIO()
    code = main([str(a) for a in args], stdout=out, stderr=err, stdin=io.StringIO(stdin))
    return code, out.getvalue(), err.getvalue()
