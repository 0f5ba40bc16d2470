"""The time a rollout runs on: the wall clock, or a manual clock tests and rehearsals advance.

The engine never reads `time` itself, so a test that waits out a 30-minute bake never sleeps.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch (or since any fixed origin)."""
        ...

    def sleep_until(self, when: float) -> None:
        """Return at `when` or later."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> float:
        return time.time()

    def sleep_until(self, when: float) -> None:
        delay = when - time.time()
        if delay > 0:
            time.sleep(delay)


class ManualClock:
    """A clock that moves only when told: `sleep_until` jumps to the time asked for."""

    def __init__(self, start: float = 0.0) -> None:
        self.t = float(start)

    def now(self) -> float:
        return self.t

    def sleep_until(self, when: float) -> None:
        self.t = max(self.t, float(when))

    def advance(self, seconds: float) -> None:
        self.t += seconds
