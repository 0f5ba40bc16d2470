"""A signed test bundle (a policy and a threat), its keyring, and a Service over them.

Keys come from fixed seeds so a failure reproduces; the keyring is the docs' shape (MetaAdmin
needs two of alice and bob; carol holds only Operator). Bundles are compiled with
source_date_epoch=0, so the same arguments give the same bytes.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any

from ballast.compiler.pipeline import compile_paths
from ballast.runtime.bundle import dump_bundle
from ballast.runtime.keyring import Keyring, Role, TrustedKey
from ballast.runtime.safety import SafetyCatalog
from ballast.runtime.signing import PrivateKey, sign_bundle
from ballast.service import Service, ServiceOptions, open_service

NOW = 1_780_000_000.0  # the keys' validity is judged at this time
REPO = Path(__file__).resolve().parents[2]
TOKEN = "s3cret-admin-token-for-tests"


def key(name: str) -> PrivateKey:
    return PrivateKey.from_seed(hashlib.sha256(name.encode()).digest(), name)


ALICE, BOB, CAROL, MALLORY = key("alice"), key("bob"), key("carol"), key("mallory")


def keyring() -> Keyring:
    def trusted(k: PrivateKey, *roles: str) -> TrustedKey:
        return TrustedKey(k.key_id, k.public_key, frozenset(roles), k.name)

    return Keyring(
        "test",
        {"Operator": Role("Operator", 1), "MetaAdmin": Role("MetaAdmin", 2)},
        (trusted(ALICE, "Operator", "MetaAdmin"), trusted(BOB, "Operator", "MetaAdmin"), trusted(CAROL, "Operator")),
        "Operator",
        "test-keyring",
        {},
    )


# `warm` scales a pool whose load is over {threshold}; `guard` turns the `risk` of signals into
# a ThreatIndex (the index follows risk with smoothing 0.5) and its modes.
POLICY = """\
policy demo version "{version}" {{
  input ev {{
    pool: string
    load: float in [0, 1]
    ts: timestamp
  }}
  stream {{ time ts }}
  rule warm {{
    when load > {threshold}
    then scale(targets: pool, by: 2)
    reason "load {{load}} on pool {{pool}}"
  }}
}}
"""

THREAT = """\
threat guard version "{version}" {{
  input signals {{
    ts: timestamp
    risk?: float in [0, 100]
  }}
  stream {{ time ts }}
  source risk weight 1 from risk
  smooth ewma(0.5)
  mode heightened when index >= 40 exit below 35
  mode lockdown when index >= 75 exit below 60
  governor {{ floor 30 }}
}}
"""


@functools.cache
def compiled(version: str = "1.0.0", threshold: float = 0.5) -> dict[str, Any]:
    sources = {
        "demo.bal": POLICY.format(version=version, threshold=threshold),
        "guard.bal": THREAT.format(version=version),
    }
    return compile_paths(sorted(sources), sources=sources, source_date_epoch=0).bundle


def signed(bundle: dict[str, Any], *keys: PrivateKey) -> bytes:
    for k in keys:
        bundle = sign_bundle(bundle, k, now=NOW - 86400)
    return dump_bundle(bundle)


@functools.cache
def release(version: str = "1.0.0", threshold: float = 0.5) -> bytes:
    """The demo bundle signed by alice and bob (MetaAdmin, threshold 2)."""
    return signed(compiled(version, threshold), ALICE, BOB)


@functools.cache
def safety_catalog() -> SafetyCatalog:
    program = compile_paths([str(REPO / "docs" / "examples" / "safety-lite.yaml")]).program
    return SafetyCatalog(program.safety[0])


def service(*, ledger: Path | None = None, safety: bool = False, clock: Any = None, **options: Any) -> Service:
    """A Service running release("1.0.0"); `options` are ServiceOptions."""
    return open_service(
        release(),
        keyring(),
        ledger=ledger,
        safety=safety_catalog() if safety else None,
        options=ServiceOptions(**options),
        clock=clock or (lambda: NOW),
    )


def event(load: float, ts: float = NOW, pool: str = "p1") -> dict[str, Any]:
    return {"pool": pool, "load": load, "ts": ts}
