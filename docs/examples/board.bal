# A governance document whose votes count only when signed by the voter's key (docs/governance.md).
governance mesh.board version "1" {
  tier 3 {
    intents ["extend_grace"]
  }

  vote {
    voters ["alice", "bob", "carol"]
    quorum 2
    deadline 10m
    ties "reject"
    signatures "required"
  }
}
