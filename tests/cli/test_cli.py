"""The `ballast` command line, end to end: exit codes, messages, files written.

Most tests call `ballast.cli.main` in-process with string streams (fast); the ones about what a
user sees from a shell (no traceback, `python -m ballast.cli`, --help) run a real subprocess.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support import run_cli

import ballast
from ballast.cli import main

REPO = Path(__file__).resolve().parents[2]
CATALOG = REPO / "catalog"
MOTB = CATALOG / "motb.bal"
EVENTS = CATALOG / "events.jsonl"
EVENT_LINES = [line for line in EVENTS.read_text(encoding="utf-8").splitlines() if line.strip()]
COMMANDS = ("check", "compile", "eval", "fmt", "explain")
PASSES = ("parse", "resolve", "check-types", "optimize", "codegen", "bundle")
HEAD = re.compile(
    r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (?P<sev>error|warning)\[(?P<code>[\w-]+)\]: (?P<msg>.+)$"
)


run = run_cli  # the CLI in-process: (exit code, stdout, stderr)


def shell(*args: str, stdin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI as a user runs it: `python -m ballast.cli …` in a fresh process."""
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    env["PYTHONUTF8"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "ballast.cli", *map(str, args)],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=cwd,
        env=env,
        timeout=60,
    )


def event(line: int) -> dict:
    """The event on 1-based `line` of catalog/events.jsonl."""
    return json.loads(EVENT_LINES[line - 1])


