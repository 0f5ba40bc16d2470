"""Recorded telemetry read as columns: Parquet, Arrow IPC, JSONL and CSV through pyarrow, in chunks.

The column counterpart of `telemetry` (the row reader). It yields, in file order, either a
`Chunk` (rows typed into columns, for the columnar engine to decide which are quiet) or a list
of the row reader's own Records and BadLines (rows it leaves to the row path). Memory is
bounded by the chunk (`chunk_rows` rows, or about as many JSONL lines), never by the file.

JSONL. Each chunk of whole lines is parsed by pyarrow's JSON reader with the input schema as an
explicit schema and unknown fields refused. Where that is not provably what the row reader
would read line by line, the chunk is split in halves, down to `SPLIT_MIN` lines, and those
lines are read by the row reader itself (`telemetry.line_reader`): a parse error, a value of
another type than its field's, an unknown field, two objects on a line, blank lines, a lone
carriage return or a byte-order mark inside the file. So a malformed line costs speed, never
exactness: it is reported exactly as the row path reports it. The rows of a chunk pyarrow did
read are handed back to the row reader, from their original text, whenever a policy may decide
on them.

CSV: `telemetry_csv`, on the same principle.

Parquet and Arrow IPC (file or stream format). Batches of `chunk_rows` rows; a row is the event
of its non-null columns (a null is an absent field), its "line" is its 1-based row number.
Integer columns are read as int, floating columns as float (an integer column for a float
field too), string, large string and dictionary columns as string; a column of any other type,
or one no field declares, makes the rows where it holds a value go to the row path, whose
schema check names the problem.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from ballast.compiler.columnar import Batch, require
from ballast.compiler.columnar.codegen import column_kind
from ballast.runtime.errors import UsageError
from ballast.simulator.telemetry import BadLine, Fields, Record, line_reader, unreadable

CHUNK_ROWS = 1 << 17  # rows per chunk: numpy's per-call cost amortised, a few tens of MiB of columns
JSONL_BYTES_PER_ROW = 256  # a JSONL chunk is read as chunk_rows × this many bytes, cut at a line end
CSV_BYTES_PER_ROW = 96  # a CSV row carries no field names: about a third of a JSONL line
SPLIT_MIN = 64  # a JSONL piece pyarrow refuses is halved down to this many lines, then read line by line
PARQUET_SUFFIXES = (".parquet", ".pq")
ARROW_SUFFIXES = (".arrow", ".arrows", ".feather", ".ipc")
BOM = b"\xef\xbb\xbf"

# What pyarrow reads differently from the row reader: a blank line (skipped by both, but then
# rows and lines no longer match), a carriage return that ends no line (Python's text reader
# splits lines there), a byte-order mark inside the file. And what it must never see: a line
# that is not an object (a top-level `null` crashes pyarrow 26's JSON reader). So every line
# must start with `{`; one that starts with white space goes to the row reader too (rare).
_OPEN_BRACE = 0x7B


def _suspect(np: Any, data: bytes, bytes_: Any, newlines: Any) -> bool:
    """Whether a piece of whole lines holds something pyarrow reads differently (above);
    `bytes_` is the piece as a numpy uint8 array, `newlines` the positions of its line feeds."""
    starts = bytes_[newlines[newlines + 1 < len(data)] + 1]
    if data[:1] != b"{" or (starts != _OPEN_BRACE).any():
        return True
    carriage_returns = np.count_nonzero(bytes_ == 13)
    if carriage_returns and carriage_returns != np.count_nonzero(bytes_[newlines[newlines > 0] - 1] == 13):
        return True
    return BOM in data


@dataclass
class Chunk:
    """Rows of `input` as columns (`batch`), and `records(positions)`: those rows as the row
    reader reads them (Records, or BadLines), for the rows the row path must decide."""

    input: str
    batch: Batch
    records: Callable[[Sequence[int]], list[Record | BadLine | None]]
    first: int | None = None  # the line of row 0 when row i is on line first + i (JSONL, tables)


Rows = list[Record | BadLine]  # rows the column reader leaves to the row path, already read


def telemetry_format(path: str | Path) -> str:
    """ "parquet", "arrow", "csv", or "text" (JSONL, or CSV by its content, for the row reader to
    tell apart) by the name."""
    name = str(path).lower().removesuffix(".gz")
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(ARROW_SUFFIXES):
        return "arrow"
    if name.endswith(".csv"):
        return "csv"
    return "text"


def read_columns(
    path: str | Path, target: str, fields: Fields, inputs: Mapping[str, Fields], *, chunk_rows: int = CHUNK_ROWS
) -> Iterator[Chunk | Rows]:
    """The telemetry as Chunks and Rows, in file order; every event is of the input `target`.

    Raises UsageError for a file that cannot be read at all (missing, not Parquet, not Arrow),
    or, for JSONL, not UTF-8 where the row reader would say so.
    """
    require("reading telemetry as columns")
    if chunk_rows < 1:
        raise UsageError(f"the chunk size is a number of rows, at least 1; got {chunk_rows}")
    name = str(path)
    kind = telemetry_format(name)
    if kind == "parquet":
        return _table_chunks(name, target, fields, _parquet_batches(name, chunk_rows))
    if kind == "arrow":
        return _table_chunks(name, target, fields, _arrow_batches(name, chunk_rows))
    if kind == "csv":
        from ballast.simulator.telemetry_csv import CsvColumnReader

        return CsvColumnReader(name, target, fields).chunks(chunk_rows * CSV_BYTES_PER_ROW, chunk_rows)
    return _JsonlReader(name, target, fields, inputs).chunks(chunk_rows * JSONL_BYTES_PER_ROW)


def table_records(path: str | Path, target: str, fields: Fields, *, chunk_rows: int = CHUNK_ROWS) -> Iterator[Record]:
    """Every row of a Parquet or Arrow file as a Record, for the row engine."""
    for chunk in read_columns(path, target, fields, {target: fields}, chunk_rows=chunk_rows):
        assert isinstance(chunk, Chunk)  # tables are never left to the row reader
        yield from chunk.records(range(chunk.batch.rows))  # type: ignore[misc]


# ---- Parquet and Arrow IPC ----


def _parquet_batches(name: str, chunk_rows: int) -> Iterator[Any]:
    import pyarrow.parquet as pq

    try:
        with pq.ParquetFile(name) as probe:
            # A dictionary-encoded string column is read as a dictionary array: no string is built
            # per row, and a comparison with it runs once per distinct value (compiler.columnar.strings)
            metadata, encoded = probe.metadata, _dictionary_strings(probe)
        # No pre-buffering: pyarrow (26) keeps every row group it pre-buffered until the file is
        # closed, so the memory of a replay would grow with the recording (a month: 3 GiB)
        source = pq.ParquetFile(name, metadata=metadata, read_dictionary=encoded or None, pre_buffer=False)
    except FileNotFoundError:
        raise UsageError(f"{name}: no such telemetry file") from None
    except Exception as exc:  # pyarrow's ArrowInvalid and OSError: not a Parquet file
        raise UsageError(f"{name}: cannot read it as Parquet: {exc}") from None
    with source:
        try:
            # one thread: the replay's target is one core, and on one core the threads only cost
            yield from source.iter_batches(batch_size=chunk_rows, use_threads=False)
        except Exception as exc:
            raise UsageError(f"{name}: cannot read it as Parquet: {exc}") from None


def _dictionary_strings(source: Any) -> list[str]:
    """The top-level string columns stored with a dictionary in every row group."""
    _, pa, _ = require()
    metadata = source.metadata
    leaves = {source.schema.column(i).path: i for i in range(len(source.schema))}
    return [
        column.name
        for column in source.schema_arrow
        if (pa.types.is_string(column.type) or pa.types.is_large_string(column.type))
        and column.name in leaves
        and all(
            metadata.row_group(g).column(leaves[column.name]).has_dictionary_page
            for g in range(metadata.num_row_groups)
        )
    ]


def _arrow_batches(name: str, chunk_rows: int) -> Iterator[Any]:
    _, pa, _ = require()
    try:
        source = pa.memory_map(name)
    except FileNotFoundError:
        raise UsageError(f"{name}: no such telemetry file") from None
    except OSError as exc:
        raise UsageError(f"cannot read the telemetry {name}: {exc}") from None
    try:
        try:
            reader: Any = pa.ipc.open_file(source)
            batches: Iterator[Any] = (reader.get_batch(i) for i in range(reader.num_record_batches))
        except pa.ArrowInvalid:
            source.seek(0)
            batches = iter(pa.ipc.open_stream(source))
        yield from _rechunked(pa, batches, chunk_rows)
    except pa.ArrowInvalid as exc:
        raise UsageError(f"{name}: cannot read it as Arrow IPC (file or stream format): {exc}") from None
    finally:
        source.close()


def _rechunked(pa: Any, batches: Iterator[Any], chunk_rows: int) -> Iterator[Any]:
    """The batches as tables of `chunk_rows` rows (the last one shorter): a writer's small record
    batches are joined, so the per-chunk cost is paid per chunk_rows rows, not per batch."""
    held: list[Any] = []
    count = 0
    for batch in batches:
        held.append(batch)
        count += batch.num_rows
        if count >= chunk_rows:
            table = pa.Table.from_batches(held)
            for start in range(0, count - count % chunk_rows, chunk_rows):
                yield table.slice(start, chunk_rows)
            rest = table.slice(count - count % chunk_rows)
            held, count = rest.to_batches(), rest.num_rows
    if count:
        yield pa.Table.from_batches(held)


def _table_chunks(name: str, target: str, fields: Fields, batches: Iterator[Any]) -> Iterator[Chunk]:
    line = 1
    for table in batches:
        first = line
        names = table.column_names
        if len(set(names)) < len(names):
            twice = next(n for n in names if names.count(n) > 1)
            raise UsageError(f"{name}: the column {twice!r} appears twice; an event has one value per field")

        def events(positions: Sequence[int], table: Any = table, names: list[str] = names) -> list[dict[str, Any]]:
            if not len(positions):
                return []
            np, _, _ = require()
            index = np.asarray(positions, dtype=np.int64)
            columns = [python_values(table.column(i), index) for i in range(len(names))]
            rows = zip(*columns, strict=True) if columns else ([] for _ in positions)  # a table may have no column
            return [{k: v for k, v in zip(names, row, strict=True) if v is not None} for row in rows]

        def records(positions: Sequence[int], events: Any = events, first: int = first) -> list[Record | BadLine]:
            return [(first + int(i), target, event) for i, event in zip(positions, events(positions), strict=True)]

        yield Chunk(target, typed_batch(table, fields, events), records, first)
        line += table.num_rows


def python_values(column: Any, index: Any) -> list[Any]:
    """The column's values at `index` (a numpy int64 array) as pyarrow's `as_py` gives them, None
    for a null. Integer, float64 and bool columns without nulls go through numpy (whose `tolist`
    makes the same Python ints, floats and bools), dictionary strings through their dictionary;
    pyarrow's own conversion, value by value, is about ten times slower."""
    _, pa, _ = require()
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    t = column.type
    if column.null_count == 0:
        if pa.types.is_integer(t) or pa.types.is_float64(t):
            return column.to_numpy()[index].tolist()
        if pa.types.is_boolean(t):
            return column.to_numpy(zero_copy_only=False)[index].tolist()
        if pa.types.is_dictionary(t) and len(column.dictionary) <= 4 * len(index):
            dictionary = column.dictionary
            strings = pa.types.is_string(dictionary.type) or pa.types.is_large_string(dictionary.type)
            if dictionary.null_count == 0 and strings:
                entries = dictionary.to_pylist()
                return [entries[code] for code in column.indices.to_numpy()[index].tolist()]
    return column.take(pa.array(index)).to_pylist()


