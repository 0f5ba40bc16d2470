"""Tenant scoring: hand-computed scores, missing-data fallbacks, decay, and badge hysteresis
(with property tests against the reference badge that has none)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ballast.runtime.errors import UsageError
from ballast.runtime.scoring import (
    Badge,
    Observation,
    Profile,
    Scoring,
    Signal,
    badge_with_hysteresis,
    reference_badge,
)

DAY = 86400.0
NOW = 100 * DAY
BADGES = (Badge("bronze", 50, 45), Badge("silver", 65, 60), Badge("gold", 80, 75))


def scoring(
    *, missing: str = "renormalise", decay: float | None = None, incidents_missing: str | None = None
) -> Scoring:
    signals = [
        Signal("coverage", "features.ratio", stale_after=30 * DAY, decay=decay),
        Signal("quality", "data.score", low=0, high=100, stale_after=7 * DAY),
        Signal(
            "incidents", "incidents.count", low=0, high=10, better="lower", stale_after=DAY, missing=incidents_missing
        ),
    ]
    profile = Profile("p", "1", {"coverage": 2, "quality": 1, "incidents": 1}, BADGES, missing=missing)
    return Scoring("s", "1", signals, [profile])


def seen(value: float, days_ago: float = 0.0) -> Observation:
    return Observation(value, NOW - days_ago * DAY, "test")


ALL = {"features.ratio": seen(0.9), "data.score": seen(70), "incidents.count": seen(2)}


def test_a_score_by_hand() -> None:
    # normalised: coverage 0.9, quality 0.7, incidents 1 - 2/10 = 0.8; weights 2:1:1 of 4
    # score = 100 * (2*0.9 + 0.7 + 0.8) / 4 = 82.5 → gold
    result = scoring().score("acme", ALL, "p", NOW)
    assert result.score == pytest.approx(82.5)
    assert result.badge == "gold"
    points = {f.signal: f.points for f in result.factors}
    assert points == pytest.approx({"coverage": 45.0, "quality": 17.5, "incidents": 20.0})
    percent = {f.signal: f.percent for f in result.factors}
    assert percent == pytest.approx({"coverage": 45 / 0.825, "quality": 17.5 / 0.825, "incidents": 20 / 0.825})
    assert sum(percent.values()) == pytest.approx(100.0)
    assert {f.signal: f.metric for f in result.factors} == {
        "coverage": "features.ratio",
        "quality": "data.score",
        "incidents": "incidents.count",
    }


def test_values_outside_the_range_are_clamped() -> None:
    metrics = {"features.ratio": seen(1.7), "data.score": seen(-5), "incidents.count": seen(40)}
    result = scoring().score("acme", metrics, "p", NOW)
    assert {f.signal: f.normalised for f in result.factors} == {"coverage": 1.0, "quality": 0.0, "incidents": 0.0}
    assert result.score == pytest.approx(50.0)


def test_missing_renormalise_leaves_the_signal_out_and_rescales() -> None:
    metrics = {"features.ratio": seen(0.9), "incidents.count": seen(2)}  # no data.score
    result = scoring(missing="renormalise").score("acme", metrics, "p", NOW)
    # 100 * (2*0.9 + 0.8) / 3 = 86.67
    assert result.score == pytest.approx(260 / 3)
    quality = next(f for f in result.factors if f.signal == "quality")
    assert (quality.state, quality.fallback, quality.share, quality.points) == ("missing", "renormalise", 0.0, 0.0)


def test_missing_zero_counts_the_signal_as_its_worst() -> None:
    metrics = {"features.ratio": seen(0.9), "incidents.count": seen(2)}
    result = scoring(missing="zero").score("acme", metrics, "p", NOW)
    assert result.score == pytest.approx(100 * (1.8 + 0 + 0.8) / 4)  # 65: silver
    assert result.badge == "silver"


def test_missing_block_withholds_the_badge_but_shows_the_score() -> None:
    metrics = {"features.ratio": seen(0.9), "incidents.count": seen(2)}
    result = scoring(missing="block").score("acme", metrics, "p", NOW, previous_badge="gold")
    assert result.score == pytest.approx(260 / 3)
    assert result.badge is None and result.blocked_by == ("quality",)
    assert "badge withheld" in result.reasons[0]


def test_a_signals_own_fallback_wins_over_the_profiles() -> None:
    metrics = {"features.ratio": seen(0.9), "data.score": seen(70)}  # no incident count
    result = scoring(missing="block", incidents_missing="zero").score("acme", metrics, "p", NOW)
    assert result.badge is not None and result.score == pytest.approx(100 * (1.8 + 0.7) / 4)


def test_nothing_counted_means_no_score_and_no_badge() -> None:
    result = scoring().score("acme", {}, "p", NOW, previous_badge="gold")
    assert result.score is None and result.badge is None
    assert all(f.points == 0 and f.percent == 0 for f in result.factors)


def test_a_stale_signal_without_decay_counts_as_missing() -> None:
    metrics = {**ALL, "data.score": seen(70, days_ago=8)}  # stale after 7 days
    result = scoring().score("acme", metrics, "p", NOW)
    quality = next(f for f in result.factors if f.signal == "quality")
    assert (quality.state, quality.fallback, quality.value) == ("stale", "renormalise", 70.0)
    assert result.score == pytest.approx(100 * (1.8 + 0.8) / 3)


def test_a_stale_signal_with_decay_halves_every_half_life() -> None:
    s = scoring(decay=10 * DAY)
    for days_ago, factor in ((30, 1.0), (40, 0.5), (50, 0.25)):
        metrics = {**ALL, "features.ratio": seen(0.9, days_ago=days_ago)}
        coverage = next(f for f in s.score("acme", metrics, "p", NOW).factors if f.signal == "coverage")
        assert coverage.decay_factor == pytest.approx(factor)
        assert coverage.normalised == pytest.approx(0.9 * factor)
        assert coverage.state == ("fresh" if factor == 1.0 else "decayed")


def test_decay_lowers_the_badge_over_time() -> None:
    s = scoring(decay=10 * DAY)
    badges = []
    for day in range(0, 80, 5):  # coverage last observed at NOW; quality and incidents kept fresh
        now = NOW + day * DAY
        metrics = {
            "features.ratio": seen(0.9),
            "data.score": Observation(70, now),
            "incidents.count": Observation(2, now),
        }
        badges.append(s.score("acme", metrics, "p", now, previous_badge=badges[-1] if badges else None).badge)
    # at the end coverage has decayed 4.5 half-lives: 100 * (2 * 0.9 * 0.044 + 0.7 + 0.8) / 4 = 39.5
    assert badges[0] == "gold" and badges[-1] is None
    ranks = [[None, "bronze", "silver", "gold"].index(b) for b in badges]
    assert ranks == sorted(ranks, reverse=True)  # only ever down while the signal ages


def test_observations_after_now_are_not_known_yet() -> None:
    metrics = {**ALL, "data.score": Observation(70, NOW + 1, "later")}
    quality = next(f for f in scoring().score("acme", metrics, "p", NOW).factors if f.signal == "quality")
    assert quality.state == "missing"


def test_an_unknown_profile_is_a_usage_error_with_a_suggestion() -> None:
    with pytest.raises(UsageError, match=r"no profile 'q'.*the profiles are: p"):
        scoring().score("acme", ALL, "q", NOW)
    catalog = Scoring("s", "1", [], [Profile("regulator", "1", {}, BADGES)])
    with pytest.raises(UsageError, match="did you mean 'regulator'"):
        catalog.profile("regulater")


# --- hysteresis ---------------------------------------------------------------------------------------


def test_hysteresis_keeps_a_badge_down_to_its_exit_level() -> None:
    assert badge_with_hysteresis(77, BADGES, None) == "silver"  # no previous badge: the reference
    assert badge_with_hysteresis(77, BADGES, "gold") == "gold"  # 77 ≥ gold's exit 75
    assert badge_with_hysteresis(74, BADGES, "gold") == "silver"  # below the exit: the reference
    assert badge_with_hysteresis(58, BADGES, "gold") == "bronze"  # straight to the reference, not to silver
    assert badge_with_hysteresis(81, BADGES, "bronze") == "gold"  # entering a higher badge
    assert badge_with_hysteresis(44, BADGES, "bronze") is None
    assert badge_with_hysteresis(46, BADGES, "no-longer-declared") == reference_badge(46, BADGES) is None


def test_the_reason_says_when_hysteresis_keeps_a_badge() -> None:
    metrics = {"features.ratio": seen(0.75), "data.score": seen(70), "incidents.count": seen(2)}  # 75.0
    result = scoring().score("acme", metrics, "p", NOW, previous_badge="gold")
    assert (result.badge, result.reference_badge) == ("gold", "silver")
    assert result.reasons == (
        "keeps 'gold' (hysteresis): 75.0 is under its enter level 80 but not under its exit level 75",
    )


def run(series: list[float], *, hysteresis: bool) -> list[str | None]:
    out: list[str | None] = []
    for score in series:
        previous = out[-1] if out else None
        out.append(badge_with_hysteresis(score, BADGES, previous) if hysteresis else reference_badge(score, BADGES))
    return out


def changes(badges: list[str | None]) -> int:
    return sum(1 for a, b in itertools.pairwise(badges) if a != b)


scores = st.floats(min_value=0, max_value=100, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(st.lists(scores, min_size=1, max_size=60))
def test_hysteresis_never_changes_the_badge_more_often_than_the_reference(series: list[float]) -> None:
    assert changes(run(series, hysteresis=True)) <= changes(run(series, hysteresis=False))


BAND = min(b.enter - b.exit for b in BADGES)


@settings(max_examples=300, deadline=None)
@given(
    st.floats(min_value=0, max_value=100, allow_nan=False),
    st.lists(st.floats(min_value=-BAND / 2, max_value=BAND / 2, allow_nan=False), min_size=2, max_size=60),
)
def test_noise_smaller_than_the_band_never_makes_the_badge_flap(centre: float, noise: list[float]) -> None:
    series = [min(100.0, max(0.0, centre + n)) for n in noise]  # spread at most the band
    ranks = [-1 if b is None else [x.name for x in BADGES].index(b) for b in run(series, hysteresis=True)]
    assert ranks == sorted(ranks)  # never loses a badge it entered: no flapping


def test_the_reference_does_flap_on_the_same_noise() -> None:
    series = [79.0, 81.0, 79.0, 81.0, 79.0]  # ±1 around gold's enter level, within its 5-point band
    assert changes(run(series, hysteresis=False)) == 4
    assert changes(run(series, hysteresis=True)) == 1


observations = st.lists(st.tuples(st.floats(0, 1), st.floats(0, 100), st.integers(0, 10)), min_size=1, max_size=40)


@settings(max_examples=150, deadline=None)
@given(observations)
def test_over_random_signal_series_the_badge_changes_no_more_than_the_reference(series: list) -> None:
    # the whole path: metrics → Scoring.score → badge, each day's badge fed back as the previous one
    s = scoring()
    held: list[str | None] = []
    reference: list[str | None] = []
    for day, (coverage, quality, incidents) in enumerate(series):
        now = NOW + day * DAY
        metrics = {
            "features.ratio": Observation(coverage, now),
            "data.score": Observation(quality, now),
            "incidents.count": Observation(incidents, now),
        }
        result = s.score("acme", metrics, "p", now, previous_badge=held[-1] if held else None)
        held.append(result.badge)
        reference.append(result.reference_badge)
        assert result.reference_badge == reference_badge(result.score, BADGES)
    assert changes(held) <= changes(reference)
