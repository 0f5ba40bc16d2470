"""Stream hygiene: which events an Engine evaluates, by the policy's `stream` block.

* **Lateness.** The watermark is the newest event time seen minus `lateness`. An event older
  than the watermark is rejected (`late-event`, counted); one out of order but within the
  lateness is admitted.
* **Duplicates** (`stream { id … }`): an id seen within the lateness horizon is ignored, counted.
* **Gaps** (`stream { sequence seq by source }`): a jump in a source's sequence is reported as a
  `TelemetryGap` event naming the missing range; the event itself is admitted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ballast.runtime.events import TelemetryGap
from ballast.runtime.ir import IR
from ballast.runtime.policy import Problem, Result
from ballast.runtime.values import iso

DEFAULT_STALE_AFTER = 300.0  # `stale after` when the stream block does not say: Prometheus' lookback


class Stream:
    """One policy's stream settings and what they remember: the newest time, ids, sequences.

    `ir` is the policy's `stream` block as compiled; `counters` is the policy's (this counts
    `late`, `duplicates` and `gaps`).
    """

    def __init__(self, ir: IR, policy: str, counters: dict[str, int]) -> None:
        self.policy = policy
        self.counters = counters
        self.time_field: str = ir.get("time", "")  # "" when the policy has no event time
        self.id_field: str = ir.get("id", "")
        self.lateness: float = ir.get("lateness", 0.0)
        self.sequence: tuple[str, str] | None = tuple(ir["sequence"]) if "sequence" in ir else None  # type: ignore[assignment]
        self.idle: float = ir.get("idle", 0.0)
        self.stale_after: float = ir.get("stale", DEFAULT_STALE_AFTER)
        self.newest = -math.inf
        self.seen: dict[Any, float] = {}  # event id → its time
        self.sequences: dict[str, int] = {}  # source → the highest sequence number seen

    def admit(self, data: Mapping[str, Any], result: Result) -> float | None:
        """The time of a checked event if it is to be evaluated (the newest time moves up to it),
        or None for a late event (a problem in `result`) or a duplicate."""
        t: float = data[self.time_field]
        if t < self.newest - self.lateness:
            self.counters["late"] += 1
            result.errors.append(
                Problem(
                    "late-event",
                    self.policy,
                    f"event time {iso(t)} is {self.newest - t:g}s behind the newest ({iso(self.newest)}), beyond the allowed lateness of {self.lateness:g}s",
                    field=self.time_field,
                    hint="the event was not evaluated; raise `lateness` in the stream block if such delays are normal",
                )
            )
            return None
        if self.id_field:
            event_id = data[self.id_field]
            if event_id in self.seen:
                self.counters["duplicates"] += 1
                return None
            self.seen[event_id] = t
        if self.sequence is not None:
            self._check_sequence(data, t, result)
        self.newest = max(self.newest, t)
        return t

    def _check_sequence(self, data: Mapping[str, Any], t: float, result: Result) -> None:
        field, by = self.sequence  # type: ignore[misc]
        source, number = data[by], data[field]
        last = self.sequences.get(source)
        if last is not None and number > last + 1:
            self.counters["gaps"] += 1
            result.events.append(TelemetryGap(self.policy, source, t, last, number))
        if last is None or number > last:
            self.sequences[source] = number

    def prune(self) -> None:
        """Forget the ids older than the lateness horizon: no event that old is admitted."""
        horizon = self.newest - self.lateness
        self.seen = {k: v for k, v in self.seen.items() if v >= horizon}
