# a session_timeout setting added
profile demo version "1" {
  setting mfa: enum {
    order required > optional > off
    value required
  }

  setting retention: int days {
    higher is safer
    value 90
  }

  setting session_timeout: duration {
    lower is safer
    value 1h
  }

  change "1" on "2026-12-01" "First version."
}
