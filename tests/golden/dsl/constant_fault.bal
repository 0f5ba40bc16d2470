policy golden.fault version "1.0.0" {
  input telemetry { load: float, pool: string }
  const ratio = 1 / 0
  rule r {
    when load > 10 % 0
    then scale(targets: pool)
  }
}
