# bulk_delete's hold shortened from 10m to 5m
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
    require dual_control, hold 5m, approvers role "dba" count 2
    reason "{actor} deletes {volume} rows"
  }
}
