"""Decisions and the rule-by-rule comparison of two runs (`ballast replay`, `ballast shadow`).

A `Decision` is one directive a rule issued, placed in time. Two runs of the same world with a
baseline and a candidate policy set are compared per rule on *when* and *what*: the multiset of
`(action, targets)` at each instant `t_s`. The causing event and its position (`seq`) are kept
to explain a divergence but never compared: in a closed-loop run the two worlds diverge, so the
events behind two equal decisions may differ.

The comparison is streaming: `DecisionDiff.add` takes the decisions of one instant, instants in
increasing time, so a replay of millions of events holds one instant in memory at a time.
`diff_decisions` is the same comparison over two whole lists.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ballast.runtime.policy import PolicySet, Result

RuleKey = tuple[str, str]  # (policy, rule)
_Shape = tuple[str, tuple[str, ...]]  # (action, targets): what two decisions are compared on


@dataclass(frozen=True)
class Decision:
    """One directive issued by a rule, at a time of the run."""

    t_s: float  # seconds since the run's start
    time: str | None  # ISO 8601 UTC; None when the telemetry carries no event time
    seq: int  # index of the causing event in its stream: orders decisions, never compared
    policy: str
    rule: str
    action: str
    targets: tuple[str, ...]
    event: Mapping[str, Any]  # the event the rule decided on (in a replay, its directive's event)

    @property
    def shape(self) -> _Shape:
        return (self.action, self.targets)


def decisions_of(result: Result, *, t_s: float, time: str | None, seq: int) -> list[Decision]:
    """The decisions in a runtime Result (one per directive), placed at `t_s`/`time`/`seq`.

    Each keeps the event its directive was decided on (`Directive.event`), not the event being
    processed: an Engine decides on a key's newest event, which an out-of-order event of
    another service in the same group leaves in place.
    """
    return [Decision(t_s, time, seq, d.policy, d.rule, d.action, tuple(d.targets), d.event) for d in result.directives]


class _RuleDiff:
    """One rule's decisions on both sides: counts and the first instant where they differ."""

    __slots__ = ("baseline", "candidate", "differs", "first")

    def __init__(self) -> None:
        self.baseline = 0
        self.candidate = 0
        self.differs = False
        self.first: dict[str, Any] | None = None

    def add(self, t_s: float, baseline: list[Decision], candidate: list[Decision]) -> None:
        self.baseline += len(baseline)
        self.candidate += len(candidate)
        b = Counter(d.shape for d in baseline)
        c = Counter(d.shape for d in candidate)
        if b == c:
            return
        self.differs = True
        if self.first is not None:
            return
        # the earliest decision (by event, baseline first on a tie) whose (action, targets)
        # occurs a different number of times on the two sides
        ordered = sorted([(d.seq, 0, d) for d in baseline] + [(d.seq, 1, d) for d in candidate], key=lambda x: x[:2])
        culprit = next(d for _, _, d in ordered if b[d.shape] != c[d.shape])
        self.first = {
            "t_s": round(t_s, 6),
            "time": culprit.time,
            "event": dict(culprit.event),
            "baseline": _shapes(baseline),
            "candidate": _shapes(candidate),
        }


def _shapes(decisions: list[Decision]) -> list[dict[str, Any]]:
    return [{"action": a, "targets": list(t)} for a, t in sorted(d.shape for d in decisions)]


class DecisionDiff:
    """The rule-by-rule comparison of two decision streams, fed one instant at a time.

    Call `add` once per instant with every decision made at that `t_s` on each side, instants
    in increasing time (an instant split over two calls could look different where it is not),
    then `entries` for the report.
    """

    def __init__(self) -> None:
        self._rules: dict[RuleKey, _RuleDiff] = {}

    def add(self, t_s: float, baseline: Sequence[Decision], candidate: Sequence[Decision]) -> None:
        """The decisions of the instant `t_s` on each side (either may be empty)."""
        by_rule: dict[RuleKey, tuple[list[Decision], list[Decision]]] = defaultdict(lambda: ([], []))
        for d in baseline:
            by_rule[(d.policy, d.rule)][0].append(d)
        for d in candidate:
            by_rule[(d.policy, d.rule)][1].append(d)
        for key, (b, c) in by_rule.items():
            diff = self._rules.get(key)
            if diff is None:
                diff = self._rules[key] = _RuleDiff()
            diff.add(t_s, b, c)

    def add_counts(self, key: RuleKey, baseline: int, candidate: int) -> None:
        """Directives of one rule, each at an instant of its own, counted in bulk (the columnar
        engine's count of what `add` would have counted one by one): alike on both sides, or
        apart where the rule's first divergence was already added by `add`."""
        diff = self._rules.get(key)
        if diff is None:
            diff = self._rules[key] = _RuleDiff()
        assert baseline == candidate or diff.first is not None, f"{key}: counted apart before its first divergence"
        diff.baseline += baseline
        diff.candidate += candidate

    def entries(
        self, *, baseline_rules: Iterable[RuleKey], candidate_rules: Iterable[RuleKey], seed: int | None = None
    ) -> list[dict[str, Any]]:
        """One rule decision diff entry per rule of either side, sorted by (policy, rule)."""
        in_baseline, in_candidate = set(baseline_rules), set(candidate_rules)
        out = []
        for key in sorted(in_baseline | in_candidate | set(self._rules)):
            diff = self._rules.get(key) or _RuleDiff()
            # a rule that fired on a side exists there even if the caller did not list it
            on_b = key in in_baseline or diff.baseline > 0
            on_c = key in in_candidate or diff.candidate > 0
            first = None if diff.first is None else {"seed": seed, **diff.first}
            out.append(_entry(key, diff.baseline, diff.candidate, _change(on_b, on_c, diff), first))
        return out


