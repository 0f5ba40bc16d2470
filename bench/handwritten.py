"""Catalog/motb.bal's rules written by hand with numpy: the baseline the columnar engine is held to.

`numpy_counts` is what someone who knows numpy and pyarrow would write for the eleven rules of
the baseline and the candidate (`sla_breach` at 99.9 %) over a Parquet file: it reads only the
columns the conditions use, on one thread, the tier as its dictionary (a string compared once
per distinct value, then the codes), and counts the fires per rule. It checks no schema, builds
no directive and writes no report. With `every_column` it reads what the first version of this
baseline read: every column, the strings as Python strings (numpy object arrays), which costs
about what the columnar engine's reading costs. `directives_per_rule` reads the same counts off
a replay report, so the two can be compared.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

NUMBERS = (
    "load",
    "risk",
    "latency_p95_ms",
    "error_rate",
    "sla_adherence",
    "htm_queue_depth",
    "subscriptions",
    "dispatch_rate",
    "policy_depth",
)


def numpy_counts(parquet: Path, chunk_rows: int, *, every_column: bool = False) -> dict[str, tuple[int, int]]:
    """Fires per rule of catalog/motb.bal (baseline, candidate), written by hand with numpy."""
    import numpy as np
    import pyarrow.parquet as pq

    counts: dict[str, list[int]] = {}

    def add(rule: str, baseline: Any, candidate: Any) -> None:
        c = counts.setdefault(rule, [0, 0])
        c[0] += int(np.count_nonzero(baseline))
        c[1] += int(np.count_nonzero(candidate))

    def tiers(batch: Any) -> tuple[Any, Any]:
        """(critical, batch) rows."""
        tier = batch.column("tier")
        if every_column:
            names = tier.to_numpy(zero_copy_only=False)
            return names == "critical", names == "batch"
        values, codes = tier.dictionary.to_pylist(), tier.indices.to_numpy()
        return tuple(
            codes == values.index(name) if name in values else np.zeros(len(codes), dtype=bool)
            for name in ("critical", "batch")
        )

    read = {} if every_column else {"read_dictionary": ["tier"]}
    columns = None if every_column else ["tier", *NUMBERS]
    with pq.ParquetFile(parquet, pre_buffer=False, **read) as source:  # pre-buffered row groups are kept to the end
        for batch in source.iter_batches(batch_size=chunk_rows, columns=columns, use_threads=False):
            num = {name: batch.column(name).to_numpy() for name in NUMBERS}
            critical, batch_tier = tiers(batch)
            load, risk = num["load"], num["risk"]
            overloaded = (load > 0.8) & (risk > 80)
            queue = num["htm_queue_depth"]
            same = [
                ("downgrade_on_load_risk", overloaded & ~critical),
                ("protect_critical_under_risk", overloaded & critical),
                ("latency_breach", (num["latency_p95_ms"] > 250.0) & (load > 0.6)),
                ("error_budget_burn", num["error_rate"] > 0.01 * 5),
                ("htm_queue_warning", (queue >= 1000) & (queue < 5000)),
                ("htm_queue_critical", queue >= 5000),
                ("trigger_mesh_starved", num["subscriptions"] < 5),
                ("scheduler_stalled", (num["dispatch_rate"] < 1.0) & (queue > 0)),
                ("policy_cascade_limit", num["policy_depth"] >= 10),
                ("batch_shed_on_load", batch_tier & (load > 0.9)),
            ]
            for rule, fires in same:
                add(rule, fires, fires)
            sla = num["sla_adherence"]
            not_batch = ~batch_tier
            add("sla_breach", (sla < 99.95) & not_batch, (sla < 99.9) & not_batch)
    return {rule: (b, c) for rule, (b, c) in counts.items()}


def directives_per_rule(report: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """Fires per rule from a replay report (a rule with two actions counts each directive)."""
    actions = {"htm_queue_critical": 2}
    return {
        r["rule"]: (r["baseline"] // actions.get(r["rule"], 1), r["candidate"] // actions.get(r["rule"], 1))
        for r in report["rules"]
    }
