"""Fleets and rollout plans as the runtime reads them: the IR of `fleet` and `rollout` documents.

A fleet is a list of clusters (id, region, env, blast-radius group, labels, capabilities,
control-plane version, SLO targets, owner). A rollout plan targets the clusters its `select`
condition holds for, splits them into waves (each cluster goes to the first wave whose `select`
holds for it; a wave without `select` takes every target left), and names the gates each wave
must pass. Selectors are ordinary Ballast conditions over `Cluster.record()`; gates are
conditions over a wave's telemetry sample (`TELEMETRY_FIELDS`).

The safety rules live here, once, so `ballast check` (the compiler, which positions each
violation in the plan) and the rollout engine (which refuses a plan again before it pushes) apply
the same ones (`violations`):

* a plan from a non-prod profile never selects a prod cluster;
* a prod cluster is targeted only when the plan's `allow` list names it;
* the blast-radius ceiling (`ceiling 25%` or `ceiling 2`, per group) lets at least one cluster of
  every targeted group update, or the rollout could never finish;
* every wave selects at least one cluster, and every target is in a wave.

Standard library only, as all of `ballast.runtime`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ballast.runtime.errors import BundleError, UsageError
from ballast.runtime.interpret import check_expression, evaluate_condition

FLEET_FORMAT = 1
ROLLOUT_FORMAT = 1

PROD = "prod"
ENVS = ("dev", "test", "staging", PROD)
ROLLBACK_POLICIES = ("always", "never", "on-deviation")

# A cluster as a selector reads it: `env == "prod" and "wasm" in capabilities`.
CLUSTER_FIELDS: tuple[tuple[str, str], ...] = (
    ("id", "string"),
    ("region", "string"),
    ("env", "string"),
    ("group", "string"),
    ("control_plane", "string"),
    ("owner", "string"),
    ("capabilities", "list<string>"),
    ("labels", "map<string, string>"),
    ("slo", "map<string, float>"),
)

# One telemetry sample of a wave, as a gate reads it: the error-budget burn rate (1.0 spends the
# budget exactly over the SLO window), p95 latency, the error rate, directives per second and the
# rule faults of the bundle being rolled out.
TELEMETRY_FIELDS: tuple[tuple[str, str], ...] = (
    ("error_budget_burn", "float"),
    ("p95_latency_ms", "float"),
    ("error_rate", "float"),
    ("directive_rate", "float"),
    ("rule_faults", "int"),
    ("requests", "int"),
)


@dataclass(frozen=True)
class Cluster:
    """One cluster of a fleet."""

    id: str
    region: str
    env: str
    group: str
    control_plane: str = ""
    owner: str = ""
    capabilities: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    slo: Mapping[str, float] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        """The cluster as a selector condition reads it (`CLUSTER_FIELDS`)."""
        return {
            "id": self.id,
            "region": self.region,
            "env": self.env,
            "group": self.group,
            "control_plane": self.control_plane,
            "owner": self.owner,
            "capabilities": list(self.capabilities),
            "labels": dict(self.labels),
            "slo": dict(self.slo),
        }

    @classmethod
    def from_ir(cls, entry: Mapping[str, Any]) -> Cluster:
        return cls(
            id=entry["id"],
            region=entry["region"],
            env=entry["env"],
            group=entry["group"],
            control_plane=entry.get("control_plane", ""),
            owner=entry.get("owner", ""),
            capabilities=tuple(entry.get("capabilities", ())),
            labels=dict(entry.get("labels", {})),
            slo={k: float(v) for k, v in entry.get("slo", {}).items()},
        )


@dataclass(frozen=True)
class Fleet:
    """The clusters a rollout can reach, in the order the fleet document lists them."""

    name: str
    version: str
    clusters: tuple[Cluster, ...]

    def cluster(self, cluster_id: str) -> Cluster | None:
        return next((c for c in self.clusters if c.id == cluster_id), None)

    def groups(self) -> dict[str, list[Cluster]]:
        """Blast-radius group → its clusters, in fleet order."""
        out: dict[str, list[Cluster]] = {}
        for cluster in self.clusters:
            out.setdefault(cluster.group, []).append(cluster)
        return out

    @classmethod
    def from_ir(cls, entry: Mapping[str, Any]) -> Fleet:
        """A fleet from its IR; raises BundleError when the IR is not a fleet's."""
        try:
            if entry.get("kind") != "fleet" or entry.get("format") != FLEET_FORMAT:
                raise ValueError(f"not a fleet of format {FLEET_FORMAT}")
            return cls(entry["name"], entry["version"], tuple(Cluster.from_ir(c) for c in entry["clusters"]))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BundleError(f"unreadable fleet: {exc}") from None


