"""The dashboard's feed: the newest directives and ThreatIndex samples, numbered, in bounded
buffers (one per kind, so a stream of ThreatIndex samples never pushes the directives out) that
the server-sent event stream reads from.

Every item gets the next sequence number; a client that reconnects with `Last-Event-ID` gets
what it missed, as far as the buffer still holds it.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

DEFAULT_CAPACITY = 500


class Feed:
    """Bounded, numbered buffers of dashboard items (`{"seq", "kind", …}`); thread-safe."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._capacity = capacity
        self._items: dict[str, deque[dict[str, Any]]] = {}
        self._seq = 0
        self._lock = threading.Lock()

    @property
    def seq(self) -> int:
        """The sequence number of the newest item (0 before the first)."""
        return self._seq

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        with self._lock:
            self._seq += 1
            items = self._items.setdefault(kind, deque(maxlen=self._capacity))
            items.append({"seq": self._seq, "kind": kind, **data})

    def since(self, seq: int) -> list[dict[str, Any]]:
        """The items after `seq`, oldest first."""
        with self._lock:
            if seq >= self._seq:
                return []
            found = [item for items in self._items.values() for item in items if item["seq"] > seq]
        return sorted(found, key=lambda item: item["seq"])

    def latest(self, kind: str, count: int) -> list[dict[str, Any]]:
        """The newest `count` items of one kind, oldest first."""
        with self._lock:
            found = list(self._items.get(kind, ()))
        return found[-count:] if count > 0 else []


__all__ = ["DEFAULT_CAPACITY", "Feed"]
