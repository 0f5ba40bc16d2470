policy demo.windows version "1" {
  input sample {
    ts: timestamp
    pool: string
    x: float
  }

  stream {
    time ts
  }

  let n = count(x, 1m)
  let mean = avg(x, 1m)
  let low = min(x, 1m)
  let high = max(x, 1m)
  let total = sum(x, 1m)
  let change = delta(x, 1m)
  let per_s = rate(x, 1m)
  let sd = stddev(x, 1m)
  let p90 = percentile(x, 90, 1m)
  let z = zscore(x, 1m)
  let trend = slope(x, 1m)
  let smooth = ewma(x, 0.5)

  rule show {
    group by pool
    when n >= 6
    then scale(targets: pool)
    reason "count {n} avg {mean:.3f} min {low} max {high} sum {total} delta {change} rate {per_s:.4f} stddev {sd:.4f} p90 {p90:.2f} zscore {z:.4f} slope {trend:.4f} ewma {smooth:.4f}"
  }
}
