"""Reading an audit trail back: the JSON lines `AuditLog` writes, or an audit ledger (SQLite).

`read_trail(path)` yields the entries oldest first, streaming: a trail of millions of lines is
never held whole. A line that is not a JSON object raises `UsageError` naming the file, the line
and the fix; blank lines are skipped.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

from ballast.runtime.errors import UsageError
from ballast.runtime.ledger_read import LedgerReader, is_sqlite

MAX_LINE = 1 << 20  # bytes: an audit entry is a few hundred; a longer line is not one


def read_trail(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """The entries of the trail at `path` (JSON lines, or a ledger when the file is SQLite)."""
    name = os.fspath(path)
    if not os.path.isfile(name):
        raise UsageError(f"{name}: no such audit trail (a JSON-lines file or an audit ledger)")
    if is_sqlite(name):
        with LedgerReader.open(name) as ledger:
            yield from ledger.entries()
        return
    try:
        with open(name, encoding="utf-8") as lines:
            number = 0
            while line := lines.readline(MAX_LINE + 1):  # bounded: a file without newlines is never read whole
                number += 1
                if len(line) > MAX_LINE:
                    raise UsageError(f"{name}:{number}: a line longer than {MAX_LINE} characters is not an audit entry")
                if not line.strip():
                    continue
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise UsageError(
                        f"{name}:{number}:{exc.colno}: not JSON ({exc.msg}): an audit trail holds one JSON object a line"
                    ) from None
                if not isinstance(entry, dict):
                    raise UsageError(f"{name}:{number}: an audit entry is a JSON object, got {type(entry).__name__}")
                yield entry
    except UnicodeDecodeError as exc:
        raise UsageError(f"{name}: not UTF-8 text at byte {exc.start}: is it an audit trail?") from None
