policy mesh.cooldown version "1" {
  input sample {
    ts: timestamp
    pool: string
    load: float in [0, 1]
  }

  stream {
    time ts
  }

  rule hot {
    group by pool
    when load > 0.9
    then downgrade(targets: pool), pause(targets: "batch-scheduler", duration: 1m)
    cooldown 2m
    at most 3 per 10m
  }
}
