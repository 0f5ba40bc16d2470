"""Recorded CSV telemetry read as columns through pyarrow, exactly as the row reader reads it.

The CSV counterpart of `telemetry_columns`' JSONL reader: chunks of whole lines, each parsed by
pyarrow's CSV reader with every column as a string, then typed here by the input schema. What
decides is always the row reader's definition (`telemetry.csv_record`, Python's `csv` module):

* A cell is typed as a column only when its text is one both readers read alike: an int
  `-?[0-9]{1,18}`, a plain decimal float (`1.5`, `.5`, `2e-3`), a bool `true`/`false`/`1`/`0`
  in any case. Any other non-empty cell (`+7`, ` 12 `, `1_000`, `inf`, a bool `yes`, an int
  too large for 64 bits) makes its row *foreign*: the row path reads it from its own text and
  reports it as it always does (a BadLine, or an event Python's `int()` accepts).
* A timestamp cell is kept as text and parsed as the row reader parses it
  (`compiler.columnar.schema.timestamps` with `epoch_text`): a text Python's `float()` reads
  (`1700000000`, `1.7e9`, ` 12`, `nan`) as epoch seconds, any other as RFC 3339.
* An empty cell leaves the field out, as in the row reader.
* Lines are rows only where no quote can join them. Quoted cells that hold no quote and no line
  break (`"eu-west"`, `"a,b"`: what pyarrow, pandas and spreadsheets write) are read as columns:
  a chunk is parsed with quotes only when every line of it is made of such cells
  (`SIMPLE_LINES`), which the `csv` module and pyarrow read alike. The first chunk with any
  other quote (quoted cells may span lines) hands the rest of the file to the row reader,
  line numbers continuing.
  A piece with a blank line, a carriage return that ends no line, a NUL byte or a line longer
  than the `csv` module's field limit, or one pyarrow refuses (a row of the wrong width,
  not UTF-8), is halved down to `telemetry_columns.SPLIT_MIN` lines and read line by line by the row reader.

So a malformed row costs speed, never exactness.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ballast.compiler.columnar import require
from ballast.compiler.columnar.codegen import kind_of
from ballast.runtime.errors import UsageError
from ballast.simulator.telemetry import BadLine, Fields, Record, csv_columns, csv_record, csv_rows, unreadable
from ballast.simulator.telemetry_columns import Chunk, LinePieces, Rows, open_binary, typed_batch, whole_lines

Columns = list[tuple[str, Callable[[str], Any], str]]

CSV_FIELD_LIMIT = csv.field_size_limit()  # a longer cell is a csv.Error for the row reader
INT_TEXT = r"^-?[0-9]{1,18}$"  # within int64, and read alike by int() and Arrow's cast
FLOAT_TEXT = r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?$"
BOOL_TEXT = ("true", "false", "1", "0")
# Lines whose every cell is unquoted text, or a quoted one without quotes or line breaks inside.
_CELL = rb'(?:[^",\r\n]*|"[^"\r\n]*")'
_LINE = _CELL + rb"(?:," + _CELL + rb")*"
SIMPLE_LINES = re.compile(rb"(?:" + _LINE + rb"\r?\n)*(?:" + _LINE + rb")?")


class CsvColumnReader(LinePieces):
    """CSV in chunks of whole lines; `line` is the number of the next line to read."""

    def __init__(self, name: str, target: str, fields: Fields) -> None:
        np, pa, pc = require()
        import pyarrow.csv as pcsv

        self.np, self.pa, self.pc, self.pcsv = np, pa, pc, pcsv
        self.name, self.target, self.fields = name, target, fields
        self.columns: Columns = []
        self.line = 1
        self.read_line = self._record

    def chunks(self, chunk_bytes: int, chunk_rows: int) -> Iterator[Chunk | Rows]:
        with open_binary(self.name) as stream:
            pieces = whole_lines(self.name, stream, chunk_bytes)
            first = next(pieces, b"")
            if not first:
                return
            after = self._header(first)
            if after is None:  # a header the row reader must read: it reads the whole file
                yield from self._rest(first, pieces, chunk_rows, whole=True)
                return
            for data in itertools.chain([after] if after else [], pieces):
                if not _simple(data):  # a quoted cell may span lines from here on
                    yield from self._rest(data, pieces, chunk_rows)
                    return
                yield from self._piece(data)

    # ---- the header ----

    def _header(self, block: bytes) -> bytes | None:
        """The block after the header line, having read the header's columns; None when the row
        reader must read the whole file (a header a line cannot hold)."""
        end = block.find(b"\n") + 1 or len(block)
        line = block[:end]
        if not _simple(line) or b"\x00" in line or b"\r" in line.rstrip(b"\r\n") or not line.strip(b"\r\n"):
            return None
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise unreadable(self.name, exc) from None
        header = next(csv.reader([text]), [])
        self.columns = csv_columns(self.name, header, self.target, self.fields)
        self.line = 2
        return block[end:]

    # ---- the row reader's part ----

    def _rest(self, head: bytes, pieces: Iterator[bytes], chunk_rows: int, *, whole: bool = False) -> Iterator[Rows]:
        """`head` and the pieces after it, read by the row reader (quoted cells may span lines)."""
        text = io.TextIOWrapper(io.BufferedReader(_Joined(head, pieces)), encoding="utf-8", newline="")
        reader = csv.reader(text)
        if whole:
            try:
                header = next(reader, None)
            except csv.Error as exc:
                raise UsageError(f"{self.name}:1: the CSV header cannot be read: {exc}") from None
            except (UnicodeDecodeError, OSError, EOFError) as exc:
                raise unreadable(self.name, exc) from None
            self.columns = csv_columns(self.name, header or [], self.target, self.fields)
            self.line = 2
        rows: Rows = []
        for record in csv_rows(self.name, reader, self.target, self.columns, first_line=1 if whole else self.line):
            rows.append(record)
            if len(rows) >= chunk_rows:
                yield rows
                rows = []
        if rows:
            yield rows

    def _record(self, number: int, line: str) -> Record | BadLine | None:
        try:
            row = next(csv.reader([line]), [])
        except csv.Error as exc:
            return BadLine(self.name, number, f"not CSV: {exc}")
        return csv_record(self.name, number, row, self.target, self.columns)

    # ---- columns ----

    def _suspect(self, data: bytes, bytes_: Any, newlines: Any) -> bool:
        """Whether the lines of a piece may not be rows as the `csv` module reads them."""
        np = self.np
        if not self.columns or b"\x00" in data or data[:1] in (b"\n", b"\r") or b"\n\n" in data or b"\n\r\n" in data:
            return True
        carriage_returns = np.count_nonzero(bytes_ == 13)
        if carriage_returns and carriage_returns != np.count_nonzero(bytes_[newlines[newlines > 0] - 1] == 13):
            return True
        ends = np.concatenate(([-1], newlines, [len(data)]))
        return bool(len(data) > CSV_FIELD_LIMIT and np.diff(ends).max() > CSV_FIELD_LIMIT)

    def _parse(self, data: bytes) -> Any:
        pa, pcsv = self.pa, self.pcsv
        names = [c[0] for c in self.columns]
        try:
            return pcsv.read_csv(
                pa.BufferReader(data),
                read_options=pcsv.ReadOptions(column_names=names, use_threads=False, block_size=len(data) + 1),
                parse_options=pcsv.ParseOptions(
                    quote_char='"' if b'"' in data else False,
                    double_quote=False,
                    newlines_in_values=False,
                    ignore_empty_lines=False,
                ),
                convert_options=pcsv.ConvertOptions(
                    column_types={n: pa.string() for n in names},
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=True,  # `""` is an empty cell to the csv module too
                    null_values=[""],
                    check_utf8=True,
                ),
            )
        except (pa.ArrowInvalid, UnicodeDecodeError):
            return None

    def _chunk(self, data: bytes, newlines: Any, table: Any) -> Chunk:
        np, pa, pc = self.np, self.pa, self.pc
        rows = table.num_rows
        foreign = np.zeros(rows, dtype=bool)
        declared = {f["name"]: f for f in self.fields}
        typed = {}
        for name in table.column_names:
            text = table.column(name).combine_chunks()
            t = declared[name]["type"]
            if t == "timestamp":  # text, parsed float() first as the row reader does (Batch.epoch_text)
                value, odd = text, np.zeros(rows, dtype=bool)
            else:
                value, odd = _typed_text(np, pa, pc, text, kind_of(t))
            typed[name] = value
            foreign |= odd
        ends = newlines + 1
        starts = np.concatenate(([0], ends))[:rows]
        ends = np.concatenate((ends, [len(data)]))[:rows]
        first = self.line

        def records(positions: Sequence[int]) -> list[Record | BadLine | None]:
            return [self._record(first + int(i), data[starts[i] : ends[i]].decode("utf-8")) for i in positions]

        def events(positions: Sequence[int]) -> list[dict[str, Any] | None]:
            return [r[2] if isinstance(r, tuple) else None for r in records(positions)]

        batch = typed_batch(pa.table(typed), self.fields, events)
        batch.foreign |= foreign
        batch.epoch_text = True
        return Chunk(self.target, batch, records, first)


def _typed_text(np: Any, pa: Any, pc: Any, text: Any, kind: str | None) -> tuple[Any, Any]:
    """A string column typed as `kind`, and the rows whose cell it could not type exactly (those
    cells are null in the typed column; the row path reads their rows)."""
    valid = text.is_valid()
    if kind == "str":
        return text, np.zeros(len(text), dtype=bool)
    if kind == "int":
        ok = pc.match_substring_regex(text, INT_TEXT)
    elif kind == "float":
        ok = pc.match_substring_regex(text, FLOAT_TEXT)
    elif kind == "bool":
        lower = pc.utf8_lower(text)
        ok = pc.is_in(lower, pa.array(BOOL_TEXT))
    else:  # a field no column kind holds: every value it has goes to the row path
        return pa.nulls(len(text)), valid.to_numpy(zero_copy_only=False)
    ok = pc.and_(valid, pc.fill_null(ok, False))
    kept = pc.if_else(ok, text, pa.scalar(None, pa.string()))
    try:
        if kind == "bool":
            value = pc.is_in(pc.utf8_lower(kept), pa.array(["true", "1"]))
            value = pc.if_else(ok, value, pa.scalar(None, pa.bool_()))
        else:
            value = kept.cast(pa.int64() if kind == "int" else pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # a float beyond Arrow's parser: the row path reads them
        return pa.nulls(len(text), type=pa.int64() if kind == "int" else pa.float64()), valid.to_numpy(
            zero_copy_only=False
        )
    odd = pc.and_(valid, pc.invert(ok))
    if kind == "float":  # inf from an overflowing exponent: Python's float() says the same, but be exact
        odd = pc.or_(odd, pc.fill_null(pc.invert(pc.is_finite(value)), False))
    return value, odd.to_numpy(zero_copy_only=False)


def _simple(data: bytes) -> bool:
    """Whether the lines of `data` can be read as rows without the `csv` module (module docstring)."""
    return b'"' not in data or SIMPLE_LINES.fullmatch(data) is not None


class _Joined(io.RawIOBase):
    """`head`, then the `pieces`, as one binary stream."""

    def __init__(self, head: bytes, pieces: Iterator[bytes]) -> None:
        self.head, self.pieces = memoryview(head), pieces

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self.head:
            piece = next(self.pieces, None)
            if piece is None:
                return 0
            self.head = memoryview(piece)
        n = min(len(buffer), len(self.head))
        buffer[:n] = self.head[:n]
        self.head = self.head[n:]
        return n


__all__ = ["CsvColumnReader"]
