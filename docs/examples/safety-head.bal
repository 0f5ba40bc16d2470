# The catalog after the change: a shorter hold (justified), exports only warned of, from more rows.
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
    justification "INC-431: nightly cleanup jobs waited 10 minutes for nothing"
  }

  class bulk_export {
    when operation == "export" and volume >= 100000
    risk medium
    require justification
    mode warn
  }
}