@dataclass(frozen=True)
class Limit:
    """`25%` or `2`: how many of a whole may be taken at once."""

    count: int | None = None
    percent: float | None = None

    def of(self, total: int) -> int:
        """How many of `total`: a percentage rounds down (25% of 3 is 0), as a ceiling must."""
        if self.count is not None:
            return min(self.count, total)
        return math.floor((self.percent or 0.0) * total / 100 + 1e-9)

    def text(self) -> str:
        return f"{self.count}" if self.count is not None else f"{self.percent:g}%"

    @classmethod
    def from_ir(cls, entry: Mapping[str, Any]) -> Limit:
        if "count" in entry:
            return cls(count=int(entry["count"]))
        return cls(percent=float(entry["percent"]))

    def to_ir(self) -> dict[str, Any]:
        return {"count": self.count} if self.count is not None else {"percent": self.percent}


EVERYTHING = Limit(percent=100.0)


@dataclass(frozen=True)
class GateSpec:
    """A gate: conditions over one telemetry sample, and Argo-style counting of the samples.

    A sample passes when `passes` holds, fails when `fails` holds; with both written, a sample
    for which neither holds is inconclusive. Only `passes`: a sample that does not pass fails;
    only `fails`: a sample that does not fail passes. A sample the conditions cannot be evaluated
    on (a metric missing, the cluster silent) is an error."""

    name: str
    passes: Mapping[str, Any] | None
    fails: Mapping[str, Any] | None
    interval: float = 60.0
    count: int = 3
    failure_limit: int = 0
    consecutive_error_limit: int = 4
    consecutive_success_limit: int = 0
    inconclusive_limit: int = 0
    text: str = ""

    @classmethod
    def from_ir(cls, entry: Mapping[str, Any]) -> GateSpec:
        for condition in (entry.get("pass"), entry.get("fail")):
            if condition is not None:
                check_expression(condition)
        return cls(
            name=entry["name"],
            passes=entry.get("pass"),
            fails=entry.get("fail"),
            interval=float(entry["interval"]),
            count=int(entry["count"]),
            failure_limit=int(entry["failure_limit"]),
            consecutive_error_limit=int(entry["consecutive_error_limit"]),
            consecutive_success_limit=int(entry["consecutive_success_limit"]),
            inconclusive_limit=int(entry.get("inconclusive_limit", 0)),
            text=entry.get("text", ""),
        )


