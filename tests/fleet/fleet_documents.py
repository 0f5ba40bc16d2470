"""Fleet and rollout documents built from parts, so each test states only what it varies (a helper
module, not a conftest: `tests/conftest.py` has that name)."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from ballast.compiler.pipeline import Compilation, compile_paths
from ballast.runtime.errors import CompileError

FLEET = "fleet.bal"
PLAN = "plan.bal"


def cluster(cid: str, region: str = "eu", env: str = "prod", *, group: str = "", extra: str = "") -> str:
    group_line = f'group "{group}"' if group else ""
    return f'  cluster "{cid}" {{ region "{region}" env "{env}" {group_line} control_plane "1.8.2" {extra} }}\n'


def fleet(clusters: Iterable[str], name: str = "f") -> str:
    return f'fleet {name} version "1" {{\n' + "".join(clusters) + "}\n"


def plan(body: str, *, profile: str = "prod", ceiling: str = "50%", fleet_name: str = "f", allow: str = "") -> str:
    allow_line = f"  allow [{allow}]\n" if allow else ""
    return (
        f'rollout r version "1" {{\n  fleet "{fleet_name}"\n  profile "{profile}"\n  ceiling {ceiling}\n'
        f"{allow_line}{body}}}\n"
    )


def compile_pair(fleet_text: str, plan_text: str) -> Compilation:
    return compile_paths([FLEET, PLAN], sources={FLEET: fleet_text, PLAN: plan_text}, stop_after="optimize")


def refused(fleet_text: str, plan_text: str, code: str) -> list:
    """The errors of a pair that must not compile, at least one with `code`, each positioned."""
    with pytest.raises(CompileError) as caught:
        compile_pair(fleet_text, plan_text)
    errors = [d for d in caught.value.diagnostics if d.severity == "error"]
    assert any(d.code == code for d in errors), [f"{d.code}: {d.message}" for d in errors]
    assert all(d.span.line >= 1 and d.span.file in (FLEET, PLAN) for d in errors)
    return [d for d in errors if d.code == code]
