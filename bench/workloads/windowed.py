"""A windowed policy over the motb telemetry, for the columnar engine's windowed path.

`WINDOWED_POLICY` reads `catalog/motb.bal`'s input with an event time and has only level rules
(window aggregates, `group by`, cooldown and `at most`): the rules the columnar replay skips on
the rows it proves quiet. `edge_sources` adds two edge rules (`for`, `keep`), which it skips
where the Engine finds them idle; `slo_sources` adds a latency SLO over a 5-minute percentile.
`write_windowed_telemetry` writes `bench.replay`'s telemetry (one
sample per pool per second) with that time, as JSONL and Parquet.
"""

from __future__ import annotations

from pathlib import Path

from bench.replay import SERVICES, write_telemetry

START = 1_767_225_600  # 2026-01-01T00:00:00Z
WINDOWED_POLICY = """policy motb.windows version "1.0.0" {
  input telemetry {
    ts: timestamp
    agent: string
    pool: string
    region: string
    tier: enum("critical", "standard", "batch")
    load: float in [0, 1]
    risk: float in [0, 100]
    latency_p95_ms: float in [0, 600000]
    error_rate: float in [0, 1]
    sla_adherence: float in [0, 100]
    htm_queue_depth: int in [0, 10000000]
    workers: int in [0, 100000]
    subscriptions: int in [0, 100000]
    dispatch_rate: float in [0, 1000000]
    policy_depth: int in [0, 1000]
    canary?: bool
  }
  stream {
    time ts
    lateness 5s
  }
  rule latency_high {
    group by pool
    when avg(latency_p95_ms, 1m) > LATENCY && count(latency_p95_ms, 1m) >= 30
    then scale(targets: pool, by: 1)
    cooldown 5m
  }
  rule queue_peak {
    group by pool
    when max(htm_queue_depth, 30s) > 2000
    then scale(targets: pool, by: 2)
    at most 5 per 10m
  }
  rule error_burst {
    group by pool
    when sum(error_rate, 1m) > 1.5
    then pause(targets: pool)
    cooldown 2m
  }
  rule dispatch_stalled {
    group by pool, region
    when max(dispatch_rate, 30s) < 1.0
    then pause(targets: pool)
    cooldown 5m
  }
  rule load_rising {
    group by pool
    when delta(load, 2m) > 0.3 && min(load, 30s) > 0.6
    then scale(targets: pool, by: 1)
    cooldown 5m
  }
}
"""


def windowed_sources() -> tuple[str, str]:
    """(baseline, candidate): the candidate pages on a lower average latency."""
    return WINDOWED_POLICY.replace("LATENCY", "300"), WINDOWED_POLICY.replace("LATENCY", "280")


# Edge rules over the same windows: a `for` (the condition held a while) and a `keep` (the rule
# stays firing a while after it stops holding). The columnar replay skips them on a row where
# their condition is provably false and the Engine finds them idle.
EDGE_RULES = """  rule latency_sustained {
    group by pool
    when min(latency_p95_ms, 30s) > LATENCY
    for 1m
    then pause(targets: pool)
  }
  rule queue_kept {
    group by pool
    when max(htm_queue_depth, 10s) > 1500
    for 10s
    keep 1m
    then scale(targets: pool, by: 1)
  }
}
"""


def edge_sources() -> tuple[str, str]:
    """(baseline, candidate): the windowed policy with two edge rules added."""
    with_edges = WINDOWED_POLICY.rstrip().removesuffix("}") + EDGE_RULES
    return with_edges.replace("LATENCY", "300"), with_edges.replace("LATENCY", "280")


# A latency SLO on the 95th percentile over 5 minutes, with hysteresis, as SREs write it. The
# columnar replay decides it where the threshold is outside the window's range (min to max).
SLO_RULE = """  rule latency_slo {
    group by pool
    enter when percentile(latency_p95_ms, 95, 5m) > SLO
    exit when percentile(latency_p95_ms, 95, 5m) < SLO * 0.8
    then page(targets: pool)
  }
}
"""


def slo_sources() -> tuple[str, str]:
    """(baseline, candidate): the windowed policy with a percentile SLO rule, at 250 and 200 ms."""
    with_slo = WINDOWED_POLICY.rstrip().removesuffix("}") + SLO_RULE
    with_slo = with_slo.replace("  stream {", "  action page(targets: selector)\n  stream {")
    return (
        with_slo.replace("LATENCY", "300").replace("SLO", "250"),
        with_slo.replace("LATENCY", "280").replace("SLO", "200"),
    )


def write_windowed_telemetry(directory: Path, seconds: int) -> dict[str, Path]:
    """`bench.replay`'s telemetry with an RFC 3339 `ts` (the second it was sampled), as JSONL,
    Parquet (the time as text, as the JSONL holds it) and CSV (minimal quoting)."""
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.json as pj
    import pyarrow.parquet as pq

    from ballast.runtime.values import iso

    plain = directory / "plain.jsonl"
    write_telemetry(plain, seconds)
    jsonl = directory / "windowed.jsonl"
    with open(plain, encoding="utf-8") as source, open(jsonl, "w", encoding="utf-8", buffering=1 << 20) as out:
        for index, line in enumerate(source):
            out.write(f'{{"ts":"{iso(START + index // SERVICES)}",{line[1:]}')
    plain.unlink()
    options = pj.ParseOptions(explicit_schema=pa.schema([("ts", pa.string())]))
    parquet, csv = directory / "windowed.parquet", directory / "windowed.csv"
    table = pj.read_json(jsonl, parse_options=options)
    pq.write_table(table, parquet)
    pcsv.write_csv(table, csv, write_options=pcsv.WriteOptions(quoting_style="none"))
    return {"jsonl": jsonl, "parquet": parquet, "csv": csv}
