policy mesh.hot version "1" {
  input sample {
    ts: timestamp
    id: string
    pool: string
    load: float
  }

  stream {
    time ts
    id id
    lateness 1m
  }

  rule hot {
    when load > 0.9
    then scale(targets: pool, by: 1)
    reason "{pool} is at {load}"
  }
}
