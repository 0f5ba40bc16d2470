# Edge gateway policy: one event per gateway pool and minute.
policy mesh.gateway version "1.0.0" {
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

  const cpu_limit = 0.85

  let hot = cpu > cpu_limit && p99 > 300ms

  rule scale_hot_pool {
    when hot && tier != "batch"
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

  rule failing_canary {
    when has(canary) && canary && error_rate > 0.05
    then reroute(targets: pool, to: "stable", percent: 100.0)
    priority 90
    impact high
    reason "canary {pool} fails {error_rate:.1%} of requests"
  }
}
