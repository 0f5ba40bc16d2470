"""The dashboard's feed: the newest directives and ThreatIndex samples, numbered, in bounded
buffers (one per kind, so a stream of ThreatIndex samples never pushes the directives out) that
the server-sent event stream reads from.

Every item gets the next sequence number; a client that reconnects with `Last-Event-ID` gets
what it missed, as far as the buffer still holds it. An item's data may be given as a function
that makes it: a directive's dictionary (its rationale, its reason) is then built only if
someone reads the feed, not once more for every directive the service issues.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
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

    def publish(self, kind: str, data: dict[str, Any] | Callable[[], dict[str, Any]]) -> None:
        """Append an item: its data, or a function that makes it when the item is first read."""
        with self._lock:
            self._seq += 1
            items = self._items.setdefault(kind, deque(maxlen=self._capacity))
            items.append(_Item(self._seq, kind, data))

    def since(self, seq: int) -> list[dict[str, Any]]:
        """The items after `seq`, oldest first."""
        with self._lock:
            if seq >= self._seq:
                return []
            found = [item for items in self._items.values() for item in items if item.seq > seq]
        return [item.value() for item in sorted(found, key=lambda item: item.seq)]

    def latest(self, kind: str, count: int) -> list[dict[str, Any]]:
        """The newest `count` items of one kind, oldest first."""
        with self._lock:
            found = list(self._items.get(kind, ()))
        return [item.value() for item in found[-count:]] if count > 0 else []


class _Item:
    """One item of the feed; its data made once, when first read."""

    __slots__ = ("_data", "kind", "seq")

    def __init__(self, seq: int, kind: str, data: dict[str, Any] | Callable[[], dict[str, Any]]) -> None:
        self.seq, self.kind, self._data = seq, kind, data

    def value(self) -> dict[str, Any]:
        if callable(self._data):
            self._data = self._data()  # two readers may both make it: the same value either way
        return {"seq": self.seq, "kind": self.kind, **self._data}


__all__ = ["DEFAULT_CAPACITY", "Feed"]
