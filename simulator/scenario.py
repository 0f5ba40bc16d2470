"""Scenario documents: the world a simulation runs (docs/simulator.md has the reference).

A scenario is a YAML file in `catalog/scenarios/`: the pools of the mesh and their load, the risk
signals, the faults injected at given times with a blast radius, a steady-state hypothesis and
stop conditions. `load_scenario` checks all of it and reports every problem at its line and
column; a loaded `Scenario` is plain frozen data.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ballast.runtime.errors import Span, UsageError
from ballast.runtime.reading import UnreadableInput, read_text
from ballast.runtime.suggest import closest
from ballast.simulator.gates import Gate, GateError, criterion, kpi_name
from ballast.simulator.yamlread import Doc, Problems

CLASSES = ("critical", "standard", "batch")
MODES = ("one", "all", "fixed", "percent", "max-percent")
PHASES = ("before", "during", "after", "continuous")
DEFAULT_START = 1_763_200_800.0  # 2025-11-15T10:00:00Z

# Each fault kind with its parameters: name → (reader, default). Risk faults feed the threat
# signals; the rest act on the pools their target selects.
FAULT_PARAMS: dict[str, dict[str, tuple[str, Any]]] = {
    "load-spike": {"factor": ("number", 2.0), "ramp": ("duration0", 0.0)},
    "risk-spike": {"value": ("number", 85.0), "ramp": ("duration0", 0.0)},
    "risk-noise": {"sigma": ("number", 15.0), "blip": ("number", 0.0), "blip_every": ("duration", 600.0)},
    "cve": {"score": ("number", 9.8)},
    "latency": {"add_ms": ("number", 200.0)},
    "errors": {"rate": ("number", 0.2)},
    "kill-workers": {"share": ("number", 0.5)},
    "queue-flood": {"intents": ("number", 10_000.0), "invalid": ("number", 0.5), "over": ("duration", 60.0)},
    "trigger-storm": {"rate": ("number", 5_000.0), "task_share": ("number", 0.05)},
    "scheduler-pause": {"tasks": ("number", 1_000.0)},
    "policy-cascade": {"depth": ("number", 10.0), "every": ("duration", 5.0), "limit": ("number", 10.0)},
}
RISK_FAULTS = ("risk-spike", "risk-noise", "cve")
# Metrics a probe or a stop condition can read, per tick (fleet-wide, or one pool's with `pool:`).
METRICS = (
    "sla_adherence_pct",
    "error_rate",
    "load",
    "latency_p95_ms",
    "queue",
    "workers",
    "policy_depth",
    "subscriptions",
    "threat_index",
    "lockdowns",
    "false_lockdowns",
)
THREAT_METRICS = ("threat_index", "lockdowns", "false_lockdowns")  # read from a threat document's Engine
POOL_METRICS = ("sla_adherence_pct", "error_rate", "load", "latency_p95_ms", "queue", "workers", "policy_depth", "subscriptions")


@dataclass(frozen=True)
class Pool:
    name: str
    cls: str  # criticality class: critical | standard | batch
    region: str
    workers: int
    max_workers: int
    service_ms: float  # mean service time of one request on one worker
    rate: float  # base arrivals per second
    queue_limit: int
    subscriptions: int  # trigger-mesh subscriptions
    cost_per_worker_hour: float


@dataclass(frozen=True)
class Target:
    """A blast radius, as in Chaos Mesh: which pools (by name, class or region) and how many."""

    names: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    mode: str = "all"
    value: float = 0.0


@dataclass(frozen=True)
class LoadStep:
    at: float
    factor: float
    ramp: float
    target: Target


@dataclass(frozen=True)
class Fault:
    name: str
    kind: str
    at: float
    duration: float
    target: Target
    params: dict[str, float]
    line: int


@dataclass(frozen=True)
class Probe:
    name: str
    metric: str
    pool: str | None
    phase: str
    low: float | None
    high: float | None
    allow_empty: bool = False  # zero samples (a phase the run never reached) fail unless allowed
    span: Span | None = None  # where the probe is declared, for errors found after reading
    source_line: str = ""


@dataclass(frozen=True)
class StopCondition:
    metric: str
    pool: str | None
    above: float | None
    below: float | None
    hold: float  # seconds the condition must hold before the run stops
    span: Span | None = None
    source_line: str = ""

    def describe(self) -> str:
        where = f"{self.metric}[{self.pool}]" if self.pool else self.metric
        test = f"> {self.above:g}" if self.above is not None else f"< {self.below:g}"
        return f"{where} {test}" + (f" for {self.hold:g}s" if self.hold else "")


@dataclass(frozen=True)
class Actuation:
    """How long the mesh takes to carry out each directive, and how long a shed or reroute holds."""

    scale_delay: float = 60.0
    pause_delay: float = 1.0
    downgrade_delay: float = 5.0
    reroute_delay: float = 10.0
    hold: float = 300.0
    pause_duration: float = 60.0  # a pause without `duration`


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    file: str
    seed: int
    start: float
    duration: float
    step: float
    telemetry_every: float
    policies: tuple[str, ...]  # paths, resolved against the scenario's folder
    slo_latency_ms: float
    slo_error_rate: float
    pools: tuple[Pool, ...]
    load: tuple[LoadStep, ...]
    diurnal: float
    trp_base: float
    trp_noise: float
    trp_reversion: float
    cve_base: float
    faults: tuple[Fault, ...]
    hypothesis: tuple[Probe, ...]
    stop: tuple[StopCondition, ...]
    actuation: Actuation = field(default_factory=Actuation)
    gates: tuple[Gate, ...] = ()  # the shadow gates; empty: the defaults of `ballast shadow`

    def pool_names(self) -> list[str]:
        return [p.name for p in self.pools]


TOP_KEYS = (
    "scenario", "description", "seed", "start", "duration", "step", "telemetry", "policies", "slo",
    "pools", "load", "risk", "faults", "hypothesis", "stop", "actuation", "gates",
)  # fmt: skip
POOL_KEYS = (
    "name", "class", "region", "workers", "max_workers", "service_ms", "rate", "queue_limit",
    "subscriptions", "cost_per_worker_hour", "replicas",
)  # fmt: skip


def load_scenario(path: str | Path, *, overrides: dict[str, Any] | None = None) -> Scenario:
    """Read and check a scenario file; raises CompileError listing every problem with its position.

    `overrides`: `seed` and `duration` (seconds) from the command line replace the file's.
    """
    file = Path(path)
    try:
        text = read_text(file, "scenario")
    except UnreadableInput as exc:
        raise UsageError(f"cannot read the scenario {exc}") from None
    scenario = parse_scenario(text, str(path), base=file.parent)
    if overrides:
        values = {k: v for k, v in overrides.items() if v is not None}
        if "duration" in values and values["duration"] <= 0:
            raise UsageError(f"--duration must be positive, got {values['duration']:g}s")
        scenario = replace(scenario, **values)
    return scenario


def parse_scenario(text: str, file: str, *, base: Path | None = None) -> Scenario:
    doc = Doc(text, file)
    root = doc.root
    if not isinstance(root, dict):
        doc.error(root, None, "a scenario file is a YAML mapping with `scenario:`, `pools:` and `duration:`")
        doc.raise_if_problems()
    reader = _ScenarioReader(doc, base or Path(file).parent)
    scenario = reader.read(root)
    doc.raise_if_problems()
    assert scenario is not None
    return scenario


class _ScenarioReader:
    def __init__(self, doc: Doc, base: Path) -> None:
        self.doc = doc
        self.base = base

    def read(self, root: Any) -> Scenario | None:
        d = self.doc
        d.keys(root, TOP_KEYS, "a scenario")
        parts: dict[str, Any] = {}

        def attempt(name: str, fn: Any, fallback: Any) -> None:
            try:
                parts[name] = fn()
            except Problems:
                parts[name] = fallback

        attempt("name", lambda: d.get(root, "scenario", d.string), "")
        attempt("description", lambda: d.get(root, "description", d.string, ""), "")
        attempt("seed", lambda: d.get(root, "seed", lambda m, k: d.integer(m, k, 0, 2**63 - 1), 0), 0)
        attempt("start", lambda: d.get(root, "start", d.timestamp, DEFAULT_START), DEFAULT_START)
        attempt("duration", lambda: d.get(root, "duration", d.duration), 3600.0)
        attempt("step", lambda: d.get(root, "step", d.duration, 1.0), 1.0)
        attempt("telemetry", lambda: d.get(root, "telemetry", d.duration, 15.0), 15.0)
        attempt("policies", lambda: self.policies(root), ())
        attempt("slo", lambda: self.slo(root), (250.0, 0.01))
        attempt("pools", lambda: self.pools(root), ())
        names = {p.name for p in parts["pools"]}
        attempt("load", lambda: self.load(root, names), ((), 0.0))
        attempt("risk", lambda: self.risk(root), (30.0, 3.0, 120.0, 2.0))
        attempt("faults", lambda: self.faults(root, names, parts["duration"]), ())
        attempt("hypothesis", lambda: self.probes(root, names), ())
        attempt("stop", lambda: self.stops(root, names), ())
        attempt("actuation", lambda: self.actuation(root), Actuation())
        attempt("gates", lambda: self.gates(root), ())
        if parts["telemetry"] < parts["step"]:
            d.error(root, "telemetry", "telemetry is sampled less often than the model steps", "make `telemetry` >= `step`")
        if d.problems:
            return None
        load_steps, diurnal = parts["load"]
        return Scenario(
            name=parts["name"],
            description=parts["description"],
            file=d.file,
            seed=parts["seed"],
            start=parts["start"],
            duration=parts["duration"],
            step=parts["step"],
            telemetry_every=parts["telemetry"],
            policies=parts["policies"],
            slo_latency_ms=parts["slo"][0],
            slo_error_rate=parts["slo"][1],
            pools=parts["pools"],
            load=load_steps,
            diurnal=diurnal,
            trp_base=parts["risk"][0],
            trp_noise=parts["risk"][1],
            trp_reversion=parts["risk"][2],
            cve_base=parts["risk"][3],
            faults=parts["faults"],
            hypothesis=parts["hypothesis"],
            stop=parts["stop"],
            actuation=parts["actuation"],
            gates=parts["gates"],
        )

    # ---- sections ----
    def policies(self, root: Any) -> tuple[str, ...]:
        d = self.doc
        if "policies" not in root:
            return ()
        paths = d.strings(root, "policies")
        out = []
        for i, p in enumerate(paths):
            resolved = (self.base / p).resolve()
            if not resolved.exists():
                where: Any = root["policies"] if isinstance(root["policies"], list) else root
                d.error(where, i if isinstance(root["policies"], list) else "policies",
                        f"policy path {p!r} does not exist (looked in {resolved.parent})",
                        "paths are relative to the scenario file")  # fmt: skip
                continue
            out.append(str(resolved))
        return tuple(out)

    def slo(self, root: Any) -> tuple[float, float]:
        d = self.doc
        if "slo" not in root:
            return 250.0, 0.01
        slo = d.mapping(root, "slo", "slo")
        d.keys(slo, ("latency_ms", "error_rate"), "slo")
        latency = d.get(slo, "latency_ms", lambda m, k: d.number(m, k, 1e-3), 250.0)
        errors = d.get(slo, "error_rate", lambda m, k: d.number(m, k, 0.0, 1.0), 0.01)
        return latency, errors

    def pools(self, root: Any) -> tuple[Pool, ...]:
        d = self.doc
        items = d.get(root, "pools", lambda m, k: d.sequence(m, k, "pools"))
        if not items:
            d.error(root, "pools", "a scenario needs at least one pool")
            raise Problems
        pools: list[Pool] = []
        for expanded in d.each(items, self.pool):
            pools.extend(expanded)
        seen: set[str] = set()
        for i, pool in enumerate(pools):
            if pool.name in seen:
                d.error(items, min(i, len(items) - 1), f"pool {pool.name!r} is declared twice", "pool names are unique")
            seen.add(pool.name)
        return tuple(pools)

    def pool(self, items: list[Any], i: int) -> list[Pool]:
        d = self.doc
        m = d.mapping(items, i, "a pool")
        d.keys(m, POOL_KEYS, "a pool")
        name = d.get(m, "name", d.string)
        workers = d.get(m, "workers", lambda mm, k: d.integer(mm, k, 0, 100_000), 4)
        max_workers = d.get(m, "max_workers", lambda mm, k: d.integer(mm, k, 1, 100_000), max(1, workers * 4))
        if max_workers < workers:
            d.error(m, "max_workers", f"max_workers {max_workers} is below workers {workers}")
        before = len(d.problems)

        def soft(key: str, read: Any, default: Any) -> Any:  # report every field's problem, not the first
            try:
                return d.get(m, key, read, default)
            except Problems:
                return default

        replicas = soft("replicas", lambda mm, k: d.integer(mm, k, 1, 100_000), 1)
        base = dict(
            cls=soft("class", lambda mm, k: d.choice(mm, k, CLASSES), "standard"),
            region=soft("region", d.string, "default"),
            workers=workers,
            max_workers=max_workers,
            service_ms=soft("service_ms", lambda mm, k: d.number(mm, k, 1e-3, 3.6e6), 50.0),
            rate=soft("rate", lambda mm, k: d.number(mm, k, 0.0, 1e7), 10.0),
            queue_limit=soft("queue_limit", lambda mm, k: d.integer(mm, k, 1, 10_000_000), 10_000),
            subscriptions=soft("subscriptions", lambda mm, k: d.integer(mm, k, 0, 100_000), 20),
            cost_per_worker_hour=soft("cost_per_worker_hour", lambda mm, k: d.number(mm, k, 0.0), 0.1),
        )
        if len(d.problems) > before:
            raise Problems
        if replicas == 1:
            return [Pool(name=name, **base)]
        width = len(str(replicas))
        return [Pool(name=f"{name}-{n:0{width}d}", **base) for n in range(1, replicas + 1)]

    def target(self, m: Any, key: str, names: set[str]) -> Target:
        d = self.doc
        if key not in m:
            return Target()
        t = d.mapping(m, key, "a target")
        d.keys(t, ("pools", "class", "region", "mode", "value"), "a target")
        pool_names = tuple(d.get(t, "pools", d.strings, []))
        for n in pool_names:
            if n not in names:
                close = closest(n, sorted(names))
                d.error(t, "pools", f"unknown pool {n!r}", f"did you mean {close!r}?" if close else "declare it under `pools:`")
        classes = tuple(d.get(t, "class", d.strings, []))
        for c in classes:
            if c not in CLASSES:
                d.error(t, "class", f"unknown class {c!r}", f"one of: {', '.join(CLASSES)}")
        mode = d.get(t, "mode", lambda mm, k: d.choice(mm, k, MODES), "all")
        value = 0.0
        if mode in ("fixed", "percent", "max-percent"):
            high = None if mode == "fixed" else 100.0
            value = d.get(t, "value", lambda mm, k: d.number(mm, k, 0.0, high))
        elif "value" in t:
            d.error(t, "value", f"mode {mode!r} takes no value", "use mode fixed, percent or max-percent")
        return Target(pool_names, classes, tuple(d.get(t, "region", d.strings, [])), mode, value)

    def load(self, root: Any, names: set[str]) -> tuple[tuple[LoadStep, ...], float]:
        d = self.doc
        if "load" not in root:
            return (), 0.0
        m = d.mapping(root, "load", "load")
        d.keys(m, ("diurnal", "steps"), "load")
        diurnal = d.get(m, "diurnal", lambda mm, k: d.number(mm, k, 0.0, 0.95), 0.0)
        steps = d.get(m, "steps", lambda mm, k: d.sequence(mm, k, "load steps"), [])

        def step(items: list[Any], i: int) -> LoadStep:
            s = d.mapping(items, i, "a load step")
            d.keys(s, ("at", "factor", "ramp", "target"), "a load step")
            return LoadStep(
                at=d.get(s, "at", lambda mm, k: d.duration(mm, k, positive=False)),
                factor=d.get(s, "factor", lambda mm, k: d.number(mm, k, 0.0, 1000.0)),
                ramp=d.get(s, "ramp", lambda mm, k: d.duration(mm, k, positive=False), 0.0),
                target=self.target(s, "target", names),
            )

        return tuple(d.each(steps, step)), diurnal

    def risk(self, root: Any) -> tuple[float, float, float, float]:
        d = self.doc
        if "risk" not in root:
            return 30.0, 3.0, 120.0, 2.0
        m = d.mapping(root, "risk", "risk")
        d.keys(m, ("trp", "noise", "reversion", "cve"), "risk")
        return (
            d.get(m, "trp", lambda mm, k: d.number(mm, k, 0.0, 100.0), 30.0),
            d.get(m, "noise", lambda mm, k: d.number(mm, k, 0.0, 100.0), 3.0),
            d.get(m, "reversion", d.duration, 120.0),
            d.get(m, "cve", lambda mm, k: d.number(mm, k, 0.0, 10.0), 2.0),
        )

    def faults(self, root: Any, names: set[str], duration: float) -> tuple[Fault, ...]:
        d = self.doc
        if "faults" not in root:
            return ()
        items = d.sequence(root, "faults", "faults")

        def fault(items: list[Any], i: int) -> Fault:
            m = d.mapping(items, i, "a fault")
            kind = d.get(m, "kind", lambda mm, k: d.choice(mm, k, tuple(FAULT_PARAMS)))
            params_spec = FAULT_PARAMS[kind]
            d.keys(m, ("name", "kind", "at", "duration", "target", *params_spec), f"a {kind} fault")
            at = d.get(m, "at", lambda mm, k: d.duration(mm, k, positive=False))
            length = d.get(m, "duration", d.duration, duration - at)
            if at >= duration:
                d.error(m, "at", f"the fault starts at {at:g}s, after the scenario ends ({duration:g}s)",
                        "start it earlier or lengthen `duration`")  # fmt: skip
            params = {}
            for key, (reader, default) in params_spec.items():
                if reader == "number":
                    params[key] = d.get(m, key, lambda mm, k: d.number(mm, k, 0.0), default)
                else:
                    params[key] = d.get(m, key, lambda mm, k, r=reader: d.duration(mm, k, positive=r == "duration"), default)
            for share in ("invalid", "share", "task_share"):
                if share in params and params[share] > 1:
                    d.error(m, share, f"{share} is a fraction in [0, 1], got {params[share]:g}", "write 0.5 for half")
            target = self.target(m, "target", names)
            line = m.lc.line + 1 if getattr(m, "lc", None) is not None else 0
            return Fault(d.get(m, "name", d.string, f"{kind}@{at:g}s"), kind, at, length, target, params, line)

        return tuple(d.each(items, fault))

    def probes(self, root: Any, names: set[str]) -> tuple[Probe, ...]:
        d = self.doc
        if "hypothesis" not in root:
            return ()
        items = d.sequence(root, "hypothesis", "hypothesis")

        def probe(items: list[Any], i: int) -> Probe:
            m = d.mapping(items, i, "a probe")
            d.keys(m, ("probe", "metric", "pool", "phase", "min", "max", "allow_empty"), "a probe")
            metric, pool = self.metric(m, names)
            low = d.get(m, "min", d.number, None)
            high = d.get(m, "max", d.number, None)
            if low is None and high is None:
                d.error(m, "metric", "a probe needs a tolerance", "add `min:` or `max:` (or both)")
            return Probe(
                d.get(m, "probe", d.string, metric),
                metric,
                pool,
                d.get(m, "phase", lambda mm, k: d.choice(mm, k, PHASES), "continuous"),
                low,
                high,
                d.get(m, "allow_empty", d.boolean, False),
                *d.where(m, "metric"),
            )

        return tuple(d.each(items, probe))

    def stops(self, root: Any, names: set[str]) -> tuple[StopCondition, ...]:
        d = self.doc
        if "stop" not in root:
            return ()
        items = d.sequence(root, "stop", "stop")

        def stop(items: list[Any], i: int) -> StopCondition:
            m = d.mapping(items, i, "a stop condition")
            d.keys(m, ("metric", "pool", "above", "below", "for"), "a stop condition")
            metric, pool = self.metric(m, names)
            above = d.get(m, "above", d.number, None)
            below = d.get(m, "below", d.number, None)
            if (above is None) == (below is None):
                d.error(m, "metric", "a stop condition needs exactly one of `above:` or `below:`")
            hold = d.get(m, "for", lambda mm, k: d.duration(mm, k, positive=False), 0.0)
            return StopCondition(metric, pool, above, below, hold, *d.where(m, "metric"))

        return tuple(d.each(items, stop))

    def metric(self, m: Any, names: set[str]) -> tuple[str, str | None]:
        d = self.doc
        metric = d.get(m, "metric", lambda mm, k: d.choice(mm, k, METRICS))
        pool = d.get(m, "pool", d.string, None)
        if pool is not None:
            if pool not in names:
                d.error(m, "pool", f"unknown pool {pool!r}", "declare it under `pools:`")
            elif metric not in POOL_METRICS:
                d.error(m, "pool", f"{metric} is fleet-wide; it has no per-pool value", f"per-pool metrics: {', '.join(POOL_METRICS)}")
        return metric, pool

    def actuation(self, root: Any) -> Actuation:
        d = self.doc
        if "actuation" not in root:
            return Actuation()
        m = d.mapping(root, "actuation", "actuation")
        fields = ("scale_delay", "pause_delay", "downgrade_delay", "reroute_delay", "hold", "pause_duration")
        d.keys(m, fields, "actuation")
        defaults = Actuation()
        return Actuation(**{f: d.get(m, f, lambda mm, k: d.duration(mm, k, positive=False), getattr(defaults, f)) for f in fields})

    def gates(self, root: Any) -> tuple[Gate, ...]:
        d = self.doc
        if "gates" not in root:
            return ()
        m = d.mapping(root, "gates", "gates")
        out = []
        for key in m:
            try:
                name = kpi_name(str(key))
            except GateError as exc:
                d.error(m, key, str(exc), exc.hint, key=True)
                continue
            try:
                out.append(criterion(name, d.string(m, key)))
            except GateError as exc:
                d.error(m, key, str(exc), exc.hint)
            except Problems:
                continue
        return tuple(out)
