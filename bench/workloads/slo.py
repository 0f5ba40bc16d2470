"""Generated per-service SLO policy sets, and the Python a person would write for them.

`make_slo_set(size, …)` writes a policy of `size` rules (80% per service, about 20 per service;
20% fleet-wide) whose thresholds are placed on a calibration sample so that about 1% of the
rules fire per event, and the event stream it is timed on; `hand_written_source` writes the
same rules as plain Python, as flat if-statements or grouped by service.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

Event = dict[str, Any]

REGIONS = ("us-east", "us-west", "eu-west", "ap-south")
TIERS = ("critical", "standard", "batch")
QUEUE_MAX = 100_000_000

INPUT_BLOCK = """  input telemetry {
    service: string
    region: enum("us-east", "us-west", "eu-west", "ap-south")
    tier: enum("critical", "standard", "batch")
    latency_ms: float in [0, 600000]
    error_rate: float in [0, 1]
    load: float in [0, 1]
    queue_depth: int in [0, 100000000]
    risk: float in [0, 100]
  }"""
FIELDS = ("service", "region", "tier", "latency_ms", "error_rate", "load", "queue_depth", "risk")
INT_FIELDS = {"queue_depth"}


@dataclass(frozen=True)
class Service:
    name: str
    tier: str
    latency: float  # baseline p95 latency, ms
    errors: float  # baseline error rate
    load: float  # typical load
    queue: float  # typical queue depth


@dataclass(frozen=True)
class Template:
    kind: str
    filters: tuple[str, ...]  # equality filters: "region" (a random region) or "tier=batch"
    metrics: tuple[str, ...]  # thresholded fields, each `field > threshold`
    action: str
    impact: str


# `{n}` in an action is the rule's rank among the rules of the same kind and owner, so rules that
# differ only in thresholds escalate (scale by 1, 2, 3 …) rather than shadow each other.
SERVICE_TEMPLATES = (
    Template("latency_errors", (), ("latency_ms", "error_rate"), "scale(targets: service, by: {n})", "low"),
    Template("latency", (), ("latency_ms",), "scale(targets: service, by: {n})", "minimal"),
    Template("errors", (), ("error_rate",), 'reroute(targets: service, to: "standby", percent: {n}0.0)', "high"),
    Template("queue_load", (), ("queue_depth", "load"), "scale(targets: service, by: {n})", "moderate"),
    Template(
        "regional_latency",
        ("region",),
        ("latency_ms", "load"),
        'reroute(targets: service, to: "failover", percent: {n}0.0)',
        "high",
    ),
    Template("regional_errors", ("region",), ("error_rate",), "downgrade(targets: service, level: {n})", "moderate"),
    Template("risk_errors", (), ("risk", "error_rate"), "pause(targets: service, duration: {n}m)", "critical"),
)
GLOBAL_TEMPLATES = (
    Template("load_queue", (), ("load", "queue_depth"), "scale(targets: service, by: {n})", "low"),
    Template("batch_shed", ("tier=batch",), ("load",), "pause(targets: service, duration: {n}m)", "low"),
    Template(
        "risk_errors", (), ("risk", "error_rate"), 'reroute(targets: service, to: "quarantine", percent: {n}.0)', "high"
    ),
    Template("queue", (), ("queue_depth",), "scale(targets: service, by: {n})", "moderate"),
    Template(
        "regional_latency_load",
        ("region",),
        ("latency_ms", "load"),
        "downgrade(targets: service, level: {n})",
        "moderate",
    ),
    Template("critical_latency", ("tier=critical",), ("latency_ms",), "scale(targets: service, by: {n})", "high"),
)


@dataclass
class SloRule:
    name: str
    service: str | None
    equals: list[tuple[str, str]]
    above: list[tuple[str, float | int]]
    action: str
    impact: str
    priority: int

    def conjuncts(self) -> list[str]:
        parts = [f'service == "{self.service}"'] if self.service is not None else []
        parts += [f'{f} == "{v}"' for f, v in self.equals]
        parts += [f"{f} > {literal(f, v)}" for f, v in self.above]
        return parts


def literal(name: str, value: float | int) -> str:
    """A threshold as both Ballast and Python read it (no exponent notation)."""
    if name in INT_FIELDS:
        return str(int(value))
    text = f"{value:.6f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def nice(name: str, value: float) -> float | int:
    """Round a threshold the way a person writes one: three significant figures."""
    if name in INT_FIELDS:
        return int(float(f"{value:.3g}"))
    return max(float(f"{value:.3g}"), 0.0001)


def make_services(count: int, rng: random.Random) -> list[Service]:
    return [
        Service(
            f"svc-{i}",
            TIERS[i % 3],
            math.exp(rng.uniform(math.log(20), math.log(400))),
            math.exp(rng.uniform(math.log(0.0005), math.log(0.005))),
            rng.uniform(0.3, 0.7),
            math.exp(rng.uniform(math.log(10), math.log(500))),
        )
        for i in range(count)
    ]


def slo_event(svc: Service, rng: random.Random) -> Event:
    """One service's telemetry sample: a shared stress factor makes the metrics move together."""
    g = rng.gauss
    stress = g(0, 1)
    hot = max(stress, 0.0)
    return {
        "service": svc.name,
        "region": REGIONS[rng.randrange(4)],
        "tier": svc.tier,
        "latency_ms": min(600000.0, svc.latency * math.exp(0.3 * g(0, 1) + 0.4 * hot)),
        "error_rate": min(1.0, svc.errors * math.exp(0.8 * g(0, 1) + 0.5 * hot)),
        "load": min(1.0, max(0.0, svc.load + 0.1 * stress + 0.05 * g(0, 1))),
        "queue_depth": min(QUEUE_MAX, int(svc.queue * math.exp(0.7 * g(0, 1) + 0.8 * hot))),
        "risk": min(100.0, max(0.0, 30.0 + 15.0 * g(0, 1) + 10.0 * stress)),
    }


