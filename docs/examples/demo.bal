policy demo version "1" {
  input ev {
    queue: int
  }

  rule a {
    when queue > 5 && queue < 3
    then scale(targets: "queue-workers")
  }
}
