"""The `scenario` document type of `ballast diff`: what a change to a simulator scenario means.

A scenario is a test fixture (docs/simulator.md): a world (pools, load, risk signals, actuation
delays), the faults injected into it, and what must hold (the hypothesis' probes, the shadow
gates). Nothing consumes a scenario's output but the people and jobs that run it, so only
removing a whole scenario is breaking (a job that names it fails). Everything else is behavioral
or cosmetic, and the tags say which way the safety net moved: `guard-loosened` marks a change
after which policies that failed the scenario may pass it without being any better:

- a probe removed, or made weaker: a `min` lowered or dropped, a `max` raised or dropped, a
  narrower phase than `continuous`, `allow_empty: true`;
- a shadow gate removed or made weaker (`better` → `better-or-same` → `not-worse`, a wider
  `within:X%` margin, a gate no longer required);
- a fault no longer injected, or made shorter or milder (its intensity lowered);
- the SLO relaxed (a higher latency or error-rate limit: every SLA probe and gate reads it).

The opposite changes are tagged `guard-tightened`. Changes to the world itself (pools, load,
risk, actuation, seed, duration) are behavioral without a tag: whether more capacity or a
shorter run makes the scenario easier depends on the policies.

This module lives in the simulator, which owns the scenario format, and plugs into the
compiler's registry of document types (`ballast.compiler.diff.documents`): the compiler may not
import the simulator, so `ballast diff` calls `register()` before reading its sides. Scenarios
are matched across the sides by their `scenario:` name; the `policies:` paths are compared as
written and not checked (`ballast simulate --check` checks them; a git side has no files on disk).
"""

from __future__ import annotations

import datetime as dt
import posixpath
from dataclasses import dataclass, field
from typing import Any

from ballast.compiler.diff.documents import Document, locate
from ballast.compiler.diff.documents import register as register_type
from ballast.compiler.diff.findings import GUARD_LOOSENED, GUARD_TIGHTENED, Finding, Position
from ballast.dsl.yaml_reader import YamlReader
from ballast.paths import SCENARIO_SUFFIXES
from ballast.runtime.values import format_duration
from ballast.simulator.gates import Gate, default_gates, kpi_name
from ballast.simulator.scenario import Actuation, Fault, Probe, Scenario, StopCondition, Target, parse_scenario

LOOSER = "looser"
TIGHTER = "tighter"

# The parameter that says how hard each fault kind hits: lower is milder.
INTENSITY = {
    "load-spike": "factor",
    "risk-spike": "value",
    "risk-noise": "sigma",
    "cve": "score",
    "latency": "add_ms",
    "errors": "rate",
    "kill-workers": "share",
    "queue-flood": "intents",
    "trigger-storm": "rate",
    "scheduler-pause": "tasks",
    "policy-cascade": "depth",
}
POOL_FIELDS = (
    ("cls", "class"),
    ("region", "region"),
    ("workers", "workers"),
    ("max_workers", "max_workers"),
    ("service_ms", "service_ms"),
    ("rate", "rate"),
    ("queue_limit", "queue_limit"),
    ("subscriptions", "subscriptions"),
    ("cost_per_worker_hour", "cost_per_worker_hour"),
)
RUN_SETTINGS = (
    ("seed", "seed"),
    ("start", "start"),
    ("duration", "duration"),
    ("step", "step"),
    ("telemetry_every", "telemetry"),
)
RISK_FIELDS = (("trp_base", "trp"), ("trp_noise", "noise"), ("trp_reversion", "reversion"), ("cve_base", "cve"))
# Criteria from strongest to weakest; `within:X%` is only comparable with `better` and itself.
CRITERION_STRENGTH = {"better": 3, "better-or-same": 2, "not-worse": 1}


def register() -> None:
    """Plug the `scenario` type into `ballast diff` (idempotent)."""
    register_type("scenario", lambda options: ScenarioType())


@dataclass
class ScenarioFile:
    """A scenario as read: the checked `Scenario`, its YAML tree (for positions), and which list
    item of `pools:` declared each pool (one item declares several with `replicas:`)."""

    scenario: Scenario
    tree: Any
    pool_items: dict[str, int] = field(default_factory=dict)
    gate_keys: dict[str, Any] = field(default_factory=dict)  # KPI → its key as written under `gates:`


