policy demo.typo version "1" {
  input telemetry {
    pool: string
    tier: enum("critical", "standard", "batch")
  }
  rule protect_critical {
    when tier == "critcal"
    then scale(targets: pool)
  }
}
