scoring demo.biased version "1" {
  signal governance_health { metric "governance.checks_passing_ratio" stale_after 7d }
  signal data_quality { metric "data.quality_score" low 0 high 100 stale_after 7d }
  signal response_slas { metric "support.sla_met_ratio" stale_after 30d }

  profile regulator {
    weights { governance_health: 3, data_quality: 1, response_slas: 1 }
    badge bronze { enter 50 exit 45 }
    badge gold { enter 80 exit 75 }
  }
}
