"""Properties of the safety and governance diffs, over random pairs of documents (as IR).

The reference model is the direction of each change: whatever loosens a guard from A to B
tightens it from B to A. So, for random A and B: every finding of A → B is tagged loosened or
tightened exactly when its mirror in B → A carries the other tag; loosened findings are breaking
and tightened ones behavioral; and a document against itself has no finding. A second property
checks the safety diff against a plain reference of which class attributes were relaxed.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ballast.compiler.diff.findings import GUARD_LOOSENED, GUARD_TIGHTENED, Finding
from ballast.compiler.diff.governance import GovernanceDiff
from ballast.compiler.diff.safety import SafetyDiff
from ballast.runtime.safety import ENFORCE_LEVELS, MODES, RISK_LEVELS

AT = [1, 1, 1, 1]
TRUE = {"k": "lit", "v": True, "t": "bool"}

CONTROL = st.one_of(
    st.just({"kind": "dual_control"}),
    st.just({"kind": "justification"}),
    st.just({"kind": "block"}),
    st.builds(lambda s: {"kind": "hold", "seconds": s}, st.sampled_from([60.0, 600.0, 1800.0])),
    st.builds(
        lambda r, n: {"kind": "approvers", "role": r, "count": n}, st.sampled_from(["dba", "sre"]), st.integers(1, 3)
    ),
)


def _controls(controls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for c in controls:  # a class asks for each control once (the compiler checks it)
        seen.setdefault((c["kind"], c.get("role", "")), c)
    return list(seen.values())


KLASS = st.fixed_dictionaries(
    {
        "risk": st.sampled_from(RISK_LEVELS[1:]),
        "enforce": st.sampled_from(ENFORCE_LEVELS),
        "mode": st.sampled_from(MODES),
        "controls": st.lists(CONTROL, min_size=1, max_size=4).map(_controls),
    }
)
CATALOG = st.tuples(
    st.dictionaries(st.sampled_from(["c1", "c2", "c3"]), KLASS, min_size=1),
    st.sampled_from([1800.0, 3600.0, 7200.0]),
)


def safety_ir(catalog: tuple[dict[str, Any], float]) -> dict[str, Any]:
    classes, expire = catalog
    return {
        "name": "s",
        "file": "s.bal",
        "version": "1",
        "input": {"name": "action", "fields": []},
        "approvals": {"expire": expire},
        "classes": [{"name": name, "at": AT, "when": TRUE, "reason": [], **c} for name, c in sorted(classes.items())],
    }


TIER = st.sampled_from([0, 1, 2, 3, 4])
VOTE = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {
            "voters": st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=4, unique=True),
            "quorum": st.integers(1, 4),
            "deadline_seconds": st.sampled_from([600.0, 3600.0]),
            "ties": st.sampled_from(["approve", "reject"]),
            "signed": st.booleans(),
            "at": st.just(AT),
        }
    ),
)
GOVERNANCE = st.tuples(
    st.dictionaries(st.sampled_from(["x", "y", "z", "w"]), TIER),
    st.dictionaries(st.sampled_from([0, 1, 2, 3, 4]), st.sampled_from([0.0, 0.5, 0.7])),
    VOTE,
)


def governance_ir(doc: tuple[dict[str, int], dict[int, float], dict[str, Any] | None]) -> dict[str, Any]:
    intents, minimums, vote = doc
    tiers = [
        {
            "tier": t,
            "intents": sorted(i for i, n in intents.items() if n == t),
            "routed_to": "direct",
            "min_alignment": minimums.get(t, 0.0),
            "at": AT,
        }
        for t in range(5)
    ]
    return {"name": "g", "file": "g.bal", "version": "1", "tiers": tiers, "priorities": [], "vote": vote}


def directions(findings: list[Finding]) -> Counter[tuple[str, str, str]]:
    """Each finding as (subject, direction, level); the direction is its guard tag."""
    out: Counter[tuple[str, str, str]] = Counter()
    for f in findings:
        tag = GUARD_LOOSENED if GUARD_LOOSENED in f.tags else GUARD_TIGHTENED if GUARD_TIGHTENED in f.tags else ""
        out[(f.subject, tag, f.level)] += 1
    return out


def mirrored(forward: list[Finding], backward: list[Finding]) -> None:
    swap = {GUARD_LOOSENED: GUARD_TIGHTENED, GUARD_TIGHTENED: GUARD_LOOSENED, "": ""}
    level = {GUARD_LOOSENED: "breaking", GUARD_TIGHTENED: "behavioral"}
    there = directions(forward)
    back = Counter({(s, swap[t], level.get(swap[t], lv)): n for (s, t, lv), n in directions(backward).items()})
    assert there == back
    for f in forward:
        assert (GUARD_LOOSENED in f.tags) == (f.level == "breaking"), f.to_json()
        assert (GUARD_TIGHTENED in f.tags) == (f.level == "behavioral"), f.to_json()


@settings(max_examples=150, deadline=None)
@given(a=CATALOG, b=CATALOG)
def test_a_safety_change_loosens_exactly_what_its_reverse_tightens(a: Any, b: Any) -> None:
    old, new = safety_ir(a), safety_ir(b)
    assert SafetyDiff(old, old).run() == []
    mirrored(SafetyDiff(old, new).run(), SafetyDiff(new, old).run())


@settings(max_examples=150, deadline=None)
@given(a=GOVERNANCE, b=GOVERNANCE)
def test_a_governance_change_loosens_exactly_what_its_reverse_tightens(a: Any, b: Any) -> None:
    old, new = governance_ir(a), governance_ir(b)
    assert GovernanceDiff(old, old).run() == []
    forward, backward = GovernanceDiff(old, new).run(), GovernanceDiff(new, old).run()
    mirrored(forward, backward)


@settings(max_examples=150, deadline=None)
@given(a=KLASS, b=KLASS)
def test_a_class_is_loosened_where_the_reference_says(a: Any, b: Any) -> None:
    findings = SafetyDiff(safety_ir(({"c": a}, 3600.0)), safety_ir(({"c": b}, 3600.0))).run()
    loosened = Counter(f.id for f in findings if GUARD_LOOSENED in f.tags)
    # the reference: each attribute ranked on its own scale, each control by its identity
    want: Counter[str] = Counter()
    for key, order, check in (
        ("risk", RISK_LEVELS, "safety-risk-lowered"),
        ("enforce", ENFORCE_LEVELS, "safety-enforcement-loosened"),
        ("mode", MODES, "safety-enforcement-loosened"),
    ):
        if order.index(b[key]) < order.index(a[key]):
            want[check] += 1
    before = {(c["kind"], c.get("role", "")): c for c in a["controls"]}
    after = {(c["kind"], c.get("role", "")): c for c in b["controls"]}
    for ident, c in before.items():
        if ident not in after:
            want["safety-control-removed"] += 1
        elif c.get("seconds", c.get("count", 0)) > after[ident].get("seconds", after[ident].get("count", 0)):
            want["safety-control-weakened"] += 1
    assert loosened == want


MOST_TO_LEAST_HUMAN_CONTROL = (0, 4, 3, 1, 2)  # docs/diff.md


@settings(max_examples=150, deadline=None)
@given(a=GOVERNANCE, b=GOVERNANCE)
def test_governance_is_loosened_where_the_reference_says(a: Any, b: Any) -> None:
    findings = GovernanceDiff(governance_ir(a), governance_ir(b)).run()
    loosened = Counter(f.subject for f in findings if GUARD_LOOSENED in f.tags)
    want: Counter[str] = Counter()
    rank = MOST_TO_LEAST_HUMAN_CONTROL.index
    for intent in set(a[0]) | set(b[0]):  # an intent no tier lists is in tier 0
        if rank(b[0].get(intent, 0)) > rank(a[0].get(intent, 0)):
            want[intent] += 1
    for tier in range(5):
        if b[1].get(tier, 0.0) < a[1].get(tier, 0.0):
            want[f"tier {tier}"] += 1
    va, vb = a[2], b[2]
    if va is not None and vb is None:
        want["vote"] += 1
    elif va is not None and vb is not None:
        for setting, looser in (
            ("quorum", vb["quorum"] < va["quorum"]),
            ("voters", bool(set(va["voters"]) - set(vb["voters"]))),
            ("deadline", vb["deadline_seconds"] > va["deadline_seconds"]),
            ("ties", va["ties"] == "reject" and vb["ties"] == "approve"),
            ("signatures", va["signed"] and not vb["signed"]),
        ):
            want[f"vote {setting}"] += looser
    assert loosened == +want
