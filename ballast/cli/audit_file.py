"""`--audit FILE` of the commands that write what they decide: a JSON-lines trail, or an audit
ledger when the name says SQLite (eval, preflight/confirm/execute, route/vote, supervise,
profile)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

LEDGER_SUFFIXES = (".sqlite", ".sqlite3", ".db")  # --audit FILE with one of these is a ledger


def is_ledger(path: str) -> bool:
    return path.lower().endswith(LEDGER_SUFFIXES)


@contextlib.contextmanager
def opened_audit(path: str | None) -> Iterator[Any]:
    """An `AuditLog` appending to `path` (None without one), closed on the way out."""
    from ballast.runtime.audit import AuditLog
    from ballast.runtime.errors import UsageError

    if not path:
        yield None
        return
    ledger = audit = None
    try:
        if is_ledger(path):
            from ballast.runtime.ledger import Ledger

            ledger = Ledger.open(path)
            audit = AuditLog(ledger, measure=False)
        else:
            audit = AuditLog.append_to(path, measure=False)
        yield audit
    finally:
        with contextlib.suppress(UsageError):
            if audit is not None:
                audit.close()
            if ledger is not None:
                ledger.close()


__all__ = ["LEDGER_SUFFIXES", "is_ledger", "opened_audit"]
