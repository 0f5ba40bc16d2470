"""Tenant maturity scoring (issue 15 §3): a score from 0 to 100, a badge, and why.

A scoring document (compiled by `ballast.compiler.kinds.scoring`) declares **signals**, each
read from one named metric of a tenant, and **profiles** (`regulator`, `csm`, `tech_ops`, …)
that weigh them and award **badges**. For one tenant, one profile and one moment `now`:

1. **Normalise.** A signal's metric value `v` is clamped to `[low, high]` and mapped to
   `(v - low) / (high - low)`, or to one minus that when lower is better (`better "lower"`,
   such as incident counts). The result is in [0, 1].
2. **Freshness and decay.** An observation older than the signal's `stale_after` is stale. A
   stale signal with a `decay` half-life keeps a decaying share of its value: it is multiplied by
   `0.5 ** ((age - stale_after) / decay)`. A stale signal without `decay` counts as missing.
   Observations later than `now` are not known yet.
3. **Missing data.** A signal the profile weighs but the tenant lacks (or whose value went stale
   without decay) falls back as declared on the signal, else on the profile, else
   `renormalise`: **renormalise** leaves it out and the other weights are rescaled to sum to
   one; **zero** counts it as 0 with its full weight; **block** leaves it out like renormalise
   *and* withholds the badge (the score is still shown).
4. **Score.** `100 × Σ wᵢ·xᵢ / Σ wᵢ` over the signals counted, where `wᵢ` is the profile's
   weight and `xᵢ` the decayed, normalised value. A factor's `points` are its term of that sum,
   its `percent` its share of the score (the percents of a positive score add up to 100).
   When no signal is counted there is no score and no badge.
5. **Badge with hysteresis.** Badges are levels ordered by their `enter` score; each also has
   an `exit` score below its `enter`. Without a previous badge, the tenant gets the highest
   badge whose `enter` the score reaches (the *reference* badge). With a previous badge `P`:
   a higher reference badge is taken (entering); otherwise `P` is kept as long as the score is
   at least `P.exit`; once it falls below, the tenant gets the reference badge. So every change
   of badge lands on the reference badge, which is why the badge under hysteresis never changes
   more often than the reference, and a score whose spread stays within the band
   (`enter - exit`) never loses a badge it entered.

Everything here is computed from the arguments alone: the same inputs give the same `Score`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ballast.runtime.errors import UsageError
from ballast.runtime.suggest import did_you_mean

SCORING_FORMAT = 1
MISSING_MODES = ("renormalise", "zero", "block")
DEFAULT_MISSING = "renormalise"
BETTER = ("higher", "lower")
# Numbers in reports: enough digits to recompute by hand, few enough to stay byte-stable.
DIGITS = 4


@dataclass(frozen=True)
class Signal:
    """One signal: which metric it reads and how (see the module docstring, steps 1–3)."""

    name: str
    metric: str
    low: float = 0.0
    high: float = 1.0
    better: str = "higher"
    stale_after: float = math.inf  # seconds
    decay: float | None = None  # half-life in seconds, once stale
    missing: str | None = None  # None: the profile's fallback
    about: str = ""

    def normalise(self, value: float) -> float:
        """The value on [0, 1], 1 being best."""
        x = (min(max(value, self.low), self.high) - self.low) / (self.high - self.low)
        return 1.0 - x if self.better == "lower" else x


@dataclass(frozen=True)
class Badge:
    """A badge level: entered at `enter`, kept down to `exit` (scores on 0..100)."""

    name: str
    enter: float
    exit: float


@dataclass(frozen=True)
class Profile:
    """One audience's weighting: weights by signal, fallback for missing data, badges (lowest
    first), its version (the document's unless it declares one) and its bias-guard justification."""

    name: str
    version: str
    weights: Mapping[str, float]
    badges: tuple[Badge, ...]
    missing: str = DEFAULT_MISSING
    justification: str = ""
    about: str = ""

    def shares(self) -> dict[str, float]:
        """Each weighed signal's share of the total weight (they sum to 1)."""
        total = sum(self.weights.values())
        return {name: weight / total for name, weight in self.weights.items() if weight > 0}


@dataclass(frozen=True)
class Observation:
    """A metric's value at a time, with where it was read (`tenants/acme.jsonl:3`)."""

    value: float
    time: float
    source: str = ""


@dataclass(frozen=True)
class Factor:
    """One signal's part in a score.

    `state` is `fresh`, `decayed` (stale, with its decay applied), `missing` (no observation) or
    `stale` (too old and no decay: treated as missing); `fallback` is the mode applied when it
    was missing or stale, else "". `points` and `percent` are 0 for a factor not counted."""

    signal: str
    metric: str
    weight: float  # the profile's weight
    share: float  # its share of the weights counted (0 when not counted)
    state: str
    fallback: str
    value: float | None  # the metric's raw value
    observed_at: float | None
    source: str
    normalised: float | None  # after decay
    decay_factor: float
    points: float
    percent: float
    about: str = ""  # what the signal measures, as its document says

    def to_json(self) -> dict[str, Any]:
        return {
            "signal": self.signal,
            "about": self.about or None,
            "metric": self.metric,
            "weight": _round(self.weight),
            "share": _round(self.share),
            "state": self.state,
            "fallback": self.fallback or None,
            "value": self.value,
            "observed_at": self.observed_at,
            "source": self.source or None,
            "normalised": None if self.normalised is None else _round(self.normalised),
            "decay_factor": _round(self.decay_factor),
            "points": _round(self.points),
            "percent": _round(self.percent),
        }


@dataclass(frozen=True)
class Score:
    """A tenant's score under one profile at one time: the score (None when nothing counted),
    the badge (None for none or withheld), and every factor."""

    tenant: str
    profile: str
    version: str
    time: float
    score: float | None
    badge: str | None
    previous_badge: str | None
    reference_badge: str | None
    blocked_by: tuple[str, ...]
    factors: tuple[Factor, ...]
    reasons: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "profile": self.profile,
            "version": self.version,
            "time": self.time,
            "score": None if self.score is None else _round(self.score),
            "badge": self.badge,
            "previous_badge": self.previous_badge,
            "reference_badge": self.reference_badge,
            "blocked_by": list(self.blocked_by),
            "reasons": list(self.reasons),
            "factors": [f.to_json() for f in self.factors],
        }


