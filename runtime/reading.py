"""Reading untrusted input within limits: source files, JSON documents and lines of a stream.

Whatever Ballast reads may be broken or hostile: a FIFO or `/dev/zero` that never ends, a log of
gigabytes, bytes that are not UTF-8, a number of 5,000 digits, JSON nested 100,000 deep. Each of
these becomes one clear error with its position instead of a hang, a growing memory or a
traceback. The limits (documented in docs/errors.md, "Limits"):

* a file (policy, import, scenario, test file, bundle, `--event @FILE`) is at most
  `BALLAST_MAX_FILE_BYTES` bytes, 16 MiB unless set; policies and imports must be regular files;
* a line of an event stream is at most `BALLAST_MAX_LINE_BYTES` bytes, 1 MiB unless set; a
  longer line is that line's problem and the stream goes on after it;
* JSON is nested at most `MAX_JSON_DEPTH` deep and its integers have at most `MAX_INT_DIGITS`
  digits.

The environment is read at each call, so a service (or a test) may change a limit at any time.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from ballast.runtime.errors import UsageError

MAX_JSON_DEPTH = 64  # events are records of records; far deeper is an attack or a bug
MAX_INT_DIGITS = sys.get_int_max_str_digits() or 4300  # what int() converts (0 means no limit)
FILE_LIMIT_VARIABLE = "BALLAST_MAX_FILE_BYTES"
LINE_LIMIT_VARIABLE = "BALLAST_MAX_LINE_BYTES"
_DEFAULT_FILE_BYTES = 16 * 1024 * 1024
_DEFAULT_LINE_BYTES = 1024 * 1024
_SKIP_FACTOR = 16  # an over-long line is skipped up to this many limits before the stream is refused
_CHUNK = 64 * 1024


class UnreadableInput(UsageError):
    """A file that cannot be read as text: missing, not a regular file, too big, not UTF-8.

    `line` and `column` (1-based) point at the problem inside the file (1, 1 for the whole file).
    """

    def __init__(self, path: str, reason: str, hint: str = "", line: int = 1, column: int = 1) -> None:
        self.path = path
        self.reason = reason
        self.hint = hint
        self.line = line
        self.column = column
        where = f"{shown_path(path)}:{line}:{column}" if (line, column) != (1, 1) else shown_path(path)
        super().__init__(f"{where}: {reason}" + (f"; {hint}" if hint else ""))


def file_limit() -> int:
    """The largest file read, in bytes (`BALLAST_MAX_FILE_BYTES`)."""
    return _limit(FILE_LIMIT_VARIABLE, _DEFAULT_FILE_BYTES)


def line_limit() -> int:
    """The longest line of an event stream, in bytes (`BALLAST_MAX_LINE_BYTES`)."""
    return _limit(LINE_LIMIT_VARIABLE, _DEFAULT_LINE_BYTES)


def _limit(variable: str, default: int) -> int:
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) == 0:
        raise UsageError(f"{variable}={raw!r}: expected a whole number of bytes above 0 (unset it for the default)")
    return int(raw)


def shown_path(path: str) -> str:
    """A path as shown in a message: a name of hundreds of characters is cut in the middle."""
    return path if len(path) <= 80 else f"{path[:38]}…{path[-38:]}"


def read_bytes(path: str | Path, what: str, *, regular_only: bool = True) -> bytes:
    """The bytes of a file, at most `file_limit()` of them; raises UnreadableInput saying why not.

    With `regular_only`, a FIFO, a device or a socket is refused before it is opened (reading one
    could block or never end); otherwise reading stops one byte past the limit.
    """
    name = str(path)
    limit = file_limit()
    try:
        info = os.stat(name)
        if stat.S_ISDIR(info.st_mode):
            raise UnreadableInput(name, "is a directory", "name a file")
        if regular_only and not stat.S_ISREG(info.st_mode):
            raise UnreadableInput(
                name, f"not a regular file ({_file_kind(info.st_mode)})", f"give the path of a {what} on disk"
            )
        if stat.S_ISREG(info.st_mode) and info.st_size > limit:
            raise _too_big(name, limit)
        with open(name, "rb") as f:
            data = f.read(limit + 1)
    except FileNotFoundError:
        raise UnreadableInput(name, "no such file or directory", "check the path") from None
    except OSError as exc:
        raise UnreadableInput(name, f"cannot read the {what}: {exc.strerror or exc}") from None
    if len(data) > limit:  # a file that grew, or one whose size the kernel does not report
        raise _too_big(name, limit)
    return data


def read_text(path: str | Path, what: str, *, regular_only: bool = True) -> str:
    """The UTF-8 text of a file, within `file_limit()`; raises UnreadableInput (with the position
    of the first byte that is not UTF-8)."""
    data = read_bytes(path, what, regular_only=regular_only)
    return decode(data, str(path))


def decode(data: bytes, path: str) -> str:
    """UTF-8 bytes as text; raises UnreadableInput at the line and column of a bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        column = len(before[before.rfind(b"\n") + 1 :].decode("utf-8", "replace")) + 1
        raise UnreadableInput(
            path, f"not UTF-8 text (byte 0x{data[exc.start]:02x}: {exc.reason})", "save the file as UTF-8", line, column
        ) from None


