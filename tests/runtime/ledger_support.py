"""Helpers the ledger tests share: a ticking clock, keys, decisions, a small signed ledger."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ballast.runtime.keyring import Keyring, Role, TrustedKey
from ballast.runtime.ledger import Ledger
from ballast.runtime.ledger_keys import LEDGER_ROLE, CheckpointTrust
from ballast.runtime.ledger_read import LedgerReader
from ballast.runtime.signing import PrivateKey

SEED = bytes(range(32))
OTHER_SEED = bytes(range(1, 33))
T0 = 1_763_200_000.0  # 2025-11-15T09:46:40Z


class Clock:
    """A clock that ticks one second per reading, from T0."""

    def __init__(self, start: float = T0) -> None:
        self.now = start

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def signer(seed: bytes = SEED, name: str = "") -> PrivateKey:
    return PrivateKey.from_seed(seed, name)


def trusted(seed: bytes = SEED, *, roles: tuple[str, ...] = (LEDGER_ROLE,), name: str = "", **dates: Any) -> TrustedKey:
    """The keyring entry of a seed's key (`not_before`, `not_after`, `revoked` as keywords)."""
    key = signer(seed)
    return TrustedKey(key.key_id, key.public_key, frozenset(roles), name, **dates)


def keyring(*keys: TrustedKey, roles: tuple[str, ...] = (LEDGER_ROLE, "Operator")) -> Keyring:
    return Keyring("test", {r: Role(r) for r in roles}, keys, roles[-1], "test-keyring")


def verifier(seed: bytes = SEED) -> CheckpointTrust:
    """Trust the key of `seed`, and it alone, to sign checkpoints."""
    return CheckpointTrust(keyring(trusted(seed)))


def decision(i: int, actor: str = "motb.orchestration/batch_shed_on_load", outcome: str = "pause") -> dict[str, Any]:
    return {
        "kind": "DirectiveIssued",
        "action_id": f"dir-{i:04d}",
        "subject": f"pool-{i % 3}",
        "actor": actor,
        "scope": actor.split("/")[0],
        "outcome": outcome,
        "reason": f"decision {i}",
        "latency_ms": None,
        "narrative": {"who": actor, "what": f"{outcome} pool-{i % 3}", "when": None, "where": "", "why": [], "how": ""},
    }


def make(path: Path, n: int = 30, *, every: int = 10, seed: bytes | None = SEED) -> Path:
    with Ledger.open(path, signer=signer(seed) if seed else None, checkpoint_every=every, clock=Clock()) as ledger:
        for i in range(1, n + 1):
            ledger.append(decision(i))
    return path


def verify(path: Path, trust: Any = None) -> Any:
    with LedgerReader.open(path) as reader:
        return reader.verify(trust)
