policy golden.eof version "1.0.0" {
  input telemetry { load: float }
  rule r {
    when load > 0.8
    then scale(targets: "pool")
