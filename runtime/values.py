"""Value conventions shared by the compiler and the runtime: durations and timestamps.

Durations are float seconds and timestamps float seconds since the Unix epoch (UTC), so that
arithmetic and comparison between them are plain float operations in generated code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from datetime import UTC, date, datetime

_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_DURATION_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+")


def parse_duration(text: str) -> float | None:
    """Seconds in a duration such as `30s`, `5m`, `1h30m`, `250ms`; None when it is not one."""
    if not _DURATION_WHOLE.fullmatch(text):
        return None
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION.findall(text))


def format_duration(seconds: float) -> str:
    """The shortest canonical spelling: 90 → `1m30s`, 0.25 → `250ms`."""
    if seconds == 0:
        return "0s"
    parts = []
    rest = seconds
    for unit in ("d", "h", "m", "s"):
        size = _UNIT_SECONDS[unit]
        count = int(rest // size)
        if count:
            parts.append(f"{count}{unit}")
            rest -= count * size
    millis = round(rest * 1000, 6)
    if millis:
        parts.append(f"{millis:g}ms")
    return "".join(parts)


# Event times are kept between 1900 and 9000 so that every time the engine derives from them
# (plus a window, a hold or a cooldown) is still a date `datetime` can print.
EARLIEST_TIME = -2208988800.0  # 1900-01-01T00:00:00Z
LATEST_TIME = 221845392000.0  # 9000-01-01T00:00:00Z


def parse_timestamp(value: object) -> float | None:
    """Epoch seconds from an RFC 3339 string or a number; None when it is neither, or when it
    lies outside [EARLIEST_TIME, LATEST_TIME] (NaN and infinities included)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if EARLIEST_TIME <= value <= LATEST_TIME else None
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        try:
            seconds = moment.timestamp()
        except (OverflowError, ValueError):  # year 1 with a positive offset, and the like
            return None
        return seconds if EARLIEST_TIME <= seconds <= LATEST_TIME else None
    return None


def iso(t: float) -> str:
    """An event time as RFC 3339 text in UTC, as engine events and audit entries print it:
    1700000000.0 → `2023-11-14T22:13:20Z`."""
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def describe(value: object) -> str:
    """A value read from a document (YAML, JSON) as every problem names it: `the string 'x'`,
    `the number 3`, `a list`, `nothing`.

    The one wording for every document kind: "expected a number, got the string 'x'",
    "'priority' of rule 'r' must be an integer, got the string 'high'".
    """
    if value is None:
        return "nothing"
    if isinstance(value, bool) or type(value).__name__ == "ScalarBoolean":  # ruamel: an anchored boolean
        return f"the boolean {str(bool(value)).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value!r}" if len(value) < 40 else "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, datetime):
        return f"the time {value.isoformat()}"
    if isinstance(value, date):
        return f"the date {value.isoformat()}"
    if hasattr(value, "tag") and hasattr(value, "value"):  # `!custom x`: ruamel keeps unknown tags
        return f"a value tagged {value.tag}"
    if isinstance(value, AbstractSet):
        return "a set"
    if isinstance(value, bytes):
        return "binary data"
    return f"a {type(value).__name__}"


MAX_SPEC_NUMBER = 1000  # the widest width or precision a reason's format spec may ask for


def spec_problem(spec: str) -> str:
    """What is wrong with a reason placeholder's format spec for its size, or "".

    `{x:999999999}` would build a string of a gigabyte for every directive: the compiler refuses
    it, and so does the runtime when a bundle's IR has one.
    """
    if len(spec) > 32 or any(int(n) > MAX_SPEC_NUMBER for n in re.findall(r"\d+", spec)):
        return f"a width or precision above {MAX_SPEC_NUMBER}"
    return ""
