policy shop.guards version "1.1.0" {
  input telemetry {
    ts: timestamp,
    pool: string,
    tier: enum("critical", "standard", "batch"),
    load: float in [0, 1],
    risk: float in [0, 100],
  }

  stream { time ts }

  const load_limit = 0.85

  action shed(targets: selector)
  action page(targets: selector)

  # reordered and rewritten: proven to decide alike, apart from the threshold
  rule shed_on_load {
    when tier in ["standard", "batch"] && !(risk <= 80) && load > load_limit
    then shed(targets: pool)
    cooldown 2m
    reason "load {load:.2f} on pool {pool}"
  }

  rule page_on_high_risk {
    when 90 <= risk
    then page(targets: pool)
  }
}
