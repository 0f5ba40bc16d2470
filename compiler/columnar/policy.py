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
from ballast.compiler.columnar.schema import clean_rows
from ballast.runtime.codegen import node_key
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


class ColumnarPolicy:
    """One policy's plan and compiled rules; raises nothing at evaluation for bad rows."""

    def __init__(self, policy: CompiledPolicy) -> None:
        self.policy = policy
        self.problem = policy_problem(policy)
        self.plans: list[RulePlan] | None = None if self.problem else plan_rules(policy)
        self._fallback: list[Busy] = []
        self._schema_key = "schema " + json.dumps(policy.fields, sort_keys=True)
        self._keys = [f"rule {node_key(rule.when)}" for rule in policy.rules]
        if self.plans is not None:
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
            shared[schema] = clean_rows(self.policy.fields, batch.columns, batch.present, batch.foreign)
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