def typed_batch(table: Any, fields: Fields, events: Callable[[Sequence[int]], list[dict[str, Any]]]) -> Batch:
    """A Batch of an Arrow table or record batch, typed by the input schema (module docstring)."""
    np, pa, _ = require()
    rows = table.num_rows
    foreign = np.zeros(rows, dtype=bool)
    columns: dict[str, Any] = {}
    present: dict[str, Any] = {}
    declared = {f["name"]: f for f in fields}
    for column_name in table.column_names:
        if column_name not in declared:  # an unknown field, where it holds a value
            foreign |= _valid(np, table.column(column_name))
    for f in fields:
        name, kind = f["name"], column_kind(f["type"])
        array = table.column(name) if name in table.column_names else pa.nulls(rows)
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        typed = _typed(pa, array, kind)
        here = _valid(np, array if typed is None else typed)  # a decoded dictionary's nulls are its own
        if typed is None:  # a column of another type: the row path names the problem
            foreign |= here
            typed = pa.nulls(rows, type=_ARROW[kind](pa))
        present[name] = here
        if kind == "str":
            columns[name] = typed
        elif typed.null_count == 0 and kind != "bool":
            columns[name] = typed.to_numpy()  # zero copy, read-only: nothing downstream writes a column
        else:
            columns[name] = typed.fill_null(False if kind == "bool" else 0).to_numpy(zero_copy_only=False)
    return Batch(rows, columns, present, foreign, events)


