"""Events named on the command line: `--events FILE` (or '-') as lines, `--event JSON` or `@FILE`."""

from __future__ import annotations

import json
from typing import Any, TextIO

from ballast.runtime.errors import UsageError
from ballast.runtime.reading import EventLines, UnreadableInput, loads, read_text


def read_event_argument(value: str, what: str = "event") -> Any:
    """`--event JSON` or `--event @FILE`, decoded within the limits of `ballast.runtime.reading`;
    `what` names the option and the thing read in errors (`action` for `--action`)."""
    text = value
    if value.startswith("@"):
        try:
            # Not only regular files: `--event @/dev/stdin` is a fair use; the size cap bounds it.
            text = read_text(value[1:], f"{what} file", regular_only=False)
        except UnreadableInput as exc:
            raise UsageError(f"cannot read the {what} from {exc}") from None
    try:
        return loads(text)
    except json.JSONDecodeError as exc:
        if value.startswith("@"):
            raise UsageError(f"{value[1:]}:{exc.lineno}:{exc.colno}: the {what} is not valid JSON: {exc.msg}") from None
        raise UsageError(f"--{what} is not valid JSON: {exc.msg} at column {exc.colno}") from None


def open_events(name: str, stdin: TextIO) -> Any:
    """The lines of `--events NAME` ('-': standard input), each within the line limit; close() it."""
    return EventLines(name, stdin)


__all__ = ["open_events", "read_event_argument"]
