# A shorter gateway policy with two mistakes: a bare number as a duration, a misspelt parameter.
policy mesh.broken version "1.0.0" {
  input gateway {
    pool: string
    cpu: float in [0, 1]
  }
  rule shed_hot_pool {
    when cpu > 0.95
    then pause(targets: pool, duration: 600), reroute(targets: pool, too: "stable")
  }
}
