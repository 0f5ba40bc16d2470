"""How the rollout engine reaches a cluster: the `ClusterAdapter` interface.

Every call is idempotent, because the engine repeats the call it was making when it crashed:
`push` of a bundle a cluster already runs does nothing (and says so), `rollback` of a cluster that
no longer runs the pushed bundle does nothing. A call that cannot reach the cluster or that the
cluster refuses raises `PushFailed`; the engine retries it with backoff, behind a per-cluster
circuit breaker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ballast.runtime.errors import BallastError


class PushFailed(BallastError):
    """A cluster could not be reached, or refused what it was sent (the message says which)."""


@dataclass(frozen=True)
class Inventory:
    """What a cluster reports about itself."""

    cluster_id: str
    control_plane: str = ""
    capabilities: tuple[str, ...] = ()
    bundle_digest: str = ""  # sha256 of the bundle file it runs; "" when it runs none
    bundle_ir: Mapping[str, Any] | None = field(default=None, compare=False)  # the IR it runs


class ClusterAdapter(Protocol):
    def inventory(self, cluster_id: str) -> Inventory:
        """The cluster's inventory; raises PushFailed when it cannot be read."""
        ...

    def push(self, cluster_id: str, bundle: bytes) -> bool:
        """Make the cluster run `bundle` (its runtime loads it through the trust checks); True if
        it was written now, False if the cluster ran it already. Raises PushFailed."""
        ...

    def rollback(self, cluster_id: str, bundle: bytes) -> bool:
        """Put back the bundle the cluster ran before `bundle`, if it runs `bundle`; True if it
        was rolled back now. Raises PushFailed."""
        ...

    def telemetry(self, cluster_id: str, start: float, end: float) -> Sequence[Mapping[str, Any]]:
        """The cluster's telemetry samples with `start < t <= end`, oldest first."""
        ...
