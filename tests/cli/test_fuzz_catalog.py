"""Seeded mutation fuzz of the catalog: no traceback, no hang, no exit 3 on any mutant.

Each catalog file (policies, a module, the YAML policy, scenarios, events) is mutated a few
dozen times with a fixed seed (deleted, duplicated or swapped text, hostile tokens, huge
numbers, bad bytes, truncation) and run through the command that reads it, in-process, under
an alarm. A finding is an exit 3, a traceback, an `internal` problem, or a case past the alarm.
Same seed, same mutants: a failure here reproduces with `pytest tests/cli/test_fuzz_catalog.py`.
"""

from __future__ import annotations

import io
import random
import shutil
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from ballast.cli import main

REPO = Path(__file__).resolve().parents[2]
CATALOG = REPO / "catalog"
SEED = 20251115
MUTANTS_PER_FILE = 40
TIMEOUT_S = 20  # one mutant taking longer hangs

TOKENS = (
    "{", "}", "(", ")", "[", "]", "&&", "||", "!", "-", '"', "'", "#", ":", ",", ".", "=", "==",
    "1e999", "9" * 30, "9" * 5000, "-0", "NaN", "null", "true", "let", "rule", "when", "then",
    "import", "policy", "module", "in", "\t", "\x00", "\u202e", "é", "999999999999d", "0s",
    "avg(", "for 0s", "at most 0 per 1m", "  ", "\n", "- ", "? ", "&a ", "*a", "!!str ",
    "[" * 200, "{" * 200,
)  # fmt: skip
BAD_BYTES = (b"\xff", b"\xe9", b"\xc3", b"\x80")


class Hang(Exception):
    """Raised by the alarm when one mutant runs past TIMEOUT_S."""


def _alarm(signum: int, frame: object) -> None:
    raise Hang(f"no answer within {TIMEOUT_S} s")


def run(*args: object) -> tuple[int, str]:
    """The CLI in-process under an alarm: (exit code, stdout and stderr)."""
    out, err = io.StringIO(), io.StringIO()
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(TIMEOUT_S)
    try:
        code = main([str(a) for a in args], stdout=out, stderr=err, stdin=io.StringIO(""))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return code, out.getvalue() + err.getvalue()


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One to three random edits of `data`."""
    for _ in range(rng.randint(1, 3)):
        data = rng.choice(_EDITS)(data, rng)
    return data


def _span(data: bytes, rng: random.Random) -> tuple[int, int]:
    start = rng.randrange(len(data) + 1)
    return start, min(len(data), start + rng.randint(1, 40))


def _delete(data: bytes, rng: random.Random) -> bytes:
    start, end = _span(data, rng)
    return data[:start] + data[end:]


def _duplicate(data: bytes, rng: random.Random) -> bytes:
    start, end = _span(data, rng)
    return data[:end] + data[start:end] + data[end:]


def _insert(data: bytes, rng: random.Random) -> bytes:
    at = rng.randrange(len(data) + 1)
    return data[:at] + rng.choice(TOKENS).encode() + data[at:]


def _bad_byte(data: bytes, rng: random.Random) -> bytes:
    at = rng.randrange(len(data) + 1)
    return data[:at] + rng.choice(BAD_BYTES) + data[at:]


def _swap_lines(data: bytes, rng: random.Random) -> bytes:
    lines = data.split(b"\n")
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    lines[i], lines[j] = lines[j], lines[i]
    return b"\n".join(lines)


def _truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(len(data) + 1)]


def _big_number(data: bytes, rng: random.Random) -> bytes:
    digits = [i for i, b in enumerate(data) if chr(b).isdigit()]
    if not digits:
        return data
    at = rng.choice(digits)
    return data[:at] + rng.choice((b"9" * 25, b"1e308", b"1" * 4400, b"0.000000001")) + data[at + 1 :]


_EDITS: tuple[Callable[[bytes, random.Random], bytes], ...] = (
    _delete, _duplicate, _insert, _insert, _bad_byte, _swap_lines, _truncate, _big_number,
)  # fmt: skip


# (catalog file, the command that reads it; `{f}` is the mutant's path)
TARGETS = (
    ("motb.bal", ("check", "{f}")),
    ("gtbe.bal", ("check", "{f}")),
    ("watchdog.bal", ("fmt", "--check", "{f}")),
    ("lib/thresholds.bal", ("check", "motb.bal")),  # an import, read through the policy
    ("motb.yaml", ("check", "{f}")),
    ("scenarios/load-risk-spike.scenario.yaml", ("simulate", "--check", "{f}")),
    ("scenarios/noisy-threat.scenario.yaml", ("simulate", "--check", "{f}")),
    ("events.jsonl", ("eval", "motb.bal", "--events", "{f}")),
    ("watchdog-events.jsonl", ("eval", "watchdog.bal", "--events", "{f}")),
)


def _findings(code: int, text: str) -> list[str]:
    found = []
    if code == 3:
        found.append("exit 3")
    if "Traceback" in text or "internal error" in text or '"kind": "internal"' in text:
        found.append("a traceback or internal error")
    return found


@pytest.mark.parametrize(("target", "command"), TARGETS, ids=[t for t, _ in TARGETS])
def test_mutants_of_the_catalog_fail_cleanly(
    target: str, command: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(CATALOG, tmp_path / "catalog", ignore=shutil.ignore_patterns("tests", "__pycache__"))
    root = tmp_path / "catalog"
    monkeypatch.chdir(root)
    original = (CATALOG / target).read_bytes()
    rng = random.Random(f"{SEED}:{target}")
    problems = []
    for number in range(MUTANTS_PER_FILE):
        mutant = mutate(original, rng)
        (root / target).write_bytes(mutant)
        args = [a.replace("{f}", target) for a in command]
        try:
            code, text = run(*args)
        except Hang as exc:
            code, text = -1, str(exc)
            problems.append(f"mutant {number}: {exc}")
        problems.extend(f"mutant {number}: {what}: {text[-300:]!r}" for what in _findings(code, text))
    assert not problems, "\n".join(problems[:5])
