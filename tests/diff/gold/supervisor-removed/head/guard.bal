# the policy both sides share
policy shop.guard version "1.0.0" {
  owner "sre-core"

  input ev {
    pool: string
    load: float in [0, 1]
    queue: int in [0, 1000]
    tier: enum("critical", "standard", "batch")
    canary?: bool
  }

  rule hot {
    when load > 0.8
    then scale(targets: pool)
    reason "pool {pool} at load {load:.2f}"
  }

  rule deep {
    when queue > 500 && tier != "critical"
    then pause(targets: pool, duration: 5m)
    priority 10
  }
}
