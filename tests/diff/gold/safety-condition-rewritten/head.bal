# bulk_delete's condition rewritten, the same actions match
safety shop.safety version "1" {
  input action {
    actor: string
    operation: enum("delete", "export")
    volume: int in [0, 1000000]
  }

  approvals expire after 1h

  class bulk_delete {
    when not (volume < 1000 or operation != "delete")
    risk high
    require dual_control, hold 10m, approvers role "dba" count 2
    reason "{actor} deletes {volume} rows"
  }
}