class ScenarioType:
    name = "scenario"
    what = "scenarios (*.scenario.yaml)"
    keyed_by_path = False

    def claims(self, path: str, *, single: bool) -> bool:
        return path.endswith(SCENARIO_SUFFIXES)

    def in_folder(self) -> str | None:
        return None

    def load(self, text: str, file: str, path: str) -> Document:
        scenario = parse_scenario(text, file, check_paths=False)  # CompileError: every problem
        tree = YamlReader(text, file, code="scenario").data
        pool_items: dict[str, int] = {}
        for i, item in enumerate(tree.get("pools") or []):
            name, replicas = item.get("name"), item.get("replicas") or 1
            width = len(str(replicas))
            names = [name] if replicas == 1 else [f"{name}-{n:0{width}d}" for n in range(1, replicas + 1)]
            pool_items.update({n: i for n in names if n not in pool_items})
        gates = tree.get("gates")
        gate_keys = {kpi_name(str(k)): k for k in gates} if isinstance(gates, dict) else {}
        at = locate(file, tree, ["scenario"])
        return Document(
            "scenario",
            scenario.name,
            file,
            (at.line, at.column),
            ScenarioFile(scenario, tree, pool_items, gate_keys),
            path,
        )

    def removed(self, old: Document) -> Finding:
        return Finding(
            "scenario-removed",
            "scenario",
            old.key,
            "",
            f"scenario '{old.key}' was removed: jobs that run it fail, and what it tested is no longer tested",
            base=old.position,
            tags=(GUARD_LOOSENED,),
        )

    def added(self, new: Document) -> Finding:
        return Finding("scenario-added", "scenario", new.key, "", f"scenario '{new.key}' was added", head=new.position)

    def diff(self, old: Document, new: Document) -> list[Finding]:
        return ScenarioDiff(old, new).run()