def _round(value: float) -> float:
    rounded = round(value, DIGITS)
    return 0.0 if rounded == 0 else rounded  # never -0.0


def reference_badge(score: float | None, badges: Sequence[Badge]) -> str | None:
    """The highest badge whose `enter` the score reaches, without hysteresis (None: none)."""
    if score is None:
        return None
    reached = [b.name for b in badges if score >= b.enter]
    return reached[-1] if reached else None


def badge_with_hysteresis(score: float | None, badges: Sequence[Badge], previous: str | None) -> str | None:
    """The badge after `previous` for `score` (module docstring, step 5); `badges` lowest first."""
    reference = reference_badge(score, badges)
    names = [b.name for b in badges]
    if score is None or previous not in names:
        return reference
    held = badges[names.index(previous)]
    if reference is not None and names.index(reference) > names.index(previous):
        return reference  # entering a higher badge
    return previous if score >= held.exit else reference


@dataclass(frozen=True)
class Decisive:
    """A signal that decides badges alone (the bias guard): the badges it can **veto** (at its
    worst, with every other signal at its best, the score `100 × (1 − share)` is under their
    `enter`) and those it can **grant** (at its best, every other at its worst, the score
    `100 × share` reaches their `enter`). Computed with every weighed signal present."""

    signal: str
    share: float
    vetoes: tuple[Badge, ...]
    grants: tuple[Badge, ...]

    def explain(self) -> str:
        """Why, in numbers: the one sentence the compile error prints."""
        parts = []
        if self.vetoes:
            best = 100.0 * (1.0 - self.share)
            names = ", ".join(f"'{b.name}' (enter {b.enter:g})" for b in self.vetoes)
            parts.append(f"at its worst, with every other signal at its best, the score is {best:.4g}, under {names}")
        if self.grants:
            worst = 100.0 * self.share
            names = ", ".join(f"'{b.name}' (enter {b.enter:g})" for b in self.grants)
            parts.append(
                f"at its best, with every other signal at its worst, the score is {worst:.4g}, enough for {names}"
            )
        return f"signal '{self.signal}' is {100.0 * self.share:.4g}% of the weight: " + "; ".join(parts)


def decisive_signals(weights: Mapping[str, float], badges: Sequence[Badge]) -> list[Decisive]:
    """The signals of a weight set that decide a badge alone (see `Decisive`), in weight order."""
    total = sum(w for w in weights.values() if w > 0)
    out = []
    for name, weight in weights.items():
        if weight <= 0 or total <= 0:
            continue
        share = weight / total
        vetoes = tuple(b for b in badges if 100.0 * (1.0 - share) < b.enter)
        grants = tuple(b for b in badges if 100.0 * share >= b.enter)
        if vetoes or grants:
            out.append(Decisive(name, share, vetoes, grants))
    return out


def largest_fair_share(badges: Sequence[Badge]) -> float:
    """The largest share a signal may have without deciding any of `badges` alone (as a fraction):
    at most `1 − highest enter/100` (no veto) and under `lowest enter/100` (no grant)."""
    if not badges:
        return 1.0
    return min(1.0 - max(b.enter for b in badges) / 100.0, min(b.enter for b in badges) / 100.0)


