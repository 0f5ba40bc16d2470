# The same bundle on the staging clusters first: a staging profile can never select prod.
rollout mesh.staging_2026_12 version "1.0.0" {
  owner "sre-platform"

  fleet "mesh.edge"
  profile "staging"
  select env == "staging"
  ceiling 1
  rollback "always"

  gate smoke {
    pass when error_rate < 0.01
    interval 30s
    count 3
  }

  wave all {
    max_update 3
    gates ["smoke"]
  }
}
