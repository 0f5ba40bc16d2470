"""The embeddable runtime: load a bundle, evaluate events, get directives.

Imports only the standard library, so a service can embed it without the compiler's
dependencies (a test proves this in a fresh interpreter).

    >>> from ballast.runtime import load_bundle
    >>> policies = load_bundle("motb.bundle.json")       # doctest: +SKIP
    >>> result = policies.evaluate({"load": 0.92, ...})  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ballast.runtime.bundle import read_bundle, verify_bundle
from ballast.runtime.errors import (
    BallastError,
    BundleError,
    CompileError,
    EvaluationError,
    InternalError,
    UsageError,
)
from ballast.runtime.policy import Directive, PolicySet, Problem, Result


def load_bundle(path: str | Path) -> PolicySet:
    """A policy set from a bundle file; raises BundleError if it is unreadable or tampered."""
    bundle = read_bundle(path)
    return from_bundle(bundle, str(path))


def from_bundle(bundle: dict[str, Any], where: str = "bundle") -> PolicySet:
    """A policy set from an already-parsed bundle (verified first)."""
    verify_bundle(bundle, where)
    try:
        return PolicySet(bundle["ir"])
    except (KeyError, TypeError, ValueError, SyntaxError) as exc:
        raise BundleError(f"{where}: the IR is malformed ({exc!r}); recompile with `ballast compile`") from None


__all__ = [
    "BallastError",
    "BundleError",
    "CompileError",
    "Directive",
    "EvaluationError",
    "InternalError",
    "PolicySet",
    "Problem",
    "Result",
    "UsageError",
    "from_bundle",
    "load_bundle",
]
