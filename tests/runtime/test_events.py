"""The Engine's typed events (`ballast.runtime.events`) and the names the Engine is exported under.

Each event's `to_dict()` must be exactly the dict the Engine emitted before the events were
typed, keys in the same order (the CLI prints them in that order as text); the events must also
read as that dict, for code written against it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import ballast
from ballast.runtime.events import (
    Coalesced,
    Dropped,
    EngineEvent,
    ModeChanged,
    RuleState,
    Stale,
    Suppressed,
    TelemetryGap,
    ThreatIndexUpdated,
)
from ballast.runtime.threat import ThreatUpdate

REPO = Path(__file__).resolve().parents[2]
T0 = 1_700_000_000.0
AT = "2023-11-14T22:13:20Z"
UPDATE = ThreatUpdate(T0, 61.5, 70.0, 40.0, "guarded", "normal", True, "guarded", "", False, ({"source": "s"},))

# Each event next to the dict the Engine built for it before the classes existed.
CASES: list[tuple[EngineEvent, dict[str, Any]]] = [
    (
        RuleState("p", "r", {"pool": "a"}, "firing", T0),
        {"type": "RuleState", "policy": "p", "rule": "r", "key": {"pool": "a"}, "state": "firing", "time": AT},
    ),
    (
        RuleState("p", "r", {}, "resolved", T0, reason="stale"),
        {
            "type": "RuleState",
            "policy": "p",
            "rule": "r",
            "key": {},
            "state": "resolved",
            "time": AT,
            "reason": "stale",
        },
    ),
    (
        TelemetryGap("p", "probe-1", T0, 41, 44),
        {"type": "TelemetryGap", "policy": "p", "source": "probe-1", "time": AT, "after": 41, "next": 44, "missing": 2},
    ),
    (
        Stale("p", {"pool": "a"}, T0 - 301, T0),
        {"type": "Stale", "policy": "p", "key": {"pool": "a"}, "last_seen": "2023-11-14T22:08:19Z", "time": AT},
    ),
    *(
        (
            kind("p", "r", "scale", ["A"], by, T0),
            {"type": kind.type, "policy": "p", "rule": "r", "action": "scale", "targets": ["A"], "by": by, "time": AT},
        )
        for kind, by in ((Suppressed, "cooldown"), (Suppressed, "limit"), (Coalesced, "queue"), (Dropped, "queue"))
    ),
    (
        ThreatIndexUpdated("gtbe", UPDATE),
        {"type": "ThreatIndexUpdated", "threat": "gtbe", **UPDATE.to_dict(), "time": AT},
    ),
    (
        ModeChanged("gtbe", T0, 61.5, "guarded", "normal"),
        {
            "type": "ModeChanged",
            "threat": "gtbe",
            "time": AT,
            "index": 61.5,
            "mode": "guarded",
            "previous_mode": "normal",
        },
    ),
]
IDS = [f"{event.type}-{i}" for i, (event, _) in enumerate(CASES)]


@pytest.mark.parametrize(("event", "legacy"), CASES, ids=IDS)
def test_to_dict_is_the_legacy_dict_in_its_key_order(event: EngineEvent, legacy: dict[str, Any]) -> None:
    assert list(event.to_dict().items()) == list(legacy.items())
    assert json.dumps(event.to_dict()) == json.dumps(legacy)


@pytest.mark.parametrize(("event", "legacy"), CASES, ids=IDS)
def test_an_event_reads_as_its_dict(event: EngineEvent, legacy: dict[str, Any]) -> None:
    assert event["type"] == legacy["type"] == type(event).type
    assert event.get("no such field") is None and "no such field" not in event
    assert all(event[k] == v for k, v in legacy.items()) and "time" in event
    assert dict(event) == legacy and list(event) == list(legacy) and len(event) == len(legacy)
    assert event == legacy and legacy == event and [event] == [legacy]
    assert event != {**legacy, "time": "another"}
    with pytest.raises(TypeError):
        hash(event)


def test_events_have_no_instance_dict() -> None:
    for event, _ in CASES:
        assert not hasattr(event, "__dict__"), type(event).__name__


def test_engine_events_are_typed_and_result_to_dict_is_plain_json() -> None:
    policies = ballast.compile([str(REPO / "catalog" / "watchdog.bal")])
    engine = ballast.Engine(policies)
    lines = (REPO / "catalog" / "watchdog-events.jsonl").read_text(encoding="utf-8").splitlines()
    kinds = set()
    for line in lines:
        result = engine.process(json.loads(line))
        assert all(isinstance(e, EngineEvent) for e in result.events)
        out = result.to_dict()
        assert out.get("events", []) == [e.to_dict() for e in result.events]
        json.dumps(out, allow_nan=False)  # plain JSON values only
        kinds |= {e["type"] for e in result.events}
    assert {"RuleState", "TelemetryGap", "Suppressed"} <= kinds


def test_engine_is_exported_from_ballast_and_the_runtime() -> None:
    import ballast.runtime
    from ballast.runtime.engine import Engine, iso
    from ballast.runtime.values import iso as values_iso

    assert ballast.Engine is ballast.runtime.Engine is Engine
    assert "Engine" in ballast.__all__ and "Engine" in ballast.runtime.__all__
    assert iso is values_iso and iso(T0) == AT


def test_running_an_engine_imports_no_compiler_dependency(tmp_path: Path) -> None:
    bundle = tmp_path / "watchdog.bundle.json"
    compiled = subprocess.run(
        [sys.executable, "-m", "ballast.cli", "compile", str(REPO / "catalog" / "watchdog.bal"), "-o", str(bundle)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert compiled.returncode == 0, compiled.stderr
    code = (
        "import json, sys\n"
        "from ballast.runtime import Engine, load_bundle\n"
        f"engine = Engine(load_bundle({str(bundle)!r}, allow_unsigned=True))\n"
        f"for line in open({str(REPO / 'catalog' / 'watchdog-events.jsonl')!r}):\n"
        "    json.dumps(engine.process(json.loads(line)).to_dict())\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('lark', 'ruamel', 'numpy', 'simpy', 'yaml')"
        " or m.startswith(('ballast.compiler', 'ballast.dsl'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
