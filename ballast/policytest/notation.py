"""The series notation of policy tests, as in `promtool test rules`.

A series is a whitespace-separated list of terms, each expanding to one or more samples:

| term      | samples                                   | example                     |
|-----------|-------------------------------------------|-----------------------------|
| `v`       | `v`                                       | `0.5` → 0.5                 |
| `vxN`     | `v` and N more copies (N+1 samples)       | `0.5x3` → 0.5 0.5 0.5 0.5   |
| `a+bxN`   | `a`, then N more, each `b` larger         | `1+2x3` → 1 3 5 7           |
| `a-bxN`   | `a`, then N more, each `b` smaller        | `10-2.5x2` → 10 7.5 5       |
| `_`       | no sample at that step                    | `1 _ 3`                     |
| `_xN`     | N steps without a sample (N, not N+1)     | `1 _x2 3` → 1 _ _ 3         |

A number without `.` or an exponent is an int, any other a float. Progressions of decimals are
rounded to the decimals written (`0.5+0.05x2` → 0.5 0.55 0.6, not 0.6000000000000001). A
missing sample is `None`. `encode` writes a list back in a short canonical form, and
`expand(encode(xs)) == xs` for every list of ints, finite floats and `None`.
"""

from __future__ import annotations

import math
import re

Sample = int | float | None

MAX_SAMPLES = 1_000_000  # a typo such as `1x1000000000` must not exhaust memory

_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_UNSIGNED = r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_TERM = re.compile(rf"(?P<a>{_NUMBER})(?:(?P<sign>[-+])(?P<b>{_UNSIGNED}))?(?:x(?P<n>\d+))?")
_MISSING = re.compile(r"_(?:x(?P<n>\d+))?")
_TOKEN = re.compile(r"\S+")

HINT = (
    "write a value (`0.5`), a repeat (`0.5x3`: 0.5 four times), a progression "
    "(`1+2x3`: 1 3 5 7) or `_` for a step without a sample"
)


class NotationError(Exception):
    """A term that is not series notation; `offset` and `length` locate it in the text."""

    def __init__(self, message: str, offset: int, length: int, hint: str = HINT) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.length = length
        self.hint = hint


def expand(text: str) -> list[Sample]:
    """The samples a series notation stands for; raises NotationError naming the bad term."""
    out: list[Sample] = []
    for match in _TOKEN.finditer(text):
        term, offset = match.group(), match.start()
        samples = _term(term, offset)
        if len(out) + len(samples) > MAX_SAMPLES:
            raise NotationError(
                f"the series is longer than {MAX_SAMPLES:,} samples", offset, len(term), "shorten the repeat count"
            )
        out.extend(samples)
    return out


def _term(term: str, offset: int) -> list[Sample]:
    missing = _MISSING.fullmatch(term)
    if missing:
        if missing["n"] is None:
            return [None]
        count = int(missing["n"])
        if count == 0:
            raise NotationError(f"'{term}' stands for no step", offset, len(term), "`_xN` is N steps without a sample")
        _check_count(count, term, offset)
        return [None] * count
    if term == "stale":
        raise NotationError("Ballast has no stale samples", offset, len(term), "write `_` for a step without a sample")
    match = _TERM.fullmatch(term)
    if match is None:
        raise NotationError(f"'{term}' is not a sample", offset, len(term))
    first = _number(match["a"], term, offset)
    count = int(match["n"]) if match["n"] is not None else 0
    _check_count(count + 1, term, offset)
    if match["sign"] is None:
        return [first] * (count + 1)
    if match["n"] is None:
        raise NotationError(
            f"'{term}' has a step but no count", offset, len(term), f"write `{term}xN` for N more samples"
        )
    step = _number(match["b"], term, offset)
    if match["sign"] == "-":
        step = -step
    if isinstance(first, int) and isinstance(step, int):
        return [first + i * step for i in range(count + 1)]
    digits = max(_decimals(match["a"]), _decimals(match["b"]))
    values = [first + i * step for i in range(count + 1)]
    if digits is not None:
        values = [round(v, digits) for v in values]
    return [float(v) for v in values]


def _number(text: str, term: str, offset: int) -> int | float:
    if re.fullmatch(r"[-+]?\d+", text):
        return int(text)
    value = float(text)
    if not math.isfinite(value):
        raise NotationError(f"'{term}' is not a finite number", offset, len(term), "write a smaller number")
    return value


def _decimals(text: str) -> int | None:
    """Digits after the point as written; None with an exponent (the sum is kept as computed)."""
    if "e" in text or "E" in text:
        return None
    return len(text.split(".", 1)[1]) if "." in text else 0


def _check_count(count: int, term: str, offset: int) -> None:
    if count > MAX_SAMPLES:
        raise NotationError(
            f"'{term}' stands for {count:,} samples, more than {MAX_SAMPLES:,}",
            offset,
            len(term),
            "shorten the repeat count",
        )


def encode(samples: list[Sample]) -> str:
    """The shortest notation of `samples` this module writes: runs of one value as `vxN`, runs
    of `None` as `_xN`, and int progressions of three or more as `a+bxN` (the inverse of
    `expand`; floats are never written as progressions, whose sums could round)."""
    terms: list[str] = []
    i = 0
    while i < len(samples):
        value = samples[i]
        j = i + 1
        while j < len(samples) and _same(samples[j], value):
            j += 1
        progression = _progression(samples, i)
        if progression - i >= 3 and progression > j:
            step = samples[i + 1] - value  # type: ignore[operator]
            sign = "+" if step > 0 else "-"
            terms.append(f"{_format(value)}{sign}{abs(step)}x{progression - i - 1}")  # type: ignore[arg-type]
            i = progression
            continue
        run = j - i
        if value is None:
            terms.append("_" if run == 1 else f"_x{run}")
        else:
            text = _format(value)
            terms.append(text if run == 1 else f"{text}x{run - 1}")
        i = j
    return " ".join(terms)


def _progression(samples: list[Sample], i: int) -> int:
    """The end of the int progression with a non-zero step that starts at i (i + 1 if none)."""
    first = samples[i]
    if type(first) is not int or i + 1 >= len(samples) or type(samples[i + 1]) is not int:
        return i + 1
    step = samples[i + 1] - first  # type: ignore[operator]
    if step == 0:
        return i + 1
    j = i + 2
    while j < len(samples) and type(samples[j]) is int and samples[j] - samples[j - 1] == step:  # type: ignore[operator]
        j += 1
    return j


def _same(a: Sample, b: Sample) -> bool:
    return type(a) is type(b) and (a is None or repr(a) == repr(b))


def _format(value: int | float) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"series samples are numbers or None, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"series samples are finite numbers, got {value!r}")
    return repr(value)


__all__ = ["MAX_SAMPLES", "NotationError", "Sample", "encode", "expand"]
