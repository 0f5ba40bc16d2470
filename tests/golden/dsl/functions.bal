policy golden.functions version "1.0.0" {
  input telemetry { load: float, pool: string, tags: list<string>, n: int }
  rule r {
    when matches(pool, "([a-z]+") && matches(pool, pool) && startswith(pool) && contains(tags, 3) && round(load, 1.5) > 0 && min() > 1 && abs("x") > 0 && pool.lenght > 0
    then scale(targets: pool, by: n / 2)
  }
}