def records(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


# ---- files with problems ----

BAD_A = """\
policy bad.a version "1" {
  input sample_a {
    load: float in [0, 1]
    tier: enum("a", "b")
  }
  rule typo {
    when lod > 0.5
    then scale(targets: "x", by: 1)
  }
  rule wrong_enum {
    when tier == 3
    then scale(targets: "x", by: 1)
  }
}
"""

BAD_B = """\
policy bad.b version "1" {
  input sample_b {
    load: float in [0, 1]
  }
  rule ordering {
    when load > "high"
    then scale(targets: "x", by: 1)
  }
}
"""

WARN = """\
policy warn version "1" {
  input ev {
    load: float in [0, 1]
  }
  rule never_fires {
    when load > 2
    then scale(targets: "x", by: 1)
  }
}
"""


@pytest.fixture
def bad_files(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "a.bal", tmp_path / "b.bal"
    a.write_text(BAD_A, encoding="utf-8")
    b.write_text(BAD_B, encoding="utf-8")
    return a, b


# ---- check ----


def test_check_catalog_passes_in_a_fresh_process() -> None:
    proc = shell("check", CATALOG)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("ok: ")
    assert "Traceback" not in proc.stderr
    code, out, _ = run("check", MOTB)
    rules = len(re.findall(r"^\s*rule \w+", MOTB.read_text(encoding="utf-8"), re.M))
    assert (code, out) == (0, f"ok: 1 policy, {rules} rules\n")


def test_check_catalog_json_has_no_diagnostics() -> None:
    code, out, _ = run("check", "--format", "json", MOTB)
    assert code == 0
    assert json.loads(out)["diagnostics"] == []


def test_check_reports_every_error_gcc_style_sorted_with_carets_and_hints(bad_files: tuple[Path, Path]) -> None:
    a, b = bad_files
    code, out, _ = run("check", b, a)  # given out of order: the report is still sorted
    assert code == 1
    lines = out.splitlines()
    heads = [(i, m) for i, line in enumerate(lines) if (m := HEAD.match(line))]
    found = [(m["file"], int(m["line"]), int(m["col"]), m["code"]) for _, m in heads]
    assert found == [
        (str(a), 7, 10, "name"),
        (str(a), 11, 15, "type"),
        (str(b), 6, 15, "type"),
    ]
    assert found == sorted(found)
    messages = [m["msg"] for _, m in heads]
    assert messages[0] == "unknown name 'lod'"
    assert "cannot compare" in messages[1] and "int" in messages[1]
    assert messages[2] == "'>' cannot order float and string"
    sources = {a: BAD_A.splitlines(), b: BAD_B.splitlines()}
    for i, m in heads:
        source_line = sources[Path(m["file"])][int(m["line"]) - 1]
        assert lines[i + 1] == "    " + source_line
        caret = lines[i + 2]
        assert caret.strip() and set(caret.strip()) == {"^"}
        assert caret.index("^") == 4 + int(m["col"]) - 1  # under the column the head names
        assert lines[i + 3].startswith("    hint: ")
    assert lines[heads[0][0] + 2] == "    " + " " * 9 + "^^^"  # exactly under `lod`
    assert lines[heads[0][0] + 3] == "    hint: did you mean 'load'?"
    assert lines[-1] == "3 errors, 0 warnings"


def test_check_json_lists_the_same_errors(bad_files: tuple[Path, Path]) -> None:
    a, b = bad_files
    code, out, _ = run("check", "--format", "json", a, b)
    assert code == 1
    diagnostics = json.loads(out)["diagnostics"]
    assert [(d["file"], d["line"], d["column"], d["severity"], d["code"]) for d in diagnostics] == [
        (str(a), 7, 10, "error", "name"),
        (str(a), 11, 15, "error", "type"),
        (str(b), 6, 15, "error", "type"),
    ]
    assert diagnostics[0]["message"] == "unknown name 'lod'"
    assert diagnostics[0]["hint"] == "did you mean 'load'?"
    assert (diagnostics[0]["end_line"], diagnostics[0]["end_column"]) == (7, 13)


def test_check_warnings_pass_unless_werror(tmp_path: Path) -> None:
    path = tmp_path / "warn.bal"
    path.write_text(WARN, encoding="utf-8")
    code, out, _ = run("check", path)
    assert code == 0
    head = HEAD.match(out.splitlines()[0])
    assert head and head["sev"] == "warning" and head["code"] == "never"
    assert "never_fires" in head["msg"]
    assert "0 errors, 1 warning" in out
    code, out_werror, _ = run("check", "--werror", path)
    assert code == 1
    assert out_werror == out
    assert run("check", "--werror", MOTB)[0] == 0  # the catalog has no warnings


def test_check_reports_warnings_next_to_errors(tmp_path: Path) -> None:
    path = tmp_path / "both.bal"
    path.write_text(WARN.replace("when load > 2", "when has(load) && lod > 0.5"), encoding="utf-8")
    code, out, _ = run("check", path)
    assert code == 1
    heads = [m for line in out.splitlines() if (m := HEAD.match(line))]
    assert [(m["sev"], m["code"], int(m["col"])) for m in heads] == [("warning", "always", 10), ("error", "name", 23)]
    assert out.splitlines()[-1] == "1 error, 1 warning"


def test_check_missing_file_is_reported_without_traceback(tmp_path: Path) -> None:
    proc = shell("check", tmp_path / "nope.bal")
    assert proc.returncode == 2  # the command could not run: documented exit code 2
    assert "nope.bal" in proc.stderr
    assert "no such file or directory" in proc.stderr
    assert "Traceback" not in proc.stderr


# ---- compile ----


def test_compile_writes_a_loadable_bundle(tmp_path: Path) -> None:
    out_path = tmp_path / "motb.bundle.json"
    code, out, err = run("compile", MOTB, "-o", out_path)
    assert code == 0, err
    assert out == ""
    bundle = json.loads(out_path.read_text(encoding="utf-8"))
    assert set(bundle) == {"manifest", "ir"}
    assert bundle["manifest"]["fingerprint"]["hash"][:16] in err
    assert f"wrote {out_path}" in err
    policies = ballast.load(out_path, allow_unsigned=True)
    assert [d.rule for d in policies.evaluate(event(4)).directives] == ["downgrade_on_load_risk"]


def test_compile_with_errors_writes_nothing(bad_files: tuple[Path, Path], tmp_path: Path) -> None:
    out_path = tmp_path / "bad.bundle.json"
    code, _, err = run("compile", bad_files[0], "-o", out_path)
    assert code == 1
    assert "error[name]: unknown name 'lod'" in err
    assert not out_path.exists()


def test_compile_help_lists_every_pass() -> None:
    code, out, _ = run("compile", "--help")
    assert code == 0
    assert ", ".join(PASSES) in " ".join(out.split())


@pytest.mark.parametrize("name", PASSES)
def test_dump_after_every_pass_prints_its_state_and_stops(name: str, tmp_path: Path) -> None:
    out_path = tmp_path / "never.json"
    code, out, err = run("compile", MOTB, "--dump-after", name, "-o", out_path)
    assert code == 0, err
    assert not out_path.exists()  # the dump stops the compile before the bundle is written
    if name == "codegen":
        assert "def match(ev, fired, faulted)" in out
        return
    state = json.loads(out)
    if name == "parse":
        assert [d["name"] for d in state] == ["motb.orchestration"]
        assert state[0]["node"] == "Document"
    elif name == "resolve":
        assert state[0]["policy"] == "motb.orchestration"
        assert "downgrade_on_load_risk" in state[0]["rules"]
        assert "load_limit" in state[0]["constants"]
    elif name == "bundle":
        assert state["fingerprint"]["algo"] == "sha256"
        assert {i["path"] for i in state["fingerprint"]["inputs"]} >= {str(MOTB)}
    else:  # check-types, optimize: the IR
        (burn,) = [r for p in state["policies"] for r in p["rules"] if r["name"] == "error_budget_burn"]
        threshold = burn["when"]["r"]
        if name == "check-types":
            assert threshold["k"] == "bin" and threshold["op"] == "*"  # error_budget * 5, as written
        else:
            assert threshold["k"] == "lit" and threshold["v"] == pytest.approx(0.05)  # folded


def test_emit_python_shows_valid_matcher_code() -> None:
    code, out, _ = run("compile", MOTB, "--emit", "python")
    assert code == 0
    assert "def match(ev, fired, faulted)" in out
    compile(out, "<emitted>", "exec")  # it is real Python
    assert "fired(" in out


def test_emit_ir_is_the_optimized_ir_as_json() -> None:
    code, out, _ = run("compile", MOTB, "--emit", "ir")
    assert code == 0
    ir = json.loads(out)
    assert ir["format"].startswith("ballast-ir/")
    rules = [r["name"] for p in ir["policies"] for r in p["rules"]]
    assert rules == re.findall(r"^\s*rule (\w+)", MOTB.read_text(encoding="utf-8"), re.M)
    assert ir == ballast.compile([MOTB]).ir


# ---- eval ----


def _expected_eval_shape(recs: list[dict]) -> None:
    assert [r["line"] for r in recs] == list(range(1, len(EVENT_LINES) + 1))
    assert [d["rule"] for d in recs[3]["directives"]] == ["downgrade_on_load_risk"]
    assert recs[3]["directives"][0]["targets"] == ["B"]
    assert recs[0]["directives"] == [] and recs[0]["errors"] == []
    bad = recs[11]["errors"]
    assert {e["field"] for e in bad} == {"latency_ms", "latency_p95_ms"}
    assert all(e["kind"] == "invalid-event" for e in bad)
    assert any(e.get("hint") == "did you mean 'latency_p95_ms'?" for e in bad)
    assert recs[12]["errors"][0]["field"] == "load" and "out of range" in recs[12]["errors"][0]["message"]


def test_eval_policy_files_prints_one_json_line_per_event() -> None:
    code, out, _ = run("eval", MOTB, "--events", EVENTS)
    assert code == 1  # the sample ends with two invalid events
    _expected_eval_shape(records(out))


def test_eval_bundle_gives_the_same_output_as_the_sources(tmp_path: Path) -> None:
    bundle = tmp_path / "b.json"
    assert run("compile", MOTB, "-o", bundle)[0] == 0
    from_sources = run("eval", MOTB, "--events", EVENTS)
    code, out, err = run("eval", bundle, "--events", EVENTS, "--allow-unsigned")
    assert (code, out) == from_sources[:2]
    assert err == f"ballast: warning: {bundle}: the bundle is not signed; loaded because unsigned bundles are allowed (development only)\n"


def test_eval_reads_events_from_stdin_in_a_fresh_process() -> None:
    proc = shell("eval", MOTB, "--events", "-", stdin="\n".join(EVENT_LINES[:4]) + "\n")
    assert proc.returncode == 0, proc.stderr
    recs = records(proc.stdout)
    assert len(recs) == 4
    assert [d["rule"] for d in recs[3]["directives"]] == ["downgrade_on_load_risk"]


def test_eval_stdin_in_process_matches_file(tmp_path: Path) -> None:
    code, out, _ = run("eval", MOTB, "--events", "-", stdin="\n".join(EVENT_LINES) + "\n")
    assert (code, out) == run("eval", MOTB, "--events", EVENTS)[:2]


def test_eval_text_format_one_line_per_directive_and_error() -> None:
    code, out, _ = run("eval", MOTB, "--events", EVENTS, "--format", "text")
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == (
        'line 4: downgrade B {"level": 1} [motb.orchestration/downgrade_on_load_risk, low] '
        "load 0.92 and risk 83 above 0.8 / 80 on standard pool B"
    )
    assert (
        "line 12: error: motb.orchestration: unknown field 'latency_ms' (hint: did you mean 'latency_p95_ms'?)" in lines
    )
    assert any(line.startswith("line 13: error: motb.orchestration: 'load' = 1.7 is out of range") for line in lines)
    assert not any(line.startswith(("line 1:", "line 2:", "line 3:")) for line in lines)


def test_eval_malformed_json_line_is_reported_and_the_rest_evaluated(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join([EVENT_LINES[0], '{"load": 0.5,', "", EVENT_LINES[3]]) + "\n", encoding="utf-8")
    code, out, _ = run("eval", MOTB, "--events", events)
    assert code == 1
    recs = records(out)
    assert [r["line"] for r in recs] == [1, 2, 4]  # blank lines are skipped, numbering is the file's
    (problem,) = recs[1]["errors"]
    assert problem["kind"] == "invalid-json"
    assert problem["message"].startswith("line 2, column ")
    assert recs[1]["directives"] == []
    assert recs[0]["errors"] == [] and recs[2]["errors"] == []
    assert [d["rule"] for d in recs[2]["directives"]] == ["downgrade_on_load_risk"]


def test_eval_valid_events_exit_0_invalid_events_exit_1(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text("\n".join(EVENT_LINES[:11]) + "\n", encoding="utf-8")
    assert run("eval", MOTB, "--events", good)[0] == 0
    bad = tmp_path / "bad.jsonl"
    bad.write_text(EVENT_LINES[0] + "\n" + json.dumps({**event(1), "load": "high"}) + "\n", encoding="utf-8")
    code, out, _ = run("eval", MOTB, "--events", bad)
    assert code == 1
    assert records(out)[1]["errors"][0]["field"] == "load"


def test_eval_missing_events_file_exits_2_with_a_clear_message(tmp_path: Path) -> None:
    missing = tmp_path / "missing.jsonl"
    proc = shell("eval", MOTB, "--events", missing)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"ballast: cannot read events from {missing}: No such file or directory"
    assert proc.stdout == ""


# ---- fmt ----


def _messy_catalog(tmp_path: Path) -> Path:
    """A copy of the catalog policy with every line's indentation stripped, and its module."""
    (tmp_path / "lib").mkdir()
    shutil.copy(CATALOG / "lib" / "thresholds.bal", tmp_path / "lib" / "thresholds.bal")
    messy = tmp_path / "motb.bal"
    messy.write_text(
        "\n".join(line.lstrip() for line in MOTB.read_text(encoding="utf-8").splitlines()) + "\n", encoding="utf-8"
    )
    return messy


def _comments(text: str) -> list[str]:
    return sorted(m.group(0).rstrip() for m in re.finditer(r"#[^\n]*", text))


def test_fmt_check_reports_and_writes_nothing(tmp_path: Path) -> None:
    messy = _messy_catalog(tmp_path)
    before = messy.read_bytes()
    code, out, _ = run("fmt", "--check", messy)
    assert code == 1
    assert out == f"would reformat {messy}\n"
    assert messy.read_bytes() == before


def test_fmt_diff_prints_a_unified_diff_and_writes_nothing(tmp_path: Path) -> None:
    messy = _messy_catalog(tmp_path)
    before = messy.read_bytes()
    code, out, _ = run("fmt", "--diff", messy)
    assert code == 1
    assert out.startswith(f"--- {messy}\n+++ {messy} (formatted)\n@@ ")
    diff = out.splitlines()
    assert '-owner "sre-core"' in diff and '+  owner "sre-core"' in diff
    assert messy.read_bytes() == before


def test_fmt_rewrites_is_idempotent_and_keeps_comments(tmp_path: Path) -> None:
    messy = _messy_catalog(tmp_path)
    original = messy.read_text(encoding="utf-8")
    code, out, _ = run("fmt", messy)
    assert code == 0
    assert out == f"reformatted {messy}\n"
    formatted = messy.read_text(encoding="utf-8")
    assert formatted != original
    assert "\n  rule downgrade_on_load_risk {\n    when overloaded && non_critical\n" in formatted
    assert _comments(formatted) == _comments(original)
    # a comment at the end of a field's line stays on that line
    (load_line,) = [line for line in formatted.splitlines() if line.lstrip().startswith("load:")]
    assert load_line.strip().startswith("load: float in [0, 1]") and load_line.endswith("# CLE loadFactor")
    # a second run changes nothing
    assert run("fmt", messy) == (0, "", "")
    assert messy.read_text(encoding="utf-8") == formatted
    assert run("fmt", "--check", messy)[0] == 0
    # the formatted file still compiles, to the same rules
    assert ballast.compile([messy]).rule_count == ballast.compile([MOTB]).rule_count


def test_fmt_syntax_error_is_reported_and_the_file_kept(tmp_path: Path) -> None:
    path = tmp_path / "broken.bal"
    path.write_text('policy p version "1" {\n  rule r {\n', encoding="utf-8")
    code, _, err = run("fmt", path)
    assert code == 1
    assert HEAD.match(err.splitlines()[0])
    assert path.read_text(encoding="utf-8") == 'policy p version "1" {\n  rule r {\n'


CATALOG_BAL = sorted(CATALOG.rglob("*.bal"))


def _strip_positions(value: object) -> object:
    if isinstance(value, dict):
        return {k: _strip_positions(v) for k, v in value.items() if k != "at"}
    if isinstance(value, list):
        return [_strip_positions(v) for v in value]
    return value


@pytest.mark.parametrize("path", CATALOG_BAL, ids=lambda p: str(p.relative_to(CATALOG)))
def test_fmt_of_each_catalog_file_is_idempotent_and_compiles_the_same(path: Path, tmp_path: Path) -> None:
    copy = tmp_path / path.name
    shutil.copy(path, copy)
    assert run("fmt", copy)[0] == 0
    once = copy.read_text(encoding="utf-8")
    assert run("fmt", copy) == (0, "", "")
    assert copy.read_text(encoding="utf-8") == once
    assert _comments(once) == _comments(path.read_text(encoding="utf-8"))
    # swap the formatted text in for the original and compile every catalog policy
    # policy variants under catalog/tests/ (shadow candidates) reuse a catalog policy's name:
    # each compiles on its own, the rest of the catalog together
    variants = [p for p in CATALOG_BAL if "tests" in p.relative_to(CATALOG).parts]
    if path in variants:
        policies = [path]
    else:
        policies = [p for p in CATALOG_BAL if re.search(r"^policy ", p.read_text(encoding="utf-8"), re.M)]
        policies = [p for p in policies if p not in variants]
    sources = {str(p): p.read_text(encoding="utf-8") for p in CATALOG_BAL}
    before = ballast.compile([str(p) for p in policies], sources=sources).ir
    after = ballast.compile([str(p) for p in policies], sources={**sources, str(path): once}).ir
    assert _strip_positions(after) == _strip_positions(before)


# ---- explain ----


def test_explain_a_rule_that_fires_shows_every_check_and_its_inputs() -> None:
    code, out, _ = run("explain", MOTB, "--rule", "downgrade_on_load_risk", "--event", EVENT_LINES[3])
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "rule motb.orchestration/downgrade_on_load_risk"
    assert "  ✔ overloaded && non_critical  → true" in lines
    assert "      ✔ load > load_limit  → true   where load = 0.92, load_limit = 0.8" in lines
    assert "      ✔ risk > risk_limit  → true   where risk = 83.0, risk_limit = 80" in lines
    assert '    ✔ non_critical = tier != "critical"  → true   where tier = standard' in lines
    assert lines[-1] == "  verdict: FIRES (downgrade)"
    assert "✘" not in out and "skipped" not in out


def test_explain_a_rule_that_does_not_fire_marks_false_and_skipped_parts() -> None:
    code, out, _ = run("explain", MOTB, "--rule", "downgrade_on_load_risk", "--event", EVENT_LINES[0])
    assert code == 0
    lines = out.splitlines()
    assert "      ✘ load > load_limit  → false   where load = 0.55, load_limit = 0.8" in lines
    (risk,) = [line for line in lines if line.strip().startswith("- risk > risk_limit")]
    assert risk.strip().startswith("- risk > risk_limit  → skipped (short-circuit)")
    assert "risk = " not in risk  # not evaluated, so no event value is shown
    (non_critical,) = [line for line in lines if " non_critical = " in line]
    assert "skipped (short-circuit)" in non_critical
    assert lines[-1] == "  verdict: does not fire"


def test_explain_json_report() -> None:
    code, out, _ = run(
        "explain", MOTB, "--rule", "motb.orchestration/scheduler_stalled", "--event", EVENT_LINES[8], "--format", "json"
    )
    assert code == 0
    report = json.loads(out)
    assert (report["policy"], report["rule"], report["fires"], report["error"]) == (
        "motb.orchestration",
        "scheduler_stalled",
        True,
        "",
    )
    children = report["tree"]["children"]
    assert [c["value"] for c in children] == [True, True]
    assert children[0]["inputs"] == {"dispatch_rate": 0.4, "min_dispatch_rate": 1.0}


def test_explain_reads_the_event_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event(4), indent=2), encoding="utf-8")
    code, out, _ = run("explain", MOTB, "--rule", "downgrade_on_load_risk", "--event", f"@{path}")
    assert code == 0
    assert out.splitlines()[-1] == "  verdict: FIRES (downgrade)"


def test_explain_an_invalid_event_says_why_it_was_not_evaluated() -> None:
    bad = json.dumps({**event(4), "load": 7})
    code, out, _ = run("explain", MOTB, "--rule", "downgrade_on_load_risk", "--event", bad)
    assert code == 1  # the input has a problem
    assert "'load' = 7.0 is out of range [0, 1]" in out
    assert out.splitlines()[-1] == "  verdict: not evaluated"


def test_explain_unknown_rule_exits_2_with_did_you_mean() -> None:
    proc = shell("explain", MOTB, "--rule", "downgrade_on_lod", "--event", EVENT_LINES[0])
    assert proc.returncode == 2
    assert proc.stderr.strip() == "ballast: no rule named 'downgrade_on_lod'; did you mean 'downgrade_on_load_risk'?"
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("event_arg", "message"),
    [
        ("{not json", "--event is not valid JSON"),
        ("@/nonexistent/event.json", "cannot read the event from /nonexistent/event.json"),
    ],
)
def test_explain_bad_event_exits_2(event_arg: str, message: str) -> None:
    code, out, err = run("explain", MOTB, "--rule", "sla_breach", "--event", event_arg)
    assert code == 2
    assert out == ""
    assert err.startswith("ballast: " + message)


