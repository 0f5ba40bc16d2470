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

from ballast.dsl.yaml_reader import Node, Skip, YamlReader
from ballast.runtime.errors import Span, UsageError
from ballast.runtime.reading import UnreadableInput, read_text
from ballast.runtime.suggest import closest
from ballast.simulator.gates import Gate, GateError, criterion, kpi_name

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
class Supervision:
    """The `supervisor:` section: run the policy set's supervisor document every `every` seconds
    of simulated time; a directive's outcome is judged by `judge_within` after it is issued."""

    every: float
    judge_within: float = 120.0


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
    supervision: Supervision | None = None  # the meta-loop supervisor in the loop (issue 14 §3)

    def pool_names(self) -> list[str]:
        return [p.name for p in self.pools]


TOP_KEYS = (
    "scenario", "description", "seed", "start", "duration", "step", "telemetry", "policies", "slo",
    "pools", "load", "risk", "faults", "hypothesis", "stop", "actuation", "gates", "supervisor",
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


def parse_scenario(text: str, file: str, *, base: Path | None = None, check_paths: bool = True) -> Scenario:
    """Read and check a scenario's text; raises CompileError listing every problem.

    `check_paths=False` keeps the `policies:` paths as written, unresolved and unchecked (`ballast
    diff` compares them, and a side read from git has no files on disk to check them against).
    """
    reader = YamlReader(text, file, code="scenario")
    if not reader.loaded:  # not YAML: nothing to read
        reader.raise_if_problems()
    root = reader.root()
    if not root.is_mapping:
        root.error(None, "a scenario file is a YAML mapping with `scenario:`, `pools:` and `duration:`")
        reader.raise_if_problems()
    scenario = _ScenarioReader(reader, base or Path(file).parent, check_paths).read(root)
    reader.raise_if_problems()
    assert scenario is not None
    return scenario


class _ScenarioReader:
    def __init__(self, reader: YamlReader, base: Path, check_paths: bool = True) -> None:
        self.reader = reader
        self.base = base
        self.check_paths = check_paths

    def read(self, root: Node) -> Scenario | None:
        root.keys(TOP_KEYS, "a scenario")
        parts: dict[str, Any] = {}

        def attempt(name: str, fn: Any, fallback: Any) -> None:
            parts[name] = Node.attempt(fn, fallback)

        attempt("name", lambda: root.string("scenario"), "")
        attempt("description", lambda: root.string("description", ""), "")
        attempt("seed", lambda: root.integer("seed", 0, 2**63 - 1, default=0), 0)
        attempt("start", lambda: root.timestamp("start", DEFAULT_START), DEFAULT_START)
        attempt("duration", lambda: root.duration("duration"), 3600.0)
        attempt("step", lambda: root.duration("step", default=1.0), 1.0)
        attempt("telemetry", lambda: root.duration("telemetry", default=15.0), 15.0)
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
        attempt("supervisor", lambda: self.supervision(root), None)
        if parts["telemetry"] < parts["step"]:
            root.error("telemetry", "telemetry is sampled less often than the model steps", "make `telemetry` >= `step`")
        if self.reader.problems:
            return None
        load_steps, diurnal = parts["load"]
        return Scenario(
            name=parts["name"],
            description=parts["description"],
            file=self.reader.file,
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
            supervision=parts["supervisor"],
        )

    # ---- sections ----
    def policies(self, root: Node) -> tuple[str, ...]:
        if "policies" not in root:
            return ()
        paths = root.check_strings("policies")
        if not self.check_paths:
            return tuple(paths)
        listed = isinstance(root["policies"], list)
        out = []
        for i, p in enumerate(paths):
            resolved = (self.base / p).resolve()
            if not resolved.exists():
                where = root.sequence("policies", "policies") if listed else root
                where.error(i if listed else "policies",
                            f"policy path {p!r} does not exist (looked in {resolved.parent})",
                            "paths are relative to the scenario file")  # fmt: skip
                continue
            out.append(str(resolved))
        return tuple(out)

    def slo(self, root: Node) -> tuple[float, float]:
        if "slo" not in root:
            return 250.0, 0.01
        slo = root.mapping("slo", "slo")
        slo.keys(("latency_ms", "error_rate"), "slo")
        latency = slo.number("latency_ms", 1e-3, default=250.0)
        errors = slo.number("error_rate", 0.0, 1.0, default=0.01)
        return latency, errors

    def pools(self, root: Node) -> tuple[Pool, ...]:
        items = root.get("pools", lambda n, k: n.sequence(k, "pools"))
        if not len(items):
            root.error("pools", "a scenario needs at least one pool")
            raise Skip
        pools: list[Pool] = []
        for expanded in items.each(self.pool):
            pools.extend(expanded)
        seen: set[str] = set()
        for i, pool in enumerate(pools):
            if pool.name in seen:
                items.error(min(i, len(items) - 1), f"pool {pool.name!r} is declared twice", "pool names are unique")
            seen.add(pool.name)
        return tuple(pools)

    def pool(self, items: Node, i: int) -> list[Pool]:
        m = items.mapping(i, "a pool")
        m.keys(POOL_KEYS, "a pool")
        name = m.string("name")
        workers = m.integer("workers", 0, 100_000, default=4)
        max_workers = m.integer("max_workers", 1, 100_000, default=max(1, workers * 4))
        if max_workers < workers:
            m.error("max_workers", f"max_workers {max_workers} is below workers {workers}")
        before = len(self.reader.problems)

        def soft(read: Any, default: Any) -> Any:  # report every field's problem, not the first
            return Node.attempt(read, default)

        replicas = soft(lambda: m.integer("replicas", 1, 100_000, default=1), 1)
        base = dict(
            cls=soft(lambda: m.choice("class", CLASSES, "standard"), "standard"),
            region=soft(lambda: m.string("region", "default"), "default"),
            workers=workers,
            max_workers=max_workers,
            service_ms=soft(lambda: m.number("service_ms", 1e-3, 3.6e6, default=50.0), 50.0),
            rate=soft(lambda: m.number("rate", 0.0, 1e7, default=10.0), 10.0),
            queue_limit=soft(lambda: m.integer("queue_limit", 1, 10_000_000, default=10_000), 10_000),
            subscriptions=soft(lambda: m.integer("subscriptions", 0, 100_000, default=20), 20),
            cost_per_worker_hour=soft(lambda: m.number("cost_per_worker_hour", 0.0, default=0.1), 0.1),
        )
        if len(self.reader.problems) > before:
            raise Skip
        if replicas == 1:
            return [Pool(name=name, **base)]
        width = len(str(replicas))
        return [Pool(name=f"{name}-{n:0{width}d}", **base) for n in range(1, replicas + 1)]

    def target(self, m: Node, key: str, names: set[str]) -> Target:
        if key not in m:
            return Target()
        t = m.mapping(key, "a target")
        t.keys(("pools", "class", "region", "mode", "value"), "a target")
        pool_names = tuple(t.strings("pools", []))
        for n in pool_names:
            if n not in names:
                close = closest(n, sorted(names))
                t.error("pools", f"unknown pool {n!r}", f"did you mean {close!r}?" if close else "declare it under `pools:`")
        classes = tuple(t.strings("class", []))
        for c in classes:
            if c not in CLASSES:
                t.error("class", f"unknown class {c!r}", f"one of: {', '.join(CLASSES)}")
        mode = t.choice("mode", MODES, "all")
        value = 0.0
        if mode in ("fixed", "percent", "max-percent"):
            high = None if mode == "fixed" else 100.0
            value = t.number("value", 0.0, high)
        elif "value" in t:
            t.error("value", f"mode {mode!r} takes no value", "use mode fixed, percent or max-percent")
        return Target(pool_names, classes, tuple(t.strings("region", [])), mode, value)

    def load(self, root: Node, names: set[str]) -> tuple[tuple[LoadStep, ...], float]:
        if "load" not in root:
            return (), 0.0
        m = root.mapping("load", "load")
        m.keys(("diurnal", "steps"), "load")
        diurnal = m.number("diurnal", 0.0, 0.95, default=0.0)
        steps = m.get("steps", lambda n, k: n.sequence(k, "load steps"), None)

        def step(items: Node, i: int) -> LoadStep:
            s = items.mapping(i, "a load step")
            s.keys(("at", "factor", "ramp", "target"), "a load step")
            return LoadStep(
                at=s.duration("at", positive=False),
                factor=s.number("factor", 0.0, 1000.0),
                ramp=s.duration("ramp", positive=False, default=0.0),
                target=self.target(s, "target", names),
            )

        return (tuple(steps.each(step)) if steps is not None else ()), diurnal

    def risk(self, root: Node) -> tuple[float, float, float, float]:
        if "risk" not in root:
            return 30.0, 3.0, 120.0, 2.0
        m = root.mapping("risk", "risk")
        m.keys(("trp", "noise", "reversion", "cve"), "risk")
        return (
            m.number("trp", 0.0, 100.0, default=30.0),
            m.number("noise", 0.0, 100.0, default=3.0),
            m.duration("reversion", default=120.0),
            m.number("cve", 0.0, 10.0, default=2.0),
        )

    def faults(self, root: Node, names: set[str], duration: float) -> tuple[Fault, ...]:
        if "faults" not in root:
            return ()

        def fault(items: Node, i: int) -> Fault:
            m = items.mapping(i, "a fault")
            kind = m.choice("kind", tuple(FAULT_PARAMS))
            params_spec = FAULT_PARAMS[kind]
            m.keys(("name", "kind", "at", "duration", "target", *params_spec), f"a {kind} fault")
            at = m.duration("at", positive=False)
            length = m.duration("duration", default=duration - at)
            if at >= duration:
                m.error("at", f"the fault starts at {at:g}s, after the scenario ends ({duration:g}s)",
                        "start it earlier or lengthen `duration`")  # fmt: skip
            params = {}
            for key, (reader, default) in params_spec.items():
                if reader == "number":
                    params[key] = m.number(key, 0.0, default=default)
                else:
                    params[key] = m.duration(key, positive=reader == "duration", default=default)
            for share in ("invalid", "share", "task_share"):
                if share in params and params[share] > 1:
                    m.error(share, f"{share} is a fraction in [0, 1], got {params[share]:g}", "write 0.5 for half")
            target = self.target(m, "target", names)
            return Fault(m.string("name", f"{kind}@{at:g}s"), kind, at, length, target, params, m.line)

        return tuple(root.sequence("faults", "faults").each(fault))

    def probes(self, root: Node, names: set[str]) -> tuple[Probe, ...]:
        if "hypothesis" not in root:
            return ()

        def probe(items: Node, i: int) -> Probe:
            m = items.mapping(i, "a probe")
            m.keys(("probe", "metric", "pool", "phase", "min", "max", "allow_empty"), "a probe")
            metric, pool = self.metric(m, names)
            low = m.number("min", default=None)
            high = m.number("max", default=None)
            if low is None and high is None:
                m.error("metric", "a probe needs a tolerance", "add `min:` or `max:` (or both)")
            return Probe(
                m.string("probe", metric),
                metric,
                pool,
                m.choice("phase", PHASES, "continuous"),
                low,
                high,
                m.boolean("allow_empty", False),
                *m.where("metric"),
            )

        return tuple(root.sequence("hypothesis", "hypothesis").each(probe))

    def stops(self, root: Node, names: set[str]) -> tuple[StopCondition, ...]:
        if "stop" not in root:
            return ()

        def stop(items: Node, i: int) -> StopCondition:
            m = items.mapping(i, "a stop condition")
            m.keys(("metric", "pool", "above", "below", "for"), "a stop condition")
            metric, pool = self.metric(m, names)
            above = m.number("above", default=None)
            below = m.number("below", default=None)
            if (above is None) == (below is None):
                m.error("metric", "a stop condition needs exactly one of `above:` or `below:`")
            hold = m.duration("for", positive=False, default=0.0)
            return StopCondition(metric, pool, above, below, hold, *m.where("metric"))

        return tuple(root.sequence("stop", "stop").each(stop))

    def metric(self, m: Node, names: set[str]) -> tuple[str, str | None]:
        metric = m.choice("metric", METRICS)
        pool = m.string("pool", None)
        if pool is not None:
            if pool not in names:
                m.error("pool", f"unknown pool {pool!r}", "declare it under `pools:`")
            elif metric not in POOL_METRICS:
                m.error("pool", f"{metric} is fleet-wide; it has no per-pool value", f"per-pool metrics: {', '.join(POOL_METRICS)}")
        return metric, pool

    def actuation(self, root: Node) -> Actuation:
        if "actuation" not in root:
            return Actuation()
        m = root.mapping("actuation", "actuation")
        fields = ("scale_delay", "pause_delay", "downgrade_delay", "reroute_delay", "hold", "pause_duration")
        m.keys(fields, "actuation")
        defaults = Actuation()
        return Actuation(**{f: m.duration(f, positive=False, default=getattr(defaults, f)) for f in fields})

    def supervision(self, root: Node) -> Supervision | None:
        if "supervisor" not in root:
            return None
        m = root.mapping("supervisor", "supervisor")
        m.keys(("every", "judge_within"), "supervisor")
        return Supervision(
            every=m.duration("every"),
            judge_within=m.duration("judge_within", default=120.0),
        )

    def gates(self, root: Node) -> tuple[Gate, ...]:
        if "gates" not in root:
            return ()
        m = root.mapping("gates", "gates")
        out = []
        for key in m:
            try:
                name = kpi_name(str(key))
            except GateError as exc:
                m.error(key, str(exc), exc.hint, key=True)
                continue
            try:
                out.append(criterion(name, m.check_string(key)))
            except GateError as exc:
                m.error(key, str(exc), exc.hint)
            except Skip:
                continue
        return tuple(out)
