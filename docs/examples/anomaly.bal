policy demo.anomaly version "1" {
  input sample {
    ts: timestamp
    pool: string
    latency_ms: float
  }

  stream {
    time ts
  }

  action flag(targets: selector, kind: string, severity: float)

  let shape = anomaly(latency_ms, 10m)

  rule unusual {
    group by pool
    when shape.kind != "none"
    then flag(targets: pool, kind: shape.kind, severity: shape.severity)
    reason "{shape.kind}: zscore {shape.zscore:.2f}, slope {shape.slope:.3f}/s"
  }
}
