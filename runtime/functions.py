"""Implementations of the builtin functions, shared by generated code and the interpreter.

Each raises EvaluationError for inputs it cannot handle, so both back-ends fault the same way.
Where Python's behaviour differs from what the language promises (banker's rounding, negative
list indices) these functions implement the language.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from functools import cache
from typing import Any

from ballast.runtime.errors import EvaluationError


def _round(x: float, digits: int | None = None) -> float | int:
    """Half away from zero, as people round (Python's round() rounds half to even)."""
    scale = 10.0 ** (digits or 0)
    value = math.floor(abs(x) * scale + 0.5) / scale
    value = math.copysign(value, x)
    return int(value) if digits is None else value


def _clamp(x: Any, low: Any, high: Any) -> Any:
    if low > high:
        raise EvaluationError(f"clamp(): low {low!r} is above high {high!r}")
    return low if x < low else high if x > high else x


def _minmax(pick: Callable[..., Any], name: str) -> Callable[..., Any]:
    def call(*args: Any) -> Any:
        values = args[0] if len(args) == 1 else args
        if not values:
            raise EvaluationError(f"{name}() of an empty list")
        return pick(values)

    return call


def _contains(hay: Any, needle: Any) -> bool:
    return needle in hay


def _len(x: Any) -> int:
    return len(x)


_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


def _to_int(x: Any) -> int:
    if isinstance(x, str):
        # Plain ASCII digits only: Python's int() also takes "1_000" and non-Latin digits.
        if not _INTEGER.fullmatch(x.strip()):
            raise EvaluationError(f"int(): {x!r} is not an integer")
        return int(x.strip())
    if isinstance(x, float) and not math.isfinite(x):
        raise EvaluationError(f"int(): {x!r} has no integer value")
    return int(x)


def _to_float(x: Any) -> float:
    if isinstance(x, str) and not _DECIMAL.fullmatch(x.strip()):
        raise EvaluationError(f"float(): {x!r} is not a decimal number")
    value = float(x)
    if not math.isfinite(value):
        raise EvaluationError(f"float(): {x!r} is not finite")
    return value


def _to_string(x: Any) -> str:
    return render(x)


def index(container: Any, key: Any) -> Any:
    """`a[i]` with the language's rules: no negative list indices, a clear error when absent."""
    if isinstance(container, list):
        if type(key) is not int or key < 0 or key >= len(container):
            raise EvaluationError(f"index {render(key)} out of range for a list of {len(container)}")
        return container[key]
    if container is None:
        raise EvaluationError("indexing an absent value")
    try:
        return container[key]
    except KeyError:
        shown = json.dumps(key) if isinstance(key, str) else render(key)
        raise EvaluationError(f"no key {shown} in map") from None


@cache
def regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def matches(text: str, pattern: str) -> bool:
    """RE2-style partial match, as CEL's matches()."""
    return regex(pattern).search(text) is not None


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": abs,
    "min": _minmax(min, "min"),
    "max": _minmax(max, "max"),
    "len": _len,
    "lower": str.lower,
    "upper": str.upper,
    "startswith": str.startswith,
    "endswith": str.endswith,
    "contains": _contains,
    "matches": matches,
    "round": _round,
    "clamp": _clamp,
    "int": _to_int,
    "float": _to_float,
    "string": _to_string,
}


def render(value: Any, quote: bool = False) -> str:
    """A value as the language writes it: true/false/null, lists in brackets; strings bare
    (for reasons and messages) or, with `quote`, as string literals (for source text)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False) if quote else value
    if isinstance(value, list):
        return "[" + ", ".join(render(v, quote) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{render(k, quote)}: {render(v, quote)}" for k, v in value.items()) + "}"
    return repr(value) if quote else str(value)
