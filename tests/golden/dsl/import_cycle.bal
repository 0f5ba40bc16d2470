policy golden.import_cycle version "1.0.0" {
  import "lib/cycle_a.bal"
  input telemetry { load: float }
  rule r {
    when load > a
    then scale(targets: "p")
  }
}
