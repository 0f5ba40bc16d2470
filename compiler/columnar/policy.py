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

    def quiet(self, batch: Batch, shared: dict[str, Any] | None = None) -> Any:
        """A numpy bool array: the rows on which this policy decides nothing and reports nothing.

        `shared` caches, for one batch, what policies compute alike: the schema check of the same
        fields and the conditions that are the same expression (a candidate that changes one
        threshold shares every other rule with its baseline), so both sides compute them once.
        """
        np, _, _ = require()
        if self.plans is None:
            return np.zeros(batch.rows, dtype=bool)
        shared = {} if shared is None else shared
        schema = self._schema_key
        if schema not in shared:
            shared[schema] = clean_rows(self.policy.fields, batch.columns, batch.present, batch.foreign)
        quiet = shared[schema].copy()
        for plan, key in zip(self.plans, self._keys, strict=True):
            if plan.columnar:
                busy = shared.get(key)
                if busy is None:
                    fires, unsafe = plan.run(batch.columns, batch.rows)
                    busy = shared[key] = fires | unsafe
                quiet &= ~busy
        if self._fallback:
            rows = np.flatnonzero(quiet)
            if len(rows):
                scratch = Result()  # prepare's problems; none for a clean row, whose data is then the row path's
                events = [None if e is None else self.policy.prepare(e, scratch) for e in batch.events(rows)]
                busy = busy_rows(self._fallback, events)
                quiet[rows[busy]] = False
        return quiet


__all__ = ["Batch", "ColumnarPolicy"]