def _too_big(path: str, limit: int) -> UnreadableInput:
    return UnreadableInput(
        path,
        f"larger than the limit of {limit} bytes",
        f"raise {FILE_LIMIT_VARIABLE} if the file is meant to be this big",
    )


def _file_kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a file"


# ---- JSON ----


class UnusableLine(str):
    """A line that `read_lines` could not deliver whole (too long, not UTF-8): `loads` rejects it.

    The text is what could be read (the start of a long line; a bad line with replacement
    characters). `rstrip` and `strip` keep the class, so a reader may trim a line before `loads`.
    """

    message: str = ""
    column: int = 1

    def _like(self, text: str) -> UnusableLine:
        out = UnusableLine(text)
        out.message, out.column = self.message, self.column
        return out

    def rstrip(self, chars: str | None = None) -> UnusableLine:  # type: ignore[override]
        return self._like(str.rstrip(self, chars))

    def strip(self, chars: str | None = None) -> UnusableLine:  # type: ignore[override]
        return self._like(str.strip(self, chars))


def _unusable(text: str, message: str, column: int) -> UnusableLine:
    line = UnusableLine(text)
    line.message, line.column = message, column
    return line


def loads(text: str | bytes) -> Any:
    """`json.loads`, but every way a document can be unusable is a `json.JSONDecodeError` with
    a position: nesting deeper than MAX_JSON_DEPTH, an integer of more than MAX_INT_DIGITS
    digits, a line over the length limit or not UTF-8 (from `read_lines`)."""
    if isinstance(text, UnusableLine):
        raise json.JSONDecodeError(text.message, text, text.column - 1)
    if isinstance(text, bytes):
        text = text.decode("utf-8")  # callers pass bytes they have already decoded once
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise _too_deep(text) from None
    except ValueError:  # int() refused a number of too many digits
        raise _too_many_digits(text) from None
    if may_be_deep(text) and _depth(value) > MAX_JSON_DEPTH:
        raise _too_deep(text)
    return value


def may_be_deep(text: str) -> bool:
    """Whether a JSON text could nest deeper than MAX_JSON_DEPTH (a cheap test, before decoding)."""
    # Every level opens a bracket, so a document with few brackets cannot be deep.
    return text.count("[") + text.count("{") > MAX_JSON_DEPTH