# ---- help and bad arguments ----


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_exits_0_and_documents_exit_codes(command: str | None) -> None:
    proc = shell(*([command] if command else []), "--help")
    assert proc.returncode == 0
    assert proc.stdout.startswith("usage: ballast")
    text = " ".join(proc.stdout.split())
    assert "exit codes: 0 success; 1 the inputs have problems" in text
    assert "2 the command could not run" in text and "3 internal error" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["check", "--frobnicate", str(MOTB)], "unrecognized arguments: --frobnicate"),
        (["compile", str(MOTB), "--dump-after", "nonsense"], "invalid choice: 'nonsense'"),
        (["eval", str(MOTB)], "the following arguments are required: --events"),
        (["explain", str(MOTB), "--event", "{}"], "the following arguments are required: --rule"),
        (["fmt"], "the following arguments are required: PATH"),
    ],
)
def test_bad_arguments_exit_2_without_traceback(args: list[str], message: str) -> None:
    proc = shell(*args)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "usage: ballast" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_arguments_in_process_return_2_on_the_given_stream() -> None:
    code, out, err = run("compile", MOTB, "--dump-after", "nonsense")
    assert code == 2
    assert out == ""
    assert "invalid choice: 'nonsense'" in err


def test_no_command_prints_help_and_exits_2() -> None:
    code, out, _ = run()
    assert code == 2
    assert out.startswith("usage: ballast")


