"""Recorded telemetry, read line by line: JSONL or CSV, each event routed to a policy input.

Formats (chosen by the file name: `.csv` is CSV, `.jsonl`/`.ndjson`/`.json` JSONL, anything else
by its first character; a `.gz` suffix is decompressed on the fly):

* **JSONL**: one JSON object per line, blank lines skipped. When the policies read several
  inputs (and no `input` is given), each line is an envelope `{"input": NAME, "event": {...}}`.
* **CSV**: a header row of field names, then one event per row, every cell typed by the input
  schema (int, float, bool, string, enum, timestamp, duration); an empty cell leaves the field
  out. CSV feeds one input: the only one, or the one named.

The file is streamed, never loaded whole. A line that cannot be read becomes a `BadLine` in the
stream (`FILE:LINE: what is wrong`) and reading goes on, as `ballast eval` goes on past a
malformed line; a problem with the file as a whole (missing, bad header, not UTF-8) raises
UsageError.
"""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from ballast.runtime.errors import UsageError
from ballast.runtime.reading import loads, may_be_deep
from ballast.runtime.suggest import closest
from ballast.runtime.validate import describe_type
from ballast.runtime.values import parse_duration, parse_timestamp

Fields = Sequence[Mapping[str, Any]]  # an input schema as the IR holds it: name, type, optional, …
Record = tuple[int, str, dict[str, Any]]  # (line number, input name, event)

_READ_BUFFER = 1 << 20  # large reads: an 8-million-line file is read in about 2,000 of them


@dataclass(frozen=True, slots=True)
class BadLine:
    """A line of the telemetry that could not be read as an event."""

    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "invalid-line", "line": self.line, "message": str(self)}


@dataclass(frozen=True, slots=True)
class Quiet:
    """`count` consecutive events of `input` that the columnar engine hands a replay counted, not
    as the events themselves: on each, no policy of either set reports anything, and what they
    decide is counted. `same` holds ((policy, rule), directives) for the directives both sets
    issued alike on such events (identical on both sides). `split` holds ((policy, rule),
    baseline directives, candidate directives) for events on which the sets decided differently
    (`differing` of them), each rule's first such event having gone to the replay in full."""

    input: str
    count: int
    same: tuple[tuple[tuple[str, str], int], ...] = ()
    split: tuple[tuple[tuple[str, str], int, int], ...] = ()
    differing: int = 0


@dataclass(frozen=True, slots=True)
class Screened:
    """An event the columnar engine hands a replay with the rules proven to do nothing on it:
    `quiet[side][policy]` the indices of those rules in each set (`Engine.absorb`). `checked`:
    the event is already what the schema check makes of the line (built from the columns)."""

    line: int
    input: str
    event: dict[str, Any]
    quiet: tuple[Mapping[str, frozenset[int]], Mapping[str, frozenset[int]]]
    checked: bool = False


def read_telemetry(
    path: str | Path, inputs: Mapping[str, Fields], *, input: str | None = None
) -> Iterator[Record | BadLine]:
    """The events of a telemetry file, each with its line number and input, in file order.

    `inputs` maps every input the policies read to its schema. With `input`, every line is an
    event of that input; otherwise a file for a single input holds plain events and one for
    several holds envelopes (JSONL only). Raises UsageError, before the first line is read, for
    a missing or unreadable file, an unknown `input`, or a CSV header that does not fit.
    """
    name = str(path)
    if input is not None and input not in inputs:
        raise UsageError(f"--input {input}: no policy reads that input; inputs are {', '.join(sorted(inputs))}")
    target = input if input is not None else next(iter(inputs)) if len(inputs) == 1 else None
    stream = _open(name)
    if _is_csv(name, stream):
        if target is None:
            stream.close()
            raise UsageError(
                f"{name}: a CSV file feeds one input, and the policies read {', '.join(sorted(inputs))}: pass --input NAME, or record the telemetry as JSONL envelopes"
            )
        return _csv_events(name, stream, target, inputs[target])
    return _jsonl_events(name, stream, target, inputs)


def _open(name: str) -> TextIO:
    try:
        if name.endswith(".gz"):
            return gzip.open(name, "rt", encoding="utf-8-sig", newline="")
        # utf-8-sig: a byte-order mark some exporters write is dropped, not read as part of line 1
        return open(name, encoding="utf-8-sig", newline="", buffering=_READ_BUFFER)
    except FileNotFoundError:
        raise UsageError(f"{name}: no such telemetry file") from None
    except OSError as exc:
        raise UsageError(f"cannot read the telemetry {name}: {exc.strerror or exc}") from None


