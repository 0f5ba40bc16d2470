"""The embeddable runtime: load a bundle, evaluate events, get directives.

Imports only the standard library, so a service can embed it without the compiler's
dependencies (a test proves this in a fresh interpreter).

    >>> from ballast.runtime import load_bundle
    >>> policies = load_bundle("motb.bundle.json")       # doctest: +SKIP
    >>> result = policies.evaluate({"load": 0.92, ...})  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ballast.runtime.errors import (
    BallastError,
    BundleError,
    CompileError,
    EvaluationError,
    InternalError,
    UsageError,
)

if TYPE_CHECKING:
    from ballast.runtime.engine import Engine
    from ballast.runtime.keyring import Keyring
    from ballast.runtime.policy import Directive, PolicySet, Problem, Result

# Imported on first use: importing any runtime module (`ballast.runtime.errors`, which every
# command of the CLI needs) runs this file first, and `ballast --version` must not pay for the
# evaluator (docs/performance.md, "CLI start-up").
_LAZY = {name: "ballast.runtime.policy" for name in ("Directive", "PolicySet", "Problem", "Result")}
_LAZY["Engine"] = "ballast.runtime.engine"


def __getattr__(name: str) -> Any:
    """Import a re-exported name the first time it is read."""
    if name not in _LAZY:
        raise AttributeError(f"module 'ballast.runtime' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value  # later reads are plain global lookups
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


def load_bundle(
    path: str | Path,
    *,
    trust: Keyring | str | Path | None = None,
    allow_unsigned: bool = False,
    role: str | None = None,
    now: float | None = None,
) -> PolicySet:
    """A policy set from a bundle file that the caller's keyring trusts.

    `trust` is a Keyring or the path of a JSON keyring: the bundle's signatures must satisfy it
    for `role` (the keyring's default role when None) at time `now` (the clock when None), and
    the file must be byte for byte as signed. Without `trust`, the bundle is refused unless
    `allow_unsigned=True` (development: logged as a warning), which admits unsigned bundles only,
    never a failing signature. Raises BundleError (its `reason` names what failed) when the file
    is unreadable, tampered with or not trusted; UsageError for an unknown role.
    """
    from ballast.runtime.signing import read_trusted_bundle

    bundle, _ = read_trusted_bundle(path, trust=trust, allow_unsigned=allow_unsigned, role=role, now=now)
    return from_checked_bundle(bundle, str(path))


def from_bundle(
    bundle: dict[str, Any],
    where: str = "bundle",
    *,
    trust: Keyring | str | Path | None = None,
    allow_unsigned: bool = False,
    role: str | None = None,
    now: float | None = None,
) -> PolicySet:
    """A policy set from an already-parsed bundle, checked as `load_bundle` checks a file (but
    without the byte-for-byte comparison, there being no file)."""
    from ballast.runtime.bundle import verify_bundle
    from ballast.runtime.keyring import resolve_keyring
    from ballast.runtime.signing import check_trust

    keyring = resolve_keyring(trust)
    verify_bundle(bundle, where)
    check_trust(bundle, where, trust=keyring, allow_unsigned=allow_unsigned, role=role, now=now)
    return from_checked_bundle(bundle, where)


def from_checked_bundle(bundle: dict[str, Any], where: str = "bundle") -> PolicySet:
    """The evaluators rebuilt from the IR of a bundle already checked and admitted
    (`ballast.runtime.signing.read_trusted_bundle`): never code from the bundle.

    The IR may still be malformed (a bug of the compiler that wrote it, or an unsigned bundle
    edited with its fingerprint recomputed): whatever building it raises becomes a BundleError.
    """
    from ballast.runtime.engine import Engine
    from ballast.runtime.policy import PolicySet

    try:
        policy_set = PolicySet(bundle["ir"])
        if policy_set.threats or any(p.timing_ir["rules"] or p.timing_ir["stream"] for p in policy_set.policies):
            # what only an Engine builds (timed rules, streams, threats) is built once here, so a
            # malformed part is refused now rather than by the first Engine of a loaded set
            Engine(policy_set)
        return policy_set
    except BundleError:
        raise
    except Exception as exc:  # untrusted input: every failure to build is the bundle's (a UsageError too)
        raise BundleError(
            f"{where}: the IR is malformed ({_short(exc)}); recompile with `ballast compile`", reason="malformed-ir"
        ) from None


def _short(exc: BaseException) -> str:
    text = repr(exc)
    return text if len(text) <= 200 else text[:199] + "…"


__all__ = [
    "BallastError",
    "BundleError",
    "CompileError",
    "Directive",
    "Engine",
    "EvaluationError",
    "InternalError",
    "PolicySet",
    "Problem",
    "Result",
    "UsageError",
    "from_bundle",
    "from_checked_bundle",
    "load_bundle",
]
