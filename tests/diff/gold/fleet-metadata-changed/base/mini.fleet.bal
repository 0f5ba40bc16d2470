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

  cluster "us-1" {
    region "us"
    env "prod"
    group "us"
    control_plane "1.8.2"
    labels { tier: "general" }
  }
}
