"""The columnar back-end's optional dependencies (numpy, pyarrow), imported in one place.

The runtime stays standard-library only; the columnar path is the `columnar` extra. Whatever
needs numpy or pyarrow calls `require()` and gets a UsageError naming the fix when they are
missing, never an ImportError.
"""

from __future__ import annotations

from types import ModuleType

from ballast.runtime.errors import UsageError

INSTALL_HINT = "pip install 'ballast[columnar]'"


def require(what: str = "the columnar engine") -> tuple[ModuleType, ModuleType, ModuleType]:
    """(numpy, pyarrow, pyarrow.compute); UsageError naming `what` needs them when they are missing."""
    try:
        import numpy
        import pyarrow
        import pyarrow.compute
    except ImportError as exc:
        raise UsageError(f"{what} needs numpy and pyarrow ({exc.name} is missing): {INSTALL_HINT}") from None
    return numpy, pyarrow, pyarrow.compute


def available() -> bool:
    """Whether numpy and pyarrow can be imported (what `--engine auto` asks)."""
    try:
        require()
    except UsageError:
        return False
    return True


__all__ = ["INSTALL_HINT", "available", "require"]