def test_explain_marks_the_faulting_sub_condition(tmp_path: Path) -> None:
    policy = tmp_path / "ratio.bal"
    policy.write_text(
        'policy e.x version "1" {\n  input ev { errors: int, requests: int, pool: string }\n'
        '  rule ratio {\n    when pool != "" && errors / requests > 0.05\n    then scale(targets: pool)\n  }\n}\n'
    )
    code, out, _ = run(
        "explain", str(policy), "--rule", "ratio", "--event", '{"errors": 500, "requests": 0, "pool": "p"}'
    )
    assert code == 1
    assert '✔ pool != ""  → true' in out
    assert "✘ errors / requests > 0.05  → fault (see the verdict)   where errors = 500, requests = 0" in out
    assert out.splitlines()[-1] == "  verdict: evaluation error: division by zero; the rule does not fire"


# ---- check: summary counts, one error for a failed import, files of other commands ----


def _summary_of_ok_line(line: str) -> dict[str, int]:
    """`ok: 2 policies, 20 rules, 1 module, 1 threat` as counts (absent kinds count 0)."""
    counts = dict.fromkeys(("policies", "rules", "modules", "threats", "fleets", "rollouts", "governance", "profiles"), 0)
    for number, word in re.findall(r"(\d+) (\w+)", line):
        singular = {"policy": "policies", "rule": "rules", "module": "modules", "threat": "threats"}
        singular |= {"fleet": "fleets", "rollout": "rollouts", "profile": "profiles"}
        key = singular.get(word, word)
        counts[key] = int(number)
    return counts


