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


def load_bundle(path: str | Path) -> PolicySet:
    """A policy set from a bundle file; raises BundleError if it is unreadable or tampered."""
    from ballast.runtime.bundle import read_bundle

    bundle = read_bundle(path)
    return from_bundle(bundle, str(path))


def from_bundle(bundle: dict[str, Any], where: str = "bundle") -> PolicySet:
    """A policy set from an already-parsed bundle (verified first)."""
    from ballast.runtime.bundle import verify_bundle
    from ballast.runtime.policy import PolicySet

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
    "Engine",
    "EvaluationError",
    "InternalError",
    "PolicySet",
    "Problem",
    "Result",
    "UsageError",
    "from_bundle",
    "load_bundle",
]
