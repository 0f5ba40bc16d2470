# The secure-by-default profile: every tenant starts here (docs/profiles.md).
profile baseline version "3" {
  owner "platform-security"
  description "Secure by default: what every tenant holds from its creation"

  setting mfa: enum {
    order required > optional > off
    value required
    remediation "Require MFA for every operator and API client."
  }

  setting encryption_at_rest: bool {
    true is safer
    value true
    remediation "Turn on encryption at rest before any data is exported."
  }

  setting tls_min_version: enum {
    order tls1_3 > tls1_2 > tls1_1
    value tls1_2
  }

  setting audit_log: enum {
    order full > standard > minimal > off
    value standard
    remediation "Keep an audit log of every administrative change."
  }

  setting log_retention: int days {
    higher is safer
    value 90
  }

  setting data_retention: int days {
    description "Personal data is kept no longer than this."
    lower is safer
    value 365
  }

  setting session_timeout: duration {
    lower is safer
    value 1h
  }

  setting export_limit: int rows {
    lower is safer
    value 100000
    after encryption_at_rest
    remediation "Cap bulk exports; raise the cap only through a reviewed profile."
  }

  setting data_residency: enum {
    order { eu > any, us > any }
    value any
  }

  setting key_provider: string {
    exact
    value "platform-kms"
  }

  setting public_sharing: bool {
    false is safer
    value false
  }

  window standard {
    days ["sat", "sun"]
    start "02:00"
    end "06:00"
  }

  window enterprise {
    days ["sun"]
    start "03:00"
    end "05:00"
  }

  change "1" on "2026-09-01" "First secure-by-default profile."
  change "2" on "2026-10-15" "Export limit lowered from 500000 to 100000 rows; audit log required."
  change "3" on "2026-12-01" "Sessions expire after 1h instead of 8h."
}
