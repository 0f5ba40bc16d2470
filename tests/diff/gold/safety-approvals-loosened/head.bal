# approvals stay valid 2h instead of 1h
safety shop.safety version "1" {
  input action {
    actor: string
    operation: enum("delete", "export")
    volume: int in [0, 1000000]
  }

  approvals expire after 2h

  class bulk_delete {
    when operation == "delete" and volume >= 1000
    risk high
    require dual_control, hold 10m, approvers role "dba" count 2
    reason "{actor} deletes {volume} rows"
  }
}