class Scoring:
    """A compiled scoring document: its signals and profiles, ready to score tenants."""

    def __init__(self, name: str, version: str, signals: Sequence[Signal], profiles: Sequence[Profile]) -> None:
        self.name = name
        self.version = version
        self.signals = {s.name: s for s in signals}
        self.profiles = {p.name: p for p in profiles}

    @classmethod
    def from_ir(cls, entry: Mapping[str, Any]) -> Scoring:
        """The scoring document of an IR entry (`ballast.compiler.kinds.scoring` writes it)."""
        signals = [
            Signal(
                name=s["name"],
                metric=s["metric"],
                low=s["low"],
                high=s["high"],
                better=s["better"],
                stale_after=s["stale_after_seconds"],
                decay=s["decay_seconds"],
                missing=s["missing"],
                about=s["about"],
            )
            for s in entry["signals"]
        ]
        profiles = [
            Profile(
                name=p["name"],
                version=p["version"],
                weights=dict(p["weights"]),
                badges=tuple(Badge(b["name"], b["enter"], b["exit"]) for b in p["badges"]),
                missing=p["missing"],
                justification=p["justification"],
                about=p["about"],
            )
            for p in entry["profiles"]
        ]
        return cls(entry["name"], entry["version"], signals, profiles)

    def profile(self, name: str) -> Profile:
        """The profile called `name`; a UsageError naming the ones there are otherwise."""
        if name not in self.profiles:
            hint = did_you_mean(name, self.profiles) or f"the profiles are: {', '.join(self.profiles)}"
            raise UsageError(f"scoring '{self.name}' has no profile '{name}': {hint}")
        return self.profiles[name]

    def score(
        self,
        tenant: str,
        metrics: Mapping[str, Observation],
        profile: str | Profile,
        now: float,
        previous_badge: str | None = None,
    ) -> Score:
        """Score one tenant from its latest observation of each metric (see the module docstring)."""
        chosen = profile if isinstance(profile, Profile) else self.profile(profile)
        drafts: list[dict[str, Any]] = []
        blocked: list[str] = []
        for name, weight in chosen.weights.items():
            if weight <= 0:
                continue
            signal = self.signals[name]
            drafts.append(self._draft(signal, weight, metrics.get(signal.metric), chosen, now, blocked))
        counted = sum(d["weight"] for d in drafts if d["counted"])
        total = sum(d["weight"] * d["normalised"] for d in drafts if d["counted"]) / counted if counted else None
        score = None if total is None else 100.0 * total
        factors = []
        for d in drafts:
            share = d["weight"] / counted if d["counted"] and counted else 0.0
            points = 100.0 * share * d["normalised"] if d["counted"] else 0.0
            percent = 100.0 * points / score if score else 0.0
            factors.append(
                Factor(
                    signal=d["signal"].name,
                    metric=d["signal"].metric,
                    weight=d["weight"],
                    share=share,
                    state=d["state"],
                    fallback=d["fallback"],
                    value=d["value"],
                    observed_at=d["observed_at"],
                    source=d["source"],
                    normalised=d["normalised"] if d["counted"] else None,
                    decay_factor=d["decay_factor"],
                    points=points,
                    percent=percent,
                    about=d["signal"].about,
                )
            )
        reference = reference_badge(score, chosen.badges)
        reasons = []
        if blocked:
            badge = None
            reasons.append(f'badge withheld: {", ".join(blocked)} missing and declared `missing "block"`')
        else:
            badge = badge_with_hysteresis(score, chosen.badges, previous_badge)
            if score is None:
                reasons.append("no signal could be counted: no score")
            elif badge != reference:
                held = next(b for b in chosen.badges if b.name == badge)
                reasons.append(
                    f"keeps '{badge}' (hysteresis): {score:.1f} is under its enter level {held.enter:g} "
                    f"but not under its exit level {held.exit:g}"
                )
        return Score(
            tenant=tenant,
            profile=chosen.name,
            version=chosen.version,
            time=now,
            score=score,
            badge=badge,
            previous_badge=previous_badge,
            reference_badge=reference,
            blocked_by=tuple(blocked),
            factors=tuple(factors),
            reasons=tuple(reasons),
        )

    @staticmethod
    def _draft(
        signal: Signal, weight: float, seen: Observation | None, profile: Profile, now: float, blocked: list[str]
    ) -> dict[str, Any]:
        draft: dict[str, Any] = {
            "signal": signal,
            "weight": weight,
            "value": None,
            "observed_at": None,
            "source": "",
            "decay_factor": 1.0,
            "fallback": "",
            "normalised": 0.0,
            "counted": True,
        }
        if seen is not None and seen.time <= now:
            draft.update(value=seen.value, observed_at=seen.time, source=seen.source)
            age = now - seen.time
            if age <= signal.stale_after:
                draft.update(state="fresh", normalised=signal.normalise(seen.value))
                return draft
            if signal.decay is not None:
                factor = 0.5 ** ((age - signal.stale_after) / signal.decay)
                draft.update(state="decayed", decay_factor=factor, normalised=signal.normalise(seen.value) * factor)
                return draft
            draft["state"] = "stale"
        else:
            draft["state"] = "missing"
        mode = signal.missing or profile.missing
        draft["fallback"] = mode
        if mode == "zero":
            draft["normalised"] = 0.0
        else:
            draft["counted"] = False
            if mode == "block":
                blocked.append(signal.name)
        return draft


__all__ = [
    "BETTER",
    "DEFAULT_MISSING",
    "MISSING_MODES",
    "SCORING_FORMAT",
    "Badge",
    "Decisive",
    "Factor",
    "Observation",
    "Profile",
    "Score",
    "Scoring",
    "Signal",
    "badge_with_hysteresis",
    "decisive_signals",
    "largest_fair_share",
    "reference_badge",
]
