# an owner added
profile demo version "1" {
  owner "platform-security"

  setting mfa: enum {
    order required > optional > off
    value required
  }

  setting retention: int days {
    higher is safer
    value 90
  }

  change "1" on "2026-12-01" "First version."
}
