# A pool scales out when its load passes a threshold: the parameter `sim.autoscale.scale_at`,
# which the meta-loop supervisor tunes in catalog/scenarios/supervisor-*.scenario.yaml.
policy sim.autoscale version "1" {
  owner "sre-platform"
  description "Scale a pool out when its load passes a threshold the supervisor tunes"

  input pool_telemetry {
    pool: string
    tier: enum("critical", "standard", "batch")
    load: float in [0, 1]
    ts: timestamp
  }

  stream {
    time ts
  }

  const scale_at = 0.9

  rule scale_out {
    group by pool
    when load > scale_at
    then scale(targets: pool, by: 2)
    cooldown 2m
    impact low
    reason "load {load:.2f} above {scale_at} on {pool}"
  }
}
