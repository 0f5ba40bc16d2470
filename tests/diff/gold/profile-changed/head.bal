# a change window added for the standard class
profile demo version "1" {
  setting mfa: enum {
    order required > optional > off
    value required
  }

  setting retention: int days {
    higher is safer
    value 90
  }

  window standard {
    days ["sat", "sun"]
    start "02:00"
    end "06:00"
  }

  change "1" on "2026-12-01" "First version."
}
