"""The local adapter: each cluster is a directory, its runtime loads bundles through the trust checks.

    <root>/<cluster id>/
        inventory.json     {"control_plane": "1.8.2", "capabilities": ["wasm"]}   (written by whoever
                           sets the cluster up: a test, `make`-style demos)
        bundle.json        the bundle the cluster runs
        previous.json      the bundle it ran before (what a rollback puts back)
        pushes.jsonl       one line per push completed (the bundle written and loaded) and per
                           rollback: the persisted counter that proves nothing was pushed twice
        telemetry.jsonl    {"t": …, "error_budget_burn": …, …} samples, written by the test or demo
        faults.json        injected failures: {"fail_pushes": 2} fails the next two pushes,
                           {"unreachable": true} fails every call until removed

Pushing writes the bundle atomically (a temporary file, then `os.replace`), then has the
cluster's runtime load it (`BundleLoader`, by default `ballast.load(path, trust=KEYRING)`): a
bundle the keyring does not trust is refused and the previous one put back, so a cluster never
keeps running an untrusted bundle. A push interrupted between the write and the load (the
process killed) is finished by the next push of the same bundle: loaded and counted, not written
again. The loader is a seam: the PolicyStore (runtime/store.py, in
progress) will take its place.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import ballast
from ballast.fleet.adapter import Inventory, PushFailed
from ballast.runtime.errors import BallastError

BundleLoader = Callable[[Path], Any]  # loads a bundle file as the cluster's runtime would; raises BallastError


def trusted_loader(trust: Any, *, allow_unsigned: bool = False) -> BundleLoader:
    """The runtime's load through the trust checks (`ballast.load(path, trust=…)`)."""

    def load(path: Path) -> Any:
        return ballast.load(path, trust=trust, allow_unsigned=allow_unsigned)

    return load


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class LocalAdapter:
    """Clusters as directories under `root` (module docstring)."""

    def __init__(self, root: str | os.PathLike[str], loader: BundleLoader) -> None:
        self.root = Path(root)
        self.loader = loader

    def directory(self, cluster_id: str) -> Path:
        return self.root / cluster_id

    # ---- the interface ----
    def inventory(self, cluster_id: str) -> Inventory:
        where = self._reachable(cluster_id)
        try:
            data = json.loads((where / "inventory.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise PushFailed(f"cluster '{cluster_id}': cannot read {where / 'inventory.json'}: {exc}") from None
        current = self._read(where / "bundle.json")
        ir = None
        if current is not None:
            try:
                ir = json.loads(current).get("ir")
            except ValueError:
                ir = None
        return Inventory(
            cluster_id,
            str(data.get("control_plane", "")),
            tuple(data.get("capabilities", ())),
            digest(current) if current is not None else "",
            ir,
        )

    def push(self, cluster_id: str, bundle: bytes) -> bool:
        where = self._reachable(cluster_id)
        current = self._read(where / "bundle.json")
        if current == bundle:
            if self._confirmed(where, bundle):
                return False  # already running it: a repeated push after a crash writes nothing
            # The process died between writing the bundle and the runtime loading it: finish that
            # push (the trust checks, then the count), without writing the bundle again.
            self._load_or_restore(where, cluster_id, self._read(where / "previous.json"))
            self._count(where, "push", bundle)
            return False
        self._injected_failure(where, cluster_id)
        if current is not None:
            _write_atomically(where / "previous.json", current)
        _write_atomically(where / "bundle.json", bundle)
        self._load_or_restore(where, cluster_id, current)
        self._count(where, "push", bundle)
        return True

    def _load_or_restore(self, where: Path, cluster_id: str, previous: bytes | None) -> None:
        """The cluster's runtime loads its bundle; if it refuses it, it keeps what it ran."""
        try:
            self.loader(where / "bundle.json")
        except BallastError as exc:
            if previous is not None:
                _write_atomically(where / "bundle.json", previous)
            else:
                (where / "bundle.json").unlink(missing_ok=True)
            raise PushFailed(f"cluster '{cluster_id}' refused the bundle: {exc}") from None

    def _confirmed(self, where: Path, bundle: bytes) -> bool:
        """Whether the last bundle counted for the cluster is this one (its push completed)."""
        counted = self.pushes(where.name)
        return bool(counted) and counted[-1] == {"kind": "push", "bundle": digest(bundle)}

    def rollback(self, cluster_id: str, bundle: bytes) -> bool:
        where = self._reachable(cluster_id)
        if self._read(where / "bundle.json") != bundle:
            return False  # not running the rolled-out bundle (rolled back already, or never pushed)
        previous = self._read(where / "previous.json")
        if previous is None:
            (where / "bundle.json").unlink()
        else:
            _write_atomically(where / "bundle.json", previous)
        self._count(where, "rollback", previous or b"")
        return True

    def telemetry(self, cluster_id: str, start: float, end: float) -> Sequence[Mapping[str, Any]]:
        path = self._reachable(cluster_id) / "telemetry.jsonl"
        out = []
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise PushFailed(f"cluster '{cluster_id}': cannot read {path}: {exc}") from None
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                sample = json.loads(line)
                t = float(sample["t"])
            except (ValueError, KeyError, TypeError):
                raise PushFailed(f"{path}:{number}: not a telemetry sample (a JSON object with a number 't')") from None
            if start < t <= end:
                out.append(sample)
        return out

    # ---- what tests and demos read ----
    def pushes(self, cluster_id: str) -> list[dict[str, Any]]:
        """The persisted log of bundles written to a cluster (pushes and rollbacks)."""
        path = self.directory(cluster_id) / "pushes.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def running(self, cluster_id: str) -> bytes | None:
        return self._read(self.directory(cluster_id) / "bundle.json")

    # ---- inside ----
    def _reachable(self, cluster_id: str) -> Path:
        where = self.directory(cluster_id)
        if not where.is_dir():
            raise PushFailed(f"cluster '{cluster_id}' has no directory {where}")
        faults = _faults(where)
        if faults.get("unreachable"):
            raise PushFailed(f"cluster '{cluster_id}' is unreachable (injected)")
        return where

    def _injected_failure(self, where: Path, cluster_id: str) -> None:
        faults = _faults(where)
        left = int(faults.get("fail_pushes", 0))
        if left > 0:
            faults["fail_pushes"] = left - 1
            _write_atomically(where / "faults.json", json.dumps(faults).encode())
            raise PushFailed(f"cluster '{cluster_id}': push failed (injected, {left - 1} more to fail)")

    @staticmethod
    def _read(path: Path) -> bytes | None:
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None

    @staticmethod
    def _count(where: Path, kind: str, bundle: bytes) -> None:
        line = json.dumps({"kind": kind, "bundle": digest(bundle)}) + "\n"
        with open(where / "pushes.jsonl", "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())


def _faults(where: Path) -> dict[str, Any]:
    try:
        data = json.loads((where / "faults.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise PushFailed(f"{where / 'faults.json'}: unreadable fault injection: {exc}") from None
    return data if isinstance(data, dict) else {}


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def make_cluster(
    root: str | os.PathLike[str], cluster_id: str, inventory: Mapping[str, Any], bundle: bytes | None = None
) -> Path:
    """Set up one cluster directory (tests and demos): its inventory and, optionally, the bundle it runs."""
    where = Path(root) / cluster_id
    where.mkdir(parents=True, exist_ok=True)
    _write_atomically(where / "inventory.json", json.dumps(dict(inventory), sort_keys=True).encode())
    if bundle is not None:
        _write_atomically(where / "bundle.json", bundle)
    return where


# One healthy sample, as the demos and tests write them (docs/rollouts.md).
HEALTHY = {
    "error_budget_burn": 0.3,
    "p95_latency_ms": 120.0,
    "error_rate": 0.001,
    "directive_rate": 2.0,
    "rule_faults": 0,
    "requests": 1000,
}


def write_healthy_telemetry(where: Path, start: float, end: float, every: float = 30.0, **metrics: Any) -> None:
    """Append samples every `every` seconds from `start` to `end` to a cluster's telemetry.jsonl."""
    lines = []
    t = start
    while t <= end:
        lines.append(json.dumps({"t": t, **HEALTHY, **metrics}, sort_keys=True))
        t += every
    with open(where / "telemetry.jsonl", "a", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
