policy golden.types version "1.0.0" {
  input telemetry {
    load: flaot
    tags: list<strng>
    window: map<int, float>
    level: string in [0, 1]
    band: float in [5, 1]
  }
  rule r {
    when true
    then scale(targets: "p")
  }
}
