# retention raised from 90 to 365 days
profile demo version "1" {
  setting mfa: enum {
    order required > optional > off
    value required
  }

  setting retention: int days {
    higher is safer
    value 365
  }

  change "1" on "2026-12-01" "First version."
}