def _is_csv(name: str, stream: TextIO) -> bool:
    suffix = Path(name.removesuffix(".gz")).suffix.lower()
    if suffix in (".csv", ".jsonl", ".ndjson", ".json"):
        return suffix == ".csv"
    try:
        head = stream.read(256).lstrip()[:1]  # JSONL starts with `{`
        stream.seek(0)
    except (OSError, EOFError, UnicodeDecodeError):
        return False  # reading proper reports the problem
    return head not in ("{", "")


def unreadable(name: str, exc: Exception) -> UsageError:
    if isinstance(exc, UnicodeDecodeError):
        return UsageError(f"{name}: not UTF-8 text ({exc.reason}); convert the file to UTF-8")
    return UsageError(f"{name}: cannot read the telemetry: {exc}")  # a truncated or corrupt .gz


# ---- JSONL ----


def _jsonl_events(
    name: str, stream: TextIO, target: str | None, inputs: Mapping[str, Fields]
) -> Iterator[Record | BadLine]:
    read = line_reader(name, target, inputs)
    with stream:
        try:
            for number, line in enumerate(stream, start=1):
                record = read(number, line)
                if record is not None:
                    yield record
        except (UnicodeDecodeError, OSError, EOFError) as exc:
            raise unreadable(name, exc) from None


def line_reader(
    name: str, target: str | None, inputs: Mapping[str, Fields]
) -> Callable[[int, str], Record | BadLine | None]:
    """`read(number, line)`: one JSONL line as a Record, a BadLine, or None for a blank line.

    The one definition of how a line becomes an event, shared by the row reader above and the
    column readers (`telemetry_columns`), which hand it every line they do not decide themselves.
    """
    # raw_decode skips json.loads' two whitespace scans; a line it rejects (blank, indented,
    # malformed) goes through json.loads, whose message and column are the ones to report.
    raw_decode = json.JSONDecoder().raw_decode

    def read(number: int, line: str) -> Record | BadLine | None:
        try:
            value, end = raw_decode(line)
            if may_be_deep(line):  # raw_decode knows no depth limit: let `loads` check it
                value, end = loads(line), len(line)
        except (ValueError, RecursionError):  # JSONDecodeError, or too many digits or levels
            if not line.strip():
                return None
            try:
                value, end = loads(line), len(line)
            except json.JSONDecodeError as exc:
                return BadLine(
                    name, number, f"not JSON at column {exc.colno}: {exc.msg}; each line must be one JSON object"
                )
        rest = line[end:]
        if rest != "\n" and rest.strip():
            column = end + len(rest) - len(rest.lstrip()) + 1
            return BadLine(
                name, number, f"extra text after the JSON object at column {column}; put one object per line"
            )
        if type(value) is not dict:
            return BadLine(name, number, f"expected a JSON object, got {_kind(value)}")
        if target is not None:
            return number, target, value
        routed = _unwrap(value, inputs)
        if isinstance(routed, str):
            return BadLine(name, number, routed)
        return number, routed[0], routed[1]

    return read


def _unwrap(envelope: dict[str, Any], inputs: Mapping[str, Fields]) -> tuple[str, dict[str, Any]] | str:
    """(input, event) from an envelope line, or what is wrong with it."""
    shape = (
        'each line is {"input": NAME, "event": {...}} because the policies read several inputs (or pass --input NAME)'
    )
    extra = sorted(set(envelope) - {"input", "event"})
    if extra or "input" not in envelope or "event" not in envelope:
        what = (
            f"unexpected key {extra[0]!r}" if extra else f"no {'input' if 'input' not in envelope else 'event'!r} key"
        )
        return f"{what}: {shape}"
    name, event = envelope["input"], envelope["event"]
    if not isinstance(name, str) or name not in inputs:
        return f"unknown input {name!r}; inputs are {', '.join(sorted(inputs))}"
    if type(event) is not dict:
        return f"the event must be a JSON object, got {_kind(event)}"
    return name, event


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a bool", int: "a number", float: "a number", str: "a string", list: "a list"}.get(
        type(value), type(value).__name__
    )


# ---- CSV ----


