# the profile other added
profile other version "1" {
  setting mfa: enum {
    order required > optional > off
    value required
  }

  change "1" on "2026-12-01" "First version."
}
