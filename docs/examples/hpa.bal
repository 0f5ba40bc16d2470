policy mesh.hpa version "1" {
  input sample {
    ts: timestamp
    pool: string
    cpu: float in [0, 1]
  }

  stream {
    time ts
  }

  rule hot {
    group by pool
    when cpu > 0.8
    for 1m
    then scale(targets: pool, by: 2)
    repeat every 5m
    at most 3 per 1h
  }
}
