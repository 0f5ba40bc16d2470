"""Replay on columns: which engine runs a replay, and the stream of events it hands the replay.

`--engine row` reads the telemetry line by line and evaluates every event in both sets (the
definition). `--engine columnar` reads it in chunks of columns and asks each policy of both sets
which rows it leaves quiet (`compiler.columnar.ColumnarPolicy`): a run of rows quiet in every
policy becomes one `Quiet(input, count)`, and every other row goes to the replay as the Record
the row reader would have made, to be evaluated by the row path. The report is therefore the
row engine's, byte for byte: the columnar engine only skips, in bulk, the events on which
nothing happens.

Sets with event time run in Engines, whose state depends on every event: there every event goes
to both Engines (`_Screen`), and the columnar side only proves, per row and per rule, which
level rules do nothing on it (`compiler.columnar.window`), so the Engines skip those steps
(`Engine.absorb`). The report is again the row engine's.

`--engine auto` runs columnar when it can, and row otherwise. It can when numpy and pyarrow are
installed, neither set has threats, both or neither have event time (then without
`stream { id }`), every event is of one input (envelopes and several inputs are read row by
row), the policies of both sets that read it declare the same fields with column types, and the
file is Parquet, Arrow IPC, CSV (`.csv`) or JSONL (`.jsonl`, `.ndjson`, `.json`), the last two
optionally `.gz`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ballast.runtime.errors import UsageError
from ballast.runtime.policy import PolicySet
from ballast.simulator.telemetry import BadLine, Fields, Quiet, Record, Screened

ENGINES = ("auto", "row", "columnar")
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")


@dataclass
class EnginePlan:
    """The engine a replay runs on, why, and for the columnar engine what it runs."""

    engine: str  # "row" or "columnar": the one that runs
    asked: str  # the --engine given
    file_format: str  # "parquet", "arrow", "jsonl", "csv" or "text"
    target: str | None  # the input every event belongs to, when there is one
    reason: str = ""  # why the row engine runs (empty when columnar does)
    policies: list = field(default_factory=list)  # ColumnarPolicy of both sets reading the target
    sides: tuple[list, list] = ([], [])  # the same, per set, for the explanation
    windowed: bool = False  # both sets have event time: every event goes to their Engines, screened

    def explain(self) -> str:
        """The plan as text, for `ballast replay --explain-plan`."""
        head = f"engine: {self.engine} (--engine {self.asked})"
        lines = [head if not self.reason else f"{head}: {self.reason}"]
        lines.append(
            f"telemetry: {self.file_format}" + (f", every event of the input {self.target}" if self.target else "")
        )
        if self.engine == "columnar":
            for label, policies in zip(("baseline", "candidate"), self.sides, strict=True):
                lines.append(f"{label}:")
                lines += [f"  {line}" for p in policies for line in p.explain()]
        return "\n".join(lines) + "\n"


def file_format(path: str | Path) -> str:
    from ballast.simulator.telemetry_columns import telemetry_format

    kind = telemetry_format(path)
    if kind == "text" and str(path).lower().removesuffix(".gz").endswith(JSONL_SUFFIXES):
        return "jsonl"
    return kind


def plan_engine(
    telemetry: str | Path,
    baseline: PolicySet,
    candidate: PolicySet,
    inputs: Mapping[str, Fields],
    *,
    input: str | None = None,
    engine: str = "auto",
) -> EnginePlan:
    """Which engine runs this replay (module docstring). Raises UsageError for an unknown engine,
    for `columnar` where it cannot run (saying why), and for a Parquet or Arrow file without
    numpy and pyarrow or without one input to feed."""
    from ballast.compiler.columnar import available

    if engine not in ENGINES:
        raise UsageError(f"unknown engine {engine!r}: choose one of {', '.join(ENGINES)}")
    kind = file_format(telemetry)
    target = input if input is not None else next(iter(inputs)) if len(inputs) == 1 else None
    plan = EnginePlan("row", engine, kind, target)
    table = kind in ("parquet", "arrow")
    if table and target is None:
        raise UsageError(
            f"{telemetry}: a {kind.capitalize()} file feeds one input, and the policies read {', '.join(sorted(inputs))}: pass --input NAME"
        )
    if table and not available():
        from ballast.compiler.columnar import require

        require(f"reading {kind.capitalize()} telemetry")
    if engine == "row":
        plan.reason = "asked for"
        return plan
    plan.reason = _why_not_columnar(plan, baseline, candidate, inputs)
    if plan.reason and engine == "columnar":
        raise UsageError(f"--engine columnar cannot run this replay: {plan.reason}; use --engine auto or row")
    if not plan.reason:
        plan.engine = "columnar"
    return plan


def _why_not_columnar(plan: EnginePlan, baseline: PolicySet, candidate: PolicySet, inputs: Mapping[str, Fields]) -> str:
    from ballast.compiler.columnar import available, require

    if not available():
        if plan.asked == "columnar":
            require()  # the UsageError naming the extra
        return "numpy and pyarrow are not installed (pip install 'ballast[columnar]')"
    if plan.file_format == "text":
        return "files named neither .jsonl, .ndjson, .json nor .csv are read row by row"
    if plan.target is None:
        return "the policies read several inputs: JSONL envelopes are read row by row (pass --input NAME)"
    timed = []
    for label, side in (("baseline", baseline), ("candidate", candidate)):
        if side.threats:
            return f"the {label} has threat documents, which an Engine runs event by event"
        timed.append(any(p.timing_ir["stream"].get("time") for p in side.policies))
    if timed[0] != timed[1]:
        which = "baseline" if timed[0] else "candidate"
        return f"only the {which} has event time: the columnar engine screens events for two Engines or none"
    from ballast.compiler.columnar import ColumnarPolicy

    sides = tuple([ColumnarPolicy(p) for p in s.policies if p.input_name == plan.target] for s in (baseline, candidate))
    readers = sides[0] + sides[1]
    if not readers:
        return f"no policy reads the input {plan.target}"
    for p in readers:
        if not p.eligible:
            return f"policy {p.policy.name}: {p.problem}"
    shapes = {_shape(p.policy.fields) for p in readers}
    if len(shapes) > 1:
        return f"the policies reading {plan.target} declare different fields: each event is checked row by row"
    plan.policies = readers
    plan.sides = (sides[0], sides[1])
    plan.windowed = timed[0]
    return ""


def _shape(fields: Fields) -> frozenset[tuple[str, str]]:
    from ballast.compiler.columnar.codegen import column_kind

    return frozenset((f["name"], str(column_kind(f["type"]))) for f in fields)


def column_records(
    telemetry: str | Path,
    plan: EnginePlan,
    inputs: Mapping[str, Fields],
    *,
    chunk_rows: int | None = None,
    progress: Callable[[int], None] | None = None,
    progress_every: int = 1 << 16,
) -> Iterator[Record | BadLine | Quiet | Screened]:
    """The replay's event stream on the columnar engine: Quiet runs, and the rest as Records
    and BadLines of the row reader, in file order. After each chunk, `progress(n)` is called
    for each multiple n of `progress_every` lines the chunk reached, as the row engine does."""
    from ballast.compiler.columnar import require
    from ballast.simulator.telemetry_columns import CHUNK_ROWS, Chunk, read_columns

    np, _, _ = require()
    assert plan.target is not None and plan.engine == "columnar"
    target, policies = plan.target, plan.policies
    fields = policies[0].policy.fields
    twins = None if plan.windowed else _pair(plan)
    diverged: set[int] = set()  # rules whose first known divergence went to the replay in full
    screen = _Screen(np, plan) if plan.windowed else None
    lines = reported = 0
    for chunk in read_columns(telemetry, target, fields, inputs, chunk_rows=chunk_rows or CHUNK_ROWS):
        if screen is not None:
            yield from screen.records(chunk)
            lines += len(chunk) if not isinstance(chunk, Chunk) else chunk.batch.rows
        elif not isinstance(chunk, Chunk):
            yield from chunk
            lines += len(chunk)
        else:
            batch = chunk.batch
            shared: dict[str, Any] = {}
            same: tuple[tuple[tuple[str, str], int], ...] = ()
            counted = Counted()
            if twins is None:
                quiet = policies[0].quiet(batch, shared)
                for policy in policies[1:]:
                    quiet &= policy.quiet(batch, shared)
            else:
                quiet, same, counted = _alike_rows(np, plan, twins, batch, shared, diverged)
            busy = np.flatnonzero(~quiet)
            done = 0
            for position, record in zip(busy.tolist(), chunk.records(busy), strict=True):
                if position > done:
                    yield Quiet(target, position - done)
                if record is not None:
                    yield record
                done = position + 1
            if batch.rows > done or same or counted.split:
                yield Quiet(target, batch.rows - done, same, counted.split, counted.differing)
            lines += batch.rows
        if progress is not None:
            while reported + progress_every <= lines:
                reported += progress_every
                progress(reported)


class _Screen:
    """The stream of a replay whose sets have event time: every event goes to both Engines.

    A row every policy's schema check passes (when all policies reading the input declare the
    same fields) is handed over as the event that check makes of it, built from the columns
    (`checked`: not parsed nor checked again), Screened with the rules proven to do nothing on
    it (`ColumnarPolicy.quiet_rules`). Any other row goes as the row reader's Record, stepped
    in full."""

    def __init__(self, np: Any, plan: EnginePlan) -> None:
        self.np = np
        self.sides = plan.sides
        readers = plan.sides[0] + plan.sides[1]
        same = all(p.policy.fields == readers[0].policy.fields for p in readers)
        self.fields: list[dict[str, Any]] | None = readers[0].policy.fields if same else None
        self.quiet: dict[tuple[int, ...], tuple[dict[str, frozenset[int]], dict[str, frozenset[int]]]] = {}

    def records(self, chunk: Any) -> Iterator[Record | BadLine | Screened]:
        from ballast.compiler.columnar.schema import clean_rows
        from ballast.simulator.telemetry_columns import Chunk

        if not isinstance(chunk, Chunk):  # rows the row reader read: the screens take them in
            events = [r[2] for r in chunk if isinstance(r, tuple)]
            for policy in self.sides[0] + self.sides[1]:
                if policy.windowed and events:
                    policy.follow(events)
            yield from chunk
            return
        np, batch = self.np, chunk.batch
        shared: dict[str, Any] = {}
        masks = [[self._mask(p, batch, shared) for p in side] for side in self.sides]
        rows = [m.tolist() for side in masks for m in side]
        trusted = np.zeros(batch.rows, dtype=bool)
        if self.fields is not None and chunk.first is not None:
            trusted = clean_rows(self.fields, batch)
        events = _checked_events(np, self.fields, batch, trusted, shared) if trusted.any() else iter(())
        busy = np.flatnonzero(~trusted)
        raw = iter(chunk.records(busy) if len(busy) else ())
        name, first = chunk.input, chunk.first
        for position, is_trusted in enumerate(trusted.tolist()):
            if is_trusted:
                quiet = self._quiet(tuple(r[position] for r in rows))
                yield Screened(first + position, name, next(events), quiet, True)
                continue
            record = next(raw)
            if record is None:
                continue
            if type(record) is tuple and any(r[position] for r in rows):
                line, input_name, event = record
                yield Screened(line, input_name, event, self._quiet(tuple(r[position] for r in rows)))
            else:
                yield record

    def _mask(self, policy: Any, batch: Any, shared: dict[str, Any]) -> Any:
        """Per row, the bits of the policy's rules proven to do nothing."""
        np = self.np
        if policy.windowed:
            return policy.quiet_rules(batch, shared)
        every = (1 << min(len(policy.policy.rules), 63)) - 1
        return np.where(policy.quiet(batch, shared), np.int64(every), np.int64(0))

    def _quiet(self, key: tuple[int, ...]) -> tuple[dict[str, frozenset[int]], dict[str, frozenset[int]]]:
        """The quiet rules of both sides for one combination of masks (a few recur: interned)."""
        found = self.quiet.get(key)
        if found is None:
            masks = iter(key)
            found = tuple(  # type: ignore[assignment]
                {p.policy.name: _indices(next(masks)) for p in side} for side in self.sides
            )
            self.quiet[key] = found  # type: ignore[assignment]
        return found  # type: ignore[return-value]


