policy shop.guards version "1.0.0" {
  input telemetry {
    ts: timestamp,
    pool: string,
    tier: enum("critical", "standard", "batch"),
    load: float in [0, 1],
    risk: float in [0, 100],
  }

  stream { time ts }

  const load_limit = 0.8

  action shed(targets: selector)
  action page(targets: selector)

  rule shed_on_load {
    when load > load_limit && risk > 80 && tier != "critical"
    then shed(targets: pool)
    cooldown 5m
    reason "load {load:.2f} on {pool}"
  }

  rule page_on_risk {
    when risk >= 90
    then page(targets: pool)
  }
}
