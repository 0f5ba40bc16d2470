"""Golden tests for the messages of `ballast check`: every error of a file, where, and why.

Each `tests/golden/dsl/NAME.bal` is checked from inside that folder (so paths in messages are
short and stable) and the output must equal `NAME.expected`. Set BALLAST_UPDATE_GOLDEN=1 to
rewrite the expected files, then read the diff: the positions and hints are the product.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from ballast.cli import main

GOLDEN = Path(__file__).parents[1] / "golden" / "dsl"
CASES = sorted(GOLDEN.glob("*.bal"))


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_check_output_matches_golden(case: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(GOLDEN)
    out, err = io.StringIO(), io.StringIO()
    code = main(["check", case.name], stdout=out, stderr=err)
    actual = f"exit {code}\n{out.getvalue()}{err.getvalue()}"
    expected_path = case.with_suffix(".expected")
    if os.environ.get("BALLAST_UPDATE_GOLDEN"):
        expected_path.write_text(actual, encoding="utf-8")
    assert expected_path.exists(), f"no golden file for {case.name}; run with BALLAST_UPDATE_GOLDEN=1"
    assert actual == expected_path.read_text(encoding="utf-8")


def test_every_error_of_a_file_is_reported_in_one_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(GOLDEN)
    out = io.StringIO()
    main(["check", "many_errors.bal"], stdout=out, stderr=io.StringIO())
    lines = [line for line in out.getvalue().splitlines() if line.startswith("many_errors.bal:")]
    # name, enum, type, impact, reason, format, type, field, action, type, chain, type, condition
    assert len(lines) >= 12
    positions = [tuple(int(x) for x in line.split(":")[1:3]) for line in lines]
    assert positions == sorted(positions), "errors are reported in file order"
