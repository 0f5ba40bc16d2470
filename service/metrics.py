"""The service's Prometheus metrics, in a registry of its own (two apps in one process never
share or clash on a metric).

Counters are updated as requests are served; what is state rather than a count (the ThreatIndex,
the mode, the running bundle, the engine's per-policy counters, requests in flight) is read from
the service when /metrics is scraped, so it is never stale.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

# Evaluation takes microseconds per event and milliseconds per large batch.
LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


class Metrics:
    """The counters and histograms of one service, and the exposition of all of them."""

    def __init__(self, state: Callable[[], dict[str, Any]]) -> None:
        """`state()` returns the service's current state for the gauges (see `Service.state`)."""
        self.registry = CollectorRegistry()
        r = self.registry
        self.latency = Histogram(
            "ballast_evaluation_seconds",
            "Time to decide one request's events (one event or a batch), in seconds",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.events = Counter("ballast_events", "Events evaluated", registry=r)
        self.directives = Counter("ballast_directives", "Directives issued, by action", ["action"], registry=r)
        self.held = Counter(
            "ballast_held_directives",
            "Directives of warn and dryrun rules, computed and not issued",
            ["mode"],
            registry=r,
        )
        self.engine_events = Counter(
            "ballast_engine_events",
            "Engine events by type: Dropped and Coalesced (the directive queue), TelemetryGap, Stale, ModeChanged, …",
            ["type"],
            registry=r,
        )
        self.faults = Counter(
            "ballast_faults", "Problems of events, by kind (invalid-event, evaluation, …)", ["kind"], registry=r
        )
        self.rejected = Counter(
            "ballast_requests_rejected", "Requests refused before evaluation, by problem type", ["problem"], registry=r
        )
        self.policy_changes = Counter(
            "ballast_policy_changes", "Bundles proposed through PUT /v1/policies, by outcome", ["status"], registry=r
        )
        r.register(_StateCollector(state))

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes."""
        return generate_latest(self.registry)


class _StateCollector(Collector):
    """Gauges read from the service at scrape time."""

    def __init__(self, state: Callable[[], dict[str, Any]]) -> None:
        self._state = state

    def collect(self) -> Iterator[Metric]:
        s = self._state()
        index = GaugeMetricFamily("ballast_threat_index", "The smoothed ThreatIndex of each threat", labels=["threat"])
        mode = GaugeMetricFamily(
            "ballast_threat_mode",
            "1 for each threat's current response mode, 0 for its other modes",
            labels=["threat", "mode"],
        )
        for threat in s["threats"]:
            index.add_metric([threat["threat"]], threat["threatIndex"])
            for name in threat["modes"]:
                mode.add_metric([threat["threat"], name], 1.0 if name == threat["mode"] else 0.0)
        yield index
        yield mode
        policy = GaugeMetricFamily(
            "ballast_policy_info",
            "1 for the running bundle: its fingerprint and the version of each document",
            labels=["fingerprint", "versions"],
        )
        serial = GaugeMetricFamily(
            "ballast_policy_serial", "How many policy sets this service has run (the running one's serial)"
        )
        bundle = s["bundle"]
        if bundle is not None:
            versions = ",".join(f"{v['kind']}:{v['name']}@{v['version']}" for v in bundle["versions"])
            policy.add_metric([bundle["fingerprint"], versions], 1.0)
            serial.add_metric([], float(bundle["serial"]))
        yield policy
        yield serial
        counters = GaugeMetricFamily(
            "ballast_engine_counter",
            "The engine's counters per policy: late and duplicate events dropped, gaps, suppressed directives, keys",
            labels=["policy", "counter"],
        )
        for policy_name, values in sorted(s["engine"].items()):
            for name, value in sorted(values.items()):
                counters.add_metric([policy_name, name], float(value))
        yield counters
        yield GaugeMetricFamily(
            "ballast_requests_in_flight", "Requests admitted and not yet answered", value=s["in_flight"]
        )
        health = GaugeMetricFamily("ballast_health", "1 for the current health state", labels=["state"])
        for name in ("ok", "degraded", "silent"):
            health.add_metric([name], 1.0 if name == s["health"] else 0.0)
        yield health


__all__ = ["LATENCY_BUCKETS", "Metrics"]