def _depth(value: Any) -> int:
    """How deep lists and objects nest in a decoded value (without recursion)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in item if isinstance(child, dict | list))
    return deepest


def _too_deep(text: str) -> json.JSONDecodeError:
    level = 0
    in_string = escaped = False
    for position, char in enumerate(text):
        if in_string:
            escaped = not escaped and char == "\\"
            in_string = escaped or char != '"'
        elif char == '"':
            in_string = True
        elif char in "[{":
            level += 1
            if level > MAX_JSON_DEPTH:
                return json.JSONDecodeError(f"nested deeper than the limit of {MAX_JSON_DEPTH} levels", text, position)
        elif char in "]}":
            level -= 1
    return json.JSONDecodeError(f"nested deeper than the limit of {MAX_JSON_DEPTH} levels", text, 0)


def _too_many_digits(text: str) -> json.JSONDecodeError:
    match = re.search(rf"\d{{{MAX_INT_DIGITS + 1},}}", text)
    position = match.start() if match else 0
    return json.JSONDecodeError(f"a number has more than {MAX_INT_DIGITS} digits", text, position)


# ---- lines of a stream ----


def read_lines(stream: IO[Any], source: str) -> Iterator[str]:
    """The lines of a text or binary stream, each at most `line_limit()` long.

    A longer line is yielded as an `UnusableLine` (its start) and the rest of it is skipped; so
    is a line of a binary stream that is not UTF-8. `loads` rejects both, so a
    reader reports them as that line's problem and goes on. Raises UnreadableInput when a line
    has no end within 16 limits (`/dev/zero`, a binary file): that is not a stream of lines.
    """
    limit = line_limit()
    while True:
        line = stream.readline(limit + 1)
        if not line:
            return
        if isinstance(line, bytes):
            line = _decoded(line)
        if len(line) > limit and not line.endswith("\n"):
            _skip_rest(stream, source, limit)
            message = f"the line is longer than the limit of {limit} bytes ({LINE_LIMIT_VARIABLE})"
            line = _unusable(line[:limit], message, limit + 1)
        yield line


def _decoded(line: bytes) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as exc:
        column = len(line[: exc.start].decode("utf-8", "replace")) + 1
        message = f"not UTF-8 text (byte 0x{line[exc.start]:02x}: {exc.reason})"
        return _unusable(line.decode("utf-8", "replace"), message, column)


def _skip_rest(stream: IO[Any], source: str, limit: int) -> None:
    skipped = 0
    while True:
        chunk = stream.readline(_CHUNK)
        if not chunk or chunk.endswith(b"\n" if isinstance(chunk, bytes) else "\n"):
            return
        skipped += len(chunk)
        if skipped > _SKIP_FACTOR * limit:
            raise UnreadableInput(
                source,
                f"a line runs on for more than {_SKIP_FACTOR * limit} bytes",
                "this is not a stream of JSON lines (one event per line)",
            )


class EventLines:
    """The lines of an event source (a file, or standard input for '-'), read as `read_lines` does.

    A file is read as bytes so that a line that is not UTF-8 is that line's problem only.
    """

    def __init__(self, name: str, stdin: IO[str]) -> None:
        self.name = name
        self._stdin = stdin
        self._file: IO[bytes] | None = None
        if name == "-":
            self._stream: IO[Any] = getattr(stdin, "buffer", None) or stdin
            return
        try:
            info = os.stat(name)
            if stat.S_ISDIR(info.st_mode):
                raise UnreadableInput(name, "is a directory", "name a JSONL file of events")
            self._file = open(name, "rb")  # noqa: SIM115 - closed by close()
        except FileNotFoundError:
            raise UsageError(f"cannot read events from {shown_path(name)}: No such file or directory") from None
        except OSError as exc:
            raise UsageError(f"cannot read events from {shown_path(name)}: {exc.strerror or exc}") from None
        self._stream = self._file

    def __iter__(self) -> Iterator[str]:
        return read_lines(self._stream, self.name)

    def close(self) -> None:
        """Close the file, if one was opened (standard input stays open)."""
        if self._file is not None:
            self._file.close()
