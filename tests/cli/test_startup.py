"""A `ballast` that starts fast: what start-up imports, and the on-disk cache of the parser.

No test here times anything (bench/startup.py does, see docs/performance.md): they check the
causes instead. Building the argument parser imports none of the heavy modules, and a parser
saved in the cache is loaded, replaced when damaged or untrusted, never read for another grammar,
and skipped without a word when the cache directory cannot be written.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from ballast.cli import build_parser, main
from ballast.dsl.parser_cache import cache_dir, cache_file, cached_lark

REPO = Path(__file__).resolve().parents[2]
# What `ballast --help` must not import: the front-ends' third-party libraries, the simulator's,
# the compiler, and the runtime's evaluator (code generation, policies).
HEAVY = ("lark", "ruamel", "jsonschema", "numpy", "simpy", "networkx", "nacl", "ballast.compiler", "ballast.simulator")
HEAVY_RUNTIME = ("ballast.runtime.policy", "ballast.runtime.codegen")
BROKEN = "policy broken version \"1\" {\n  input telemetry { load: float }\n  rule r { when load > }\n}\n"
GOOD = BROKEN.replace("when load > }", "when load > 0.5 then pause(targets: \"all\") }")
TINY_GRAMMAR = 'start: WORD+\n%import common.WORD\n%ignore " "\n'
TINY_OPTIONS = {"parser": "lalr"}

# Run the CLI in a fresh interpreter, then print what it imported: the modules a user pays for.
IMPORTED = """
import io, json, sys
from ballast.cli import main
code = main(sys.argv[1:], stdout=io.StringIO(), stderr=io.StringIO())
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def fresh_env(cache: Path) -> dict[str, str]:
    return {**os.environ, "BALLAST_CACHE_DIR": str(cache), "PYTHONUTF8": "1"}


def imported_by(*args: str) -> tuple[int, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", IMPORTED, *args], capture_output=True, text=True, cwd=REPO, timeout=60, check=True
    )
    result = json.loads(done.stdout)
    return result["code"], result["modules"]


