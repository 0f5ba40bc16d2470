policy golden.many_errors version "1.0.0" {
  input telemetry {
    pool: string
    tier: enum("critical", "standard")
    load: float in [0, 1]
    latency_ms: float
    tags: list<string>
    res: { cpu: float, mem: float }
    window: duration
  }
  const limit = 0.8
  let hot = load > limit

  rule r1 {
    when latncy_ms > 5 && tier == "gold"
    then scale(targets: pool, by: "two")
    impact huge
    reason "lat {latency:.2f} and {load:d}"
  }
  rule r2 {
    when load + "x" > 1 || res.cpu2 > 1
    then downgrade(targets: pool), notify(to: "x")
  }
  rule r3 {
    when window > 30 && 0 < load < 1
    then pause(targets: tags, duration: 10)
  }
  rule r4 {
    when load
    then scale(targets: pool)
  }
}