def test_check_json_summary_counts_what_the_text_summary_says() -> None:
    text_code, text, _ = run("check", CATALOG)
    code, out, _ = run("check", "--format", "json", CATALOG)
    assert (text_code, code) == (0, 0)
    summary = json.loads(out)["summary"]
    assert summary == {"errors": 0, "warnings": 0, **_summary_of_ok_line(text)}
    assert summary["threats"] >= 1 and summary["modules"] >= 1  # the catalog has both kinds


def _motb_with_import(tmp_path: Path, target: str) -> Path:
    """catalog/motb.bal copied alone into tmp_path, its import pointed at `target`."""
    source = MOTB.read_text(encoding="utf-8")
    assert 'import "lib/thresholds.bal"' in source
    policy = tmp_path / "motb.bal"
    policy.write_text(source.replace('import "lib/thresholds.bal"', f'import "{target}"'), encoding="utf-8")
    return policy


def test_check_json_summary_counts_policies_and_rules_when_the_check_fails(tmp_path: Path) -> None:
    policy = _motb_with_import(tmp_path, "lib/missing.bal")
    code, out, _ = run("check", "--format", "json", policy)
    assert code == 1
    report = json.loads(out)
    assert report["summary"]["errors"] == len(report["diagnostics"]) >= 1
    assert report["summary"]["policies"] == 1
    assert report["summary"]["rules"] == ballast.compile([MOTB]).rule_count


