# The demo fleet of docs/rollouts.md: twelve clusters over three regions, one staging and three
# prod clusters in each; every region is a blast-radius group. Each cluster's `tier` label says
# which wave of catalog/fleet/policy-2026-12.rollout.bal takes it.
fleet mesh.edge version "2026.12" {
  owner "sre-platform"
  description "Edge meshes: eu-west, us-east, ap-south; staging and prod"

  cluster "eu-west-stg" {
    region "eu-west"
    env "staging"
    group "eu-west"
    control_plane "1.8.2"
    capabilities ["wasm", "ratelimit", "mtls"]
    slo { availability: 99.9, p95_ms: 400 }
    owner "team-eu"
    labels { tier: "staging" }
  }

  cluster "eu-west-1" {
    region "eu-west"
    env "prod"
    group "eu-west"
    control_plane "1.8.2"
    capabilities ["wasm", "ratelimit", "mtls"]
    slo { availability: 99.9, p95_ms: 250 }
    owner "team-eu"
    labels { tier: "canary" }
  }

  cluster "eu-west-2" {
    region "eu-west"
    env "prod"
    group "eu-west"
    control_plane "1.7.9"
    capabilities ["wasm", "ratelimit", "mtls"]
    slo { availability: 99.9, p95_ms: 250 }
    owner "team-eu"
    labels { tier: "general" }
  }

  cluster "eu-west-3" {
    region "eu-west"
    env "prod"
    group "eu-west"
    control_plane "1.8.2"
    capabilities ["ratelimit", "mtls"]
    slo { availability: 99.9, p95_ms: 250 }
    owner "team-eu"
    labels { tier: "general" }
  }

  cluster "us-east-stg" {
    region "us-east"
    env "staging"
    group "us-east"
    control_plane "1.8.2"
    capabilities ["wasm", "ratelimit", "mtls"]
    slo { availability: 99.9, p95_ms: 400 }
    owner "team-us"
    labels { tier: "staging" }
  }

  cluster "us-east-1" {
    region "us-east"
    env "prod"
    group "us-east"
    control_plane "1.8.2"
    capabilities ["wasm", "ratelimit", "mtls"]
    slo { availability: 99.9, p95_ms: 250 }
    owner "team-us"
    labels { tier: "general" }
  }

  cluster "us-east-2" {
    region "us-east"
    env "prod"
    group "us-east"
    control_plane "1.7.9"
    capabilities ["wasm", "ratelimit", "mtls"]
    slo { availability: 99.9, p95_ms: 250 }
    owner "team-us"
    labels { tier: "general" }
  }

  cluster "us-east-3" {
    region "us-east"
    env "prod"
    group "us-east"
    control_plane "1.8.2"
    capabilities ["ratelimit", "mtls"]
    slo { availability: 99.9, p95_ms: 250 }
    owner "team-us"
    labels { tier: "general" }
  }

  cluster "ap-south-stg" {
    region "ap-south"
    env "staging"
    group "ap-south"
    control_plane "1.8.2"
    capabilities ["wasm", "ratelimit", "mtls"]
    slo { availability: 99.9, p95_ms: 400 }
    owner "team-ap"
    labels { tier: "staging" }
  }

  cluster "ap-south-1" {
    region "ap-south"
    env "prod"
    group "ap-south"
    control_plane "1.8.2"
    capabilities ["wasm", "ratelimit", "mtls"]
    slo { availability: 99.9, p95_ms: 250 }
    owner "team-ap"
    labels { tier: "general" }
  }

  cluster "ap-south-2" {
    region "ap-south"
    env "prod"
    group "ap-south"
    control_plane "1.7.9"
    capabilities ["wasm", "ratelimit", "mtls"]
    slo { availability: 99.9, p95_ms: 250 }
    owner "team-ap"
    labels { tier: "general" }
  }

  cluster "ap-south-3" {
    region "ap-south"
    env "prod"
    group "ap-south"
    control_plane "1.8.2"
    capabilities ["ratelimit", "mtls"]
    slo { availability: 99.9, p95_ms: 250 }
    owner "team-ap"
    labels { tier: "general" }
  }
}
