# Payments tenants: the baseline, with shorter sessions, smaller exports and fraud alerts.
profile payments version "1" {
  owner "payments-platform"

  extends baseline

  setting session_timeout: duration {
    lower is safer
    value 30m
  }

  setting export_limit: int rows {
    lower is safer
    value 5000
    after encryption_at_rest, fraud_alerts
  }

  setting fraud_alerts: enum {
    order page > email > off
    value email
    remediation "Send fraud alerts to the payments on-call."
  }

  window standard {
    days ["sat", "sun"]
    start "22:00"
    end "04:00"
  }

  change "1" on "2026-12-01" "First payments profile, on baseline 3."
}
