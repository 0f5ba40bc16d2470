policy golden.warnings version "1.0.0" {
  input telemetry {
    pool: string
    tier: enum("critical", "standard")
    load: float in [0, 1]
    latency_ms: float
  }
  let hot = load > 0.8
  rule contradiction {
    when load > 5 && load < 3
    then scale(targets: pool)
  }
  rule first {
    when hot && tier == "critical"
    then scale(targets: pool)
  }
  rule shadowed {
    when hot && tier == "critical" && latency_ms > 100
    then scale(targets: pool)
  }
  rule always_true_part {
    when load >= 0 && latency_ms > 1
    then scale(targets: pool)
  }
  rule folded {
    when load > 0.5 || false
    then scale(targets: pool, by: 1 + 2)
  }
  rule impossible_equality {
    when tier == "critical" && tier == "standard"
    then pause(targets: pool)
  }
}
