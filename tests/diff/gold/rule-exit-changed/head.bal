# gold fixture for `rule-exit-changed`, head: `slow` resolves below 150 instead of 200
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
    enter when avg(latency_ms, 1m) > 250
    exit when avg(latency_ms, 1m) < 150
    then scale(targets: pool)
  }
}
