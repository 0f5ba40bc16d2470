profile logging version "2" {
  setting log_retention: int days {
    higher is safer
    value 30
  }

  setting audit_log: enum {
    order full > standard > off
    value full
  }

  change "1" on "2026-11-01" "First version."
  change "2" on "2026-12-01" "Full audit logs, kept 30 days."
}
