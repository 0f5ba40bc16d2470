# Edge gateway policy: one event per gateway pool and minute.
policy mesh.gateway version "1.1.0" {
  owner "edge-team"
  description "Scale or shed gateway pools under load"

  input gateway {
    pool: string
    tier: enum("critical", "standard", "batch")
    cpu: float in [0, 1]
    error_rate: float in [0, 1]
    p99: duration
    canary?: bool
  }

  const cpu_limit = 0.9

  let hot = cpu > cpu_limit && p99 > 300ms

  rule scale_hot_pool {
    when tier != "batch" && hot
    then scale(targets: pool, by: 2)
    priority 50
    impact moderate
    reason "{pool}: cpu {cpu:.0%} and p99 {p99} above limits"
  }

  rule shed_batch {
    when hot && tier == "batch"
    then pause(targets: pool, duration: 10m)
    priority 40
    impact low
    reason "batch pool {pool} paused at cpu {cpu:.0%}"
  }
}
