# gold fixture for `rule-hysteresis-changed`, head: `slow` has no hysteresis (a plain `when`)
policy shop.watch version "1.0.0" {
  input sample {
    ts: timestamp
    pool: string
    latency_ms: float in [0, 10000]
  }

  stream {
    time ts
  }

  rule slow {
    group by pool
    when avg(latency_ms, 1m) > 250
    then scale(targets: pool)
  }
}
