# MOTB Global Threat-Balance Engine (MOTB PRD FR-M4, FR-M5): fuses the risk signals into a
# ThreatIndex (0-100) and a response mode, dampened by the Fear-Paralysis Governor.
# Run it with ballast.runtime.threat.ThreatEngine; see docs/threat.md.
threat motb.gtbe version "1.0.0" {
  owner "risk-council"
  description "ThreatIndex from TRP risk, the external CVE feed and CLE load; normal, heightened, lockdown"
  labels { tier: "platform", seed: "motb" }

  input signals {
    ts: timestamp
    trp_risk?: float in [0, 100]  # TRP riskScore, already 0..100
    cve_score?: float in [0, 10]  # external CVE feed (CVSS base score)
    load?: float in [0, 1]        # CLE loadFactor
  }

  stream { time ts }

  # A source missing from an event keeps its last value.
  source trp weight 0.6 from trp_risk
  source cve weight 0.3 from cve_score scale [0, 10]  # CVSS 0..10 read as 0..100
  source load weight 0.1 from load * 100

  smooth ewma(0.3)  # the newest sample weighs 30 %: one noisy spike does not make a lockdown

  mode heightened when index >= 40 exit below 35
  mode lockdown when index >= 75 exit below 60 dwell 2m

  governor {
    floor 30             # MOTB goal: never lockdown on a ThreatIndex below 30
    max_flips 3 per 10m  # FR-M5: rate-limit mode flips
    spare critical       # lockdown never pauses critical agents
    dwell 1m             # every mode lasts at least a minute (lockdown: 2m)
  }
}