def ballast(*args: str, cache: Path, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """`python -m ballast.cli …` in a fresh process with its parser cache in `cache`."""
    return subprocess.run(
        [sys.executable, "-m", "ballast.cli", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=cwd,
        env=fresh_env(cache),
        timeout=120,
    )


def cached_files(cache: Path) -> list[Path]:
    return sorted(cache.glob("parser-*.lark"))


def forget_documents(cache: Path) -> None:
    """Drop the parsed documents, so the next run needs the parser again."""
    shutil.rmtree(cache / "documents", ignore_errors=True)


@pytest.mark.parametrize(
    "args",
    [
        ["--version"],
        ["--help"],
        ["check", "--help"],
        ["eval", "--help"],
        ["simulate", "--help"],
        ["shadow", "--help"],
        ["replay", "--help"],
        ["test", "--help"],
        ["audit", "--help"],
        ["audit", "verify", "--help"],
        ["sign", "--help"],
        ["verify", "--help"],
        ["key", "new", "--help"],
    ],
    ids=" ".join,
)
def test_building_the_parser_imports_nothing_heavy(args: list[str]) -> None:
    code, modules = imported_by(*args)
    assert code == 0
    heavy = [m for m in modules if m.startswith(HEAVY_RUNTIME) or m.split(".")[0] in HEAVY or m.startswith(HEAVY)]
    assert heavy == [], f"`ballast {' '.join(args)}` imported {heavy}"


def test_version_imports_no_command_module_and_not_the_runtime() -> None:
    code, modules = imported_by("--version")
    assert code == 0
    assert [m for m in modules if m.startswith(("ballast.runtime", "ballast.cli.", "ballast.dsl"))] == []


@pytest.mark.parametrize(
    "args",
    [
        ["--version"],
        ["--vers"],
        ["--version", "check"],
        ["--help"],
        ["--he"],
        ["-h", "check"],
        ["check", "--help"],
        ["eval", "--help"],
        ["test", "--help"],
        ["key", "--help"],
        ["key", "check", "--help"],
        ["key"],
        ["check"],
        ["check", "catalog/motb.bal", "--bogus"],
        ["--bogus"],
        ["bogus"],
    ],
    ids=" ".join,
)
def test_what_argparse_prints_is_that_of_the_full_parser(args: list[str]) -> None:
    """`main` leaves out the command modules when it can; nothing it prints may show it."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), pytest.raises(SystemExit) as full:
        build_parser().parse_args(args)
    main_out, main_err = io.StringIO(), io.StringIO()
    code = main(args, stdout=main_out, stderr=main_err)
    assert (code, main_out.getvalue(), main_err.getvalue()) == (full.value.code or 0, out.getvalue(), err.getvalue())


def test_the_pass_names_in_help_and_errors_come_from_the_compiler() -> None:
    from ballast.compiler.pipeline import PASS_NAMES

    done = ballast("compile", "--help", cache=REPO / "unused")
    assert done.returncode == 0
    assert f"print the IR after a pass and stop ({', '.join(PASS_NAMES)})" in " ".join(done.stdout.split())
    bad = ballast("compile", "catalog/motb.bal", "--dump-after", "typo", cache=REPO / "unused")
    assert bad.returncode == 2
    assert "invalid choice: 'typo' (choose from " + ", ".join(map(repr, PASS_NAMES)) + ")" in bad.stderr


def test_a_run_saves_the_parser_and_the_next_run_loads_it(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = ballast("check", "catalog/motb.bal", cache=cache)
    assert first.returncode == 0, first.stderr
    [saved] = cached_files(cache)
    before = saved.stat()
    second = ballast("check", "catalog/motb.bal", cache=cache)
    assert (second.returncode, second.stdout, second.stderr) == (first.returncode, first.stdout, first.stderr)
    # A run that rebuilt the parser would have renamed a new file into place.
    after = saved.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert cached_files(cache) == [saved]


def test_syntax_errors_read_the_same_with_a_cached_parser(tmp_path: Path) -> None:
    (tmp_path / "broken.bal").write_text(BROKEN, encoding="utf-8")
    cache = tmp_path / "cache"
    built = ballast("check", "broken.bal", cache=cache, cwd=tmp_path)
    loaded = ballast("check", "broken.bal", cache=cache, cwd=tmp_path)
    assert built.returncode == 1
    assert "broken.bal:3:" in built.stdout
    assert (loaded.returncode, loaded.stdout, loaded.stderr) == (built.returncode, built.stdout, built.stderr)


def test_a_damaged_cache_file_is_rebuilt_and_replaced(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    reference = ballast("check", "catalog/motb.bal", cache=cache)
    [saved] = cached_files(cache)
    saved.write_bytes(b"not a pickle")
    forget_documents(cache)
    again = ballast("check", "catalog/motb.bal", cache=cache)
    assert (again.returncode, again.stdout, again.stderr) == (reference.returncode, reference.stdout, reference.stderr)
    assert saved.read_bytes() != b"not a pickle"


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="ownership and mode bits are POSIX")
def test_a_cache_file_others_could_write_is_not_loaded(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    ballast("check", "catalog/motb.bal", cache=cache)
    [saved] = cached_files(cache)
    saved.chmod(0o666)
    planted = saved.stat().st_ino
    forget_documents(cache)
    done = ballast("check", "catalog/motb.bal", cache=cache)
    assert done.returncode == 0, done.stderr
    assert saved.stat().st_ino != planted  # rebuilt and renamed over the untrusted file
    assert saved.stat().st_mode & 0o077 == 0


def test_a_cache_dir_that_cannot_be_created_is_skipped_silently(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    with_cache = ballast("check", "catalog/motb.bal", cache=tmp_path / "cache")
    without = ballast("check", "catalog/motb.bal", cache=blocker / "cache")  # mkdir under a file fails
    assert (without.returncode, without.stdout, without.stderr) == (
        with_cache.returncode,
        with_cache.stdout,
        with_cache.stderr,
    )


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes to read-only directories")
def test_a_read_only_cache_dir_is_skipped_silently(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o500)
    try:
        done = ballast("check", "catalog/motb.bal", cache=cache)
        assert (done.returncode, done.stderr) == (0, "")
        assert cached_files(cache) == []
    finally:
        cache.chmod(0o700)


def test_a_changed_grammar_gets_a_new_cache_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BALLAST_CACHE_DIR", str(tmp_path))
    grammar = resources.files("ballast.dsl").joinpath("ballast.lark").read_text("utf-8")
    assert cache_file(grammar + "\n// one more clause\n", {}) != cache_file(grammar, {})
    assert cache_file(grammar, {"parser": "lalr"}) != cache_file(grammar, {"parser": "lalr", "debug": True})

    words = cached_lark(TINY_GRAMMAR, TINY_OPTIONS)
    numbers = cached_lark(TINY_GRAMMAR.replace("WORD", "INT"), TINY_OPTIONS)
    assert len(cached_files(tmp_path)) == 2
    assert [t.type for t in words.parse("a b").children] == ["WORD", "WORD"]
    assert [t.type for t in numbers.parse("1 2").children] == ["INT", "INT"]
    # and each is loaded from its own file afterwards
    assert cached_lark(TINY_GRAMMAR, TINY_OPTIONS).parse("c").children[0].type == "WORD"


def test_the_cache_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("BALLAST_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "ballast"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "ballast"
    monkeypatch.setenv("BALLAST_CACHE_DIR", str(tmp_path / "explicit"))
    assert cache_dir() == tmp_path / "explicit"


# ---- the document cache: an unchanged file is not parsed again ----


def test_a_warm_check_imports_no_lark_and_prints_the_same(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cold = ballast("check", "catalog/", cache=cache)
    env = fresh_env(cache)
    warm = subprocess.run(
        [sys.executable, "-c", IMPORTED, "check", "catalog/"], capture_output=True, text=True, cwd=REPO, env=env,
        timeout=60, check=True,
    )
    result = json.loads(warm.stdout)
    assert cold.returncode == 0 and result["code"] == 0
    assert "lark" not in result["modules"] and "ballast.dsl.parser" not in result["modules"]
    assert ballast("check", "catalog/", cache=cache).stdout == cold.stdout


def test_a_cached_document_equals_the_parsed_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ballast.dsl import document_cache
    from ballast.dsl.parser import parse_document

    monkeypatch.setenv("BALLAST_CACHE_DIR", str(tmp_path))
    for path in ("catalog/motb.bal", "catalog/watchdog.bal", "catalog/gtbe.bal"):
        text = (REPO / path).read_text(encoding="utf-8")
        assert document_cache.load(path, text) is None
        parsed = parse_document(text, path)
        document_cache.save(path, text, parsed)
        assert document_cache.load(path, text) == parsed  # comments and spans included
        assert document_cache.load(path, text + "\n") is None  # another text is another entry
        assert document_cache.load("elsewhere/" + path, text) is None  # spans carry the file name


def test_an_edited_file_is_parsed_again(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    policy = tmp_path / "p.bal"
    policy.write_text(GOOD, encoding="utf-8")
    assert ballast("check", "p.bal", cache=cache, cwd=tmp_path).returncode == 0
    policy.write_text(BROKEN, encoding="utf-8")
    broken = ballast("check", "p.bal", cache=cache, cwd=tmp_path)
    assert broken.returncode == 1 and "p.bal:3:" in broken.stdout


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="ownership and mode bits are POSIX")
def test_a_cached_document_others_could_write_is_not_loaded(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    policy = tmp_path / "p.bal"
    policy.write_text(GOOD, encoding="utf-8")
    ballast("check", "p.bal", cache=cache, cwd=tmp_path)
    [entry] = (cache / "documents").iterdir()
    entry.write_bytes(b"planted")
    entry.chmod(0o666)
    done = ballast("check", "p.bal", cache=cache, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert entry.read_bytes() != b"planted" and entry.stat().st_mode & 0o077 == 0
