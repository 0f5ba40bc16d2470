policy golden.rules version "1.0.0" {
  input telemetry { load: float, pool: string }
  action notify(targets: selector, channel: string, severity: int = 1)
  rule no_when {
    then scale(targets: pool)
  }
  rule no_then {
    when load > 1
  }
  rule twice {
    when load > 1
    when load > 2
    then notify(targets: pool, chanel: "ops")
  }
  rule twice {
    when load > 3
    then scale(targets: pool, targets: pool), notify(targets: pool)
    priority 1.5
  }
}
