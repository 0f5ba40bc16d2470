# Tunes sim.autoscale's threshold down while scale-outs come too late to keep their pool in SLO.
supervisor sim.tuner version "1" {
  owner "sre-platform"

  window 10m
  environment "staging"

  goal overall_success_rate {
    target 95%
    min_samples 5
  }

  meta_policy scale_earlier {
    when gap.overall_success_rate > 0.05
    directive adjust_threshold { parameter "sim.autoscale.scale_at" step -0.1 min 0.5 }
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
