"""Opening a Service from files: the bundle, the keyring, the ledger, the approval store.

What `ballast serve` does before it listens, as one call a host (or a test, or a bus consumer
sharing the service) can make. The bundle must be signed for the keyring: a service that takes
policy changes over the network never runs a bundle it has not verified.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from ballast.runtime.audit import AuditLog
from ballast.runtime.errors import UsageError
from ballast.runtime.keyring import Keyring
from ballast.runtime.safety import SafetyCatalog
from ballast.runtime.signing import Signer
from ballast.runtime.store import PolicyStore
from ballast.service.core import Service, ServiceOptions


def open_service(
    bundle: bytes | str | os.PathLike[str],
    trust: Keyring | str | os.PathLike[str],
    *,
    ledger: str | os.PathLike[str] | None = None,
    ledger_signer: Signer | None = None,
    safety: SafetyCatalog | None = None,
    approvals: str | os.PathLike[str] | None = None,
    options: ServiceOptions | None = None,
    clock: Callable[[], float] = time.time,
) -> Service:
    """A Service running `bundle` (its bytes or its file), which `trust` must trust.

    `ledger`: the audit ledger (SQLite) every policy change, directive and preflight is written
    to, its checkpoints signed by `ledger_signer`. `approvals`: the SQLite approval store where
    preflight books tickets (`ballast confirm` / `execute --store` continue from it). Raises
    BundleError when the bundle is refused, UsageError (or LedgerError) for the rest.
    """
    audit = None
    ledger_file = None
    if ledger is not None:
        from ballast.runtime.ledger import Ledger

        ledger_file = Ledger.open(ledger, signer=ledger_signer)
        audit = AuditLog(ledger_file, measure=False)  # latencies are in /metrics; the trail stays reproducible
    try:
        store = PolicyStore(trust, audit=audit, stateful=True, engine_audit=audit, clock=clock, name="ballast serve")
        # a path is read by the store, within the file size limit, and named in its messages
        store.propose(bundle if isinstance(bundle, bytes) else os.fspath(bundle)).check()
        approval_store = None
        if approvals is not None:
            from ballast.runtime.approval_store import SqliteApprovalStore

            approval_store = SqliteApprovalStore(os.fspath(approvals))
        return Service(store, audit=audit, safety=safety, approvals=approval_store, options=options, clock=clock)
    except BaseException:
        if ledger_file is not None:
            ledger_file.close()
        raise


def read_token(path: str | os.PathLike[str]) -> str:
    """The admin token in a file (its first line, without surrounding blanks); UsageError if none."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--admin-token-file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise UsageError(f"--admin-token-file {path}: not UTF-8 text") from None
    token = text.strip().splitlines()[0].strip() if text.strip() else ""
    if len(token) < 16:
        raise UsageError(
            f"--admin-token-file {path}: the token has {len(token)} characters; use at least 16 "
            "(for instance: python -c 'import secrets; print(secrets.token_urlsafe(32))' > FILE)"
        )
    return token


__all__ = ["open_service", "read_token"]
