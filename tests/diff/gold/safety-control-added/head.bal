# bulk_delete requires a justification too
safety shop.safety version "1" {
  input action {
    actor: string
    operation: enum("delete", "export")
    volume: int in [0, 1000000]
  }

  approvals expire after 1h

  class bulk_delete {
    when operation == "delete" and volume >= 1000
    risk high
    require dual_control, justification, hold 10m, approvers role "dba" count 2
    reason "{actor} deletes {volume} rows"
  }
}
