"""Cooldowns and rate limits: which of a rule's directives an Engine holds back.

**Cooldown** is per (rule, action, targets): after a directive goes out, the same action on the
same targets from the same rule is held back until the cooldown has run out. **At most N per W**
is per rule: at most N directives in any window of W seconds. What is held back is counted
(`suppressed_cooldown`, `suppressed_limit`) and reported by the caller, never dropped silently.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any, Protocol


class Limited(Protocol):
    """What a rule says about its limits (a `TimedRule` has these)."""

    index: int
    cooldown: float
    limit: tuple[int, float] | None


class Limits:
    """The cooldowns and recent issues of one policy's rules; `counters` is the policy's."""

    def __init__(self, counters: dict[str, int]) -> None:
        self.counters = counters
        self.cooldowns: dict[tuple[int, int, tuple[str, ...]], float] = {}  # (rule, action, targets) → until
        self.emitted: dict[int, deque[float]] = {}  # rule → times of its recent directives

    def hold_back(self, rule: Limited, directive: Any, now: float) -> str:
        """Why a directive is held back ("cooldown", "limit"), or "" to let it through (and count
        it against the rule's limits)."""
        if rule.cooldown:
            key = (rule.index, directive.action_index, tuple(directive.targets))
            if now < self.cooldowns.get(key, -math.inf):
                self.counters["suppressed_cooldown"] += 1
                return "cooldown"
        if rule.limit is not None:
            count, window = rule.limit
            times = self.emitted.setdefault(rule.index, deque())
            while times and times[0] <= now - window:
                times.popleft()
            if len(times) >= count:
                self.counters["suppressed_limit"] += 1
                return "limit"
            times.append(now)
        if rule.cooldown:
            self.cooldowns[(rule.index, directive.action_index, tuple(directive.targets))] = now + rule.cooldown
        return ""

    def prune(self, now: float) -> None:
        """Forget the cooldowns that have run out at `now`: they hold nothing back."""
        self.cooldowns = {k: v for k, v in self.cooldowns.items() if v > now}

    def to_json(self) -> tuple[list[list[Any]], list[list[Any]]]:
        """The snapshot's `cooldowns` and `emitted` lists."""
        cooldowns = [[r, a, list(t), until] for (r, a, t), until in self.cooldowns.items()]
        emitted = [[r, list(times)] for r, times in sorted(self.emitted.items())]
        return cooldowns, emitted

    def restore(
        self, cooldowns: Sequence[Sequence[Any]], emitted: Sequence[Sequence[Any]], rule_at: Mapping[int, int]
    ) -> None:
        """Continue from a snapshot's lists; `rule_at` maps its rule indices to this version's
        (a rule that no longer exists has nothing to hold back)."""
        self.cooldowns = {(rule_at[r], a, tuple(t)): until for r, a, t, until in cooldowns if r in rule_at}
        self.emitted = {rule_at[r]: deque(times) for r, times in emitted if r in rule_at}
