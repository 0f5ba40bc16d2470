"""A policy on columns: which rows of a batch it leaves quiet (no directive, no problem).

`ColumnarPolicy.quiet(batch)` is the whole contract: a row it calls quiet is one on which the
row path (`CompiledPolicy.evaluate_into`) would add nothing to the Result. Every other row is
handed to the row path by the caller, which builds the directives (ids, reasons, rationales)
and problems with the row path's own code, so those are byte-identical by construction; only
the *quiet* verdict is computed here, vectorised.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ballast.compiler.columnar.deps import require
from ballast.compiler.columnar.fallback import Busy, busy_rows, row_rule
from ballast.compiler.columnar.plan import RulePlan, describe, plan_rules, policy_problem
from ballast.compiler.columnar.schema import clean_rows, timestamps
from ballast.compiler.columnar.window import WindowScreen
from ballast.runtime.codegen import node_key
from ballast.runtime.ir import slot_key
from ballast.runtime.policy import CompiledPolicy, Result


@dataclass
class Batch:
    """Rows of one input as columns, as a column reader hands them over.

    `columns[name]` holds a field's values (numpy int64/float64/bool with nulls filled, or a
    pyarrow string array), `present[name]` whether each row has the field, `foreign` the rows the
    reader could not type exactly; `events(rows)` rebuilds the events at those positions as the
    row path would receive them (dicts).
    """

    rows: int
    columns: Mapping[str, Any]
    present: Mapping[str, Any]
    foreign: Any
    events: Callable[[Sequence[int]], list[dict[str, Any] | None]]
    # A timestamp cell Python's float() reads is epoch seconds (CSV: the row reader converts
    # cells with float() first); elsewhere a timestamp column holds RFC 3339 text only.
    epoch_text: bool = False


class ColumnarPolicy:
    """One policy's plan and compiled rules; raises nothing at evaluation for bad rows."""

    def __init__(self, policy: CompiledPolicy) -> None:
        self.policy = policy
        self.problem = policy_problem(policy)
        self.plans: list[RulePlan] | None = None if self.problem else plan_rules(policy)
        self._fallback: list[Busy] = []
        self._schema_key = "schema " + json.dumps(policy.fields, sort_keys=True)
        self._keys = [f"rule {node_key(rule.when)}" for rule in policy.rules]
        self.screen: WindowScreen | None = None
        time = policy.timing_ir["stream"].get("time")
        if self.plans is not None and time:
            aggregates: dict[tuple[str, ...], dict[str, Any]] = {}
            for p in self.plans:
                if p.columnar and p.grouping is not None:
                    aggregates.setdefault(p.grouping, {}).update((slot_key(n), n) for n in p.aggregates)
            self.screen = WindowScreen(time, policy.fields, aggregates)
        elif self.plans is not None:
            self._fallback = [row_rule(policy, p.index) for p in self.plans if not p.columnar]

    @property
    def eligible(self) -> bool:
        return self.plans is not None

    def explain(self) -> list[str]:
        return describe(self.policy, self.plans, self.problem)

    def verdicts(self, batch: Batch, shared: dict[str, Any] | None = None) -> tuple[Any, list[Any]]:
        """(ok, fires): `ok` the rows that pass the schema check and on which no compiled rule may
        fault or compute inexactly; `fires[i]` the rows on which rule i fires, meaningful on the
        rows of `ok` only (None for a rule that falls back). Numpy bool arrays, to be read, not
        written: a rule's array may be another policy's too.

        `shared` caches, for one batch, what policies compute alike: the schema check of the same
        fields and the conditions that are the same expression (a candidate that changes one
        threshold shares every other rule with its baseline), so both sides compute them once,
        and a condition's array is then the same object on both sides.
        """
        np, _, _ = require()
        if self.plans is None:
            return np.zeros(batch.rows, dtype=bool), [None] * len(self.policy.rules)
        shared = {} if shared is None else shared
        schema = self._schema_key
        if schema not in shared:
            shared[schema] = clean_rows(self.policy.fields, batch)
        ok = shared[schema].copy()
        fires: list[Any] = []
        for plan, key in zip(self.plans, self._keys, strict=True):
            if not plan.columnar:
                fires.append(None)
                continue
            if key not in shared:
                value, unsafe = plan.run(batch.columns, batch.rows)
                shared[key] = (value, ~unsafe if unsafe.any() else None)  # most conditions cannot fault
            value, safe = shared[key]
            if safe is not None:
                ok &= safe
            fires.append(value)
        return ok, fires

    @property
    def windowed(self) -> bool:
        """Whether the policy has event time: every row goes to its Engine (`quiet_rules`)."""
        return self.screen is not None

    def quiet_rules(self, batch: Batch, shared: dict[str, Any] | None = None) -> Any:
        """For a policy with event time: an int64 array, per row the bits (1 << rule index) of
        the rules proven to do nothing on it (`Engine.absorb`), 0 for a row the Engine must
        step in full. Call it on every batch of the stream, in order; `poison()` for events of
        the input it is not shown (the row reader's). Rules past the 63rd are always stepped."""
        np, _, _ = require()
        assert self.screen is not None and self.plans is not None
        shared = {} if shared is None else shared
        schema = self._schema_key
        if schema not in shared:
            shared[schema] = clean_rows(self.policy.fields, batch)
        clean = shared[schema]
        rejected = self._rejected(batch, clean)
        time = self.screen.time_field
        if "time " + time not in shared:
            shared["time " + time] = timestamps(batch.columns[time], batch.epoch_text)
        admitted, windows = self.screen.columns(batch, clean, rejected, shared["time " + time])
        masks = np.zeros(batch.rows, dtype=np.int64)
        if not admitted.any():
            return masks
        columns = {**batch.columns, **windows}
        for plan in self.plans:
            if not plan.columnar or plan.index > 62:
                continue
            fires, unsafe = plan.run(columns, batch.rows)
            masks |= np.where(admitted & ~unsafe & ~fires, np.int64(1) << plan.index, 0)
        return masks

    def _rejected(self, batch: Batch, clean: Any) -> Any:
        """The rows the schema check does not pass unchanged that it refuses (the Engine admits
        none of them); the others it may admit, converted, which the screen cannot follow."""
        np, _, _ = require()
        rejected = np.zeros(batch.rows, dtype=bool)
        positions = np.flatnonzero(~clean)
        if len(positions):
            scratch = Result()
            events = batch.events(positions)
            refused = [e is None or self.policy.prepare(e, scratch) is None for e in events]
            rejected[positions] = refused
        return rejected

    def follow(self, events: list[Any]) -> None:
        """Events not in a batch (rows the column readers left to the row reader), in file order:
        those the schema check accepts are admitted by the Engine, and the screen takes them in."""
        assert self.screen is not None
        scratch = Result()
        prepared = (self.policy.prepare(e, scratch) for e in events)
        self.screen.follow([data for data in prepared if data is not None])

    def quiet(self, batch: Batch, shared: dict[str, Any] | None = None) -> Any:
        """A numpy bool array: the rows on which this policy decides nothing and reports nothing
        (`shared` as for `verdicts`)."""
        ok, fires = self.verdicts(batch, shared)
        quiet = ok
        for f in fires:
            if f is not None:
                quiet &= ~f
        return self.without_fallback_hits(batch, quiet)

    def without_fallback_hits(self, batch: Batch, rows: Any) -> Any:
        """`rows` (a bool array) less the rows on which a rule that falls back fires or faults."""
        np, _, _ = require()
        if self._fallback:
            positions = np.flatnonzero(rows)
            if len(positions):
                scratch = Result()  # prepare's problems; none for a clean row, whose data is then the row path's
                events = [None if e is None else self.policy.prepare(e, scratch) for e in batch.events(positions)]
                busy = busy_rows(self._fallback, events)
                rows[positions[busy]] = False
        return rows


__all__ = ["Batch", "ColumnarPolicy"]
