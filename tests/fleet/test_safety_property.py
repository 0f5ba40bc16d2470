"""The safety rules of `ballast check` against a reference model, over random fleets and plans.

The reference restates each rule of docs/rollouts.md ("Safety") in plain Python over the same
random fleet: a plan compiles exactly when none applies, and each rule that applies is reported.
"""

from __future__ import annotations

import math

from fleet_documents import cluster, compile_pair, fleet, plan
from hypothesis import given, settings
from hypothesis import strategies as st

from ballast.runtime.errors import CompileError

SELECTORS = {  # the selector as written → the same selector in Python
    'env == "prod"': lambda c: c["env"] == "prod",
    'region == "a"': lambda c: c["region"] == "a",
    'env == "staging" || region == "b"': lambda c: c["env"] == "staging" or c["region"] == "b",
    "true": lambda c: True,
}

clusters_st = st.lists(
    st.fixed_dictionaries({"env": st.sampled_from(["staging", "prod"]), "region": st.sampled_from(["a", "b", "c"])}),
    min_size=1,
    max_size=8,
)
ceiling_st = st.one_of(
    st.integers(1, 3).map(lambda n: (str(n), n, None)),
    st.sampled_from([10, 25, 34, 50, 100]).map(lambda p: (f"{p}%", None, p)),
)


def expected_violations(clusters, profile, selector, allow, ceiling) -> set[str]:
    targets = [c for c in clusters if SELECTORS[selector](c)]
    out = set()
    if not targets:
        out.add("empty wave")
    prod = [c["id"] for c in targets if c["env"] == "prod"]
    if prod and profile != "prod":
        out.add("non-prod selects prod")
    elif prod and not set(prod) <= set(allow):
        out.add("prod not allowed")
    _, count, percent = ceiling
    for region in {c["region"] for c in targets}:
        size = sum(1 for c in clusters if c["region"] == region)
        moving = min(count, size) if count is not None else math.floor(percent * size / 100 + 1e-9)
        if moving < 1:
            out.add("ceiling")
    return out


def reported(errors) -> set[str]:
    out = set()
    for e in errors:
        if "selects no cluster" in e.message:
            out.add("empty wave")
        elif "selects prod clusters" in e.message:
            out.add("non-prod selects prod")
        elif "without being allowed" in e.message:
            out.add("prod not allowed")
        elif "lets none of the" in e.message:
            out.add("ceiling")
        else:
            out.add(f"unexpected: {e.code}: {e.message}")
    return out


@settings(max_examples=60, deadline=None)
@given(
    clusters=clusters_st,
    profile=st.sampled_from(["staging", "prod"]),
    selector=st.sampled_from(sorted(SELECTORS)),
    allow_mask=st.integers(0, 255),
    ceiling=ceiling_st,
)
def test_a_plan_compiles_exactly_when_no_safety_rule_applies(clusters, profile, selector, allow_mask, ceiling):
    for i, c in enumerate(clusters):
        c["id"] = f"c{i}"
    allow = [c["id"] for i, c in enumerate(clusters) if allow_mask >> i & 1]
    fleet_text = fleet(cluster(c["id"], c["region"], c["env"]) for c in clusters)
    body = f"  select {selector}\n  wave all {{ }}\n"
    plan_text = plan(body, profile=profile, ceiling=ceiling[0], allow=", ".join(f'"{a}"' for a in allow))
    want = expected_violations(clusters, profile, selector, allow, ceiling)
    try:
        compilation = compile_pair(fleet_text, plan_text)
    except CompileError as exc:
        assert reported([d for d in exc.diagnostics if d.severity == "error"]) == want
        assert want, "refused a plan the reference finds safe"
    else:
        assert not want, f"compiled a plan that breaks {want}"
        [wave] = compilation.ir["rollouts"][0]["waves"]
        assert wave["clusters"] == [c["id"] for c in clusters if SELECTORS[selector](c)]
