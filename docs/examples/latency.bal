policy mesh.latency version "1" {
  input sample {
    ts: timestamp
    pool: string
    latency_ms: float
  }

  stream {
    time ts
    lateness 30s
  }

  let avg_1m = avg(latency_ms, 1m)

  rule slow {
    group by pool
    enter when avg_1m > 250
    exit when avg_1m < 200
    for 30s
    keep 1m
    then scale(targets: pool, by: 1)
    reason "latency of {pool} averages {avg_1m:.0f} ms over 1m"
  }
}
