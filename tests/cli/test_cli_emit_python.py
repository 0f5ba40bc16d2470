"""`ballast compile --emit python` shows the code the Engine runs for stateful rules too."""

from __future__ import annotations

import ast
import io
from pathlib import Path

import ballast
from ballast.cli import main
from ballast.runtime.ir import slot_key, walk

WATCHDOG = Path(__file__).resolve().parents[2] / "catalog" / "watchdog.bal"


def test_emit_python_shows_each_stateful_rules_generated_conditions_and_window_slots() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main(["compile", str(WATCHDOG), "--emit", "python"], stdout=out, stderr=err) == 0
    source = out.getvalue()
    timed = ballast.compile([str(WATCHDOG)]).policies[0].timing_ir["rules"]
    conditions = [r["when"] for r in timed] + [r["state"]["exit"] for r in timed if "exit" in r["state"]]
    functions = [n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name == "expression"]
    assert timed and len(functions) == len(conditions)  # real, parseable code, one function per condition
    for rule in timed:
        assert f"# rule {rule['name']}: run by the Engine (" in source
    for condition in conditions:
        for node in walk(condition):
            if node["k"] == "agg":
                assert f"ev[{slot_key(node)!r}]" in source