def _change(on_baseline: bool, on_candidate: bool, diff: _RuleDiff) -> str:
    if not on_candidate:
        return "removed"
    if not on_baseline:
        return "added"
    if diff.candidate != diff.baseline:
        return "more" if diff.candidate > diff.baseline else "less"
    return "retimed" if diff.differs else "same"


def _entry(key: RuleKey, baseline: int, candidate: int, change: str, first: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "policy": key[0],
        "rule": key[1],
        "baseline": baseline,
        "candidate": candidate,
        "change": change,
        "first_divergence": first,
    }


def diff_decisions(
    baseline: Sequence[Decision],
    candidate: Sequence[Decision],
    *,
    baseline_rules: Iterable[RuleKey],
    candidate_rules: Iterable[RuleKey],
    seed: int | None = None,
) -> list[dict[str, Any]]:
    """Rule decision diff entries (docs/replay.md) for two runs' decisions.

    One entry per (policy, rule) of either side, sorted. Decisions are compared per rule on
    (t_s, action, targets) as multisets; `seq` and `event` are not compared. `first_divergence`
    is the earliest t_s where a rule's multisets of (action, targets) differ, with the event of
    the first differing decision there; null for a rule whose decisions are the same. `seed` is
    copied into each first divergence (the shadow run's seed; None for a replay).
    """
    instants: dict[float, tuple[list[Decision], list[Decision]]] = defaultdict(lambda: ([], []))
    for d in baseline:
        instants[d.t_s][0].append(d)
    for d in candidate:
        instants[d.t_s][1].append(d)
    diff = DecisionDiff()
    for t_s in sorted(instants):
        diff.add(t_s, *instants[t_s])
    return diff.entries(baseline_rules=baseline_rules, candidate_rules=candidate_rules, seed=seed)


def merge_rule_diffs(per_seed: Sequence[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Rule decision diff entries of several seeds as one list, sorted by (policy, rule).

    Counts are summed; `change` is recomputed from the sums (equal sums with a difference in
    any seed is `retimed`; a rule on one side only stays `added`/`removed`); `first_divergence`
    is that of the first seed, in the given order, that has one.
    """
    merged: dict[RuleKey, dict[str, Any]] = {}
    changes: dict[RuleKey, set[str]] = defaultdict(set)
    for entries in per_seed:
        for e in entries:
            key = (e["policy"], e["rule"])
            changes[key].add(e["change"])
            m = merged.get(key)
            if m is None:
                merged[key] = dict(e)
                continue
            m["baseline"] += e["baseline"]
            m["candidate"] += e["candidate"]
            if m["first_divergence"] is None:
                m["first_divergence"] = e["first_divergence"]
    for key, m in merged.items():
        seen = changes[key]
        if "added" in seen or "removed" in seen:
            m["change"] = "added" if "added" in seen else "removed"
        elif m["candidate"] != m["baseline"]:
            m["change"] = "more" if m["candidate"] > m["baseline"] else "less"
        else:
            m["change"] = "same" if seen == {"same"} else "retimed"
    return [merged[key] for key in sorted(merged)]


__all__ = ["Decision", "DecisionDiff", "decisions_of", "diff_decisions", "merge_rule_diffs"]


def rule_keys(policies: PolicySet) -> list[RuleKey]:
    """(policy, rule) of every rule in a set: the `baseline_rules`/`candidate_rules` of a diff."""
    return [(p.name, r.name) for p in policies.policies for r in p.rules]


def policy_list(policies: PolicySet) -> list[dict[str, str]]:
    """A report's description of a set: name, version and kind of each policy, threat and supervisor."""
    out = [{"name": p.name, "version": p.version, "kind": "policy"} for p in policies.policies]
    out += [{"name": t["name"], "version": t.get("version", ""), "kind": "threat"} for t in policies.threats]
    out += [{"name": s["name"], "version": s.get("version", ""), "kind": "supervisor"} for s in policies.supervisors]
    return out
