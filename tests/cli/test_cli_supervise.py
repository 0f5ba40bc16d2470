"""`ballast supervise`: a cycle over a trail, the state across runs (verification and rollback),
the formats, and bad input named with its place."""

from __future__ import annotations

import json
from pathlib import Path

from support import run_cli

from ballast.runtime.supervisor_kpis import outcome_entry
from ballast.runtime.values import parse_timestamp

REPO = Path(__file__).resolve().parents[2]
META_LOOP = REPO / "catalog" / "supervisor" / "meta-loop.bal"
T0 = parse_timestamp("2026-12-03T16:00:00Z")


def trail(path: Path, start: float, succeeded: int, failed: int) -> Path:
    with path.open("a", encoding="utf-8") as f:
        for i in range(succeeded + failed):
            entry = outcome_entry(f"a{start:.0f}-{i}", succeeded=i < succeeded, when=start + 10 + i * 10, actor="ex")
            f.write(json.dumps(entry) + "\n")
    return path


def test_two_cycles_apply_then_roll_back_and_the_ledger_has_both(tmp_path: Path) -> None:
    audit = trail(tmp_path / "audit.jsonl", T0, 17, 3)  # 85 %
    state, ledger = tmp_path / "state.json", tmp_path / "supervisor.jsonl"
    common = ("--audit", audit, "--state", state, "--ledger", ledger)
    code, out, err = run_cli("supervise", META_LOOP, *common, "--now", "2026-12-03T16:05:00Z")
    assert (code, err) == (0, "")
    assert "  goal overall_success_rate: target 95.0%, observed 85.0%, 10.0 pts short (20 samples)" in out
    assert "  goal autonomy_rate: target 80.0%, no data (0 samples)" in out
    assert "  impact low, route auto_notify: applied" in out
    trail(audit, T0 + 300, 16, 4)  # 80 %: worse
    code, out, _ = run_cli("supervise", META_LOOP, *common, "--now", "2026-12-03T16:10:00Z", "--format", "json")
    report = json.loads(out)
    assert code == 1  # a verification failed
    assert [v["passed"] for v in report["verifications"]] == [False]
    assert report["verifications"][0]["reasons"] == ["overall_success_rate did not improve: 0.85 → 0.8"]
    assert [(d["type"], d["status"]) for d in report["directives"]] == [("rollback_change", "applied")]
    assert report["summary"].startswith("## Supervisor mesh.meta: cycle 2, 2026-12-03T16:10:00Z")
    kinds = [json.loads(line)["kind"] for line in ledger.read_text().splitlines()]
    assert kinds == ["SupervisorDirective", "SupervisorVerification", "SupervisorRollback"]
    saved = json.loads(state.read_text())
    assert saved["state"]["cycles"] == 2 and saved["actuator"]["offsets"] == {"retry.min_confidence": 0.0}


def test_the_markdown_summary_is_the_same_every_run(tmp_path: Path) -> None:
    audit = trail(tmp_path / "audit.jsonl", T0, 17, 3)
    outs = [
        run_cli("supervise", META_LOOP, "--audit", audit, "--now", "2026-12-03T16:05:00Z", "--format", "md")[1]
        for _ in range(2)
    ]
    assert outs[0] == outs[1] and "| overall_success_rate | 95.0% | 85.0% | 10.0 pts short | 20 |" in outs[0]


