"""The Global Threat-Balance Engine: threat documents compiled and run (MOTB FR-M4, FR-M5).

Compile-time checks are asserted golden-style (code and line:col of every error); the runtime is
driven with event times chosen by the test, never the clock. Most runtime tests use a one-source
threat without smoothing (`ewma(1)`), so the index is exactly the `risk` field and each test can
put the index where it wants it.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ballast.cli import main
from ballast.compiler.pipeline import compile_paths
from ballast.dsl.format import format_document
from ballast.dsl.parser import parse_document
from ballast.runtime.bundle import dump_bundle
from ballast.runtime.errors import CompileError, EvaluationError, UsageError
from ballast.runtime.threat import ThreatEngine, ThreatUpdate, load_threats

REPO = Path(__file__).resolve().parents[2]
GTBE = REPO / "catalog" / "gtbe.bal"


def compile_threat(text: str, name: str = "threat.bal") -> dict:
    compilation = compile_paths([name], sources={name: text})
    (threat,) = compilation.ir["threats"]
    return threat


def catalog_ir() -> dict:
    (threat,) = compile_paths([str(GTBE)]).ir["threats"]
    return threat


def one_source(extra: str) -> str:
    """A threat whose index is the `risk` field (no smoothing), with `extra` declarations."""
    return f"""threat t.demo version "1" {{
  input signals {{
    ts: timestamp
    risk?: float in [0, 100]
    other?: float in [0, 100]
    divisor?: float
  }}
  stream {{ time ts }}
  source risk weight 1 from risk
  smooth ewma(1)
{extra}
}}
"""


MODES = """  mode heightened when index >= 40 exit below 35
  mode lockdown when index >= 75 exit below 60"""


def engine(extra: str) -> ThreatEngine:
    return ThreatEngine(compile_threat(one_source(extra)))


def feed(e: ThreatEngine, samples: list[tuple[float, float | None]]) -> list[ThreatUpdate]:
    """(time, risk) pairs; a None risk sends an event without the field."""
    out = []
    for t, risk in samples:
        event = {"ts": t} if risk is None else {"ts": t, "risk": risk}
        out.append(e.update(t, event))
    return out


# ---- the catalog document and its IR ----


def test_catalog_threat_compiles_to_the_documented_ir() -> None:
    ir = catalog_ir()
    assert ir["format"] == "ballast-threat/1"
    assert (ir["kind"], ir["name"], ir["version"], ir["time"]) == ("threat", "motb.gtbe", "1.0.0", "ts")
    assert [(s["name"], s["weight"], s["scale"], s["text"]) for s in ir["sources"]] == [
        ("trp", 0.6, None, "trp_risk"),
        ("cve", 0.3, [0.0, 10.0], "cve_score"),
        ("load", 0.1, None, "load * 100"),
    ]
    assert ir["smooth"] == {"kind": "ewma", "alpha": 0.3}
    assert [(m["name"], m["op"], m["enter"], m["exit"], m["dwell"]) for m in ir["modes"]] == [
        ("heightened", ">=", 40.0, 35.0, None),
        ("lockdown", ">=", 75.0, 60.0, 120.0),
    ]
    assert ir["governor"] == {"floor": 30.0, "max_flips": 3, "per": 600.0, "dwell": 60.0, "spare": ["critical"]}
    json.dumps(ir, allow_nan=False)  # plain JSON


def test_a_policy_and_a_threat_compile_together_and_policies_are_unchanged() -> None:
    alone = compile_paths([str(REPO / "catalog" / "motb.bal")]).ir
    both = compile_paths([str(REPO / "catalog" / "motb.bal"), str(GTBE)]).ir
    assert both["policies"] == alone["policies"]
    assert "threats" not in alone and [t["name"] for t in both["threats"]] == ["motb.gtbe"]


def test_check_and_compile_accept_threat_documents(tmp_path: Path) -> None:
    out = io.StringIO()
    assert main(["check", str(REPO / "catalog")], stdout=out, stderr=io.StringIO()) == 0
    assert out.getvalue().startswith("ok: ") and out.getvalue().endswith(
        ", 1 module, 1 threat, 2 fleets, 3 rollouts, 1 governance document, 1 scoring document, 3 supervisors\n"
    )
    out = io.StringIO()
    assert main(["check", str(GTBE)], stdout=out, stderr=io.StringIO()) == 0
    assert out.getvalue() == "ok: 0 policies, 0 rules, 1 threat\n"
    bundle = tmp_path / "b.json"
    assert main(["compile", str(REPO / "catalog"), "-o", str(bundle)], stdout=io.StringIO(), stderr=io.StringIO()) == 0
    engines = load_threats(json.loads(bundle.read_text(encoding="utf-8")))
    assert list(engines) == ["motb.gtbe"]


# ---- MOTB user story (PRD §6): loadFactor 0.92, riskScore 83 ----


def test_motb_user_story_threat_index_rises_into_heightened_without_lockdown() -> None:
    gtbe = ThreatEngine(catalog_ir())
    t = 0.0
    for _ in range(6):  # a calm baseline, one sample every 10 s
        calm = gtbe.update(t, {"ts": t, "trp_risk": 20.0, "cve_score": 2.0, "load": 0.4})
        t += 10
    assert calm.mode == "normal" and calm.index < 30
    # the telemetry spike: CLE loadFactor=0.92, TRP riskScore=83, the CVE feed at 7
    spike = []
    for _ in range(8):  # one sample every 2 s
        spike.append(gtbe.update(t, {"ts": t, "trp_risk": 83.0, "cve_score": 7.0, "load": 0.92}))
        t += 2
    indexes = [u.index for u in spike]
    assert indexes == sorted(indexes) and indexes[0] > calm.index  # the ThreatIndex rises
    assert spike[-1].raw_index == 80.0  # 0.6·83 + 0.3·70 + 0.1·92
    assert [u.mode for u in spike].count("heightened") >= 4
    changes = [u for u in spike if u.changed]
    assert [(u.previous_mode, u.mode) for u in changes] == [("normal", "heightened")]
    assert any(60 <= u.index <= 70 for u in spike if u.mode == "heightened")  # "rises to 67"
    # the governor does not enter lockdown: the index crossed 75 inside heightened's dwell
    assert all(u.mode != "lockdown" for u in spike)
    held = [u for u in spike if u.wanted == "lockdown"]
    assert held and all(u.suppressed == "dwell" for u in held)
    rationale = {e["source"]: e for e in spike[-1].rationale}
    assert (rationale["trp"]["value"], rationale["trp"]["weight"]) == (83.0, 0.6)
    assert (rationale["cve"]["value"], rationale["cve"]["normalised"]) == (7.0, 70.0)
    assert rationale["load"]["value"] == pytest.approx(92.0)
    api = spike[-1].to_api()
    assert api["responseMode"] == "heightened" and api["threatIndex"] == spike[-1].index
    assert {"source": "trp", "value": 83.0, "weight": 0.6, "contribution": 49.8} in api["rationale"]


# ---- noisy threats ----


def test_one_noisy_spike_above_the_lockdown_threshold_is_smoothed_away() -> None:
    gtbe = ThreatEngine(catalog_ir())
    t = 0.0
    updates = []
    for i in range(40):
        noisy = i == 25  # one sample of maximal threat
        event = {"ts": t, "trp_risk": 100.0 if noisy else 25.0, "cve_score": 10.0 if noisy else 2.5, "load": 0.3}
        updates.append(gtbe.update(t, event))
        t += 15
    assert updates[25].raw_index > 75  # the raw signal spiked past lockdown's threshold
    assert updates[25].index < 75  # smoothing keeps the index below it
    assert all(u.mode != "lockdown" and u.wanted != "lockdown" for u in updates)


def test_a_spike_that_crosses_the_threshold_unsmoothed_is_held_by_dwell() -> None:
    e = engine(MODES + "\n  governor { dwell 1m }")
    updates = feed(e, [(0, 50), (10, 95), (20, 50), (30, 45)])
    assert [u.mode for u in updates] == ["heightened"] * 4
    assert updates[1].wanted == "lockdown" and updates[1].suppressed == "dwell"
    assert e.suppressed_counts == {"dwell": 1, "max_flips": 0}


# ---- hysteresis, dwell, flip limits ----


def test_hysteresis_no_flapping_around_the_enter_threshold() -> None:
    e = engine(MODES)
    noisy = [40.5, 39.0, 41.0, 36.0, 40.0, 35.5, 39.9, 44.0, 35.0, 38.0]
    updates = feed(e, list(enumerate(noisy)))
    assert [u.mode for u in updates] == ["heightened"] * len(noisy)
    assert sum(u.changed for u in updates) == 1
    # it leaves only below the exit threshold, and re-enters only at the enter threshold
    more = feed(e, [(20, 34.99), (21, 39.0), (22, 36.0), (23, 40.0)])
    assert [u.mode for u in more] == ["normal", "normal", "normal", "heightened"]


def test_dwell_holds_a_mode_and_lockdown_has_its_own() -> None:
    e = engine(MODES.replace("exit below 60", "exit below 60 dwell 2m") + "\n  governor { dwell 1m }")
    updates = feed(e, [(0, 50), (30, 10), (59.9, 10), (60, 10)])
    assert [u.mode for u in updates] == ["heightened", "heightened", "heightened", "normal"]
    assert [u.suppressed for u in updates] == ["", "dwell", "dwell", ""]
    # normal dwells too (1m from t=60); then lockdown holds for its own 2m, not the governor's 1m
    updates = feed(e, [(100, 80), (120, 80), (200, 65), (230, 50), (320, 50)])
    assert [u.mode for u in updates] == ["normal", "lockdown", "lockdown", "lockdown", "heightened"]
    assert updates[0].suppressed == "dwell" and updates[3].suppressed == "dwell"


def test_at_most_max_flips_changes_per_window_extra_ones_suppressed_and_counted() -> None:
    e = engine(MODES + "\n  governor { max_flips 2 per 10m }")
    updates = feed(e, [(0, 50), (10, 10), (20, 50), (30, 60), (40, 10), (599, 50), (601, 50)])
    assert [u.mode for u in updates] == ["heightened", "normal", "normal", "normal", "normal", "normal", "heightened"]
    assert [u.suppressed for u in updates] == ["", "", "max_flips", "max_flips", "", "max_flips", ""]
    assert e.suppressed_counts == {"dwell": 0, "max_flips": 3}
    assert e.changes == 3


# ---- never lockdown below the floor ----

FLOOR_CASES = [
    # (modes and governor, expected error "code line:col")
    ("  mode lockdown when index >= 25 exit below 20", ["governor 11:31"]),
    ("  mode lockdown when index > 29.5 exit below 20", ["governor 11:30"]),
    ("  mode lockdown when index >= 45 exit below 40\n  governor { floor 50 }", ["governor 11:31"]),
    ("  mode lockdown when index >= 75 exit below 25", ["governor 11:45"]),
]


@pytest.mark.parametrize(("decls", "expected"), FLOOR_CASES)
def test_the_floor_invariant_is_proved_or_rejected_at_compile_time(decls: str, expected: list[str]) -> None:
    assert errors_of(one_source(decls)) == expected


def test_the_default_floor_is_30_and_the_message_says_so() -> None:
    with pytest.raises(CompileError) as info:
        compile_threat(one_source("  mode lockdown when index >= 25 exit below 20"))
    message = info.value.diagnostics[0].message
    assert message == "lockdown is entered at index >= 25, below the default floor 30 (MOTB: never lockdown below 30)"
    assert compile_threat(one_source("  mode lockdown when index >= 35 exit below 30"))["governor"]["floor"] == 30.0


def test_the_runtime_guard_never_locks_down_below_the_floor_even_for_a_hand_made_ir() -> None:
    ir = compile_threat(one_source("  mode lockdown when index >= 75 exit below 60"))
    ir["modes"][0].update(enter=10.0, exit=5.0)  # what the compiler rejects, edited into the IR
    e = ThreatEngine(ir)
    updates = feed(e, [(0, 20), (1, 29.99), (2, 30), (3, 29), (4, 12)])
    assert [u.mode for u in updates] == ["normal", "normal", "lockdown", "normal", "normal"]
    assert [u.floor_guard for u in updates] == [True, True, False, True, True]


def test_leaving_lockdown_below_the_floor_overrides_dwell_and_flip_limits() -> None:
    decls = MODES.replace("exit below 60", "exit below 60 dwell 10m") + "\n  governor { max_flips 1 per 1h }"
    e = engine(decls)
    entered, dropped = feed(e, [(0, 90), (5, 10)])
    assert entered.mode == "lockdown"
    assert (dropped.previous_mode, dropped.mode, dropped.changed) == ("lockdown", "normal", True)
    assert dropped.floor_guard and dropped.suppressed == ""
    # between the floor and the exit threshold the dwell and flip limit hold as usual
    e = engine(decls)
    feed(e, [(0, 90)])
    (held,) = feed(e, [(5, 40)])
    assert (held.mode, held.wanted, held.suppressed) == ("lockdown", "heightened", "dwell")


# ---- fusion, rationale, missing sources ----


def test_rationale_contributions_sum_to_the_raw_index_and_explain_the_smoothing() -> None:
    gtbe = ThreatEngine(catalog_ir())
    events = [
        {"trp_risk": 55.5, "cve_score": 3.3, "load": 0.71},
        {"trp_risk": 12.0},
        {"cve_score": 9.9, "load": 0.05},
        {"trp_risk": 99.0, "cve_score": 0.1, "load": 1.0},
    ]
    for t, event in enumerate(events):
        u = gtbe.update(float(t), {"ts": float(t), **event})
        assert sum(e["contribution"] for e in u.rationale) == pytest.approx(u.raw_index, abs=0.01)
        assert u.index == pytest.approx(0.3 * u.raw_index + 0.7 * u.previous_index, abs=0.01)
        assert [e["source"] for e in u.rationale] == ["trp", "cve", "load"]
        assert [e["weight"] for e in u.rationale] == [0.6, 0.3, 0.1]


def test_a_source_missing_from_an_event_keeps_its_last_value_and_unseen_ones_do_not_count() -> None:
    gtbe = ThreatEngine(catalog_ir())
    first = gtbe.update(0, {"ts": 0, "trp_risk": 50.0})
    assert first.raw_index == 50.0  # only trp seen: 0.6·50 / 0.6
    assert [e["seen_at"] for e in first.rationale] == [0.0, None, None]
    second = gtbe.update(5, {"ts": 5, "load": 0.2})
    trp, _cve, load = second.rationale
    assert (trp["value"], trp["fresh"], trp["seen_at"]) == (50.0, False, 0.0)
    assert (load["normalised"], load["fresh"]) == (20.0, True)
    assert second.raw_index == pytest.approx((0.6 * 50 + 0.1 * 20) / 0.7, abs=0.005)


def test_values_are_clamped_and_scaled_to_0_100() -> None:
    e = ThreatEngine(
        compile_threat(
            one_source("  source wide weight 1 from other * 3\n  source cvss weight 1 from divisor scale [-10, 10]")
        )
    )
    u = e.update(0, {"ts": 0, "risk": 10.0, "other": 50.0, "divisor": 5.0})
    by = {r["source"]: r for r in u.rationale}
    assert (by["wide"]["value"], by["wide"]["normalised"]) == (150.0, 100.0)
    assert by["cvss"]["normalised"] == 75.0
    assert u.raw_index == round((10 + 100 + 75) / 3, 2)


def test_a_faulting_source_is_reported_and_keeps_its_last_value() -> None:
    e = engine("  source ratio weight 1 from 100 / divisor")
    ok = e.update(0, {"ts": 0, "risk": 0.0, "divisor": 4.0})
    assert ok.rationale[1]["value"] == 25.0
    bad = e.update(1, {"ts": 1, "risk": 0.0, "divisor": 0.0})
    assert bad.rationale[1]["fault"] == "division by zero"
    assert (bad.rationale[1]["value"], bad.rationale[1]["fresh"]) == (25.0, False)
    assert bad.raw_index == 12.5
    absent = e.update(2, {"ts": 2, "risk": 0.0})  # the optional field is absent: missing, no fault
    assert "fault" not in absent.rationale[1]


def test_time_is_event_time_and_must_not_go_backwards() -> None:
    e = engine(MODES)
    feed(e, [(100, 50)])
    before = e.snapshot()
    with pytest.raises(UsageError, match="before the last update"):
        e.update(99, {"ts": 99, "risk": 90.0})
    assert e.snapshot() == before
    assert e.update(100, {"ts": 100, "risk": 50.0}).time == 100.0  # the same time is fine


def test_update_event_validates_and_reads_the_stream_time() -> None:
    gtbe = ThreatEngine(catalog_ir())
    u = gtbe.update_event({"ts": "2025-07-05T12:34:56Z", "trp_risk": 83, "load": 0.92})
    assert u.time == 1751718896.0 and u.to_api()["timestamp"] == "2025-07-05T12:34:56Z"
    with pytest.raises(EvaluationError, match="trp_risk"):
        gtbe.update_event({"ts": 1751718900, "trp_risk": "high"})
    assert gtbe.updates == 1


def test_spared_classes_are_the_pause_contract() -> None:
    gtbe = ThreatEngine(catalog_ir())
    assert gtbe.spared == ("critical",)
    assert gtbe.modes == ("normal", "heightened", "lockdown")
    assert not gtbe.allows_pause("critical")
    assert gtbe.allows_pause("standard") and gtbe.allows_pause("batch")


def test_updates_are_deterministic_and_json() -> None:
    def run() -> list[dict]:
        gtbe = ThreatEngine(catalog_ir())
        return [gtbe.update(t * 7.0, {"ts": t * 7.0, "trp_risk": (t * 37) % 100}).to_dict() for t in range(50)]

    first = run()
    assert first == run()
    json.dumps(first, allow_nan=False)


# ---- snapshot / restore ----

JUMPY = one_source(
    MODES.replace("exit below 60", "exit below 60 dwell 45s") + "\n  governor { max_flips 2 per 1m dwell 20s }"
)

sample = st.tuples(
    st.floats(0, 90, allow_nan=False, allow_infinity=False),  # seconds since the previous update
    st.one_of(st.none(), st.floats(0, 100, allow_nan=False)),
    st.one_of(st.none(), st.floats(0, 10, allow_nan=False)),
    st.one_of(st.none(), st.floats(0, 1, allow_nan=False)),
)


def _events(ir: dict, steps: list[tuple]) -> list[tuple[float, dict]]:
    names = [f["name"] for f in ir["input"]["fields"]][1:4]  # the three optional signals
    t = 1_700_000_000.0
    out = []
    for dt, *values in steps:
        t += dt
        event = {"ts": t, **{n: v for n, v in zip(names, values, strict=True) if v is not None}}
        out.append((t, event))
    return out


@pytest.mark.parametrize("which", ["catalog", "jumpy"])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(sample, min_size=1, max_size=60), data=st.data())
def test_snapshot_restore_continues_with_identical_decisions(which: str, steps: list[tuple], data) -> None:
    ir = catalog_ir() if which == "catalog" else compile_threat(JUMPY)
    events = _events(ir, steps)
    cut = data.draw(st.integers(0, len(events)), label="cut")
    original = ThreatEngine(ir)
    for t, event in events[:cut]:
        original.update(t, event)
    snapshot = json.loads(json.dumps(original.snapshot(), allow_nan=False))  # through JSON, as stored
    restored = ThreatEngine.restore(json.loads(json.dumps(ir)), snapshot)
    assert restored.snapshot() == original.snapshot()
    for t, event in events[cut:]:
        assert restored.update(t, event).to_dict() == original.update(t, event).to_dict()
    assert restored.snapshot() == original.snapshot()
    assert (restored.mode, restored.index, restored.suppressed_counts) == (
        original.mode,
        original.index,
        original.suppressed_counts,
    )


def test_restore_refuses_a_snapshot_of_another_threat_but_not_of_a_moved_file() -> None:
    gtbe = ThreatEngine(catalog_ir())
    gtbe.update(0, {"ts": 0, "trp_risk": 50.0})
    snapshot = gtbe.snapshot()
    with pytest.raises(UsageError, match=r"snapshot was taken from 'motb\.gtbe'"):
        ThreatEngine.restore(compile_threat(one_source(MODES)), snapshot)
    moved = compile_threat("\n\n" + GTBE.read_text(encoding="utf-8"), "elsewhere/gtbe.bal")
    assert ThreatEngine.restore(moved, snapshot).snapshot() == snapshot
    with pytest.raises(UsageError, match="not a threat snapshot"):
        ThreatEngine.restore(catalog_ir(), {"format": "other"})


# ---- bad documents: positioned errors ----

BAD = """threat t.bad version "1" {{
  input signals {{
    ts: timestamp
    risk?: float in [0, 100]
    cve?: float in [0, 10]
    name?: string
  }}
  stream {{ time ts }}
{body}
}}
"""

BAD_CASES = {
    "zero weight": ("  source a weight 0 from risk", ["weight 9:19"]),
    "negative weight": ("  source a weight -0.5 from risk", ["weight 9:19"]),
    "empty scale": ("  source a weight 1 from cve scale [10, 10]", ["range 9:30"]),
    "unknown name": ("  source a weight 1 from rsik", ["name 9:26"]),
    "not a number": ("  source a weight 1 from name", ["type 9:26"]),
    "bool source": ("  source a weight 1 from risk > 5", ["type 9:26"]),
    "unknown function": ("  source a weight 1 from sqrt(risk)", ["name 9:26"]),
    "duplicate source": (
        "  source a weight 1 from risk\n  source a weight 1 from cve scale [0, 10]",
        ["duplicate 10:10"],
    ),
    "no source": ("  mode heightened when index >= 40 exit below 35", ["missing 1:1"]),
    "alpha 0": ("  source a weight 1 from risk\n  smooth ewma(0)", ["smooth 10:15"]),
    "alpha above 1": ("  source a weight 1 from risk\n  smooth ewma(1.2)", ["smooth 10:15"]),
    "two smooths": ("  source a weight 1 from risk\n  smooth ewma(0.3)\n  smooth ewma(0.5)", ["duplicate 11:3"]),
    "exit not below enter": (
        "  source a weight 1 from risk\n  mode heightened when index >= 40 exit below 40",
        ["hysteresis 10:47"],
    ),
    "threshold above 100": (
        "  source a weight 1 from risk\n  mode heightened when index >= 140 exit below 35",
        ["range 10:33"],
    ),
    "entered when falling": (
        "  source a weight 1 from risk\n  mode heightened when index <= 40 exit below 35",
        ["mode 10:30"],
    ),
    "modes out of order": (
        "  source a weight 1 from risk\n  mode lockdown when index >= 75 exit below 60\n  mode heightened when index >= 40 exit below 35",
        ["mode 11:33"],
    ),
    "lockdown not the most severe": (
        "  source a weight 1 from risk\n  mode lockdown when index >= 75 exit below 60\n  mode panic when index >= 90 exit below 80",
        ["mode 10:8"],
    ),
    "normal declared": ("  source a weight 1 from risk\n  mode normal when index >= 10 exit below 5", ["mode 10:8"]),
    "duplicate mode": (
        "  source a weight 1 from risk\n  mode high when index >= 40 exit below 35\n  mode high when index >= 50 exit below 45",
        ["duplicate 11:8"],
    ),
    "mode dwell 0": (
        "  source a weight 1 from risk\n  mode high when index >= 40 exit below 35 dwell 0s",
        ["mode 10:50"],
    ),
    "spare without lockdown": ("  source a weight 1 from risk\n  governor { spare critical }", ["governor 10:14"]),
    "floor outside 0..100": (
        "  source a weight 1 from risk\n  governor { floor 130 }",
        ["range 10:20"],
    ),
    "max_flips 0": ("  source a weight 1 from risk\n  governor { max_flips 0 per 5m }", ["governor 10:24"]),
    "flip window 0s": ("  source a weight 1 from risk\n  governor { max_flips 3 per 0s }", ["governor 10:30"]),
    "governor dwell 0s": ("  source a weight 1 from risk\n  governor { dwell 0s }", ["governor 10:20"]),
    "a setting twice": (
        "  source a weight 1 from risk\n  governor {\n    dwell 1m\n    dwell 2m\n  }",
        ["duplicate 12:5"],
    ),
    "class spared twice": (
        "  source a weight 1 from risk\n  mode lockdown when index >= 75 exit below 60\n  governor { spare critical, critical }",
        ["duplicate 11:20"],
    ),
    "window aggregate": ("  source a weight 1 from avg(risk, 5m)", ["threat 9:26"]),
}


def errors_of(text: str, name: str = "bad.bal") -> list[str]:
    with pytest.raises(CompileError) as info:
        compile_paths([name], sources={name: text})
    return [f"{d.code} {d.span.line}:{d.span.column}" for d in info.value.diagnostics]


@pytest.mark.parametrize(("body", "expected"), list(BAD_CASES.values()), ids=list(BAD_CASES))
def test_bad_documents_give_positioned_errors(body: str, expected: list[str]) -> None:
    assert errors_of(BAD.format(body=body)) == expected


def test_stream_and_input_problems_of_a_threat() -> None:
    text = BAD.format(body="  source a weight 1 from risk").replace("time ts", "time tss lateness 5s")
    assert errors_of(text) == ["name 8:17", "threat 8:21"]
    no_input = 'threat t.x version "1" {\n  source a weight 1 from 50\n}\n'
    assert errors_of(no_input) == ["missing 1:1"]


def test_a_compile_error_renders_with_caret_and_hint(tmp_path: Path) -> None:
    path = tmp_path / "floor.bal"
    path.write_text(one_source("  mode lockdown when index >= 25 exit below 20"), encoding="utf-8")
    out = io.StringIO()
    assert main(["check", str(path)], stdout=out, stderr=io.StringIO()) == 1
    assert out.getvalue().splitlines()[:4] == [
        f"{path}:11:31: error[governor]: lockdown is entered at index >= 25, below the default floor 30 (MOTB: never lockdown below 30)",
        "      mode lockdown when index >= 25 exit below 20",
        "                                  ^^",
        "    hint: enter lockdown at 30 or above",
    ]


def test_warnings_unscaled_source_and_a_floor_without_lockdown() -> None:
    text = BAD.format(body="  source a weight 1 from cve\n  governor { floor 40 }")
    warnings = compile_paths(["w.bal"], sources={"w.bal": text}).warnings
    assert [(d.code, d.span.line, d.span.column) for d in warnings] == [("scale", 9, 26), ("governor", 10, 14)]
    assert warnings[0].hint == "normalise it: add `scale [0, 10]`"


# ---- the formatter ----


def test_formatting_the_catalog_threat_is_idempotent_and_keeps_comments() -> None:
    text = GTBE.read_text(encoding="utf-8")
    once = format_document(parse_document(text, str(GTBE)))
    assert once == text  # the catalog file is in canonical form
    assert format_document(parse_document(once, str(GTBE))) == once


def test_formatting_a_messy_threat_gives_the_canonical_form() -> None:
    messy = """threat   t.m version "2" {
input signals { ts: timestamp
risk?: float in [0,100] }
stream {
time ts   # event time
}
source   a weight 0.50 from risk*2 scale [0,200]   # doubled
smooth ewma(0.30)
mode heightened when index>=40.0 exit below 35 dwell 90s
governor { floor 30.0  max_flips 3 per 10m  spare critical,batch   dwell 1m }   # the governor
mode lockdown when index >= 75 exit below 60
}
"""
    once = format_document(parse_document(messy, "m.bal"))
    assert (
        once
        == """threat t.m version "2" {
  input signals {
    ts: timestamp
    risk?: float in [0, 100]
  }

  stream {
    time ts  # event time
  }

  source a weight 0.5 from risk * 2 scale [0, 200]  # doubled

  smooth ewma(0.3)

  mode heightened when index >= 40 exit below 35 dwell 90s

  governor {  # the governor
    floor 30
    max_flips 3 per 10m
    spare critical, batch
    dwell 1m
  }

  mode lockdown when index >= 75 exit below 60
}
"""
    )
    assert format_document(parse_document(once, "m.bal")) == once
    assert _without_positions(compile_threat(once, "m.bal")) == _without_positions(compile_threat(messy, "m.bal"))


def _without_positions(value: object) -> object:
    if isinstance(value, dict):
        return {k: _without_positions(v) for k, v in value.items() if k != "at"}
    if isinstance(value, list):
        return [_without_positions(v) for v in value]
    return value


def test_policies_stream_blocks_are_formatted_too() -> None:
    policy = """policy p version "1" {
  input ev {
    ts: timestamp
    id: string
  }

  stream {
    time ts
    id id
    lateness 5s
  }
}
"""
    assert format_document(parse_document(policy, "p.bal")) == policy


# ---- the runtime stays standard-library only ----


def test_running_a_threat_from_a_bundle_imports_no_compiler_dependency(tmp_path: Path) -> None:
    compilation = compile_paths([str(GTBE)], source_date_epoch=0)
    bundle = tmp_path / "gtbe.bundle.json"
    bundle.write_bytes(dump_bundle(compilation.bundle))
    code = f"""
import json, sys
from ballast.runtime.bundle import read_bundle
from ballast.runtime.threat import load_threats
engines = load_threats(read_bundle({str(bundle)!r}))
u = engines["motb.gtbe"].update_event({{"ts": 0, "trp_risk": 83, "load": 0.92}})
print(json.dumps(u.to_dict()))
heavy = {{"lark", "ruamel", "simpy", "networkx", "numpy", "jsonschema", "yaml", "nacl"}}
print(sorted(m for m in sys.modules if m.split(".")[0] in heavy or m.startswith(("ballast.compiler", "ballast.dsl"))))
"""
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONUTF8": "1"},
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    update, modules = proc.stdout.strip().splitlines()
    assert json.loads(update)["raw_index"] == pytest.approx(84.29)
    assert modules == "[]"
