# gold fixture for `threat-smoothing-changed`, head: ewma(0.5)
threat shop.threat version "1.0.0" {
  owner "risk-council"

  input signals {
    ts: timestamp
    risk?: float in [0, 100]
    cve?: float in [0, 10]
    load?: float in [0, 1]
  }

  stream { time ts }

  source risk weight 0.6 from risk
  source cve weight 0.3 from cve scale [0, 10]
  source load weight 0.1 from load * 100

  smooth ewma(0.5)

  mode heightened when index >= 40 exit below 35
  mode lockdown when index >= 75 exit below 60 dwell 2m

  governor {
    floor 30
    max_flips 3 per 10m
    spare critical
    dwell 1m
  }
}
