# For demos and trials: constrained capabilities on top of the baseline (docs/profiles.md).
profile sandbox version "1" {
  owner "solutions-engineering"
  description "Demo and trial tenants: small, short-lived, closed to the outside"

  extends baseline

  setting data_retention: int days {
    lower is safer
    value 14
  }

  setting export_limit: int rows {
    lower is safer
    value 1000
  }

  setting max_users: int users {
    lower is safer
    value 10
  }

  setting outbound_network: enum {
    order blocked > allowlist > open
    value blocked
    remediation "Demo tenants reach no external service."
  }

  change "1" on "2026-12-01" "First sandbox profile."
}
