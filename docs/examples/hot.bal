policy demo version "1" {
  input ev { pool: string
     load: float }
  rule hot { when load > 0.9 then scale(targets: pool) }
}
