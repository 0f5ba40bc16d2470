rollout mesh.ship version "1.0.0" {
  owner "sre"
  fleet "mesh.mini"
  profile "prod"
  select env == "prod"
  allow ["eu-1", "eu-2", "us-1"]
  ceiling 2
  rollback "on-deviation"

  gate health {
    pass when error_budget_burn < 1.0 && rule_faults == 0
    fail when error_budget_burn > 2.0
    interval 1m
    count 5
    failure_limit 1
  }

  wave canary {
    select labels["tier"] == "canary"
    max_update 1
    bake 10m
    gates ["health"]
  }

  wave rest {
    max_update 2
    bake 30m
    gates ["health"]
  }
}
