# gold fixture for `rule-window-changed`: the base
policy shop.watch version "1.0.0" {
  input sample {
    ts: timestamp
    pool: string
    region: string
    latency_ms: float in [0, 10000]
  }

  stream {
    time ts
    lateness 30s
  }

  rule slow {
    group by pool
    when avg(latency_ms, 1m) > 250
    for 30s
    keep 1m
    cooldown 2m
    repeat every 5m
    at most 3 per 1h
    then scale(targets: pool)
  }
}
