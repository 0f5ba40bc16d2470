policy golden.char version "1.0.0" {
  input telemetry { load: float, risk: float }
  rule r {
    when load > 0.8 & risk > 80
    then scale(targets: "pool")
  }
}