_ARROW = {
    "int": lambda pa: pa.int64(),
    "float": lambda pa: pa.float64(),
    "bool": lambda pa: pa.bool_(),
    "str": lambda pa: pa.string(),
}


def _valid(np: Any, array: Any) -> Any:
    if array.null_count == 0:
        return np.ones(len(array), dtype=bool)
    return array.is_valid().to_numpy(zero_copy_only=False)


def _typed(pa: Any, array: Any, kind: str) -> Any:
    """The array as the kind's Arrow type, or None when its type does not hold that kind exactly."""
    t = array.type
    if pa.types.is_null(t):
        return pa.nulls(len(array), type=_ARROW[kind](pa))
    if pa.types.is_dictionary(t):
        values = t.value_type
        strings = pa.types.is_string(values) or pa.types.is_large_string(values)
        if kind == "str" and strings and array.dictionary.null_count == 0:
            return array  # kept encoded (compiler.columnar.strings); a null entry would hide a row's null
        array = array.dictionary_decode()
        t = array.type
    fits = {
        "int": pa.types.is_integer(t),
        "float": pa.types.is_floating(t) or pa.types.is_integer(t),
        "bool": pa.types.is_boolean(t),
        "str": pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t),
    }[kind]
    if not fits:
        return None
    try:
        return array.cast(_ARROW[kind](pa))  # a safe cast: a value that would change fails it
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


