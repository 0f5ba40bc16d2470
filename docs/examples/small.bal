policy mesh.small version "1.0.0" {
  input ev {
    service: string
    load: float in [0, 1]
    queue: int
  }

  const limit = 0.5 + 0.25

  rule checkout_hot {
    when service == "checkout" && load > limit
    then scale(targets: service, by: 2)
  }

  rule checkout_warm {
    when service == "checkout" && load > 0.3 * 2
    then scale(targets: service)
  }

  rule search_hot {
    when service == "search" && load > 0.9 && queue * 2 > 100
    then scale(targets: service)
  }

  rule search_queue {
    when service == "search" && queue * 2 > 100
    then pause(targets: service, duration: 30s)
  }
}
