"""What a rollout would do, cluster by cluster, and the checks a run must pass before it starts.

`plan_rollout` is the dry run of `ballast fleet plan` (it reads inventories, it writes nothing):
the waves and their clusters; for each cluster the bundle it runs and the semantic diff
(`ballast.compiler.diff.diff_ir`) from that bundle to the one being rolled out; and every reason
to refuse the run: the plan's safety rules against the fleet (`ballast.runtime.fleet.violations`,
the rules `ballast check` enforces) and the one rule that needs the bundles — a bundle whose diff
against what a cluster runs has `guard-loosened` findings needs a justification, either the
rollout's `justification "…"` or the loosened rule's own (as `ballast diff
--require-justification` asks). `ballast fleet apply` starts a run only when nothing is refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ballast.compiler.diff import diff_ir, unjustified
from ballast.compiler.diff.findings import GUARD_LOOSENED
from ballast.fleet.adapter import ClusterAdapter, PushFailed
from ballast.fleet.local import digest
from ballast.runtime.bundle import verify_bundle
from ballast.runtime.errors import BundleError
from ballast.runtime.fleet import Fleet, Plan, RolloutRefused, violations


@dataclass
class ClusterPlan:
    """One target: what it runs, what would change."""

    cluster_id: str
    wave: str
    group: str
    current: str  # the digest of the bundle it runs, "" for none, "unreachable"
    findings: list[dict[str, Any]] = field(default_factory=list)
    loosened: list[str] = field(default_factory=list)  # keys of guard-loosened findings
    unjustified: list[str] = field(default_factory=list)
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "cluster": self.cluster_id,
            "wave": self.wave,
            "group": self.group,
            "current": self.current,
            "findings": self.findings,
            "guard_loosened": self.loosened,
            "unjustified": self.unjustified,
            "note": self.note,
        }


@dataclass
class RolloutPlan:
    """The dry run: the targets wave by wave, and why the run would be refused (if it would)."""

    plan: Plan
    bundle_digest: str
    clusters: list[ClusterPlan]
    refused: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "plan": self.plan.name,
            "version": self.plan.version,
            "fleet": self.plan.fleet,
            "bundle": self.bundle_digest,
            "ceiling": self.plan.ceiling.text(),
            "rollback": self.plan.rollback,
            "waves": [
                {
                    "name": wave.name,
                    "max_update": wave.max_update.text(),
                    "max_unavailable": wave.max_unavailable.text(),
                    "bake_seconds": wave.bake,
                    "gates": list(wave.gates),
                    "clusters": [c.to_json() for c in self.clusters if c.wave == wave.name],
                }
                for wave in self.plan.waves
            ],
            "refused": self.refused,
        }

    def require_allowed(self) -> None:
        """Raise RolloutRefused when anything refuses the run."""
        if self.refused:
            raise RolloutRefused("refused: " + "; ".join(self.refused))


def bundle_ir(bundle: bytes, where: str = "bundle") -> dict[str, Any]:
    """The IR of a bundle's bytes (format and fingerprint checked); raises BundleError."""
    try:
        data = json.loads(bundle)
    except (UnicodeDecodeError, ValueError):
        raise BundleError(f"{where}: not a bundle (invalid JSON)", reason="not-json") from None
    return verify_bundle(data, where)["ir"]


def plan_rollout(
    plan: Plan, fleet: Fleet, bundle: bytes, adapter: ClusterAdapter, *, timeout_ms: int = 2000
) -> RolloutPlan:
    """The dry run (module docstring); mutates nothing."""
    new_ir = bundle_ir(bundle)
    refused = [v.message for v in violations(plan, fleet)]
    if plan.fleet != fleet.name:
        refused.insert(0, f"the plan is for fleet '{plan.fleet}', not '{fleet.name}'")
    diffs: dict[str, tuple[list[Any], list[str]]] = {}  # by the digest of what a cluster runs
    clusters = []
    for wave in plan.waves:
        for cid in wave.clusters:
            cluster = fleet.cluster(cid)
            entry = ClusterPlan(cid, wave.name, cluster.group if cluster else "", "")
            clusters.append(entry)
            try:
                inventory = adapter.inventory(cid)
            except PushFailed as exc:
                entry.current, entry.note = "unreachable", str(exc)
                continue
            entry.current = inventory.bundle_digest
            if inventory.bundle_ir is None:
                entry.note = "runs no bundle yet: nothing to compare"
                continue
            if inventory.bundle_digest not in diffs:
                findings = diff_ir(dict(inventory.bundle_ir), new_ir, timeout_ms=timeout_ms)
                diffs[inventory.bundle_digest] = (findings, unjustified(findings, new_ir))
            findings, missing = diffs[inventory.bundle_digest]
            entry.findings = [f.to_json() for f in findings]
            entry.loosened = [f.key for f in findings if GUARD_LOOSENED in f.tags]
            entry.unjustified = [] if plan.justification else missing
    loose = [c.cluster_id for c in clusters if c.unjustified]
    if loose:
        keys = sorted({k for c in clusters for k in c.unjustified})
        refused.append(
            f"the bundle loosens guards ({', '.join(keys)}) against what {len(loose)} cluster(s) run "
            f"({', '.join(loose[:5])}{' …' if len(loose) > 5 else ''}), with no justification: "
            'add `justification "…"` to the rollout or to each loosened rule'
        )
    return RolloutPlan(plan, digest(bundle), clusters, refused)