def _checked_events(
    np: Any, fields: list[dict[str, Any]], batch: Any, rows: Any, shared: dict[str, Any]
) -> Iterator[dict[str, Any]]:
    """The events the schema check makes of the `rows` (clean, a bool mask) of a batch, built
    from the columns: its fields in schema order, the present ones, each converted as `validate`
    converts it (a timestamp to epoch seconds, a float field's value to float). Exactly what
    `CompiledPolicy.prepare` returns for such a row, whose time is text (so the check that
    passes an event unchanged never does)."""
    from ballast.compiler.columnar.schema import timestamps
    from ballast.simulator.telemetry_columns import python_values

    taken = np.flatnonzero(rows)
    names = [f["name"] for f in fields]
    columns = []
    present = []
    for f in fields:
        name, t = f["name"], f["type"]
        values = batch.columns[name]
        if t == "timestamp":
            key = "time " + name
            if key not in shared:
                shared[key] = timestamps(values, batch.epoch_text)
            column = shared[key][taken].tolist()
        elif hasattr(values, "to_pylist"):  # strings and enums (a dictionary's through its entries)
            column = python_values(values, taken)
        elif t == "float":
            column = values[taken].astype(np.float64).tolist()
        else:
            column = values[taken].tolist()
        columns.append(column)
        present.append(batch.present[name][taken])
    full = np.logical_and.reduce(present) if present else np.ones(len(taken), dtype=bool)
    flags = [p.tolist() for p in present]
    for i, (whole, values) in enumerate(zip(full.tolist(), zip(*columns, strict=True), strict=True)):
        if whole:
            yield dict(zip(names, values, strict=True))
        else:
            yield {n: v for n, v, p in zip(names, values, flags, strict=True) if p[i]}