# ---- JSONL ----


def open_binary(name: str) -> BinaryIO:
    try:
        if name.endswith(".gz"):
            return gzip.open(name, "rb")  # type: ignore[return-value]
        return open(name, "rb")
    except FileNotFoundError:
        raise UsageError(f"{name}: no such telemetry file") from None
    except OSError as exc:
        raise UsageError(f"cannot read the telemetry {name}: {exc.strerror or exc}") from None


def whole_lines(name: str, stream: BinaryIO, chunk_bytes: int) -> Iterator[bytes]:
    """The stream in pieces of whole lines of about `chunk_bytes` (the last piece may lack its
    line feed); a byte-order mark at the start is dropped, as the row reader's utf-8-sig does."""
    carry = b""
    start = True
    while True:
        try:
            block = stream.read(chunk_bytes)
        except (OSError, EOFError) as exc:  # a truncated or corrupt .gz
            raise unreadable(name, exc) from None
        if start:
            block = block.removeprefix(BOM)
            start = False
        if not block:
            if carry:
                yield carry
            return
        data = carry + block
        cut = data.rfind(b"\n") + 1
        carry = data[cut:]
        if cut:
            yield data[:cut]


class LinePieces:
    """What the readers of text (JSONL, CSV) share: a piece of whole lines that pyarrow reads as
    the row reader would becomes a Chunk; one it may read differently is halved, down to
    `SPLIT_MIN` lines, and those lines are read by the row reader (`_rows`). `line` is the
    number of the piece's first line."""

    np: Any
    name: str
    line: int
    read_line: Callable[[int, str], Record | BadLine | None]  # the row reader's reading of one line

    def _piece(self, data: bytes) -> Iterator[Chunk | Rows]:
        # pyarrow would read a string that is not UTF-8; the row reader stops the whole replay
        # at its first such byte, with this message: so do we (a line feed never ends a piece
        # inside a character, so no character is split between pieces)
        if not data.isascii():
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise unreadable(self.name, exc) from None
        return self._halves(data)

    def _halves(self, data: bytes) -> Iterator[Chunk | Rows]:
        np = self.np
        bytes_ = np.frombuffer(data, dtype=np.uint8)
        newlines = np.flatnonzero(bytes_ == 10)
        lines = len(newlines) + (not data.endswith(b"\n"))
        table = None
        if not self._suspect(data, bytes_, newlines):
            table = self._parse(data)
        if table is not None and table.num_rows == lines:
            yield self._chunk(data, newlines, table)
            self.line += lines
            return
        if lines > SPLIT_MIN:
            middle = data.find(b"\n", len(data) // 2) + 1
            if 0 < middle < len(data):
                yield from self._halves(data[:middle])
                yield from self._halves(data[middle:])
                return
        yield self._rows(data)

    def _suspect(self, data: bytes, bytes_: Any, newlines: Any) -> bool:
        """Whether pyarrow may read the piece otherwise than the row reader (`newlines`: the
        positions of its line feeds in `bytes_`, the piece as uint8)."""
        raise NotImplementedError

    def _parse(self, data: bytes) -> Any:
        """The piece as an Arrow table, or None where pyarrow refuses it."""
        raise NotImplementedError

    def _chunk(self, data: bytes, newlines: Any, table: Any) -> Chunk:
        raise NotImplementedError

    def _rows(self, data: bytes) -> Rows:
        """A piece read line by line by the row reader, as the row path would read it."""
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise unreadable(self.name, exc) from None
        out: Rows = []
        read = self.read_line
        for number, line in enumerate(io.StringIO(text, newline=""), start=self.line):
            record = read(number, line)
            if record is not None:
                out.append(record)
            self.line = number + 1
        return out


class _JsonlReader(LinePieces):
    """JSONL in chunks of whole lines; `line` is the number of the next line to read."""

    def __init__(self, name: str, target: str, fields: Fields, inputs: Mapping[str, Fields]) -> None:
        np, pa, _ = require()
        import pyarrow.json as pj

        self.np, self.pa, self.pj = np, pa, pj
        self.name, self.target, self.fields = name, target, fields
        self.read_line = line_reader(name, target, inputs)
        schema = pa.schema([(f["name"], _ARROW[column_kind(f["type"]) or "str"](pa)) for f in fields])
        self.parse_options = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="error")
        self.line = 1

    def chunks(self, chunk_bytes: int) -> Iterator[Chunk | Rows]:
        with open_binary(self.name) as stream:
            for data in whole_lines(self.name, stream, chunk_bytes):
                yield from self._piece(data)

    def _suspect(self, data: bytes, bytes_: Any, newlines: Any) -> bool:
        return _suspect(self.np, data, bytes_, newlines)

    def _parse(self, data: bytes) -> Any:
        options = self.pj.ReadOptions(use_threads=False, block_size=len(data) + 1)
        try:
            return self.pj.read_json(self.pa.BufferReader(data), read_options=options, parse_options=self.parse_options)
        except (self.pa.ArrowInvalid, UnicodeDecodeError):
            return None

    def _chunk(self, data: bytes, newlines: Any, table: Any) -> Chunk:
        np = self.np
        ends = newlines + 1
        starts = np.concatenate(([0], ends))[: table.num_rows]
        ends = np.concatenate((ends, [len(data)]))[: table.num_rows]
        first, read = self.line, self.read_line

        def text(i: int) -> str:
            return data[starts[i] : ends[i]].decode("utf-8")

        def records(positions: Sequence[int]) -> list[Record | BadLine | None]:
            # pyarrow read every line of the piece as an object: none is blank, so none is None
            return [read(first + int(i), text(int(i))) for i in positions]

        def events(positions: Sequence[int]) -> list[dict[str, Any] | None]:
            got = (read(first + int(i), text(int(i))) for i in positions)
            return [r[2] if isinstance(r, tuple) else None for r in got]

        return Chunk(self.target, typed_batch(table, self.fields, events), records, first)


__all__ = [
    "CHUNK_ROWS",
    "Chunk",
    "Rows",
    "open_binary",
    "python_values",
    "read_columns",
    "table_records",
    "telemetry_format",
    "typed_batch",
]
