"""Who may sign a ledger's checkpoints: a role of the keyring, checked as bundle signatures are.

A ledger has no keys of its own. A checkpoint is signed with a key that `ballast key new` wrote
(runtime/keyfiles.py `read_private_key`: a `PrivateKey` signs a checkpoint as it signs a bundle),
it records the key's keyring id (16 hex digits), and verification judges it with the rules of
signed bundles (runtime/signing.py `signature_refusal`), in the same order and the same words:
the key is in the keyring, the signature matches, the key is not revoked and the verifier's
clock is within its validity dates, and the key holds the ledger role, `LedgerWriter` unless the
caller names another. A checkpoint carries one signature, so that role's threshold must be 1.

The checkpoint's own time is the writer's word, as a bundle's `signed_at` is: recorded, never
believed. Revocation is judged whatever that time says, so revoking a key un-trusts every
checkpoint it ever signed (whoever stole it could sign a checkpoint "from last year"), and
validity dates are judged at the verifier's clock (`now`), which `--at` moves.

Ledgers written before the ledger shared the keyring's keys name their keys `ed25519:` and 16 hex
digits; their checkpoints are reported as `old-key-id`, with what to do.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ballast.runtime.errors import UsageError
from ballast.runtime.keyfiles import read_public_key
from ballast.runtime.keyring import Keyring, Role, TrustedKey, resolve_keyring
from ballast.runtime.signing import signature_refusal
from ballast.runtime.suggest import did_you_mean

__all__ = ["LEDGER_ROLE", "OLD_KEY_ID_PREFIX", "CheckpointTrust", "checkpoint_trust", "trust_public_keys"]

LEDGER_ROLE = "LedgerWriter"  # the role checkpoint signers hold unless the verifier names another
OLD_KEY_ID_PREFIX = "ed25519:"  # the key ids of the first ledgers, before they shared the keyring's


@dataclass(frozen=True, slots=True)
class CheckpointTrust:
    """The keys a verifier trusts to sign checkpoints: a keyring, the role they must hold, and the
    time validity dates are judged at. What `LedgerReader.verify` takes (see `checkpoint_trust`)."""

    keyring: Keyring
    role: str = LEDGER_ROLE
    now: float | None = None

    def refusal(self, key_id: str, message: bytes, signature: bytes) -> tuple[str, str] | None:
        """Why a checkpoint's signature does not count (a reason code and the words), or None."""
        if key_id.startswith(OLD_KEY_ID_PREFIX):
            return (
                "old-key-id",
                f"its key id {key_id[:40]} is of the format of the first ledgers, which this Ballast no longer "
                "checks; verify the chain alone (without --trust), and write new ledgers with a key of "
                f"`ballast key new` (its keyring id is {key_id[len(OLD_KEY_ID_PREFIX) :][:16]})",
            )
        now = time.time() if self.now is None else self.now
        return signature_refusal(self.keyring, key_id, message, signature, role=self.role, now=now)

    def name(self, key_id: str) -> str:
        """The keyring's name for a key ('' when it has none or is not in the keyring)."""
        key = self.keyring.key(key_id)
        return key.name if key is not None else ""


def checkpoint_trust(
    trust: Keyring | str | Path | CheckpointTrust, *, role: str | None = None, now: float | None = None
) -> CheckpointTrust:
    """The CheckpointTrust of a keyring (or a JSON keyring's path) for `role` (LEDGER_ROLE when
    None), judged at `now` (the clock when None).

    Raises UsageError when the keyring does not declare the role, or when the role needs more
    than one signer (a checkpoint carries one signature).
    """
    if isinstance(trust, CheckpointTrust):
        return trust
    keyring = resolve_keyring(trust)
    if keyring is None:
        raise UsageError("trust must be a Keyring or the path of a keyring file, got None")
    wanted = LEDGER_ROLE if role is None else role
    if wanted not in keyring.roles:
        hint = did_you_mean(wanted, keyring.roles) or f"its roles are: {', '.join(keyring.roles)}"
        raise UsageError(
            f"{keyring.source}: the keyring has no role {wanted!r} for the keys that sign ledger checkpoints ({hint}); "
            f"declare it (roles: {{{LEDGER_ROLE}: {{threshold: 1}}}}) and give it to the writers' keys, "
            "or name the role they hold (--role, role=)"
        )
    threshold = keyring.roles[wanted].threshold
    if threshold != 1:
        raise UsageError(
            f"{keyring.source}: role {wanted} needs {threshold} signers, but a ledger checkpoint carries one "
            f"signature; give the role that signs checkpoints threshold 1"
        )
    return CheckpointTrust(keyring, wanted, now)


def trust_public_keys(paths: Iterable[str | os.PathLike[str]], *, now: float | None = None) -> CheckpointTrust:
    """Trust exactly the public keys of these key files (`ballast key new`'s .pub or .key) to sign
    checkpoints: a keyring of those keys alone, each holding LEDGER_ROLE, none expiring."""
    names = [os.fspath(p) for p in paths]
    if not names:
        raise UsageError("give at least one public key file")
    keys: dict[str, TrustedKey] = {}
    for name in names:
        public = read_public_key(name)
        keys.setdefault(
            public.key_id, TrustedKey(public.key_id, public.public_key, frozenset({LEDGER_ROLE}), public.name)
        )
    keyring = Keyring(
        "public keys", {LEDGER_ROLE: Role(LEDGER_ROLE)}, tuple(keys.values()), LEDGER_ROLE, " and ".join(names)
    )
    return CheckpointTrust(keyring, LEDGER_ROLE, now)
