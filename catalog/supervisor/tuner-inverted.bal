# A meta-policy written with the wrong sign: it raises the autoscaling threshold when scale-outs
# come too late. Verification catches it and rolls the change back (docs/governance.md).
supervisor sim.tuner_inverted version "1" {
  owner "sre-platform"

  window 10m
  environment "staging"

  goal overall_success_rate {
    target 95%
    min_samples 5
  }

  meta_policy scale_later {
    when gap.overall_success_rate > 0.05
    directive adjust_threshold { parameter "sim.autoscale.scale_at" step 0.08 max 0.99 }
    impact low
    confidence 70%
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
}
