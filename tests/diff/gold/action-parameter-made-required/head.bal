# gold fixture for `action-parameter-made-required`, head: `urgent` is required
policy shop.notify version "1.0.0" {
  input ev {
    pool: string
    load: float in [0, 1]
  }

  action notify(targets: selector, channel: string = "#ops", level: int = 1, share: float in [0, 1] = 0.5, urgent: bool)

  rule hot {
    when load > 0.8
    then notify(targets: pool, urgent: true)
  }
}
