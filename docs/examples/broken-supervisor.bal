supervisor mesh.sketch version "1" {
  window 5m

  goal overall_succes_rate {
    target 95%
  }

  goal mean_recovery_seconds {
    target 95%
  }

  meta_policy tighten {
    when gap.overall_success_rate > 0.05
    directive ajust_threshold { parameter "retry.min_confidence" step 0.05 }
    impact low
    verify_after 1m
  }

  approval low {
    route "auto_notify"
  }
}
