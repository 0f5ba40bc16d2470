policy demo.both version "1" {
  input ev {
    pool: string
    load: float
  }
  rule guarded {
    when has(pool) && load > 0.5
    then scale(targets: pool)
  }
  rule wordy {
    when load > "high"
    then scale(targets: pool)
  }
}
