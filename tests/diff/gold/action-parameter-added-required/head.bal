# gold fixture for `action-parameter-added-required`, head: `notify` needs a `ticket`
policy shop.notify version "1.0.0" {
  input ev {
    pool: string
    load: float in [0, 1]
  }

  action notify(targets: selector, channel: string = "#ops", level: int = 1, share: float in [0, 1] = 0.5, ticket: string)

  rule hot {
    when load > 0.8
    then notify(targets: pool, ticket: "OPS-1")
  }
}
