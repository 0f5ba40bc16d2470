"""Health: `ok`, `degraded` or `silent`, with the reasons, from what the service saw.

* `silent`: no event arrived for `silent_after` seconds (of the wall clock: silence is about the
  feed, not about event time), counted from start-up until the first event.
* `degraded`: the audit ledger could not be written (until a later write succeeds), requests were
  refused for back-pressure in the last `window` seconds, or more than `fault_ratio` of the last
  `fault_sample` events had problems.
* `ok` otherwise. Degraded wins over silent: a broken ledger matters even when nothing arrives.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

OK, DEGRADED, SILENT = "ok", "degraded", "silent"


@dataclass(frozen=True, slots=True)
class HealthPolicy:
    """When the service calls itself silent or degraded (see the module docstring)."""

    silent_after: float = 300.0
    window: float = 60.0
    fault_ratio: float = 0.5
    fault_sample: int = 200


@dataclass(slots=True)
class Health:
    """What the service saw that its health depends on; thread-safe."""

    policy: HealthPolicy = field(default_factory=HealthPolicy)
    clock: Callable[[], float] = time.time
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _last_event: float = 0.0
    _events_seen: bool = False
    _faulty: deque[bool] = field(default_factory=deque)
    _busy_at: float | None = None
    _ledger_error: str = ""

    def __post_init__(self) -> None:
        self._last_event = self.clock()  # start-up: silence is measured from here until the first event
        self._faulty = deque(maxlen=self.policy.fault_sample)

    def saw_events(self, faulty: list[bool]) -> None:
        with self._lock:
            self._last_event, self._events_seen = self.clock(), True
            self._faulty.extend(faulty)

    def saw_busy(self) -> None:
        with self._lock:
            self._busy_at = self.clock()

    def ledger_failed(self, message: str) -> None:
        with self._lock:
            self._ledger_error = message

    def ledger_written(self) -> None:
        with self._lock:
            self._ledger_error = ""

    def report(self) -> dict[str, Any]:
        """`{"status": ok|degraded|silent, "reasons": [...]}`."""
        p = self.policy
        with self._lock:
            now = self.clock()
            degraded = []
            if self._ledger_error:
                degraded.append(f"ledger: {self._ledger_error}")
            if self._busy_at is not None and now - self._busy_at < p.window:
                degraded.append(f"back-pressure: requests were refused with 429 in the last {p.window:g}s")
            faults = sum(self._faulty)
            if self._faulty and faults / len(self._faulty) > p.fault_ratio:
                degraded.append(f"faults: {faults} of the last {len(self._faulty)} events had problems")
            if degraded:
                return {"status": DEGRADED, "reasons": degraded}
            quiet = now - self._last_event
            if quiet >= p.silent_after:
                since = "since the last event" if self._events_seen else "since start-up, and none yet"
                return {
                    "status": SILENT,
                    "reasons": [f"no event for {quiet:.0f}s {since} (silent after {p.silent_after:g}s)"],
                }
            return {"status": OK, "reasons": []}


__all__ = ["DEGRADED", "OK", "SILENT", "Health", "HealthPolicy"]
