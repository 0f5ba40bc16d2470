# The router after the change: self_improve runs without a vote, a quorum of 1, one more voter.
governance mesh.router version "2026.12" {
  owner "governance-board"
  description "Autonomy tiers, mission priorities and the unified-logic vote"

  tier 0 {
    intents ["modify_governance", "change_charter", "grant_permissions"]
    routed_to "human_review"
  }

  tier 1 {
    intents ["execute_sandbox", "deploy_model", "modify_config"]
    routed_to "direct"
  }

  tier 2 {
    intents ["query_knowledge", "generate_summary", "schedule_task", "self_improve"]
    routed_to "direct"
  }

  tier 3 {
    intents ["extend_grace", "optimize_system"]
    routed_to "unified_logic_hub"
  }

  tier 4 {
    intents ["emergency_recovery", "critical_incident"]
    routed_to "unified_logic_hub"
  }

  priority resilience {
    weight 1
    signal "resilience_impact"
  }

  priority revenue {
    weight 0.8
    signal "revenue_impact"
  }

  priority autonomy {
    weight 0.7
    signal "autonomy_impact"
  }

  priority learning {
    weight 0.6
    signal "learning_impact"
  }

  vote {
    voters ["architect", "sre-lead", "risk-officer", "ml-lead"]
    quorum 1
    deadline 10m
    ties "reject"
  }
}
