"""Bad input through every subcommand: a clear, positioned error, never a traceback, hang or exit 3.

One corpus of hostile or broken inputs (huge integers, deep JSON and expressions, bytes that are
not UTF-8, file names too long for the OS, devices, FIFOs, endless lines, far-off timestamps, a
bundle where source is expected), each run through the commands that accept it, in-process. The
limits and messages are documented in docs/errors.md ("Limits").
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ballast.cli import main

REPO = Path(__file__).resolve().parents[2]
CATALOG = REPO / "catalog"
TIMEOUT_S = 20  # a case that takes longer hangs

SMALL = """policy t.small version "1" {
  input ev {
    pool: string
    n: int
  }
  rule big {
    when n > 5
    then scale(targets: pool)
  }
}
"""
GOOD_EVENT = '{"pool": "a", "n": 7}'


class Hang(Exception):
    """Raised by the alarm when a case runs past TIMEOUT_S."""


def _alarm(signum: int, frame: object) -> None:
    raise Hang(f"no answer within {TIMEOUT_S} s")


def run(*args: object, stdin: str = "") -> tuple[int, str, str]:
    """The CLI in-process under an alarm: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(TIMEOUT_S)
    try:
        code = main([str(a) for a in args], stdout=out, stderr=err, stdin=io.StringIO(stdin))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return code, out.getvalue(), err.getvalue()


@dataclass(frozen=True)
class Case:
    """One bad input through one command: the arguments, the exit code and what the message says."""

    name: str
    argv: Callable[[Path], list[object]]
    code: int
    says: str
    env: tuple[tuple[str, str], ...] = ()


def _files(root: Path) -> None:
    """Write the corpus into `root`."""
    big = "1" * 5000
    deep = "[" * 100_000 + "]" * 100_000
    (root / "small.bal").write_text(SMALL)
    (root / "bigint.bal").write_text(SMALL.replace("n > 5", f"n > {big}"))
    (root / "and600.bal").write_text(SMALL.replace("n > 5", " && ".join(["n > 5"] * 600)))
    (root / "not5000.bal").write_text(SMALL.replace("n > 5", "!" * 5000 + "(n > 5)"))
    (root / "latin1.bal").write_bytes(SMALL.replace('"1"', '"\xe9"').encode("latin-1"))
    (root / "events.jsonl").write_text(GOOD_EVENT + "\n")
    (root / "bigint.jsonl").write_text(f'{{"pool": "a", "n": {big}}}\n{GOOD_EVENT}\n')
    (root / "deep.jsonl").write_text(f"{deep}\n{GOOD_EVENT}\n")
    (root / "latin1.jsonl").write_bytes(b'{"pool": "\xe9", "n": 7}\n' + GOOD_EVENT.encode() + b"\n")
    (root / "long-line.jsonl").write_text('{"pool": "' + "x" * 5000 + '", "n": 7}\n' + GOOD_EVENT + "\n")
    (root / "bigint.json").write_text(f'{{"pool": "a", "n": {big}}}')
    (root / "deep.json").write_text(deep)
    (root / "latin1.json").write_bytes(b'{"pool": "\xe9", "n": 7}')
    (root / "imports-fifo.bal").write_text(SMALL.replace("  input ev", '  import "pipe.bal"\n  input ev'))
    os.mkfifo(root / "pipe.bal")
    os.mkfifo(root / "pipe.scenario.yaml")
    os.mkfifo(root / "pipe.test.yaml")
    scenario = (CATALOG / "scenarios" / "load-risk-spike.scenario.yaml").read_text(encoding="utf-8")
    policies = f"policies: [{CATALOG / 'motb.bal'}, {CATALOG / 'gtbe.bal'}]"
    scenario = scenario.replace("policies: [../motb.bal, ../gtbe.bal]", policies)
    (root / "latin1.scenario.yaml").write_bytes(scenario.encode().replace(b"description: ", b"description: \xe9 ", 1))
    test_file = (CATALOG / "tests" / "motb.test.yaml").read_text(encoding="utf-8")
    test_file = test_file.replace("policies: [../motb.bal]", f"policies: [{CATALOG / 'motb.bal'}]")
    (root / "latin1.test.yaml").write_bytes(test_file.encode().replace(b"agent: a1", b"agent: \xe9", 1))
    (root / "deep.yaml").write_text((CATALOG / "motb.yaml").read_text(encoding="utf-8") + f"x: {deep}\n")
    (root / "deep.scenario.yaml").write_text(scenario + f"\nx: {deep}\n")
    watchdog = (CATALOG / "watchdog-events.jsonl").read_text(encoding="utf-8").splitlines()
    far = json.loads(watchdog[1])
    far["ts"] = 1e30
    (root / "deep-watchdog.jsonl").write_text("\n".join([deep, *watchdog]) + "\n")
    (root / "far-ts.jsonl").write_text("\n".join([watchdog[0], json.dumps(far), *watchdog[1:4]]) + "\n")
    assert main(["compile", str(CATALOG / "motb.bal"), "-o", str(root / "motb.bundle.json")], io.StringIO(), io.StringIO()) == 0
    shutil.copy(root / "motb.bundle.json", root / "bundle-named.bal")


