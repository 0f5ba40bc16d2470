"""Profiles at run time: safety orders against a reference model, the risk of each delta, and
remediation plans that reach the profile, never lower a setting and are idempotent."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from profile_support import CATALOG, live_configs

from ballast.runtime.profile import Order, Window

# ---- safety orders against a reference: the reflexive-transitive closure by Floyd-Warshall ----


def closure(values: list[str], pairs: list[tuple[str, str]]) -> set[tuple[str, str]]:
    reach = {(v, v) for v in values} | set(pairs)
    for k, i, j in itertools.product(values, repeat=3):
        if (i, k) in reach and (k, j) in reach:
            reach.add((i, j))
    return reach


@st.composite
def dags(draw: st.DrawFn) -> tuple[list[str], list[tuple[str, str]]]:
    """A partial order as declared pairs over a few values: edges only from earlier to later
    values, so there is no cycle."""
    values = [f"v{i}" for i in range(draw(st.integers(2, 6)))]
    possible = [(a, b) for i, a in enumerate(values) for b in values[i + 1 :]]
    pairs = draw(st.lists(st.sampled_from(possible), min_size=1, unique=True))
    return values, pairs


@settings(max_examples=60, deadline=None)
@given(dags())
def test_a_partial_order_is_the_closure_of_its_pairs(dag: tuple[list[str], list[tuple[str, str]]]) -> None:
    values, pairs = dag
    order = Order("partial", tuple(pairs))
    reach = closure(values, pairs)
    for a, b in itertools.product(order.values, repeat=2):
        assert order.at_least(a, b) == ((a, b) in reach), (a, b, pairs)


def test_the_worded_orders() -> None:
    assert Order("higher").at_least(90, 30) and not Order("higher").at_least(30, 90)
    assert Order("lower").at_least(30, 90) and not Order("lower").at_least(90, 30)
    assert Order("true").at_least(True, False) and not Order("true").at_least(False, True)
    assert Order("false").at_least(False, True) and not Order("false").at_least(True, False)
    assert Order("exact").at_least("kms", "kms") and not Order("exact").at_least("other", "kms")
    chain = Order("chain", (("required", "optional"), ("optional", "off")))
    assert chain.at_least("required", "off") and not chain.at_least("off", "optional")
    residency = Order("partial", (("eu", "any"), ("us", "any")))
    assert not residency.at_least("us", "eu") and not residency.at_least("eu", "us")  # incomparable


# ---- deltas ----


def test_each_risk_of_a_delta() -> None:
    baseline = CATALOG["baseline"]
    live = {
        "mfa": "optional",  # weaker: unsafe
        "encryption_at_rest": "yes",  # not a boolean: unsafe
        "tls_min_version": "tls1_3",  # safer: drift
        "audit_log": "standard",  # the same
        "log_retention": 365,  # more is safer: drift
        "data_retention": 365,
        "session_timeout": "60m",  # the same as 1h, written otherwise: no delta
        "export_limit": 100000,
        "data_residency": "eu",  # safer than any: drift
        "key_provider": "other-kms",  # exact: unsafe
        "theme": "dark",  # extra
    }  # public_sharing: missing
    risks = {d.setting: d.risk for d in baseline.diff(live)}
    assert risks == {
        "mfa": "unsafe",
        "encryption_at_rest": "unsafe",
        "tls_min_version": "drift",
        "log_retention": "drift",
        "data_residency": "drift",
        "key_provider": "unsafe",
        "public_sharing": "missing",
        "theme": "extra",
    }
    messages = {d.setting: d.message for d in baseline.diff(live)}
    assert messages["mfa"] == "mfa: optional is weaker than the profile's required (required > optional > off)"
    assert messages["encryption_at_rest"].startswith('encryption_at_rest: "yes" is not a boolean')


def test_an_int_setting_refuses_booleans_and_fractions() -> None:
    baseline = CATALOG["baseline"]
    for wrong in (True, 90.5, "90", None):
        (delta,) = [d for d in baseline.diff({"log_retention": wrong}) if d.setting == "log_retention"]
        assert delta.risk == "unsafe" and "not a whole number" in delta.message


# ---- remediation: a property over random live configurations ----


@pytest.mark.parametrize("name", sorted(CATALOG))
@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_remediation_reaches_the_profile_never_lowers_and_is_idempotent(name: str, data: st.DataObject) -> None:
    profile = CATALOG[name]
    live = data.draw(live_configs(profile))
    after = profile.applied(live)
    assert profile.plan(after) == []  # reaches the profile: nothing unsafe or missing is left
    assert profile.applied(after) == after  # remediate twice == remediate once
    assert [d.risk for d in profile.diff(after)] == [
        d.risk for d in profile.diff(after) if d.risk in ("drift", "extra")
    ]
    for key, value in live.items():
        s = profile.setting(key)
        if s is None or s.at_least_as_safe(value):  # extra keys and safe values are left alone
            assert after[key] == value
        else:
            assert after[key] == s.value
    plan = [c.setting for c in profile.plan(live)]
    for i, setting in enumerate(plan):  # dependencies first
        assert all(dep not in plan[i:] for dep in profile.setting(setting).after)  # type: ignore[union-attr]


def test_the_plan_follows_the_dependency_order() -> None:
    regulated = CATALOG["regulated"]
    plan = [c.setting for c in regulated.plan({})]
    assert plan.index("encryption_at_rest") < plan.index("export_limit")
    assert plan.index("dlp_scanning") < plan.index("export_limit")
    assert plan == [s.name for s in regulated.settings]


# ---- change windows ----


@pytest.mark.parametrize(
    ("when", "open_"),
    [
        ("2026-12-05T02:00:00", True),  # Saturday, the window opens
        ("2026-12-05T05:59:00", True),
        ("2026-12-05T06:00:00", False),  # closes at 06:00
        ("2026-12-04T03:00:00", False),  # Friday
    ],
)
def test_a_window(when: str, open_: bool) -> None:
    window = Window("standard", ("sat", "sun"), "02:00", "06:00")
    assert window.open_at(dt.datetime.fromisoformat(when)) is open_


def test_a_window_past_midnight_belongs_to_the_day_it_opens() -> None:
    window = Window("night", ("fri",), "22:00", "02:00")
    assert window.open_at(dt.datetime(2026, 12, 4, 23, 0))  # Friday 23:00
    assert window.open_at(dt.datetime(2026, 12, 5, 1, 0))  # Saturday 01:00, still Friday's window
    assert not window.open_at(dt.datetime(2026, 12, 5, 23, 0))  # Saturday 23:00
    assert not window.open_at(dt.datetime(2026, 12, 4, 1, 0))  # Friday 01:00 is Thursday's night


def test_windows_are_inherited_and_overridden_by_class() -> None:
    assert [w.tenant_class for w in CATALOG["regulated"].windows] == ["standard", "enterprise", "regulated"]
    assert CATALOG["sandbox"].window("regulated") is None