class ScenarioDiff:
    """The findings between two versions of one scenario."""

    def __init__(self, old: Document, new: Document) -> None:
        self.old, self.new = old, new
        self.a: Scenario = old.data.scenario
        self.b: Scenario = new.data.scenario
        self.findings: list[Finding] = []

    def run(self) -> list[Finding]:
        if self.a.description != self.b.description:
            self.add(
                "scenario-metadata-changed",
                "description",
                f"description {self.a.description!r} → {self.b.description!r}",
                ["description"],
                ["description"],
            )
        self.run_settings()
        self.policies()
        self.slo()
        self.pools()
        self.load()
        self.settings("scenario-risk-changed", "risk", RISK_FIELDS, self.a, self.b)
        self.settings(
            "scenario-actuation-changed",
            "actuation",
            tuple((f, f) for f in Actuation.__dataclass_fields__),
            self.a.actuation,
            self.b.actuation,
        )
        self.supervisor()
        self.faults()
        self.probes()
        self.stops()
        self.gates()
        return self.findings

    # ---- findings ----
    def add(
        self,
        check: str,
        subject: str,
        message: str,
        sa: list[Any] | None,
        sb: list[Any] | None,
        direction: str | None = None,
        **details: Any,
    ) -> None:
        tags = (GUARD_LOOSENED,) if direction == LOOSER else (GUARD_TIGHTENED,) if direction == TIGHTER else ()
        self.findings.append(
            Finding(
                check,
                "scenario",
                self.b.name,
                subject,
                message,
                self.where(self.old, sa),
                self.where(self.new, sb),
                tags=tags,
                details=details,
            )
        )

    @staticmethod
    def where(doc: Document, steps: list[Any] | None) -> Position | None:
        """The position of `steps` in the document; its `scenario:` key when the first step is
        not written (a setting left to its default)."""
        if steps is None:
            return None
        tree = doc.data.tree
        if steps and (not isinstance(tree, dict) or steps[0] not in tree):
            return doc.position
        return locate(doc.file, tree, steps)

    # ---- sections ----
    def run_settings(self) -> None:
        for attr, key in RUN_SETTINGS:
            x, y = getattr(self.a, attr), getattr(self.b, attr)
            if x == y:
                continue
            how = ""
            if attr == "duration":
                how = " (shorter: the run checks less)" if y < x else " (longer)"
            elif attr == "telemetry_every":
                how = " (sampled less often: probes see fewer ticks)" if y > x else " (sampled more often)"
            show = _timestamp if attr == "start" else format_duration if attr != "seed" else str
            self.add(
                "scenario-run-changed",
                key,
                f"{key} {show(x)} → {show(y)}{how}",
                [key],
                [key],
                before=x,
                after=y,
            )

    def policies(self) -> None:
        x = [posixpath.normpath(p) for p in self.a.policies]
        y = [posixpath.normpath(p) for p in self.b.policies]
        if x == y:
            return
        parts = [f"removed {', '.join(p for p in x if p not in y)}"] if any(p not in y for p in x) else []
        parts += [f"added {', '.join(p for p in y if p not in x)}"] if any(p not in x for p in y) else []
        self.add(
            "scenario-policies-changed",
            "policies",
            f"the policy files the scenario runs: {'; '.join(parts) or 'reordered'} ({', '.join(x) or 'none'} → {', '.join(y) or 'none'})",
            ["policies"],
            ["policies"],
            before=x,
            after=y,
        )

    def slo(self) -> None:
        for attr, key in (("slo_latency_ms", "latency_ms"), ("slo_error_rate", "error_rate")):
            x, y = getattr(self.a, attr), getattr(self.b, attr)
            if x == y:
                continue
            raised = y > x
            self.add(
                "scenario-slo-changed",
                f"slo.{key}",
                f"SLO {key} {x:g} → {y:g}: "
                + ("more counts as within the SLO (guard loosened)" if raised else "less counts as within the SLO"),
                ["slo", key],
                ["slo", key],
                LOOSER if raised else TIGHTER,
                before=x,
                after=y,
            )

    def pools(self) -> None:
        old = {p.name: p for p in self.a.pools}
        new = {p.name: p for p in self.b.pools}
        for name, p in old.items():
            if name not in new:
                self.add(
                    "scenario-pool-removed",
                    f"pool.{name}",
                    f"pool '{name}' ({_pool(p)}) was removed",
                    self.pool_at(self.old, name),
                    None,
                )
        for name, p in new.items():
            if name not in old:
                self.add(
                    "scenario-pool-added",
                    f"pool.{name}",
                    f"pool '{name}' ({_pool(p)}) was added",
                    None,
                    self.pool_at(self.new, name),
                )
        for name, p in old.items():
            q = new.get(name)
            if q is None:
                continue
            changes = _changes(p, q, POOL_FIELDS)
            if changes:
                self.add(
                    "scenario-pool-changed",
                    f"pool.{name}",
                    f"pool '{name}' "
                    + ", ".join(f"{k} {_show(c['before'])} → {_show(c['after'])}" for k, c in changes.items()),
                    self.pool_at(self.old, name),
                    self.pool_at(self.new, name),
                    changes=changes,
                )

    @staticmethod
    def pool_at(doc: Document, name: str) -> list[Any]:
        index = doc.data.pool_items.get(name)
        return ["pools", index] if index is not None else ["pools"]

    def load(self) -> None:
        if self.a.diurnal != self.b.diurnal:
            self.add(
                "scenario-load-changed",
                "load.diurnal",
                f"diurnal amplitude {self.a.diurnal:g} → {self.b.diurnal:g}",
                ["load", "diurnal"],
                ["load", "diurnal"],
                before=self.a.diurnal,
                after=self.b.diurnal,
            )
        for i in range(max(len(self.a.load), len(self.b.load))):
            x = self.a.load[i] if i < len(self.a.load) else None
            y = self.b.load[i] if i < len(self.b.load) else None
            if x == y:
                continue
            steps = ["load", "steps", i]
            if x is None:
                text = f"load step {i + 1} added: {_step(y)}"
            elif y is None:
                text = f"load step {i + 1} removed: {_step(x)}"
            else:
                text = f"load step {i + 1} {_step(x)} → {_step(y)}"
            self.add(
                "scenario-load-changed",
                f"load.steps[{i + 1}]",
                text,
                steps if x is not None else None,
                steps if y is not None else None,
            )

    def settings(self, check: str, section: str, fields: tuple[tuple[str, str], ...], a: Any, b: Any) -> None:
        for attr, key in fields:
            x, y = getattr(a, attr), getattr(b, attr)
            if x == y:
                continue
            self.add(
                check,
                f"{section}.{key}",
                f"{section} {key} {_show(x, key)} → {_show(y, key)}",
                [section, key],
                [section, key],
                before=x,
                after=y,
            )

    def supervisor(self) -> None:
        a, b = self.a.supervision, self.b.supervision
        if a is None and b is None:
            return
        if a is None or b is None:
            what = "added: the policy set's supervisor runs in the loop" if a is None else "removed: no supervisor runs"
            self.add(
                "scenario-supervisor-changed",
                "supervisor",
                f"supervisor section {what}",
                ["supervisor"],  # a side without the section: its scenario, as for `policies`
                ["supervisor"],
            )
            return
        self.settings("scenario-supervisor-changed", "supervisor", (("every", "every"), ("judge_within", "judge_within")), a, b)

    def faults(self) -> None:
        old = {f.name: (i, f) for i, f in enumerate(self.a.faults)}
        new = {f.name: (i, f) for i, f in enumerate(self.b.faults)}
        gone = [n for n in old if n not in new]
        came = [n for n in new if n not in old]
        pairs = [(n, n) for n in old if n in new]
        for n in list(gone):  # a fault renamed (or its default name `kind@at` moved): same kind
            match = next((m for m in came if new[m][1].kind == old[n][1].kind), None)
            if match is not None:
                gone.remove(n)
                came.remove(match)
                pairs.append((n, match))
        for n in gone:
            i, f = old[n]
            self.add(
                "scenario-fault-removed",
                f"fault.{n}",
                f"fault '{n}' ({_fault(f)}) is no longer injected: the policies are no longer tested against it",
                ["faults", i],
                None,
                LOOSER,
            )
        for n in came:
            j, f = new[n]
            self.add(
                "scenario-fault-added",
                f"fault.{n}",
                f"fault '{n}' ({_fault(f)}) is now injected",
                None,
                ["faults", j],
                TIGHTER,
            )
        for n, m in pairs:
            (i, f), (j, g) = old[n], new[m]
            parts, looser, tighter = [], False, False
            if n != m:
                parts.append(f"renamed '{m}'")
            if f.kind != g.kind:
                parts.append(f"kind {f.kind} → {g.kind}")
            if f.at != g.at:
                parts.append(f"at {format_duration(f.at)} → {format_duration(g.at)}")
            if f.duration != g.duration:
                shorter = g.duration < f.duration
                looser, tighter = looser or shorter, tighter or not shorter
                parts.append(
                    f"duration {format_duration(f.duration)} → {format_duration(g.duration)} ({'shorter' if shorter else 'longer'})"
                )
            if f.target != g.target:
                parts.append(f"target {_target(f.target)} → {_target(g.target)}")
            if f.kind == g.kind:
                intensity = INTENSITY.get(f.kind)
                for key in sorted(set(f.params) | set(g.params)):
                    x, y = f.params.get(key), g.params.get(key)
                    if x == y:
                        continue
                    how = ""
                    if key == intensity and x is not None and y is not None:
                        milder = y < x
                        looser, tighter = looser or milder, tighter or not milder
                        how = " (milder)" if milder else " (harsher)"
                    parts.append(f"{key} {_show(x, key)} → {_show(y, key)}{how}")
            if not parts:
                continue
            self.add(
                "scenario-fault-changed",
                f"fault.{m}",
                f"fault '{n}' " + ", ".join(parts),
                ["faults", i],
                ["faults", j],
                LOOSER if looser else TIGHTER if tighter else None,
                before=_fault_json(f),
                after=_fault_json(g),
            )

    def probes(self) -> None:
        old = _keyed(self.a.hypothesis)
        new = _keyed(self.b.hypothesis)
        gone = [k for k in old if k not in new]
        came = [k for k in new if k not in old]
        for k in list(gone):  # the same probe under another name
            match = next((m for m in came if _probe_spec(new[m][1]) == _probe_spec(old[k][1])), None)
            if match is not None:
                gone.remove(k)
                came.remove(match)
                self.add(
                    "scenario-probe-renamed",
                    f"probe.{match}",
                    f"probe '{k}' is now named '{match}' and checks the same",
                    ["hypothesis", old[k][0]],
                    ["hypothesis", new[match][0]],
                )
        for k in gone:
            i, p = old[k]
            self.add(
                "scenario-probe-removed",
                f"probe.{k}",
                f"probe '{k}' ({_probe(p)}) was removed: the hypothesis no longer checks it",
                ["hypothesis", i],
                None,
                LOOSER,
            )
        for k in came:
            j, p = new[k]
            self.add(
                "scenario-probe-added",
                f"probe.{k}",
                f"probe '{k}' ({_probe(p)}) was added",
                None,
                ["hypothesis", j],
                TIGHTER,
            )
        for k, (i, p) in old.items():
            if k not in new:
                continue
            j, q = new[k]
            if _probe_spec(p) == _probe_spec(q):
                continue
            direction = _probe_direction(p, q)
            how = {LOOSER: ": weaker (guard loosened)", TIGHTER: ": stricter"}.get(direction or "", "")
            self.add(
                "scenario-probe-changed",
                f"probe.{k}",
                f"probe '{k}' {_probe(p)} → {_probe(q)}{how}",
                ["hypothesis", i],
                ["hypothesis", j],
                direction,
                before=_probe_spec(p),
                after=_probe_spec(q),
            )

    def stops(self) -> None:
        old = {_stop_key(s): (i, s) for i, s in enumerate(self.a.stop)}
        new = {_stop_key(s): (i, s) for i, s in enumerate(self.b.stop)}
        for k in sorted(set(old) | set(new)):
            x, y = old.get(k), new.get(k)
            if x is not None and y is not None and x[1].describe() == y[1].describe():
                continue
            if x is None:
                text = f"stop condition {y[1].describe()} was added"  # type: ignore[index]
            elif y is None:
                text = f"stop condition {x[1].describe()} was removed"
            else:
                text = f"stop condition {x[1].describe()} → {y[1].describe()}"
            self.add(
                "scenario-stop-changed",
                f"stop.{k}",
                text,
                ["stop", x[0]] if x is not None else None,
                ["stop", y[0]] if y is not None else None,
            )

    def gates(self) -> None:
        """The gates in force: the declared ones, else the defaults of `ballast shadow` (every KPI
        but `directives` not worse, skipped when unmeasured); declaring one drops the defaults."""
        old = {g.kpi: g for g in (self.a.gates or default_gates())}
        new = {g.kpi: g for g in (self.b.gates or default_gates())}
        for kpi in [k for k in old if k not in new]:
            self.add(
                "scenario-gate-removed",
                f"gate.{kpi}",
                f"shadow gate {_gate(old[kpi])} was removed: {kpi} is no longer judged",
                self.gate_at(self.old, kpi),
                self.gate_at(self.new, None),
                LOOSER,
            )
        for kpi in [k for k in new if k not in old]:
            self.add(
                "scenario-gate-added",
                f"gate.{kpi}",
                f"shadow gate {_gate(new[kpi])} was added",
                self.gate_at(self.old, None),
                self.gate_at(self.new, kpi),
                TIGHTER,
            )
        for kpi, g in old.items():
            h = new.get(kpi)
            if h is None or (g.criterion, g.margin, g.required) == (h.criterion, h.margin, h.required):
                continue
            direction = _gate_direction(g, h)
            how = {
                LOOSER: ": weaker (guard loosened)",
                TIGHTER: ": stricter",
            }.get(direction or "", ": neither weaker nor stricter, review it")
            self.add(
                "scenario-gate-changed",
                f"gate.{kpi}",
                f"shadow gate {_gate(g)} → {_gate(h)}{how}",
                self.gate_at(self.old, kpi),
                self.gate_at(self.new, kpi),
                direction,
                before=_gate(g),
                after=_gate(h),
            )

    @staticmethod
    def gate_at(doc: Document, kpi: str | None) -> list[Any]:
        key = doc.data.gate_keys.get(kpi) if kpi is not None else None
        return ["gates", key] if key is not None else ["gates"]


