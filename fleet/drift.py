"""Drift: what each cluster reports (its inventory) against what the fleet document and the
desired bundle say it should be.

Three kinds, each with a reason per cluster: `fingerprint` (it runs another bundle than the
desired one, or none), `semver` (its control plane's version differs from the fleet document's:
the delta says major, minor or patch and which way), `capability` (a capability the fleet
document lists is missing). A cluster that cannot be read is `unreachable`. Each drift is also a
`DriftDetected` audit entry when an audit log is given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ballast.fleet.adapter import ClusterAdapter, PushFailed
from ballast.fleet.local import digest
from ballast.runtime.fleet import Fleet

_SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)")


@dataclass(frozen=True)
class Drift:
    cluster_id: str
    kind: str  # fingerprint | semver | capability | unreachable
    expected: str
    actual: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {
            "cluster": self.cluster_id,
            "kind": self.kind,
            "expected": self.expected,
            "actual": self.actual,
            "reason": self.reason,
        }


def semver_delta(expected: str, actual: str) -> str:
    """`major +1`, `minor -2`, `patch +1`, `same`, or `unreadable`: the first part that differs."""
    a, b = _SEMVER.match(expected), _SEMVER.match(actual)
    if a is None or b is None:
        return "unreadable"
    for part, x, y in zip(("major", "minor", "patch"), a.groups(), b.groups(), strict=True):
        if int(x) != int(y):
            return f"{part} {int(y) - int(x):+d}"
    return "same"


def detect_drift(
    fleet: Fleet, adapter: ClusterAdapter, desired: bytes | None = None, *, audit: Any = None
) -> list[Drift]:
    """Every drift of every cluster of the fleet, in fleet order."""
    want = digest(desired) if desired is not None else None
    out: list[Drift] = []
    for cluster in fleet.clusters:
        try:
            inventory = adapter.inventory(cluster.id)
        except PushFailed as exc:
            out.append(Drift(cluster.id, "unreachable", "", "", str(exc)))
            continue
        if want is not None and inventory.bundle_digest != want:
            actual = inventory.bundle_digest or "none"
            out.append(
                Drift(
                    cluster.id,
                    "fingerprint",
                    want,
                    actual,
                    f"runs bundle {actual[:12]}, desired {want[:12]}" if inventory.bundle_digest else "runs no bundle",
                )
            )
        if cluster.control_plane and inventory.control_plane != cluster.control_plane:
            delta = semver_delta(cluster.control_plane, inventory.control_plane)
            out.append(
                Drift(
                    cluster.id,
                    "semver",
                    cluster.control_plane,
                    inventory.control_plane,
                    f"control plane {inventory.control_plane or '(none)'}, the fleet says {cluster.control_plane} ({delta})",
                )
            )
        missing = [c for c in cluster.capabilities if c not in inventory.capabilities]
        if missing:
            out.append(
                Drift(
                    cluster.id,
                    "capability",
                    ", ".join(cluster.capabilities),
                    ", ".join(inventory.capabilities),
                    f"missing capability {', '.join(missing)}",
                )
            )
    if audit is not None:
        for d in out:
            audit.write(_drift_entry(fleet.name, d))
    return out


def _drift_entry(fleet: str, d: Drift) -> dict[str, Any]:
    return {
        "kind": "DriftDetected",
        "action_id": f"drift-{d.cluster_id}-{d.kind}",
        "cluster_id": d.cluster_id,
        "subject": d.cluster_id,
        "actor": "ballast fleet drift",
        "scope": fleet,
        "outcome": d.kind,
        "reason": d.reason,
        "latency_ms": None,
        "narrative": {
            "who": "ballast fleet drift",
            "what": f"DriftDetected: {d.kind}",
            "when": "",
            "where": d.cluster_id,
            "why": [d.reason],
            "how": "inventory against the fleet document",
        },
    }
