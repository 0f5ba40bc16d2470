# fleet-cluster-removed: cluster us-1 left the fleet (and the allowlist)
fleet mesh.mini version "1" {
  owner "sre"

  cluster "eu-stg" {
    region "eu"
    env "staging"
    group "eu"
    control_plane "1.8.2"
    labels { tier: "staging" }
  }

  cluster "eu-1" {
    region "eu"
    env "prod"
    group "eu"
    control_plane "1.8.2"
    labels { tier: "canary" }
  }

  cluster "eu-2" {
    region "eu"
    env "prod"
    group "eu"
    control_plane "1.8.2"
    labels { tier: "general" }
  }

}
