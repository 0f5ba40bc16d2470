# The risk catalog of the Wave-12 safety workflows (§91): the high-risk actions that need
# guardrails, stored as data. `ballast preflight` reads it; docs/governance.md explains it.
safety safety.workflows version "1.0.0" {
  owner "risk-office"
  description "Guardrails for error-prone actions: mass delete, high-volume export, cross-tenant copy, policy override"

  # The action descriptor every preflight receives.
  input action {
    actor: string
    roles: list<string>
    operation: enum("read", "update", "delete", "export", "copy", "policy_override")
    tenant: string
    target_tenant?: string
    sensitivity: enum("public", "internal", "confidential", "restricted")
    volume: int in [0, 1000000000]
    scope: enum("record", "collection", "tenant", "fleet")
    environment: enum("dev", "staging", "prod")
  }

  const mass_delete_rows = 1000
  const bulk_export_rows = 50000

  let sensitive = sensitivity == "confidential" or sensitivity == "restricted"
  let privileged = "tenant-admin" in roles or "platform-admin" in roles

  approvals expire after 1h

  class mass_delete {
    description "Deleting many records at once cannot be undone"
    when operation == "delete" and (volume >= mass_delete_rows or scope == "tenant" or scope == "fleet")
    risk high
    require dual_control, justification, hold 10m
    reason "{actor} deletes {volume} records of {tenant} ({scope})"
  }

  class fleet_delete {
    when operation == "delete" and scope == "fleet" and environment == "prod"
    risk critical
    require block
    reason "deleting across the whole fleet in prod is never done from one request"
  }

  class high_volume_export {
    when operation == "export" and volume >= bulk_export_rows
    risk medium
    require justification
    reason "{actor} exports {volume} rows of {tenant}"
  }

  class sensitive_export {
    when operation == "export" and sensitive and volume >= 1000
    risk high
    require justification, approvers role "data-steward" count 1
    reason "export of {sensitivity} data from {tenant}"
  }

  class cross_tenant_copy {
    when operation == "copy" and has(target_tenant) and target_tenant != tenant
    risk high
    require dual_control, justification, approvers role "tenant-admin" count 2
    enforce soft
    reason "copies data from {tenant} to {target_tenant}"
  }

  class policy_override {
    when operation == "policy_override"
    risk critical
    require dual_control, justification, hold 30m, approvers role "security-officer" count 1
    reason "{actor} overrides a policy in {environment}"
  }

  class unprivileged_update {
    when operation == "update" and scope != "record" and not privileged
    risk medium
    require justification
    enforce advisory
    mode warn
    reason "{actor} updates a whole {scope} without an admin role"
  }

  class prod_bulk_update {
    when operation == "update" and environment == "prod" and volume >= 10000
    risk medium
    require hold 5m
    mode dryrun
    reason "bulk update of {volume} records in prod (trial: counted, not enforced)"
  }
}
