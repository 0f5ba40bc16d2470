policy mesh.stale version "1" {
  input sample {
    ts: timestamp
    pool: string
    rps: float
  }

  stream {
    time ts
    stale after 5m
  }

  action page(targets: selector)

  rule dead {
    group by pool
    when rps == 0
    for 2m
    then page(targets: pool)
  }
}
