# The Layer-2 watchdog as stateful rules (seed 004) with the Maestro Conductor's telemetry rules
# (seed 001): sustained breaches, hysteresis, cooldowns and anomaly detection, in event time.
# Each event is one orchestration pool's watchdog sample (the watchdog publishes every 15 s).
# Run it with ballast.runtime.engine.Engine (or `ballast eval`); see docs/stateful-rules.md.
policy motb.watchdog version "1.0.0" {
  owner "sre-core"
  description "Layer-2 watchdog: HTM queue, workers, trigger mesh, scheduler, event-policy cascades, latency and errors"
  labels { tier: "platform", seed: "layer2-watchdog" }

  import "lib/thresholds.bal"

  input layer2 {
    ts: timestamp
    seq: int        # the watchdog's sample counter
    source: string  # which watchdog instance sent the sample
    pool: string
    htm_queue_depth: int in [0, 10000000]
    workers: int in [0, 100000]
    subscriptions: int in [0, 100000]  # trigger-mesh subscriptions
    tasks_dispatched: int              # scheduler: tasks dispatched since boot (a counter)
    policy_depth: int in [0, 1000]     # event-policy cascade depth
    latency_ms: float in [0, 600000]
    error_rate: float in [0, 1]
  }

  stream {
    time ts
    lateness 30s
    sequence seq by source
    idle 15m
  }

  action page(targets: selector, channel: string = "#layer2-oncall")

  # Window aggregates read the history of the pool a rule groups by.
  let queue_1m = avg(htm_queue_depth, 1m)
  let latency_p95 = percentile(latency_ms, 95, 5m)
  let error_5m = avg(error_rate, 5m)
  let dispatch_rate = rate(tasks_dispatched, 1m)
  let latency_shape = anomaly(latency_ms, 10m)
  let cascade_depth = max(policy_depth, 30s)

  # Warning at 1000 queued intents, sustained for a minute; it clears only below 800, so a queue
  # hovering around 1000 does not flap.
  rule htm_queue_warning {
    group by pool
    enter when queue_1m >= htm_queue_warn
    exit when queue_1m < htm_queue_warn * 0.8
    for 1m
    then scale(targets: pool, by: 1)
    cooldown 10m
    priority 60
    impact minimal
    reason "HTM queue of {pool} averages {queue_1m:.0f} over 1m (warning at {htm_queue_warn})"
  }

  # Critical at 5000: every sample of the last 30 s at or above it, for 30 s more.
  rule htm_queue_critical {
    group by pool
    when min(htm_queue_depth, 30s) >= htm_queue_critical
    for 30s
    keep 2m
    then scale(targets: pool, by: 2), reroute(targets: pool, to: "overflow", percent: 25.0)
    priority 95
    impact high
    reason "HTM queue of {pool} at {htm_queue_depth} stayed above the critical level {htm_queue_critical}"
  }

  # Worker dropout: the pool lost more than half its workers within five minutes.
  rule workers_lost {
    group by pool
    when workers * 2 < max(workers, 5m)
    for 30s
    then scale(targets: pool, by: 2)
    priority 85
    impact moderate
    reason "{pool} is down to {workers} workers, less than half its recent peak"
  }

  rule trigger_mesh_starved {
    group by pool
    when max(subscriptions, 1m) < min_subscriptions
    for 30s
    then page(targets: [pool, "trigger-mesh"])
    priority 50
    impact minimal
    reason "trigger mesh of {pool} has had fewer than {min_subscriptions} subscriptions for a minute"
  }

  # The scheduler must dispatch at least one task per second while work is queued.
  rule scheduler_stalled {
    group by pool
    when dispatch_rate < min_dispatch_rate && min(htm_queue_depth, 1m) > 0
    for 1m
    then reroute(targets: pool, to: "standby-scheduler")
    cooldown 10m
    priority 75
    impact high
    reason "scheduler of {pool} dispatches {dispatch_rate:.2f} tasks/s (< {min_dispatch_rate}) with {htm_queue_depth} queued"
  }

  # Cascade detection: policies triggering policies. The pause targets the event-policy engine,
  # so the cooldown holds for every pool: one pause a minute, and at most three per ten minutes.
  rule policy_cascade {
    group by pool
    when cascade_depth >= 10
    then pause(targets: "event-policy", duration: 1m)
    cooldown 1m
    at most 3 per 10m
    priority 99
    impact critical
    reason "event-policy cascade {cascade_depth} levels deep in {pool}: the recursion limit is 10"
  }

  # Maestro Conductor: p95 latency over five minutes against the SLO, with hysteresis.
  rule latency_slo {
    group by pool
    enter when latency_p95 > sla_latency_ms
    exit when latency_p95 < sla_latency_ms * 0.8
    for 1m
    keep 2m
    then scale(targets: pool, by: 1)
    priority 70
    impact low
    reason "p95 latency of {pool} is {latency_p95:.0f} ms over 5m (SLO {sla_latency_ms:.0f} ms)"
  }

  rule error_budget_burn {
    group by pool
    when error_5m > error_budget * 5
    for 1m
    then reroute(targets: pool, to: "standby", percent: 50.0)
    cooldown 15m
    priority 90
    impact high
    reason "errors in {pool} average {error_5m:.3f} over 5m, burning the {error_budget} budget 5x"
  }

  # Maestro Conductor's AnomalyDetector: adaptive z-score plus slope over ten minutes; a strong
  # latency spike pages the on-call, once per pool per 15 minutes. A z-score needs a baseline:
  # with a handful of samples it is large by chance, so the rule waits for three minutes of them.
  # Latency is skewed (queueing has a long right tail), so 3 sigma happens in healthy pools: the
  # Layer-2 chaos scenarios paged 6 times in 75 quiet minutes at severity 0.5 (z >= 3), once at
  # 0.75 (z >= 4.5), while still paging on every injected fault (ballast simulate).
  rule latency_anomaly {
    group by pool
    when count(latency_ms, 10m) >= 12 && latency_shape.kind == "spike" && latency_shape.severity >= 0.75
    then page(targets: pool)
    cooldown 15m
    priority 40
    impact minimal
    reason "latency of {pool} spiked to {latency_ms:.0f} ms ({latency_shape.zscore:.1f} sigma over 10m)"
  }
}
