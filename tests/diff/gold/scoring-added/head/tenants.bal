# Tenant maturity scoring (issue 15 §3): seven signals read from each tenant's metrics, weighed
# three ways — for a regulator, for customer success (csm) and for technical operations.
# docs/scoring.md works through the semantics and an example.
scoring tenants.maturity version "2026.12" {
  owner "customer-success"
  description "Readiness and maturity badges for tenants, with per-factor explanations"

  signal feature_coverage {
    metric "features.enabled_ratio"
    stale_after 30d
    decay 30d
    about "Share of the platform's recommended features the tenant has enabled"
  }

  signal training_completion {
    metric "training.completion_ratio"
    stale_after 90d
    decay 30d
    about "Share of the tenant's operators who finished the platform training"
  }

  signal governance_health {
    metric "governance.checks_passing_ratio"
    stale_after 7d
    about "Share of governance configuration checks that pass"
  }

  signal data_quality {
    metric "data.quality_score"
    low 0
    high 100
    stale_after 7d
    decay 7d
    about "The data-quality monitor's score of the tenant's datasets"
  }

  signal incident_history {
    metric "incidents.sev12_last_90d"
    low 0
    high 10
    better "lower"
    stale_after 1d
    missing "zero"
    about "Severity 1 and 2 incidents in the last 90 days: an unreported count earns nothing"
  }

  signal automation_adoption {
    metric "automation.runbooks_automated_ratio"
    stale_after 30d
    decay 30d
    about "Share of the tenant's runbooks that run automated"
  }

  signal response_slas {
    metric "support.sla_met_ratio"
    low 0.8
    high 1
    stale_after 30d
    decay 14d
    about "Share of support tickets answered within their SLA; 80% or less earns nothing"
  }

  profile regulator {
    weights { governance_health: 4, data_quality: 3, incident_history: 2, training_completion: 1, response_slas: 1 }
    missing "block"
    about "What an auditor looks at: governance first, then data and incidents"
    justification "Regulators treat governance configuration as a gate: a tenant whose governance checks fail holds no badge, whatever else it does"
    badge bronze { enter 55 exit 50 }
    badge silver { enter 70 exit 65 }
    badge gold { enter 85 exit 80 }
  }

  profile csm {
    weights { feature_coverage: 2, training_completion: 2, governance_health: 1, data_quality: 1, incident_history: 1, automation_adoption: 2, response_slas: 2 }
    about "Customer success: adoption and the support experience"
    badge bronze { enter 50 exit 45 }
    badge silver { enter 65 exit 60 }
    badge gold { enter 80 exit 75 }
  }

  profile tech_ops {
    weights { feature_coverage: 1, training_completion: 1, governance_health: 1, data_quality: 2, incident_history: 2, automation_adoption: 2, response_slas: 2 }
    about "Technical operations: reliability, data and automation"
    badge bronze { enter 50 exit 45 }
    badge silver { enter 65 exit 60 }
    badge gold { enter 80 exit 75 }
  }
}
