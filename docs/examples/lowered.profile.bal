# A profile that tries to keep logs for less time than the baseline it extends.
profile short_logs version "1" {
  extends baseline

  setting log_retention: int days {
    higher is safer
    value 30
  }

  change "1" on "2026-12-01" "Keep logs a month."
}
