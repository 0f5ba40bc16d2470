"""The one "did you mean" of Ballast: the known name a misspelt one most likely meant.

Every reader and checker that rejects a name (an unknown key, field, rule, KPI, enum value)
suggests through here, so what counts as "close" is the same everywhere: difflib's ratio of at
least 0.6, the single best candidate. It lives in `runtime/` because the runtime (standard library
only) suggests too; `dsl/`, `compiler/`, `simulator/` and `ballast/` import it from here.

>>> closest("duraton", ["scenario", "duration", "pools"])
'duration'
>>> did_you_mean("lod", ["load", "risk"])
"did you mean 'load'?"
>>> did_you_mean("zzz", ["load", "risk"])
''
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["CUTOFF", "closest", "did_you_mean"]

CUTOFF = 0.6  # difflib's similarity ratio a candidate needs to be suggested


def closest(name: object, candidates: Iterable[object]) -> str | None:
    """The candidate `name` most likely meant, or None when none is close enough.

    `name` and the candidates are compared as strings (YAML keys may be numbers or booleans).
    """
    close = difflib.get_close_matches(str(name), [str(c) for c in candidates], n=1, cutoff=CUTOFF)
    return close[0] if close else None


def did_you_mean(name: object, candidates: Iterable[object]) -> str:
    """The hint `did you mean 'x'?` for the closest candidate, or "" when none is close."""
    close = closest(name, candidates)
    return f"did you mean '{close}'?" if close else ""
