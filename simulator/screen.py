"""The simulator's columnar screen: the pools on which a tick's events would do nothing.

At each telemetry tick the simulator holds every pool's signals as numpy columns
(`model.Mesh.columns`). For an input that no threat reads and whose policies have no event
time and no rule with a time clause, the Engine does nothing with an event on which no rule
fires, faults or reports anything but count it (`Engine.counts_quiet`). The columnar back-end
(`ballast.compiler.columnar`, the one `ballast replay` runs) proves which pools' events are such
over whole columns; the Engine counts those (`Engine.count_quiet`) and evaluates the others, so
directives, problems and counters are those of evaluating every event, and the events of quiet
pools are never built.

The screen is used when numpy and pyarrow are installed (the `columnar` extra) and every field
of the input is one the back-end reads (int, float, bool, string, enum; no timestamp). A rule
the back-end does not compile runs row by row on the pools the others leave quiet. A tick whose
values are not of their fields' kinds (an int column for a float field, say) is evaluated event
by event, unscreened.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ballast.compiler.columnar.strings import constant
from ballast.runtime.engine import Engine
from ballast.runtime.policy import PolicySet
from ballast.simulator.model import COLUMNS
from ballast.simulator.signals import InputPlan

# The screen costs about 0.3 ms a tick whatever the number of pools (a few dozen column operations
# for a catalog policy), evaluating an event about 1.2 µs (building it, then the Engine): below
# about 250 pools it costs more than it saves (bench/simulator.py, docs/performance.md).
SCREEN_MIN_POOLS = 256
# numpy dtype kinds that hold each column kind exactly, as the events' Python values would
_DTYPE_KINDS = {"int": "i", "float": "f", "bool": "b"}
_PYTHON_TYPES = {"int": int, "float": float, "bool": bool, "str": str}


class TickScreen:
    """For one per-pool input: `quiet(columns, fleet, time, seq)`, per pool whether its event is
    proven quiet in every policy reading the input, or None for a tick it cannot screen."""

    def __init__(self, policies: list[Any], plan: InputPlan, constants: Mapping[str, list[str]], build: Any) -> None:
        _, pa, _ = _require()
        self.policies = policies  # ColumnarPolicy of each policy reading the input
        self.build = build  # the input's event builder: the events of given pools, for rules that fall back
        self.size = len(next(iter(constants.values())))
        self.fields = policies[0].policy.fields
        self.kinds = {f["name"]: _kind(f["type"]) for f in self.fields}
        self.signals = dict(plan.fields)
        # the same arrays every tick: the column code remembers their string tests (strings.constant)
        self.constants = {s: constant(pa.array(values, type=pa.string())) for s, values in constants.items()}
        n = self.size
        absent = [f["name"] for f in self.fields if f["name"] not in self.signals]  # optional, never sent
        self.absent_columns = {name: _empty(pa, self.kinds[name], n) for name in absent}
        self.present_all = np.ones(n, dtype=bool)
        self.present_none = np.zeros(n, dtype=bool)

    def quiet(self, columns: Any, fleet: Mapping[str, Any], time: float, seq: int) -> Any:
        from ballast.compiler.columnar import Batch

        n = self.size
        specials = {"@time": time, "@seq": seq}
        typed: dict[str, Any] = dict(self.absent_columns)
        present = dict.fromkeys(self.absent_columns, self.present_none)
        arrays = getattr(columns, "arrays", None)
        for name, signal in self.signals.items():
            kind = self.kinds[name]
            if signal in self.constants:
                if kind != "str":
                    return None
                column: Any = self.constants[signal]
            elif signal in COLUMNS:
                if arrays is None or arrays[signal].dtype.kind not in _DTYPE_KINDS.get(kind, ""):
                    return None
                column = arrays[signal]
            else:
                value = specials[signal] if signal in specials else fleet[signal]
                if type(value) is not _PYTHON_TYPES[kind] or kind == "str" or (kind == "int" and abs(value) >= 2**63):
                    return None  # a string, or an int no int64 column holds: left to the events
                column = np.full(n, value)
            typed[name] = column
            present[name] = self.present_all

        def events(positions: Any) -> list[dict[str, Any] | None]:
            return list(self.build(columns, fleet, time, seq, np.asarray(positions, dtype=np.int64)))

        batch = Batch(n, typed, present, self.present_none, events)
        shared: dict[str, Any] = {}
        quiet = self.policies[0].quiet(batch, shared)
        for policy in self.policies[1:]:
            quiet &= policy.quiet(batch, shared)
        return quiet


def tick_screens(
    engine: Engine, policies: PolicySet, plans: list[InputPlan], constants: Mapping[str, list[str]], builders: Any
) -> dict[str, TickScreen]:
    """The screen of each per-pool input it applies to (module docstring), by input name."""
    from ballast.compiler.columnar import ColumnarPolicy, available

    if not available():
        return {}
    screens = {}
    for plan, (_, build) in zip(plans, builders, strict=True):
        if not plan.per_pool or not engine.counts_quiet(plan.name):
            continue
        readers = [ColumnarPolicy(p) for p in policies.policies if p.input_name == plan.name]
        if not readers or not all(_screenable(r) for r in readers):
            continue
        if any(r.policy.fields != readers[0].policy.fields for r in readers):
            continue
        screens[plan.name] = TickScreen(readers, plan, constants, build)
    return screens


def _screenable(policy: Any) -> bool:
    """Whether the columnar back-end runs the policy (its rules as columns, or falling back row
    by row on the quiet candidates) and every field is a column kind."""
    if not policy.eligible or policy.windowed:
        return False
    return all(_kind(f["type"]) is not None for f in policy.policy.fields)


def _kind(t: Any) -> str | None:
    from ballast.compiler.columnar.codegen import kind_of

    return kind_of(t)  # a timestamp is not one: its column would be text, its event value a number


def _empty(pa: Any, kind: str | None, n: int) -> Any:
    if kind == "str":
        return pa.nulls(n, type=pa.string())
    return np.zeros(n, dtype={"int": np.int64, "float": np.float64, "bool": bool}[kind or "float"])


def _require() -> tuple[Any, Any, Any]:
    from ballast.compiler.columnar import require

    return require("the simulator's columnar screen")

__all__ = ["SCREEN_MIN_POOLS", "TickScreen", "tick_screens"]
