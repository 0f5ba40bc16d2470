# Ships the December policy bundle to the prod clusters of mesh.edge: one canary, then the rest of
# its region, then the other regions. docs/rollouts.md walks through it.
rollout mesh.policy_2026_12 version "1.0.0" {
  owner "sre-platform"
  description "December policy bundle: canary → regional → global"

  fleet "mesh.edge"
  profile "prod"
  select env == "prod"
  allow ["eu-west-1", "eu-west-2", "eu-west-3", "us-east-1", "us-east-2", "us-east-3", "ap-south-1", "ap-south-2", "ap-south-3"]
  ceiling 50%  # at most half of a region's clusters run an unproven bundle at once
  rollback "on-deviation"
  justification "CHG-2412: shedding at load 0.8 paged on-call for healthy pools; 0.85 and a 2m cooldown per the incident review"

  gate health {
    pass when error_budget_burn < 1.0 && p95_latency_ms < 250.0 && rule_faults == 0
    fail when error_budget_burn > 2.0 || rule_faults > 0
    interval 1m
    count 5
    failure_limit 1
    consecutive_error_limit 2
    consecutive_success_limit 3
  }

  wave canary {
    select labels["tier"] == "canary"
    max_update 1
    bake 10m
    gates ["health"]
  }

  wave regional {
    select region == "eu-west"
    max_update 2
    bake 20m
    gates ["health"]
  }

  wave global {
    max_update 50%
    max_unavailable 1
    bake 30m
    gates ["health"]
  }
}
