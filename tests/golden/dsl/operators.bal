policy golden.operators version "1.0.0" {
  input telemetry { load: float, pool: string, tags: list<string>, n: int, ok: bool, window: duration }
  rule r {
    when !load && ok + 1 > 0 && pool in "abc" && n == "3" && (ok ? 1 : "a") == 1 && [1, "a"] == [] && tags[0] > 1 && window > 5m + 3
    then scale(targets: pool)
  }
}