LONG = "x" * 300 + ".bal"  # longer than any file name the OS allows
MOTB = CATALOG / "motb.bal"

CASES = [
    # an integer literal of 5,000 digits
    Case("check-bigint", lambda d: ["check", d / "bigint.bal"], 1, "bigint.bal:7:14: error[syntax]: integer literal too large"),
    Case("compile-bigint", lambda d: ["compile", d / "bigint.bal"], 1, "integer literal too large"),
    Case("fmt-bigint", lambda d: ["fmt", "--check", d / "bigint.bal"], 1, "bigint.bal:7:14: error[syntax]"),
    Case("explain-bigint", lambda d: ["explain", d / "bigint.bal", "--rule", "big", "--event", GOOD_EVENT], 1, "integer literal too large"),
    Case("shadow-bigint", lambda d: ["shadow", "--scenario", CATALOG / "scenarios" / "load-risk-spike.scenario.yaml", "--baseline", d / "bigint.bal", "--candidate", MOTB], 2, "integer literal too large"),
    Case("replay-bigint", lambda d: ["replay", "--telemetry", d / "events.jsonl", "--baseline", d / "bigint.bal", "--candidate", d / "small.bal"], 2, "integer literal too large"),
    # expressions too deep to walk recursively
    Case("check-and600", lambda d: ["check", d / "and600.bal"], 1, "error[syntax]: expression too deep (limit 100"),
    Case("check-not5000", lambda d: ["check", d / "not5000.bal"], 1, "not5000.bal:7:106: error[syntax]: expression too deep"),
    Case("compile-and600", lambda d: ["compile", d / "and600.bal"], 1, "expression too deep"),
    Case("fmt-and600", lambda d: ["fmt", "--check", d / "and600.bal"], 1, "expression too deep"),
    Case("fmt-not5000", lambda d: ["fmt", "--check", d / "not5000.bal"], 1, "expression too deep"),
    Case("eval-not5000", lambda d: ["eval", d / "not5000.bal", "--events", d / "events.jsonl"], 1, "expression too deep"),
    Case("explain-and600", lambda d: ["explain", d / "and600.bal", "--rule", "big", "--event", GOOD_EVENT], 1, "expression too deep"),
    # events: a huge integer, deep nesting, bytes that are not UTF-8, an over-long line
    Case("eval-bigint-event", lambda d: ["eval", d / "small.bal", "--events", d / "bigint.jsonl"], 1, '"line": 2'),
    Case("eval-deep-event", lambda d: ["eval", d / "small.bal", "--events", d / "deep.jsonl"], 1, "nested deeper than the limit of 64 levels"),
    Case("eval-latin1-events", lambda d: ["eval", d / "small.bal", "--events", d / "latin1.jsonl"], 1, "line 1, column 11: not UTF-8 text (byte 0xe9"),
    Case("eval-long-line", lambda d: ["eval", d / "small.bal", "--events", d / "long-line.jsonl"], 1, "the line is longer than the limit of 1000 bytes", (("BALLAST_MAX_LINE_BYTES", "1000"),)),
    Case("explain-bigint-event", lambda d: ["explain", d / "small.bal", "--rule", "big", "--event", "@" + str(d / "bigint.json")], 2, "bigint.json:1:20: the event is not valid JSON: a number has more than 4300 digits"),
    Case("explain-deep-event", lambda d: ["explain", d / "small.bal", "--rule", "big", "--event", "@" + str(d / "deep.json")], 2, "deep.json:1:65: the event is not valid JSON: nested deeper"),
    Case("explain-latin1-event", lambda d: ["explain", d / "small.bal", "--rule", "big", "--event", "@" + str(d / "latin1.json")], 2, "latin1.json:1:11: not UTF-8 text"),
    Case("explain-deep-history", lambda d: ["explain", CATALOG / "watchdog.bal", "--rule", "htm_queue_warning", "--events", d / "deep-watchdog.jsonl"], 2, "deep-watchdog.jsonl:1:65: not valid JSON (nested deeper"),
    Case("replay-deep-telemetry", lambda d: ["replay", "--telemetry", d / "deep.jsonl", "--baseline", d / "small.bal", "--candidate", d / "small.bal"], 1, "deep.jsonl:1: not JSON at column 65: nested deeper than the limit"),
    Case("replay-bigint-telemetry", lambda d: ["replay", "--telemetry", d / "bigint.jsonl", "--baseline", d / "small.bal", "--candidate", d / "small.bal"], 1, "bigint.jsonl:1: not JSON at column 20: a number has more than 4300 digits"),
    # a timestamp far outside any calendar: that event's problem, the clock untouched
    Case("eval-far-timestamp", lambda d: ["eval", CATALOG / "watchdog.bal", "--events", d / "far-ts.jsonl"], 1, "a time must lie between 1900-01-01 and 9000-01-01"),
    # YAML nested too deeply for its loader
    Case("check-deep-yaml", lambda d: ["check", d / "deep.yaml"], 1, "deep.yaml:1:1: error[yaml]: the YAML is nested too deeply"),
    Case("simulate-deep-yaml", lambda d: ["simulate", "--check", d / "deep.scenario.yaml"], 2, "error[yaml]: the YAML is nested too deeply"),
    # source files that are not UTF-8
    Case("check-latin1", lambda d: ["check", d / "latin1.bal"], 1, "latin1.bal:1:25: error[io]"),
    Case("fmt-latin1", lambda d: ["fmt", "--check", d / "latin1.bal"], 2, "latin1.bal:1:25: not UTF-8 text"),
    Case("simulate-latin1", lambda d: ["simulate", d / "latin1.scenario.yaml"], 2, "not UTF-8 text"),
    Case("shadow-latin1", lambda d: ["shadow", "--scenario", d / "latin1.scenario.yaml", "--baseline", MOTB, "--candidate", MOTB], 2, "not UTF-8 text"),
    Case("test-latin1", lambda d: ["test", d / "latin1.test.yaml"], 2, "not UTF-8 text"),
    # a file name longer than the OS allows
    Case("check-long-name", lambda d: ["check", d / LONG], 2, "File name too long"),
    Case("compile-long-name", lambda d: ["compile", d / LONG], 2, "File name too long"),
    Case("fmt-long-name", lambda d: ["fmt", d / LONG], 2, "File name too long"),
    Case("eval-long-name", lambda d: ["eval", d / "small.bal", "--events", d / LONG], 2, "File name too long"),
    Case("eval-long-bundle-name", lambda d: ["eval", d / ("x" * 300 + ".json"), "--events", d / "events.jsonl"], 2, "File name too long"),
    Case("explain-long-name", lambda d: ["explain", d / "small.bal", "--rule", "big", "--event", "@" + str(d / LONG)], 2, "File name too long"),
    Case("test-long-name", lambda d: ["test", d / LONG], 2, "File name too long"),
    Case("simulate-long-name", lambda d: ["simulate", d / LONG], 2, "File name too long"),
    Case("shadow-long-name", lambda d: ["shadow", "--scenario", d / LONG, "--baseline", MOTB, "--candidate", MOTB], 2, "File name too long"),
    Case("replay-long-name", lambda d: ["replay", "--telemetry", d / LONG, "--baseline", MOTB, "--candidate", MOTB], 2, "File name too long"),
    # devices, FIFOs and endless input
    Case("check-dev-zero", lambda d: ["check", "/dev/zero"], 1, "/dev/zero:1:1: error[io]: /dev/zero: not a regular file (a device)"),
    Case("compile-fifo", lambda d: ["compile", d / "pipe.bal"], 1, "not a regular file (a FIFO)"),
    Case("check-import-fifo", lambda d: ["check", d / "imports-fifo.bal"], 1, "pipe.bal: not a regular file (a FIFO)"),
    Case("fmt-fifo", lambda d: ["fmt", "--check", d / "pipe.bal"], 2, "not a regular file (a FIFO)"),
    Case("eval-dev-zero", lambda d: ["eval", d / "small.bal", "--events", "/dev/zero"], 2, "/dev/zero: a line runs on for more than 16000 bytes", (("BALLAST_MAX_LINE_BYTES", "1000"),)),
    Case("explain-dev-zero", lambda d: ["explain", d / "small.bal", "--rule", "big", "--event", "@/dev/zero"], 2, "larger than the limit of 1000 bytes", (("BALLAST_MAX_FILE_BYTES", "1000"),)),
    Case("simulate-fifo", lambda d: ["simulate", d / "pipe.scenario.yaml"], 2, "not a regular file (a FIFO)"),
    Case("test-fifo", lambda d: ["test", d / "pipe.test.yaml"], 2, "not a regular file (a FIFO)"),
    Case("check-too-big", lambda d: ["check", MOTB], 1, "larger than the limit of 100 bytes", (("BALLAST_MAX_FILE_BYTES", "100"),)),
    Case("check-bad-limit", lambda d: ["check", MOTB], 2, "BALLAST_MAX_FILE_BYTES='lots': expected a whole number", (("BALLAST_MAX_FILE_BYTES", "lots"),)),
    # a bundle where policy source is expected
    Case("check-bundle", lambda d: ["check", d / "motb.bundle.json"], 1, "error[bundle]: " + "{d}/motb.bundle.json is a compiled bundle, not a policy source"),
    Case("fmt-bundle", lambda d: ["fmt", "--check", d / "bundle-named.bal"], 1, "is a compiled bundle"),
    Case("explain-bundle", lambda d: ["explain", d / "motb.bundle.json", "--rule", "sla_breach", "--event", GOOD_EVENT], 1, "evaluate it alone: `ballast eval"),
    Case("eval-bundle-named-bal", lambda d: ["eval", d / "bundle-named.bal", "--events", d / "events.jsonl"], 1, "is a compiled bundle"),
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("bad-input")
    _files(root)
    yield root


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_a_clear_error(case: Case, corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in case.env:
        monkeypatch.setenv(name, value)
    code, out, err = run(*case.argv(corpus))
    text = out + err
    assert "Traceback" not in text and "internal error" not in text
    assert case.says.replace("{d}", str(corpus)) in text, text[-2000:]
    assert code == case.code, text[-2000:]


def test_a_bad_line_does_not_stop_the_stream(corpus: Path) -> None:
    """After a huge integer, deep nesting or bad bytes, the next line is evaluated as usual."""
    for events in ("bigint.jsonl", "deep.jsonl", "latin1.jsonl"):
        code, out, _ = run("eval", corpus / "small.bal", "--events", corpus / events)
        records = [json.loads(line) for line in out.splitlines()]
        assert code == 1
        assert [r["line"] for r in records] == [1, 2]
        assert records[0]["errors"][0]["kind"] == "invalid-json"
        assert [d["action"] for d in records[1]["directives"]] == ["scale"]


def test_a_far_timestamp_leaves_the_clock_alone(corpus: Path) -> None:
    """The event with ts 1e30 is rejected; the events after it are evaluated without error."""
    code, out, _ = run("eval", CATALOG / "watchdog.bal", "--events", corpus / "far-ts.jsonl")
    records = [json.loads(line) for line in out.splitlines()]
    assert code == 1
    assert [e["kind"] for e in records[1]["errors"]] == ["invalid-event"]
    assert [r["errors"] for r in records[2:]] == [[], [], []]


def test_an_expression_just_inside_the_limit_compiles_and_runs(corpus: Path) -> None:
    policy = corpus / "deep-ok.bal"
    policy.write_text(SMALL.replace("n > 5", "!" * 90 + "(n > 5)"))
    code, out, err = run("eval", policy, "--events", corpus / "events.jsonl")
    assert code == 0, err
    assert [d["action"] for d in json.loads(out)["directives"]] == ["scale"]  # 90 `!` cancel out
