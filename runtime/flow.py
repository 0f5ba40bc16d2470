"""The directive queue: bounded, by priority, with back-pressure and coalescing (MOTB §13).

A flood of directives must not overwhelm the agents that apply them. `DirectiveQueue` holds at
most `capacity` directives, hands them out highest priority first, and:

* **coalesces** a directive with one already queued for the same action and targets within
  `coalesce_window` seconds of event time: the queued one stays (or is replaced by the newcomer
  if that has a higher priority) and the merge is counted;
* under **back-pressure** (full), evicts the lowest-priority queued directive if the newcomer
  outranks it, else refuses the newcomer; either way the dropped one is counted and returned.

Nothing is dropped or merged silently: `offer` says what happened, `stats` counts it.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass
from typing import Any

from ballast.runtime.errors import UsageError


@dataclass(frozen=True, slots=True)
class Offered:
    """What became of one offered directive: "queued", "coalesced" or "dropped" (with the one dropped)."""

    outcome: str
    directive: Any
    dropped: Any = None


class DirectiveQueue:
    """See the module docstring. Time is event time (seconds), passed by the caller."""

    def __init__(self, capacity: int = 1000, coalesce_window: float = 10.0) -> None:
        if capacity < 1:
            raise UsageError(f"a directive queue needs room for at least one directive, got capacity {capacity}")
        if coalesce_window < 0:
            raise UsageError(f"coalesce_window cannot be negative, got {coalesce_window}")
        self.capacity = capacity
        self.coalesce_window = coalesce_window
        self._heap: list[tuple[int, int, float, Any]] = []  # (-priority, order, time, directive)
        self._by_key: dict[tuple[str, tuple[str, ...]], tuple[int, int, float, Any]] = {}
        self._order = itertools.count()
        self.stats = {"offered": 0, "queued": 0, "coalesced": 0, "dropped": 0, "drained": 0}

    def __len__(self) -> int:
        return len(self._by_key)

    def offer(self, directive: Any, time: float) -> Offered:
        self.stats["offered"] += 1
        key = (directive.action, tuple(directive.targets))
        existing = self._by_key.get(key)
        if existing is not None and time - existing[2] <= self.coalesce_window:
            self.stats["coalesced"] += 1
            if directive.priority > existing[3].priority:
                self._replace(key, directive, time)
            return Offered("coalesced", directive)
        if existing is not None:  # an old one for the same key: the new one supersedes it
            self._remove(key)
        if len(self._by_key) >= self.capacity:
            lowest = min(self._by_key.values(), key=lambda e: (-e[0], -e[1]))
            if directive.priority > lowest[3].priority:
                self._remove((lowest[3].action, tuple(lowest[3].targets)))
                self._push(key, directive, time)
                self.stats["dropped"] += 1
                return Offered("queued", directive, dropped=lowest[3])
            self.stats["dropped"] += 1
            return Offered("dropped", directive, dropped=directive)
        self._push(key, directive, time)
        return Offered("queued", directive)

    def drain(self, limit: int | None = None) -> list[Any]:
        """Up to `limit` directives (all by default), highest priority first, oldest first at a tie."""
        out = []
        while self._heap and (limit is None or len(out) < limit):
            entry = heapq.heappop(self._heap)
            key = (entry[3].action, tuple(entry[3].targets))
            if self._by_key.get(key) is entry:
                del self._by_key[key]
                out.append(entry[3])
        self.stats["drained"] += len(out)
        return out

    def _push(self, key: tuple[str, tuple[str, ...]], directive: Any, time: float) -> None:
        entry = (-directive.priority, next(self._order), time, directive)
        heapq.heappush(self._heap, entry)
        self._by_key[key] = entry
        self.stats["queued"] += 1
        if len(self._heap) > 4 * self.capacity + 16:  # superseded entries pile up: compact
            self._heap = list(self._by_key.values())
            heapq.heapify(self._heap)

    def _replace(self, key: tuple[str, tuple[str, ...]], directive: Any, time: float) -> None:
        old = self._by_key[key]
        entry = (-directive.priority, old[1], old[2], directive)
        heapq.heappush(self._heap, entry)
        self._by_key[key] = entry  # the old heap entry is skipped when popped

    def _remove(self, key: tuple[str, tuple[str, ...]]) -> None:
        del self._by_key[key]  # its heap entry is skipped when popped
