# For PII-heavy tenants: stricter logging and retention than the baseline (docs/profiles.md).
profile regulated version "2" {
  owner "privacy-office"
  description "PII-heavy tenants: full audit logs kept for years, personal data kept briefly"

  extends baseline

  setting mfa: enum {
    order required > optional > off
    value required
  }

  setting tls_min_version: enum {
    order tls1_3 > tls1_2 > tls1_1
    value tls1_3
  }

  setting audit_log: enum {
    order full > standard > minimal > off
    value full
    remediation "Regulated tenants log every read of personal data, not only changes."
  }

  setting log_retention: int days {
    description "Seven years, as the record-keeping rules require."
    higher is safer
    value 2555
  }

  setting data_retention: int days {
    lower is safer
    value 90
  }

  setting session_timeout: duration {
    lower is safer
    value 15m
  }

  setting export_limit: int rows {
    lower is safer
    value 10000
    after encryption_at_rest, dlp_scanning
  }

  setting data_residency: enum {
    order { eu > any, us > any }
    value eu
  }

  setting dlp_scanning: enum {
    order block > alert > off
    value block
    after encryption_at_rest
    remediation "Scan exports for personal data and block what matches."
  }

  window regulated {
    days ["sun"]
    start "01:00"
    end "03:00"
  }

  change "1" on "2026-10-01" "First regulated profile, on baseline 2."
  change "2" on "2026-12-01" "DLP scanning blocks exports; TLS 1.3 only."
}
