policy mesh.stream version "1" {
  input sample {
    ts: timestamp
    id: string
    seq: int
    source: string
    pool: string
    queue: int
  }

  stream {
    time ts
    id id
    lateness 30s
    sequence seq by source
  }

  action report(targets: selector, queued: int)

  rule queued_1m {
    group by pool
    when count(queue, 1m) > 0
    then report(targets: pool, queued: sum(queue, 1m))
  }
}
