policy golden.imports version "1.0.0" {
  import "missing_module.bal"
  import "names.bal"
  input telemetry { load: float }
  rule r {
    when load > 1
    then scale(targets: "p")
  }
}