# ---- how things read in messages ----


def _changes(a: Any, b: Any, fields: tuple[tuple[str, str], ...]) -> dict[str, dict[str, Any]]:
    return {
        key: {"before": getattr(a, attr), "after": getattr(b, attr)}
        for attr, key in fields
        if getattr(a, attr) != getattr(b, attr)
    }


DURATION_KEYS = frozenset({"reversion", "ramp", "blip_every", "over", "every", *Actuation.__dataclass_fields__})


def _show(value: Any, key: str = "") -> str:
    if value is None:
        return "none"
    if key in DURATION_KEYS and isinstance(value, int | float):
        return format_duration(value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _pool(p: Any) -> str:
    return f"{p.cls}, {p.workers} worker{'s' if p.workers != 1 else ''}"


def _timestamp(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC).isoformat().replace("+00:00", "Z")


def _target(t: Target) -> str:
    parts = []
    if t.names:
        parts.append(f"pools {', '.join(t.names)}")
    if t.classes:
        parts.append(f"class {', '.join(t.classes)}")
    if t.regions:
        parts.append(f"region {', '.join(t.regions)}")
    if t.mode != "all" or not parts:
        parts.append(f"mode {t.mode}" + (f" {t.value:g}" if t.mode in ("fixed", "percent", "max-percent") else ""))
    return "{" + "; ".join(parts) + "}"


def _step(s: Any) -> str:
    text = f"at {format_duration(s.at)} factor {s.factor:g}"
    if s.ramp:
        text += f" ramp {format_duration(s.ramp)}"
    if s.target != Target():
        text += f" target {_target(s.target)}"
    return text


def _fault(f: Fault) -> str:
    return f"{f.kind} at {format_duration(f.at)} for {format_duration(f.duration)}"


def _fault_json(f: Fault) -> dict[str, Any]:
    return {
        "name": f.name,
        "kind": f.kind,
        "at": f.at,
        "duration": f.duration,
        "target": _target(f.target),
        "params": f.params,
    }


def _keyed(probes: tuple[Probe, ...]) -> dict[str, tuple[int, Probe]]:
    """Probes by name; a name used twice gets `#2`, `#3` (names need not be unique)."""
    out: dict[str, tuple[int, Probe]] = {}
    for i, p in enumerate(probes):
        key, n = p.name, 1
        while key in out:
            n += 1
            key = f"{p.name}#{n}"
        out[key] = (i, p)
    return out


def _probe_spec(p: Probe) -> dict[str, Any]:
    return {
        "metric": p.metric,
        "pool": p.pool,
        "phase": p.phase,
        "min": p.low,
        "max": p.high,
        "allow_empty": p.allow_empty,
    }


def _probe(p: Probe) -> str:
    where = f"{p.metric}[{p.pool}]" if p.pool else p.metric
    bounds = []
    if p.low is not None:
        bounds.append(f"min {p.low:g}")
    if p.high is not None:
        bounds.append(f"max {p.high:g}")
    text = f"{where} {' '.join(bounds)} {p.phase}"
    return text + (" allow_empty" if p.allow_empty else "")


def _probe_direction(p: Probe, q: Probe) -> str | None:
    """LOOSER when `q` accepts every run `p` accepts (and more), TIGHTER for the opposite; None
    when they check other things (metric or pool) or move both ways."""
    if (p.metric, p.pool) != (q.metric, q.pool):
        return None
    moves = {
        _bound(p.low, q.low, lower_is_looser=True),
        _bound(p.high, q.high, lower_is_looser=False),
        LOOSER if q.allow_empty and not p.allow_empty else TIGHTER if p.allow_empty and not q.allow_empty else None,
        _phase(p.phase, q.phase),
    } - {None}
    return moves.pop() if len(moves) == 1 and "other" not in moves else None


def _bound(x: float | None, y: float | None, *, lower_is_looser: bool) -> str | None:
    """A `min` (lower_is_looser) or `max` moved; no bound is the loosest."""
    if x == y:
        return None
    if y is None:
        return LOOSER
    if x is None:
        return TIGHTER
    return LOOSER if (y < x) == lower_is_looser else TIGHTER


def _phase(x: str, y: str) -> str | None:
    """`continuous` holds every tick; the other phases are parts of it."""
    if x == y:
        return None
    if x == "continuous":
        return LOOSER
    if y == "continuous":
        return TIGHTER
    return "other"  # before → after: neither, and not comparable with other moves


def _stop_key(s: StopCondition) -> str:
    where = f"{s.metric}[{s.pool}]" if s.pool else s.metric
    return f"{where}{'>' if s.above is not None else '<'}"


def _gate(g: Gate) -> str:
    """A declared gate is required; a default one is skipped when neither side measured its KPI."""
    return g.describe() + ("" if g.required else " (default)")


def _gate_direction(g: Gate, h: Gate) -> str | None:
    moves = {_criterion(g, h)}
    if g.required != h.required:
        moves.add(LOOSER if g.required else TIGHTER)
    moves.discard(None)
    if "other" in moves or len(moves) != 1:
        return None
    return moves.pop()


def _criterion(g: Gate, h: Gate) -> str | None:
    if (g.criterion, g.margin) == (h.criterion, h.margin):
        return None
    if g.criterion == "within" and h.criterion == "within":
        return LOOSER if (h.margin or 0) > (g.margin or 0) else TIGHTER
    if g.criterion == "within":
        return TIGHTER if h.criterion == "better" else "other"
    if h.criterion == "within":
        return LOOSER if g.criterion == "better" else "other"
    return LOOSER if CRITERION_STRENGTH[h.criterion] < CRITERION_STRENGTH[g.criterion] else TIGHTER


__all__ = ["ScenarioDiff", "ScenarioFile", "ScenarioType", "register"]
