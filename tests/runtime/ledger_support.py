"""Helpers the ledger tests share: a ticking clock, keys, decisions, a small signed ledger."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ballast.runtime.ledger import Ledger
from ballast.runtime.ledger_keys import Ed25519Signer, KeyVerifier
from ballast.runtime.ledger_read import LedgerReader

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


def signer(seed: bytes = SEED) -> Ed25519Signer:
    return Ed25519Signer(seed)


def verifier(seed: bytes = SEED) -> KeyVerifier:
    s = signer(seed)
    return KeyVerifier({s.key_id: s.public_key})


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