def _indices(mask: int) -> frozenset[int]:
    return frozenset(i for i in range(63) if mask >> i & 1)


def _pair(plan: EnginePlan) -> list[int] | None:
    """Directives per firing of each rule that emits alike in the baseline's and the candidate's
    one policy reading the input (`twins.twin_rules`), or None when they cannot be paired."""
    from ballast.compiler.columnar.twins import twin_rules

    baseline, candidate = plan.sides
    if len(baseline) != 1 or len(candidate) != 1:
        return None
    return twin_rules(baseline[0], candidate[0])


@dataclass
class Counted:
    """What a chunk's rows decided differently, counted in bulk (`_alike_rows`): per rule
    ((policy, rule), baseline directives, candidate directives), and on how many rows."""

    split: tuple[tuple[tuple[str, str], int, int], ...] = ()
    differing: int = 0


def _alike_rows(
    np: Any, plan: EnginePlan, twins: list[int], batch: Any, shared: dict[str, Any], diverged: set[int]
) -> tuple[Any, tuple[tuple[tuple[str, str], int], ...], Counted]:
    """(rows the row path need not see, directives counted on the alike ones, what the others
    decided). The rows where both policies are quiet or fire exactly the same twin rules are
    counted as `same`. The rows where they fire different twin rules, and nothing else (no
    fault, no rule whose directives vary), are counted apart, except each rule's first such
    row, which the replay must see in full for the rule's first divergence; `diverged` holds
    the rules whose first divergence it has seen (updated here, chunk after chunk)."""
    (baseline,), (candidate,) = plan.sides
    ok_b, fires_b = baseline.verdicts(batch, shared)
    ok_c, fires_c = candidate.verdicts(batch, shared)
    exact = ok_b & ok_c
    alike = exact.copy()
    countable = exact.copy()  # rows whose every firing rule issues fixed directives
    apart: list[tuple[int, Any]] = []  # (rule, rows where it fires on one side only)
    for index, (fb, fc, directives) in enumerate(zip(fires_b, fires_c, twins, strict=True)):
        if fb is fc:  # the same condition on both sides (computed once): alike wherever it is
            if not directives:
                alike &= ~fb
                countable &= ~fb
            continue
        if not directives:
            alike &= ~(fb | fc)
            countable &= ~(fb | fc)
            continue
        differs = (fb != fc) & exact
        alike &= ~differs
        if differs.any():
            apart.append((index, differs))
    countable &= ~alike
    for index, differs in apart:
        if index not in diverged:  # its first divergence goes to the replay in full
            first = int(np.argmax(differs))
            countable[first] = False
            diverged.add(index)
    name = baseline.policy.name
    same, split = [], []
    for rule, fb, fc, directives in zip(baseline.policy.rules, fires_b, fires_c, twins, strict=True):
        if not directives:
            continue
        fired = int(np.count_nonzero(fb & alike))
        if fired:
            same.append(((name, rule.name), fired * directives))
        b, c = int(np.count_nonzero(fb & countable)), int(np.count_nonzero(fc & countable))
        if b or c:
            split.append(((name, rule.name), b * directives, c * directives))
    counted = Counted(tuple(split), int(np.count_nonzero(countable)))
    return alike | countable, tuple(same), counted


__all__ = ["ENGINES", "EnginePlan", "column_records", "file_format", "plan_engine"]
