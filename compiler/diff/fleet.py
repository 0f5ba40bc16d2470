"""Detectors for the `fleet` kind: which clusters rollouts can reach, and how selectors see them.

A fleet lists clusters with the attributes rollout selectors and safety rules read
(docs/rollouts.md): region, env, blast-radius group, control plane, capabilities, labels, SLO,
owner. A cluster that joins or leaves, or whose attributes change, is selected, grouped and
guarded differently by every rollout of the fleet: `ballast fleet plan` shows the new plan. A
cluster that becomes `prod` falls under the prod allowlist and the staging-never-selects-prod
rule; one that leaves `prod` no longer does, which is reviewed as a loosened guard.
"""

from __future__ import annotations

from typing import Any

from ballast.compiler.diff.document import DocumentDiff
from ballast.compiler.diff.findings import GUARD_LOOSENED, Finding
from ballast.runtime.fleet import PROD

IR = dict[str, Any]
ATTRIBUTES = ("region", "env", "group", "control_plane", "owner", "capabilities", "labels", "slo")


class FleetDiff(DocumentDiff):
    """The findings between two versions (`old`, `new`) of one fleet document."""

    kind = "fleet"
    label = "fleet"

    def run(self) -> list[Finding]:
        self.metadata()
        old = {c["id"]: c for c in self.old["clusters"]}
        new = {c["id"]: c for c in self.new["clusters"]}
        for cid, c in old.items():
            if cid not in new:
                self.add(
                    "fleet-cluster-removed",
                    cid,
                    f"cluster '{cid}' ({c['env']}, {c['region']}) left the fleet: rollouts no longer reach it",
                    c.get("at"),
                    None,
                )
        for cid, c in new.items():
            if cid not in old:
                self.add(
                    "fleet-cluster-added",
                    cid,
                    f"cluster '{cid}' ({c['env']}, {c['region']}) joined the fleet: rollouts whose selectors match it reach it",
                    None,
                    c.get("at"),
                )
        for cid in [c for c in new if c in old]:
            a, b = old[cid], new[cid]
            changes = {k: {"before": a.get(k), "after": b.get(k)} for k in ATTRIBUTES if a.get(k) != b.get(k)}
            if not changes:
                continue
            left_prod = a.get("env") == PROD and b.get("env") != PROD
            self.add(
                "fleet-cluster-changed",
                cid,
                f"cluster '{cid}' "
                + "; ".join(f"{k} {_show(v['before'])} → {_show(v['after'])}" for k, v in changes.items())
                + (": it leaves prod, and the prod allowlist no longer guards it" if left_prod else ""),
                a.get("at"),
                b.get("at"),
                tags=(GUARD_LOOSENED,) if left_prod else (),
                changes=changes,
            )
        return self.findings


def _show(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {v}" for k, v in sorted(value.items())) + "}"
    return str(value)


__all__ = ["FleetDiff"]
