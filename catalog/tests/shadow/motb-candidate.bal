# A candidate change to catalog/motb.bal, for `ballast shadow` (docs/simulator.md).
# MOTB orchestration: the Meta-Cognitive Orchestration Layer's rules (MOTB PRD FR-M2, FR-M3).
# Each event is one agent pool's telemetry sample; directives go to the Agency layer.
policy motb.orchestration version "1.3.0-rc1" {
  owner "sre-core"
  description "MOTB orchestration rules: load, risk, SLA, latency, errors, queues and the Layer-2 watchdog"
  labels { tier: "platform", seed: "motb" }

  import "../../lib/thresholds.bal"

  input telemetry {
    agent: string
    pool: string
    region: string
    tier: enum("critical", "standard", "batch")
    load: float in [0, 1]    # CLE loadFactor
    risk: float in [0, 100]  # TRP riskScore
    latency_p95_ms: float in [0, 600000]
    error_rate: float in [0, 1]
    sla_adherence: float in [0, 100]  # % of requests inside their SLO, last window
    htm_queue_depth: int in [0, 10000000]
    workers: int in [0, 100000]
    subscriptions: int in [0, 100000]     # trigger-mesh subscriptions
    dispatch_rate: float in [0, 1000000]  # scheduler tasks dispatched per second
    policy_depth: int in [0, 1000]        # event-policy cascade depth
    canary?: bool
  }

  let overloaded = load > load_limit && risk > risk_limit
  let non_critical = tier != "critical"

  # The PRD's flagship rule: IF load>0.8 & risk>80 THEN downgrade non-critical agents.
  rule downgrade_on_load_risk {
    when overloaded && non_critical
    then downgrade(targets: pool, level: 1)
    priority 100
    impact low
    reason "load {load:.2f} and risk {risk:.0f} above {load_limit} / {risk_limit} on {tier} pool {pool}"
    labels { seed: "MOTB 6.2" }
  }

  rule protect_critical_under_risk {
    when overloaded && tier == "critical"
    then scale(targets: pool, by: 2)
    priority 90
    impact moderate
    reason "critical pool {pool} at load {load:.2f} with risk {risk:.0f}: add capacity instead of shedding"
  }

  rule sla_breach {
    when sla_adherence < 99.95 && tier != "batch"
    then scale(targets: pool, by: 1)
    priority 80
    impact moderate
    reason "SLA adherence {sla_adherence:.2f}% below the 99.95% goal on {pool}"
  }

  rule latency_breach {
    when latency_p95_ms > sla_latency_ms && load > 0.6
    then scale(targets: pool, by: 1)
    priority 70
    impact low
    reason "p95 latency {latency_p95_ms:.0f} ms above {sla_latency_ms:.0f} ms at load {load:.2f}"
  }

  rule error_budget_burn {
    when error_rate > error_budget * 5
    then reroute(targets: pool, to: "standby", percent: 50.0)
    priority 85
    impact high
    reason "error rate {error_rate:.3f} burns the {error_budget} budget 5x on {pool}"
  }

  rule htm_queue_warning {
    when htm_queue_depth >= htm_queue_warn && htm_queue_depth < htm_queue_critical
    then scale(targets: pool, by: 1)
    priority 60
    impact minimal
    reason "HTM queue {htm_queue_depth} at or above the warning level {htm_queue_warn}"
  }

  rule htm_queue_critical {
    when htm_queue_depth >= htm_queue_critical
    then scale(targets: pool, by: 2), reroute(targets: pool, to: "overflow", percent: 25.0)
    priority 95
    impact high
    reason "HTM queue {htm_queue_depth} at or above the critical level {htm_queue_critical}"
  }

  rule trigger_mesh_starved {
    when subscriptions < min_subscriptions
    then pause(targets: [pool, "trigger-mesh"], duration: 30s)
    priority 50
    impact moderate
    reason "trigger mesh has {subscriptions} subscriptions, fewer than {min_subscriptions}"
  }

  rule scheduler_stalled {
    when dispatch_rate < min_dispatch_rate && htm_queue_depth > 0
    then reroute(targets: pool, to: "standby-scheduler")
    priority 75
    impact high
    reason "scheduler dispatches {dispatch_rate:.2f} tasks/s (< {min_dispatch_rate}) with {htm_queue_depth} queued"
  }

  rule policy_cascade_limit {
    when policy_depth >= 10
    then pause(targets: "event-policy", duration: 1m)
    priority 99
    impact critical
    reason "event-policy cascade {policy_depth} levels deep: the recursion limit is 10"
  }

  # Candidate: shed half of a hot batch pool's load instead of pausing it for five minutes. A
  # paused pool reads as fully loaded, so the pause renewed itself and starved the pool.
  rule batch_shed_on_load {
    when tier == "batch" && load > 0.9
    then downgrade(targets: pool, level: 2)
    priority 40
    impact low
    reason "batch pool {pool} shed 50% at load {load:.2f}"
  }
}
