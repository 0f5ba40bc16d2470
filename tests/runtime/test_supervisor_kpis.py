"""Snapshots: each KPI against a reference computed from the generated outcomes, the window's
bounds, and missing data as "no data", never 0 or 100 %."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from ballast.compiler.pipeline import compile_paths
from ballast.runtime.audit import AuditLog, audit_entry
from ballast.runtime.governance import Governance, Router
from ballast.runtime.supervisor_kpis import HIGHER, LOWER, Goal, Reading, build_snapshot, outcome_entry, shortfall
from ballast.runtime.values import iso, parse_timestamp

T0 = 1_796_306_400.0  # 2026-12-03T16:00:00Z
WINDOW = 300.0

outcomes = st.lists(
    st.tuples(
        st.floats(min_value=-100, max_value=400, allow_nan=False),  # seconds after T0
        st.booleans(),  # succeeded
        st.floats(min_value=0, max_value=600, allow_nan=False),  # recovery seconds
        st.booleans(),  # overridden
    ),
    max_size=40,
)
decisions = st.lists(
    st.tuples(
        st.floats(min_value=-100, max_value=400, allow_nan=False),
        st.sampled_from(["DirectiveIssued", "DirectiveHeld", "IntentRouted"]),
        st.sampled_from(["approved", "refused", "pending"]),
        st.integers(min_value=0, max_value=4),
    ),
    max_size=40,
)


def decision_entry(t: float, kind: str, outcome: str, tier: int) -> dict:
    return audit_entry(kind, {"t": t}, "s", "a", "scope", outcome, f"deploy: tier {tier}", iso(T0 + t), "how")


@settings(max_examples=60, deadline=None)
@given(outcomes, decisions, st.floats(min_value=0, max_value=300, allow_nan=False))
def test_every_kpi_matches_the_reference(outs: list, decs: list, now_offset: float) -> None:
    now = T0 + now_offset
    entries = [
        outcome_entry(f"d{i}", succeeded=ok, when=T0 + t, actor="x", recovery_seconds=r, overridden=o)
        for i, (t, ok, r, o) in enumerate(outs)
    ] + [decision_entry(*d) for d in decs]
    snap = build_snapshot(entries, [Goal("overall_success_rate", 0.95)], at=now, window_seconds=WINDOW)

    def inside(t: float) -> bool:  # compare the time the entry says, as the snapshot reads it
        when = parse_timestamp(iso(T0 + t))
        return when is not None and now - WINDOW < when <= now

    outs_in = [o for o in outs if inside(o[0])]
    decs_in = [d for d in decs if inside(d[0])]
    succeeded = [o for o in outs_in if o[1]]
    reference = {
        "overall_success_rate": (len(succeeded) / len(outs_in) if outs_in else None, len(outs_in)),
        "mean_recovery_seconds": (
            sum(o[2] for o in succeeded) / len(succeeded) if succeeded else None,
            len(succeeded),
        ),
        "human_intervention_rate": (sum(o[3] for o in outs_in) / len(outs_in) if outs_in else None, len(outs_in)),
    }
    routed = [d for d in decs_in if d[1] in ("DirectiveIssued", "IntentRouted")]
    autonomous = [d for d in routed if d[1] == "DirectiveIssued" or (d[2] == "approved" and d[3] in (1, 2))]
    reference["autonomy_rate"] = (len(autonomous) / len(routed) if routed else None, len(routed))
    judged = [d for d in decs_in if d[1] in ("DirectiveIssued", "DirectiveHeld")]
    issued = [d for d in judged if d[1] == "DirectiveIssued"]
    reference["compliance_score"] = (100 * len(issued) / len(judged) if judged else None, len(judged))
    for name, (value, samples) in reference.items():
        reading = snap.readings[name]
        assert reading.samples == samples, name
        if value is None:
            assert reading.value is None, name  # no data is never 0 or 1
        else:
            assert reading.value is not None and abs(reading.value - value) < 1e-9, name
    assert snap.entries == len(outs_in) + len(decs_in)
    gap = snap.gap("overall_success_rate")
    assert gap is not None and gap.observed == snap.value("overall_success_rate")
    assert gap.gap == (None if gap.observed is None else 0.95 - gap.observed)


@given(st.floats(min_value=0, max_value=100), st.floats(min_value=0, max_value=100))
def test_a_positive_gap_is_a_shortfall_whichever_way_is_better(target: float, observed: float) -> None:
    assert (shortfall(HIGHER, target, observed) > 0) == (observed < target)
    assert (shortfall(LOWER, target, observed) > 0) == (observed > target)
    assert shortfall(HIGHER, target, None) is None


def test_the_window_is_open_at_its_start_and_closed_at_its_end() -> None:
    entries = [outcome_entry(f"d{t}", succeeded=t != 300, when=T0 + t, actor="x") for t in (0, 1, 300, 301)]
    snap = build_snapshot(entries, [], at=T0 + 300, window_seconds=WINDOW)
    assert snap.readings["overall_success_rate"].samples == 2  # 1 and 300: not 0, not 301
    assert snap.value("overall_success_rate") == 0.5


def test_an_empty_window_has_no_data_and_untimed_entries_are_counted_not_guessed() -> None:
    untimed = outcome_entry("d", succeeded=True, when=T0, actor="x")
    untimed["narrative"]["when"] = None
    snap = build_snapshot(
        [untimed, {"kind": "ActionOutcome"}], [Goal("mean_recovery_seconds", 30)], at=T0, window_seconds=60
    )
    assert snap.untimed == 2 and snap.entries == 0
    assert all(r.value is None and r.samples == 0 for r in snap.readings.values())
    gap = snap.gap("mean_recovery_seconds")
    assert gap is not None and gap.gap is None and gap.open
    assert snap.to_json()["gaps"][0] == {
        "kpi": "mean_recovery_seconds",
        "target": 30,
        "better": "lower",
        "observed": None,
        "gap": None,
        "samples": 0,
    }


def test_the_autonomy_rate_reads_the_routers_own_entries() -> None:
    """The router's IntentRouted entries, as it writes them: tier 1–2 approved count as autonomous."""
    router_doc = Path(__file__).resolve().parents[2] / "catalog" / "governance" / "router.bal"
    governance = Governance.from_ir(compile_paths([str(router_doc)]).ir["governance"][0])
    entries: list[dict] = []

    class Sink:
        def write(self, text: str) -> None:
            entries.append(json.loads(text))

        def flush(self) -> None:
            pass

    router = Router(governance, ledger=AuditLog(Sink(), measure=False), clock=lambda: T0)
    for i, kind in enumerate(["query_knowledge", "deploy_model", "grant_permissions", "extend_grace"]):
        router.route({"id": f"i-{i}", "type": kind, "actor": "agent"})
    snap = build_snapshot(entries, [], at=T0, window_seconds=WINDOW)
    assert snap.readings["autonomy_rate"] == Reading(0.5, 4)  # tiers 2 and 1 yes; 0 and a pending 3 no
