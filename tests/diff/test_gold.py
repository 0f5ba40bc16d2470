"""Gold fixtures: for every check of the catalog, two sides that raise it and the report they give.

`gold/<check id>/` holds the two sides, `base.bal` and `head.bal` (or `base.yaml` and `head.yaml`,
or `base/` and `head/` folders when the check needs several documents), an optional `args` file
(more arguments of `ballast diff`, one a line: `--schema`, `flags.schema.json`) and
`expected.json`, the `ballast diff --format json` report, run in that folder with relative paths.
A new check cannot land without its fixture (see gold/README.md); `BALLAST_REGEN_GOLD=1` rewrites
every expected.json from the current output (review the git diff).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from support import run_cli

from ballast.compiler.diff.findings import CHECKS

GOLD = Path(__file__).parent / "gold"
FIXTURES = sorted(p.name for p in GOLD.iterdir() if p.is_dir())
REGENERATE = os.environ.get("BALLAST_REGEN_GOLD") == "1"


def sides(fixture: Path) -> tuple[str, str]:
    """The two sides of a fixture as relative paths: the folders when there are, else the files
    `base.<ext>` and `head.<ext>` (`.bal`, or `.yaml` for a configuration file)."""
    if (fixture / "base").is_dir():
        return "base", "head"
    found = [p.name for p in fixture.glob("base.*")]
    assert len(found) == 1, f"{fixture}: one base side, base/ or base.<ext>, not {found}"
    base = found[0]
    head = "head" + base.removeprefix("base")
    assert (fixture / head).is_file(), f"{fixture}: {base} has no {head}"
    return base, head


def arguments(fixture: Path) -> list[str]:
    """The more arguments of a fixture's `args` file, one a line (`--schema`, `flags.schema.json`)."""
    path = fixture / "args"
    if not path.exists():
        return []
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_every_check_has_a_gold_fixture() -> None:
    missing = sorted(set(CHECKS) - set(FIXTURES))
    assert not missing, f"checks without a fixture in {GOLD}: {missing} (see gold/README.md)"


def test_every_fixture_is_a_check() -> None:
    assert not sorted(set(FIXTURES) - set(CHECKS)), "a fixture folder that names no check of CHECKS"


@pytest.mark.parametrize("check", FIXTURES)
def test_gold(check: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fixture = GOLD / check
    monkeypatch.chdir(fixture)
    code, out, err = run_cli("diff", *arguments(fixture), *sides(fixture), "--format", "json")
    assert err == ""
    report = json.loads(out)
    expected_path = fixture / "expected.json"
    if REGENERATE:
        expected_path.write_text(out, encoding="utf-8")
    expected = expected_path.read_text(encoding="utf-8")
    assert out == expected, f"`ballast diff` in {fixture} differs from expected.json (BALLAST_REGEN_GOLD=1 rewrites it)"
    ids = [f["id"] for f in report["findings"]]
    assert check in ids, f"the fixture of {check} does not raise it: {ids}"
    for finding in report["findings"]:
        assert finding["level"] == CHECKS[finding["id"]].level  # no override here: the catalog's level
        assert finding["base"] or finding["head"], f"{finding['key']} has no position"
        for side in ("base", "head"):
            if finding[side]:
                assert not os.path.isabs(finding[side]["file"])
    assert code == (1 if report["summary"]["failed"] else 0)
    assert report["summary"]["failed"] == (report["summary"]["breaking"] > 0)  # --fail-on breaking
