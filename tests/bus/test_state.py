"""`consume --state FILE`: the Engine's windows carry over a restart, and a state that does not
match the ledger is never used."""

from __future__ import annotations

import json
from pathlib import Path

from bus_support import POLICY, entries
from support import run_cli

from ballast.runtime.ledger import Ledger

# Three events of pool A in an hour fire the rule: a window, so the state matters.
WINDOWED = POLICY.replace(
    """  rule hot {
    when load > 0.9""",
    """  let seen_1h = count(load, 1h)

  rule hot {
    group by pool
    when seen_1h >= 3""",
)


def line(i: int) -> str:
    return json.dumps({"ts": f"2026-01-01T00:0{i}:00Z", "id": f"e{i}", "pool": "A", "load": 0.1}) + "\n"


def consume(bundle: Path, tmp: Path, stdin: str, *state: str) -> tuple[int, str, str]:
    argv = ["consume", "--bundle", bundle, "--allow-unsigned", "--ledger", tmp / "l.sqlite", "--source", "-"]
    return run_cli(*argv, *state, stdin=stdin)


def windowed_bundle(tmp: Path) -> Path:
    (tmp / "w.bal").write_text(WINDOWED, encoding="utf-8")
    assert run_cli("compile", tmp / "w.bal", "-o", tmp / "w.json")[0] == 0
    return tmp / "w.json"


def test_the_window_carries_over_a_restart_with_a_state_file(tmp_path: Path) -> None:
    bundle, state = windowed_bundle(tmp_path), str(tmp_path / "engine.json")
    code, _, err = consume(bundle, tmp_path, line(1) + line(2), "--state", state)
    assert code == 0 and "no engine state at" in err
    code, out, err = consume(bundle, tmp_path, line(3), "--state", state)
    assert code == 0 and "engine state restored from" in err
    assert [d["action"] for d in json.loads(out)["directives"]] == ["scale"]  # e1, e2 were remembered
    assert len(entries(tmp_path / "l.sqlite", "DirectiveIssued")) == 1


def test_without_a_state_file_the_engine_starts_empty(tmp_path: Path) -> None:
    bundle = windowed_bundle(tmp_path)
    consume(bundle, tmp_path, line(1) + line(2))
    code, out, _ = consume(bundle, tmp_path, line(3))
    assert code == 0 and json.loads(out)["directives"] == []


def test_a_state_behind_the_ledger_is_not_used(tmp_path: Path) -> None:
    bundle, state = windowed_bundle(tmp_path), str(tmp_path / "engine.json")
    consume(bundle, tmp_path, line(1) + line(2), "--state", state)
    with Ledger.open(tmp_path / "l.sqlite") as other:  # another writer, or a commit whose state was never saved
        other.append({"kind": "Note", "actor": "someone", "subject": "x", "outcome": "ok"})
    code, out, err = consume(bundle, tmp_path, line(3), "--state", state)
    assert code == 0 and json.loads(out)["directives"] == []
    assert "was saved at ledger entry 2, and the ledger now ends at entry 3" in err and "starts empty" in err


def test_a_state_file_that_is_not_one_is_reported_and_not_used(tmp_path: Path) -> None:
    bundle, state = windowed_bundle(tmp_path), tmp_path / "engine.json"
    state.write_text("{oops", encoding="utf-8")
    code, out, err = consume(bundle, tmp_path, line(1), "--state", str(state))
    assert code == 0 and "cannot be read" in err and json.loads(out)["event"] == "e1"
    assert json.loads(state.read_text(encoding="utf-8"))["format"] == "ballast-consume-state/1"  # rewritten
