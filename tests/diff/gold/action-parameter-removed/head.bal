# gold fixture for `action-parameter-removed`, head: `notify` loses `share`
policy shop.notify version "1.0.0" {
  input ev {
    pool: string
    load: float in [0, 1]
  }

  action notify(targets: selector, channel: string = "#ops", level: int = 1)

  rule hot {
    when load > 0.8
    then notify(targets: pool)
  }
}
