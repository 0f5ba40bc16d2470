module golden.cycle_a {
  import "cycle_b.bal"
  const a = 1
}
