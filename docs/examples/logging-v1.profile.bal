profile logging version "1" {
  setting log_retention: int days {
    higher is safer
    value 90
  }

  setting audit_log: enum {
    order full > standard > off
    value standard
  }

  change "1" on "2026-11-01" "First version."
}