def place_thresholds(
    sample: list[Event], equals: list[tuple[str, str]], metrics: Sequence[str], target: float
) -> list[tuple[str, float | int]] | None:
    """Thresholds under which the rule holds for about `target` of the sample.

    Each threshold is a quantile of the events that pass the conditions before it, so the joint
    probability is right even though the metrics are correlated.
    """
    pool = [ev for ev in sample if all(ev[f] == v for f, v in equals)]
    if len(pool) < 100:
        return None
    need = target * len(sample) / len(pool)
    if need >= 1:
        return None
    share = need ** (1 / len(metrics))
    out: list[tuple[str, float | int]] = []
    for name in metrics:
        values = sorted(ev[name] for ev in pool)
        value = nice(name, values[min(len(values) - 1, int(len(values) * (1 - share)))])
        out.append((name, value))
        pool = [ev for ev in pool if ev[name] > value]
        if not pool:
            return None
    return out


@dataclass
class SloSet:
    size: int
    services: list[Service]
    rules: list[SloRule]
    source: str
    events: list[Event]


def make_slo_set(size: int, calibration_events: int, stream_size: int, seed: int) -> SloSet:
    """`size` rules: 80% per service (about 20 per service), 20% fleet-wide; ~1% fire per event.

    Thresholds are placed on `calibration_events` samples per service; the event stream has
    `stream_size` distinct events.
    """
    rng = random.Random(seed)
    n_global = max(1, round(size * 0.2))
    n_service = size - n_global
    services = make_services(max(2, size // 25), rng)
    samples = {s.name: [slo_event(s, rng) for _ in range(calibration_events)] for s in services}
    # the fleet-wide sample mixes the services as the event stream does; capped, as sorting it per rule adds up
    fleet = [ev for evs in samples.values() for ev in evs]
    fleet = rng.sample(fleet, min(len(fleet), calibration_events * 4))
    rules: list[SloRule] = []
    ranks: dict[tuple[str, str], int] = {}

    def add(service: Service | None, template: Template, target: float) -> bool:
        equals = []
        for f in template.filters:
            if f == "region":
                equals.append(("region", rng.choice(REGIONS)))
            else:
                equals.append(tuple(f.split("=")))  # type: ignore[arg-type]
        sample = samples[service.name] if service else fleet
        above = place_thresholds(sample, equals, template.metrics, target)
        if above is None:
            return False
        owner = service.name.replace("-", "_") if service else "fleet"
        verb = template.action.split("(")[0]
        rank = ranks[(owner, verb)] = ranks.get((owner, verb), 0) + 1
        rules.append(
            SloRule(
                f"r{len(rules):04d}_{owner}_{template.kind}",
                service.name if service else None,
                equals,
                above,
                template.action.format(n=rank),
                template.impact,
                rng.randrange(10, 100),
            )
        )
        return True

    # Every rule fires on ~1% of events: a per-service rule sees only its service's share of them.
    for i in range(n_service):
        service = services[i % len(services)]
        target = min(0.95, 0.01 * len(services) * rng.uniform(0.5, 1.5))
        while not add(service, rng.choice(SERVICE_TEMPLATES), target):
            pass
    for _ in range(n_global):
        while not add(None, rng.choice(GLOBAL_TEMPLATES), 0.01 * rng.uniform(0.5, 1.5)):
            pass
    rng.shuffle(rules)  # as a team's file would be: not sorted by service

    lines = [
        f'policy bench.slo{size} version "1.0.0" {{',
        '  owner "bench"',
        f'  description "generated: {size} per-service SLO rules"',
        INPUT_BLOCK,
    ]
    for rule in rules:
        shown = rule.above[0][0]
        lines += [
            "",
            f"  rule {rule.name} {{",
            f"    when {' && '.join(rule.conjuncts())}",
            f"    then {rule.action}",
            f"    priority {rule.priority}",
            f"    impact {rule.impact}",
            f'    reason "{shown} {{{shown}}} above {literal(shown, rule.above[0][1])} on {{service}} in {{region}}"',
            "  }",
        ]
    lines.append("}")
    stream_rng = random.Random(seed + 1)
    events = [slo_event(services[stream_rng.randrange(len(services))], stream_rng) for _ in range(stream_size)]
    return SloSet(size, services, rules, "\n".join(lines) + "\n", events)


def hand_written_source(rules: list[SloRule], grouped: bool) -> str:
    """Python a person would write for the rules: flat if-statements, or grouped by service."""
    head = [f"    {f} = ev[{f!r}]" for f in FIELDS]

    def check(rule: SloRule, with_service: bool) -> list[str]:
        parts = rule.conjuncts() if with_service or rule.service is None else rule.conjuncts()[1:]
        return [f"    if {' and '.join(parts)}:", f"        fired.append({rule.name!r})"]

    if not grouped:
        body = ["def evaluate(ev):", "    fired = []", *head]
        for rule in rules:
            body += check(rule, True)
        return "\n".join([*body, "    return fired", ""])
    out: list[str] = []
    by_service: dict[str, list[SloRule]] = {}
    for rule in rules:
        if rule.service is not None:
            by_service.setdefault(rule.service, []).append(rule)
    table = []
    for i, (service, mine) in enumerate(by_service.items()):
        used = [f for f in FIELDS if f != "service" and any(f in c for r in mine for c in r.conjuncts())]
        out += [f"def _service{i}(ev, fired):", *[f"    {f} = ev[{f!r}]" for f in used]]
        for rule in mine:
            out += check(rule, False)
        table.append(f"    {service!r}: _service{i},")
    out += ["_BY_SERVICE = {", *table, "}", "", "def evaluate(ev):", "    fired = []"]
    out += ["    group = _BY_SERVICE.get(ev['service'])", "    if group is not None:", "        group(ev, fired)"]
    fleet = [r for r in rules if r.service is None]
    used = [f for f in FIELDS if any(f in c for r in fleet for c in r.conjuncts())]
    out += [f"    {f} = ev[{f!r}]" for f in used]
    for rule in fleet:
        out += check(rule, True)
    return "\n".join([*out, "    return fired", ""])


def build_python(source: str, label: str) -> Callable[[Event], list[str]]:
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<hand-written {label}>", "exec"), namespace)
    return namespace["evaluate"]