def test_bad_input_is_named_with_its_place(tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    audit.write_text('{"kind": "ActionOutcome"}\n[1, 2]\n')
    code, _, err = run_cli("supervise", META_LOOP, "--audit", audit, "--now", "2026-12-03T16:05:00Z")
    assert code == 2 and f"{audit}:2: an audit entry is a JSON object, got list" in err
    audit.write_text("{not json\n")
    code, _, err = run_cli("supervise", META_LOOP, "--audit", audit, "--now", "2026-12-03T16:05:00Z")
    assert code == 2 and f"{audit}:1:2: not JSON" in err
    code, _, err = run_cli("supervise", META_LOOP, "--audit", tmp_path / "none.jsonl", "--now", "2026-12-03T16:05:00Z")
    assert code == 2 and "none.jsonl: no such audit trail" in err
    code, _, err = run_cli("supervise", META_LOOP, "--audit", audit, "--now", "teatime")
    assert code == 2 and "--now teatime: not a time" in err
    state = tmp_path / "state.json"
    state.write_text('{"state": {"format": 1, "cycles": "x"}}')
    audit.write_text("")
    code, _, err = run_cli("supervise", META_LOOP, "--audit", audit, "--state", state, "--now", "2026-12-03T16:05:00Z")
    assert code == 2 and "the supervisor state is damaged" in err
    code, _, err = run_cli("supervise", REPO / "catalog" / "governance" / "router.bal", "--audit", audit)
    assert code == 2 and "no supervisor document" in err


def test_a_broken_document_is_reported_as_check_reports_it(tmp_path: Path) -> None:
    broken = tmp_path / "s.bal"
    broken.write_text(META_LOOP.read_text().replace("goal autonomy_rate", "goal autonomy_rat"))
    audit = tmp_path / "audit.jsonl"
    audit.write_text("")
    code, _, err = run_cli("supervise", broken, "--audit", audit, "--now", "2026-12-03T16:05:00Z")
    assert code == 1 and "error[kpi]: unknown KPI 'autonomy_rat'" in err and "did you mean 'autonomy_rate'?" in err


def test_a_huge_line_is_refused_not_read(tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    audit.write_text('{"kind": "ActionOutcome", "pad": "' + "x" * (1 << 20) + '"}\n')
    code, _, err = run_cli("supervise", META_LOOP, "--audit", audit, "--now", "2026-12-03T16:05:00Z")
    assert code == 2 and f"{audit}:1: a line longer than {1 << 20} characters is not an audit entry" in err


def test_a_ledger_is_read_as_the_same_trail_as_its_json_lines(tmp_path: Path) -> None:
    from ballast.runtime.audit import AuditLog
    from ballast.runtime.ledger import Ledger

    lines = trail(tmp_path / "audit.jsonl", T0, 17, 3)
    ledger = Ledger.open(tmp_path / "audit.db")
    log = AuditLog(ledger, measure=False)
    for line in lines.read_text().splitlines():
        log.write(json.loads(line))
    log.close()
    ledger.close()
    outs = [
        run_cli("supervise", META_LOOP, "--audit", path, "--now", "2026-12-03T16:05:00Z", "--format", "json")[1]
        for path in (lines, tmp_path / "audit.db")
    ]
    assert json.loads(outs[0])["snapshot"] == json.loads(outs[1])["snapshot"]
    assert json.loads(outs[1])["snapshot"]["kpis"]["overall_success_rate"] == {"value": 0.85, "samples": 20}


def test_a_held_directive_is_applied_with_approve(tmp_path: Path) -> None:
    doc = tmp_path / "s.bal"
    doc.write_text(META_LOOP.read_text().replace("    impact low\n", "    impact high\n", 1))
    audit = trail(tmp_path / "audit.jsonl", T0, 17, 3)
    state = tmp_path / "state.json"
    code, out, _ = run_cli("supervise", doc, "--audit", audit, "--state", state, "--now", "2026-12-03T16:05:00Z")
    assert "  impact high, route approval: awaiting_approval (held for approval)" in out
    held = json.loads(state.read_text())["state"]["open"][0]["id"]
    code, _, err = run_cli("supervise", doc, "--audit", audit, "--approve", held, "--now", "2026-12-03T16:06:00Z")
    assert code == 2 and "--approve ID and --by NAME go together" in err
    code, out, _ = run_cli(
        "supervise",
        doc,
        "--audit",
        audit,
        "--state",
        state,
        "--approve",
        held,
        "--by",
        "sre-lead",
        "--now",
        "2026-12-03T16:06:00Z",
    )
    assert out.startswith(f"approved {held} by sre-lead: applied (retry.min_confidence +0.05")
    assert f"policy improve_success: waiting: {held} awaits verification" in out
    code, _, err = run_cli(
        "supervise",
        doc,
        "--audit",
        audit,
        "--state",
        state,
        "--approve",
        held,
        "--by",
        "sre-lead",
        "--now",
        "2026-12-03T16:07:00Z",
    )
    assert code == 2 and f"no directive {held} awaits approval (none does)" in err


def test_a_window_without_entries_measures_nothing_and_says_so(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    code, out, err = run_cli("supervise", META_LOOP, "--audit", empty, "--now", "2026-12-03T16:05:00Z")
    assert code == 1 and "0 entries in the last 5m" in out and "no data (0 samples)" in out
    assert "holds no entry in the cycle's window: no KPI was measured" in err
