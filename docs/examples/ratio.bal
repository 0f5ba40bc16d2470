policy mesh.ratio version "1" {
  input ev {
    pool: string
    load: float in [0, 1]
    errors: int
    requests: int
  }

  let failing = errors / requests > 0.05

  rule shed {
    when load > 0.5 && failing
    then pause(targets: pool)
  }
}
