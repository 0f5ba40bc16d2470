module golden.cycle_b {
  import "cycle_a.bal"
  const b = 2
}
