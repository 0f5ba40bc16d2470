# Shared thresholds of the Layer-2 watchdog and the MOTB PRD, imported by the catalog policies.
module motb.thresholds {
  const load_limit = 0.8           # CLE loadFactor above which non-critical work is shed
  const risk_limit = 80            # TRP riskScore that counts as a risk spike
  const htm_queue_warn = 1000      # Layer-2 watchdog: HTM queue warning
  const htm_queue_critical = 5000  # Layer-2 watchdog: HTM queue critical
  const min_subscriptions = 5      # Layer-2 watchdog: trigger mesh needs at least 5
  const min_dispatch_rate = 1.0    # Layer-2 watchdog: scheduler dispatches >= 1 task/s
  const sla_latency_ms = 250.0
  const error_budget = 0.01
}