@dataclass(frozen=True)
class WaveSpec:
    """One wave of a plan and the clusters the compiler assigned to it (in fleet order)."""

    name: str
    clusters: tuple[str, ...]
    max_update: Limit = EVERYTHING
    max_unavailable: Limit = field(default_factory=lambda: Limit(count=0))
    bake: float = 0.0
    gates: tuple[str, ...] = ()
    select: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Plan:
    """A rollout plan, read from the IR of a `rollout` document."""

    name: str
    version: str
    fleet: str
    profile: str
    ceiling: Limit
    waves: tuple[WaveSpec, ...]
    gates: Mapping[str, GateSpec]
    allow: tuple[str, ...] = ()
    rollback: str = "on-deviation"
    justification: str = ""
    select: Mapping[str, Any] | None = None

    def targets(self) -> list[str]:
        """Every cluster the plan may push to, wave by wave."""
        return [cluster for wave in self.waves for cluster in wave.clusters]

    @classmethod
    def from_ir(cls, entry: Mapping[str, Any]) -> Plan:
        """A plan from its IR; raises BundleError when the IR is not a rollout's."""
        try:
            if entry.get("kind") != "rollout" or entry.get("format") != ROLLOUT_FORMAT:
                raise ValueError(f"not a rollout of format {ROLLOUT_FORMAT}")
            gates = {g["name"]: GateSpec.from_ir(g) for g in entry["gates"]}
            waves = tuple(
                WaveSpec(
                    name=w["name"],
                    clusters=tuple(w["clusters"]),
                    max_update=Limit.from_ir(w["max_update"]),
                    max_unavailable=Limit.from_ir(w["max_unavailable"]),
                    bake=float(w["bake"]),
                    gates=tuple(w["gates"]),
                    select=w.get("select"),
                )
                for w in entry["waves"]
            )
            for condition in [entry.get("select"), *(w.select for w in waves)]:
                if condition is not None:
                    check_expression(condition)
            if entry["rollback"] not in ROLLBACK_POLICIES:
                raise ValueError(f"unknown rollback policy {entry['rollback']!r}")
            return cls(
                name=entry["name"],
                version=entry["version"],
                fleet=entry["fleet"],
                profile=entry["profile"],
                ceiling=Limit.from_ir(entry["ceiling"]),
                waves=waves,
                gates=gates,
                allow=tuple(entry.get("allow", ())),
                rollback=entry["rollback"],
                justification=entry.get("justification", ""),
                select=entry.get("select"),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BundleError(f"unreadable rollout plan: {exc}") from None


def selects(condition: Mapping[str, Any] | None, cluster: Cluster) -> bool:
    """Whether a selector holds for a cluster (no selector selects every cluster)."""
    return condition is None or evaluate_condition(dict(condition), cluster.record())


def assign_waves(
    select: Mapping[str, Any] | None, waves: list[tuple[str, Mapping[str, Any] | None]], fleet: Fleet
) -> dict[str, list[str]]:
    """Wave name → its cluster ids: the targets (`select`), each in the first wave selecting it.

    Raises EvaluationError when a selector faults on a cluster (a label it indexes is absent)."""
    out: dict[str, list[str]] = {name: [] for name, _ in waves}
    for cluster in fleet.clusters:
        if not selects(select, cluster):
            continue
        for name, condition in waves:
            if selects(condition, cluster):
                out[name].append(cluster.id)
                break
    return out


@dataclass(frozen=True)
class Violation:
    """A safety rule a plan breaks. `place` names what to point at: `profile`, `allow`,
    `ceiling`, `select`, `wave:<name>`."""

    code: str
    message: str
    hint: str
    place: str


def violations(plan: Plan, fleet: Fleet) -> list[Violation]:
    """Every safety rule (module docstring) the plan breaks against this fleet, in a stable order."""
    out: list[Violation] = []
    targets = [fleet.cluster(cid) for cid in plan.targets()]
    unknown = [cid for cid, c in zip(plan.targets(), targets, strict=True) if c is None]
    if unknown:
        out.append(
            Violation(
                "fleet",
                f"the plan targets clusters the fleet '{fleet.name}' does not have: {', '.join(unknown)}",
                "compile the plan against the fleet it runs on",
                "select",
            )
        )
    present = [c for c in targets if c is not None]
    prod = [c.id for c in present if c.env == PROD]
    if prod and plan.profile != PROD:
        out.append(
            Violation(
                "safety",
                f"a plan from profile '{plan.profile}' selects prod clusters: {_some(prod)}",
                'a non-prod profile never targets prod: add `env != "prod"` to `select`',
                "select",
            )
        )
    elif prod:
        missing = [cid for cid in prod if cid not in plan.allow]
        if missing:
            out.append(
                Violation(
                    "safety",
                    f"prod clusters targeted without being allowed: {_some(missing)}",
                    "name every prod cluster the plan may touch in `allow [...]`",
                    "allow",
                )
            )
    groups = fleet.groups()
    for group in sorted({c.group for c in present}):
        size = len(groups[group])
        if plan.ceiling.of(size) < 1:
            out.append(
                Violation(
                    "safety",
                    f"the ceiling {plan.ceiling.text()} lets none of the {size} clusters of group '{group}' update at once: the rollout could never finish",
                    f"raise the ceiling to at least {math.ceil(100 / size)}%, or write it as a count: `ceiling 1`",
                    "ceiling",
                )
            )
    for wave in plan.waves:
        if not wave.clusters:
            out.append(
                Violation(
                    "wave",
                    f"wave '{wave.name}' selects no cluster",
                    "widen its `select`, or drop the wave",
                    f"wave:{wave.name}",
                )
            )
        for gate in wave.gates:
            if gate not in plan.gates:
                out.append(Violation("name", f"wave '{wave.name}' names no gate '{gate}'", "", f"wave:{wave.name}"))
    return out


def _some(ids: list[str], shown: int = 5) -> str:
    more = f" and {len(ids) - shown} more" if len(ids) > shown else ""
    return ", ".join(ids[:shown]) + more


def check_plan(plan: Plan, fleet: Fleet) -> None:
    """Refuse a plan that breaks a safety rule (the engine calls it before any push)."""
    found = violations(plan, fleet)
    if plan.fleet != fleet.name:
        found.insert(0, Violation("fleet", f"the plan is for fleet '{plan.fleet}', not '{fleet.name}'", "", "fleet"))
    if found:
        raise RolloutRefused("refused: " + "; ".join(v.message for v in found))


class RolloutRefused(UsageError):
    """A plan that breaks a safety rule, refused at run time as `ballast check` refuses it."""
