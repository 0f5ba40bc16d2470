# The meta-loop supervisor of the seed (Meta Loop Supervisor): its five strategic goals, the
# meta-policies that close their gaps, and its approval matrix. docs/governance.md ("The
# meta-loop supervisor") explains each part; `ballast supervise` runs one cycle of it.
supervisor mesh.meta version "1" {
  owner "sre-platform"
  description "Watches the autonomous loop's KPIs and tunes it toward the strategic goals"

  window 5m  # the seed's cycle: every 5 minutes, over the last 5 minutes
  environment "prod"

  goal overall_success_rate {
    target 95%
    tolerance 2%
  }

  goal mean_recovery_seconds {
    target 30
    tolerance 10
  }

  goal autonomy_rate {
    target 80%
  }

  goal compliance_score {
    target 95
    tolerance 5
  }

  goal human_intervention_rate {
    target 15%
  }

  meta_policy improve_success {
    when gap.overall_success_rate > 0.05
    directive adjust_threshold { parameter "retry.min_confidence" step 0.05 max 0.95 }
    impact low
    confidence 70%
  }

  meta_policy speed_recovery {
    when gap.mean_recovery_seconds > 10 && kpi.overall_success_rate >= 0.9
    directive enable_playbook { playbook "fast-failover" }
    impact moderate
    metric "mean_recovery_seconds"
  }

  meta_policy escalate_compliance {
    when gap.compliance_score > 10
    directive request_review { reviewers ["risk-officer", "sre-lead"] note "compliance is slipping" }
    impact minimal
  }

  approval minimal {
    route "auto"
  }

  approval low {
    route "auto_notify"
  }

  approval moderate {
    route "approval_in_prod"
  }

  approval high {
    route "approval"
  }

  approval critical {
    route "block_review"
  }

  verify {
    alert_failures 2
    alert_gap_cycles 5
    rollback_impact "low"
  }
}
