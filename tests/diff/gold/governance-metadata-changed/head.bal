# the document's version changed
governance shop.router version "2" {
  tier 1 {
    intents ["deploy_model", "modify_config"]
  }

  tier 3 {
    intents ["self_improve", "extend_grace"]
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