@pytest.mark.parametrize(
    ("module", "target", "code", "where"),
    [
        (None, "lib/missing.bal", "io", "motb.bal"),
        ("module broken {\n  const load_limit = \n", "lib/broken.bal", "syntax", "broken.bal"),
        ('policy other version "1" {\n}\n', "lib/other.bal", "import", "motb.bal"),
    ],
    ids=["missing", "unparsable", "a-policy"],
)
def test_a_failed_import_is_one_error_without_follow_on_unknown_names(
    tmp_path: Path, module: str | None, target: str, code: str, where: str
) -> None:
    if module is not None:
        (tmp_path / "lib").mkdir()
        (tmp_path / target).write_text(module, encoding="utf-8")
    policy = _motb_with_import(tmp_path, target)
    exit_code, out, _ = run("check", policy)
    assert exit_code == 1
    heads = [m for m in map(HEAD.match, out.splitlines()) if m]
    assert [(m["code"], Path(m["file"]).name) for m in heads] == [(code, Path(where).name)], out
    assert out.endswith("1 error, 0 warnings\n")


def test_unknown_names_are_still_reported_once_the_import_works(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    shutil.copy(CATALOG / "lib" / "thresholds.bal", tmp_path / "lib" / "thresholds.bal")
    policy = _motb_with_import(tmp_path, "lib/thresholds.bal")
    policy.write_text(policy.read_text(encoding="utf-8").replace("> load_limit", "> load_limt", 1), encoding="utf-8")
    code, out, _ = run("check", policy)
    assert code == 1
    assert "error[name]: unknown name 'load_limt'" in out and "did you mean 'load_limit'?" in out


@pytest.mark.parametrize(
    ("path", "command"),
    [
        (sorted((CATALOG / "scenarios").glob("*.scenario.yaml"))[0], "ballast simulate --check"),
        (CATALOG / "tests" / "motb.test.yaml", "ballast test"),
    ],
    ids=["scenario", "test-file"],
)
@pytest.mark.parametrize("verb", ["check", "compile"])
def test_a_scenario_or_test_file_named_to_check_points_to_its_command(verb: str, path: Path, command: str) -> None:
    code, out, err = run(verb, path)
    assert code == 2 and out == ""
    assert err == f"ballast: {path}: {err.split(': ', 2)[2]}"  # one line, naming the file
    assert f"`{command} {path}`" in err and err.count("\n") == 1


# ---- fmt --format json ----


def test_fmt_json_reports_each_file_and_writes_nothing_under_check(tmp_path: Path) -> None:
    messy = _messy_catalog(tmp_path)
    clean = tmp_path / "clean.bal"
    clean.write_text(MOTB.read_text(encoding="utf-8"), encoding="utf-8")
    broken = tmp_path / "broken.bal"
    broken.write_text('policy p version "1" {\n  rule r {\n', encoding="utf-8")
    before = {p: p.read_bytes() for p in (messy, clean, broken)}
    code, out, err = run("fmt", "--check", "--format", "json", "--with-text", messy, clean, broken)
    assert code == 1 and err == ""
    assert {p: p.read_bytes() for p in before} == before
    report = json.loads(out)
    files = {f["path"]: f for f in report["files"]}
    assert (files[str(messy)]["formatted"], files[str(clean)]["formatted"], files[str(broken)]["formatted"]) == (
        False,
        True,
        None,
    )
    assert not any(f["written"] for f in report["files"])
    assert [d["code"] for d in files[str(broken)]["diagnostics"]] == ["syntax"]
    assert "text" not in files[str(broken)]
    assert report["summary"] == {"files": 3, "unformatted": 1, "failed": 1}
    # the text is what `fmt` would write
    assert run("fmt", messy)[0] == 0
    assert files[str(messy)]["text"] == messy.read_text(encoding="utf-8")


def test_fmt_json_without_check_writes_and_says_so(tmp_path: Path) -> None:
    messy = _messy_catalog(tmp_path)
    code, out, _ = run("fmt", "--format", "json", messy)
    assert code == 0
    (entry,) = json.loads(out)["files"]
    assert (entry["formatted"], entry["written"]) == (False, True)
    assert "text" not in entry
    assert run("fmt", "--check", messy) == (0, "", "")


@pytest.mark.parametrize(
    ("options", "message"),
    [(["--format", "json", "--diff"], "--diff prints a unified diff"), (["--with-text"], "add --format json")],
)
def test_fmt_json_option_conflicts_exit_2(tmp_path: Path, options: list[str], message: str) -> None:
    messy = _messy_catalog(tmp_path)
    before = messy.read_bytes()
    code, out, err = run("fmt", *options, messy)
    assert (code, out) == (2, "") and message in err and err.startswith("ballast: ")
    assert messy.read_bytes() == before


# ---- test: progress on a terminal only ----


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_test_shows_progress_on_a_terminal_only() -> None:
    terminal, out = _Terminal(), io.StringIO()
    assert main(["test", str(CATALOG / "tests")], stdout=out, stderr=terminal) == 0
    assert "test [" in terminal.getvalue() and terminal.getvalue().endswith("100%\n")
    code, piped_out, piped_err = run("test", CATALOG / "tests")
    assert (code, piped_err) == (0, "")
    assert piped_out == out.getvalue()  # the report itself is the same either way


def test_explain_shows_durations_with_their_unit_as_the_reason_does():
    gateway = REPO / "docs" / "examples" / "gateway.bal"
    event_text = '{"pool": "gw-1", "tier": "standard", "cpu": 0.93, "error_rate": 0.01, "p99": "450ms"}'
    code, out, _ = run("explain", gateway, "--rule", "scale_hot_pool", "--event", event_text)
    assert code == 0
    assert "where p99 = 450ms" in out and "0.45" not in out
    code, out, _ = run("explain", gateway, "--rule", "scale_hot_pool", "--event", event_text, "--format", "json")
    leaves = json.loads(out)["tree"]["children"][0]["children"][0]["children"]
    p99 = next(leaf for leaf in leaves if "p99" in leaf.get("inputs", {}))
    assert p99["inputs"]["p99"] == 0.45 and p99["durations"] == ["p99"]  # JSON keeps seconds, says which


def test_explain_of_a_threat_document_says_it_is_not_supported_yet():
    code, out, err = run("explain", MOTB, CATALOG / "gtbe.bal", "--rule", "motb.gtbe", "--event", "{}")
    assert (code, out) == (2, "")
    assert "explaining threat 'motb.gtbe' is not supported yet" in err  # the threat kind's explain hook


def test_a_policy_tree_under_a_tests_folder_is_read(tmp_path: Path) -> None:
    """Only `tests/` folders below the directory given hold fixtures to skip: a repository that
    keeps its policies under tests/ (as ours keeps diff fixtures) is still read."""
    tree = tmp_path / "tests" / "policies"
    (tree / "tests").mkdir(parents=True)
    shutil.copy(CATALOG / "gtbe.bal", tree / "gtbe.bal")
    (tree / "tests" / "broken.bal").write_text("policy broken {", encoding="utf-8")  # a fixture: skipped
    code, out, err = run("check", tree)
    assert (code, err) == (0, "") and "1 threat" in out
