"""What the profile tests share: the compiled catalog profiles and random live configurations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from ballast.compiler.pipeline import compile_paths
from ballast.runtime.profile import Profile

REPO = Path(__file__).resolve().parents[2]
PROFILES = REPO / "profiles"


def load(name: str) -> Profile:
    entries = compile_paths([str(PROFILES / f"{n}.bal") for n in ("baseline", "sandbox", "regulated")]).ir["profiles"]
    return Profile.from_ir(next(e for e in entries if e["name"] == name))


CATALOG = {name: load(name) for name in ("baseline", "sandbox", "regulated")}


def candidate_values(profile: Profile) -> dict[str, list[Any]]:
    """For each setting: valid values on both sides of the required one, and invalid ones."""
    out: dict[str, list[Any]] = {}
    for s in profile.settings:
        match s.type:
            case "int":
                values: list[Any] = [0, s.value - 1, s.value, s.value + 1, s.value * 100]
            case "duration":
                values = ["1m", "15m", "1h", "60m", "8h", "2d"]
            case "bool":
                values = [True, False]
            case "enum":
                values = list(s.order.values)
            case _:
                values = [s.value, "other"]
        out[s.name] = [*values, None, "not-a-value", [1], {"x": 1}]
    return out


@st.composite
def live_configs(draw: st.DrawFn, profile: Profile) -> dict[str, Any]:
    candidates = candidate_values(profile)
    live: dict[str, Any] = {}
    for name, values in candidates.items():
        if draw(st.booleans()):
            live[name] = draw(st.sampled_from(values))
    for key in draw(st.lists(st.sampled_from(["theme", "owner_email", "beta"]), unique=True)):
        live[key] = draw(st.integers(0, 3))
    return live
