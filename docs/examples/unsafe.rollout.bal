# A staging plan whose selector reaches prod: `ballast check` refuses it (docs/rollouts.md).
rollout mesh.unsafe version "1.0.0" {
  fleet "mesh.edge"
  profile "staging"
  select region == "eu-west"
  ceiling 10%

  wave all {
    max_update 2
  }
}
