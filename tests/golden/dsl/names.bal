policy golden.names version "1.0.0" {
  input telemetry { load: float, pool: string, risk: float }
  const limit = 0.8
  const derived = load * 2
  const limit = 0.9
  let a = b && load > limit
  let b = a
  let len = 3
  rule r {
    when a && lenght(pool) > 3 && True
    then scale(targets: pool)
  }
}
