policy mesh.queue version "1" {
  input ev {
    pool: string
    depth: int in [0, 1000000]
    cpu: float in [0, 1]
    mem: float in [0, 1]
  }

  rule warn {
    when depth >= 1000 && depth < 5000
    then scale(targets: pool)
  }

  rule critical {
    when depth >= 5000
    then scale(targets: pool, by: 2)
  }

  rule flood {
    when depth >= 50000 && cpu + mem > 1.5
    then pause(targets: pool, duration: 1m)
  }

  rule pressure {
    when cpu + mem > 1.5
    then downgrade(targets: pool)
  }
}