def _csv_events(name: str, stream: TextIO, target: str, fields: Fields) -> Iterator[Record | BadLine]:
    reader = csv.reader(stream)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        stream.close()
        raise UsageError(f"{name}:1: the CSV header cannot be read: {exc}") from None
    except (UnicodeDecodeError, OSError, EOFError) as exc:
        stream.close()
        raise unreadable(name, exc) from None
    try:
        columns = csv_columns(name, header or [], target, fields)
    except UsageError:
        stream.close()
        raise
    return _csv_rows(name, stream, reader, target, columns)


def _csv_rows(
    name: str, stream: TextIO, reader: Any, target: str, columns: list[tuple[str, Callable[[str], Any], str]]
) -> Iterator[Record | BadLine]:
    with stream:
        yield from csv_rows(name, reader, target, columns)


def csv_rows(
    name: str, reader: Any, target: str, columns: list[tuple[str, Callable[[str], Any], str]], *, first_line: int = 1
) -> Iterator[Record | BadLine]:
    """The rows of a `csv.reader` as Records and BadLines; the reader's first line is `first_line`."""
    offset = first_line - 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield BadLine(name, reader.line_num + offset, f"not CSV: {exc}")
            continue
        except (UnicodeDecodeError, OSError, EOFError) as exc:
            raise unreadable(name, exc) from None
        record = csv_record(name, reader.line_num + offset, row, target, columns)
        if record is not None:
            yield record


def csv_record(
    name: str, number: int, row: list[str], target: str, columns: list[tuple[str, Callable[[str], Any], str]]
) -> Record | BadLine | None:
    """One CSV row (its cells) as a Record, a BadLine, or None for a blank row: the one
    definition of how a row becomes an event, shared with the column reader."""
    if not row:
        return None
    if len(row) != len(columns):
        return BadLine(name, number, f"{len(row)} cells, but the header has {len(columns)} columns")
    event: dict[str, Any] = {}
    for (field, convert, what), cell in zip(columns, row):  # noqa: B905 - the widths were checked
        if cell:
            try:
                event[field] = convert(cell)
            except ValueError:
                return BadLine(name, number, f"column {field!r}: {cell!r} is not {what}")
    return number, target, event


def csv_columns(
    name: str, header: list[str], target: str, fields: Fields
) -> list[tuple[str, Callable[[str], Any], str]]:
    """(field, cell converter, what a cell must be) per column; UsageError for a header that does not fit."""
    declared = {f["name"]: f for f in fields}
    columns = []
    for column in header:
        column = column.strip()
        field = declared.get(column)
        if field is None:
            close = closest(column, declared)
            hint = f"did you mean {close!r}?" if close else f"the fields are {', '.join(declared)}"
            raise UsageError(f"{name}:1: column {column!r} is not a field of the input {target!r}; {hint}")
        if any(c[0] == column for c in columns):
            raise UsageError(f"{name}:1: the column {column!r} appears twice")
        converter = _converter(field["type"])
        if converter is None:
            raise UsageError(
                f"{name}:1: column {column!r} is {describe_type(field['type'])}, which a CSV cell cannot hold; record this input as JSONL"
            )
        columns.append((column, *converter))
    return columns


def _converter(t: Any) -> tuple[Callable[[str], Any], str] | None:
    if isinstance(t, dict):
        return (str, "a string") if "enum" in t else None
    return _CONVERTERS.get(t)


def _bool(cell: str) -> bool:
    value = _BOOLS.get(cell.strip().lower())
    if value is None:
        raise ValueError(cell)
    return value


def _timestamp(cell: str) -> float:
    try:
        return float(cell)
    except ValueError:
        moment = parse_timestamp(cell)
        if moment is None:
            raise
        return moment


def _duration(cell: str) -> float:
    try:
        return float(cell)
    except ValueError:
        seconds = parse_duration(cell.strip())
        if seconds is None:
            raise
        return seconds


_BOOLS = {"true": True, "false": False, "1": True, "0": False}
_CONVERTERS: dict[str, tuple[Callable[[str], Any], str]] = {
    "int": (int, "an int"),
    "float": (float, "a number"),
    "bool": (_bool, "a bool (true or false)"),
    "string": (str, "a string"),
    "any": (str, "a string"),
    "timestamp": (_timestamp, "a timestamp (RFC 3339 such as 2025-11-15T12:00:00Z, or epoch seconds)"),
    "duration": (_duration, "a duration (such as 30s, 5m, or seconds)"),
}


__all__ = [
    "BadLine",
    "Quiet",
    "Record",
    "Screened",
    "csv_columns",
    "csv_record",
    "csv_rows",
    "line_reader",
    "read_telemetry",
    "unreadable",
]
