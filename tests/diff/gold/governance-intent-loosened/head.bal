# self_improve moved from tier 3 (a vote) to tier 1 (auto-execute)
governance shop.router version "1" {
  tier 1 {
    intents ["deploy_model", "modify_config", "self_improve"]
  }

  tier 3 {
    intents ["extend_grace"]
    min_alignment 50%
  }

  priority revenue {
    weight 0.8
    signal "revenue_impact"
  }

  vote {
    voters ["architect", "sre-lead", "risk"]
    quorum 2
    deadline 10m
    ties "reject"
  }
}
