"""Signed test bundles and a keyring for the PolicyStore and reload tests.

Keys come from fixed seeds so a failure reproduces. The keyring is the docs' shape: Operator
(threshold 1) and MetaAdmin (threshold 2); alice and bob hold both, carol only Operator.
"""

from __future__ import annotations

import functools
import hashlib
from typing import Any

from ballast.compiler.pipeline import compile_paths
from ballast.runtime.bundle import dump_bundle
from ballast.runtime.keyring import Keyring, Role, TrustedKey
from ballast.runtime.signing import PrivateKey, sign_bundle

NOW = 1_780_000_000.0  # the store's clock in these tests: validity dates are judged at it


def key(name: str) -> PrivateKey:
    return PrivateKey.from_seed(hashlib.sha256(name.encode()).digest(), name)


ALICE, BOB, CAROL, MALLORY = key("alice"), key("bob"), key("carol"), key("mallory")


def keyring(document_roles: dict[str, str] | None = None) -> Keyring:
    def trusted(k: PrivateKey, *roles: str) -> TrustedKey:
        return TrustedKey(k.key_id, k.public_key, frozenset(roles), k.name)

    return Keyring(
        "test",
        {"Operator": Role("Operator", 1), "MetaAdmin": Role("MetaAdmin", 2)},
        (
            trusted(ALICE, "Operator", "MetaAdmin"),
            trusted(BOB, "Operator", "MetaAdmin"),
            trusted(CAROL, "Operator"),
        ),
        "Operator",
        "test-keyring",
        document_roles or {},
    )


# A stateless rule (`warm`) and a stateful one (`hot`, `for 30s`, per pool). `{threshold}` and
# `{by}` change decisions without changing the state shape (`hot` scales by 10 × `by`, so each
# directive says which version issued it); `{hold}` changes the shape.
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
    then scale(targets: pool, by: {by})
  }}
  rule hot {{
    when load > 0.9 for {hold} group by pool
    then scale(targets: pool, by: {hot_by})
  }}
}}
"""

STATELESS = """\
policy flat version "{version}" {{
  input ev {{
    pool: string
    load: float in [0, 1]
  }}
  rule warm {{
    when load > {threshold}
    then scale(targets: pool, by: {by})
  }}
}}
"""


@functools.cache
def compiled(
    version: str = "1.0.0", threshold: float = 0.5, by: int = 1, hold: str = "30s", template: str = POLICY
) -> dict[str, Any]:
    source = template.format(version=version, threshold=threshold, by=by, hot_by=10 * by, hold=hold)
    return compile_paths(["demo.bal"], sources={"demo.bal": source}, source_date_epoch=0).bundle


def signed(bundle: dict[str, Any], *keys: PrivateKey) -> bytes:
    """The bundle's file bytes, signed by each key in turn."""
    for k in keys:
        bundle = sign_bundle(bundle, k, now=NOW - 86400)
    return dump_bundle(bundle)


@functools.cache
def release(version: str = "1.0.0", **changes: Any) -> bytes:
    """A bundle of the demo policy signed by alice and bob (MetaAdmin, threshold 2)."""
    return signed(compiled(version, **changes), ALICE, BOB)
