"""Policy unit tests, in the spirit of `promtool test rules`: `ballast test PATH…`.

A test file (`*.test.yaml`) names the policies under test and holds tests; each test feeds series
of samples through an `Engine` on a grid of event times and checks what comes out: directives at
a time, directives never, rule states, engine events, errors, the threat mode and index.

    >>> from ballast.policytest import run_paths
    >>> report = run_paths(["catalog/tests"])       # doctest: +SKIP
    >>> report.exit_code, report.passed             # doctest: +SKIP
    (0, 17)

The pieces: `notation` (the series notation), `spec` (the file format and its checks),
`target` (the compiled policies and the names a test may use), `runner` (the timeline and the
expectations), `coverage` (what the tests exercised), `report` (text and JSON).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ballast.paths import expand_paths
from ballast.policytest.coverage import Coverage
from ballast.policytest.notation import NotationError, encode, expand
from ballast.policytest.runner import CaseResult, Failure, run_case
from ballast.policytest.spec import TestFile, load_test_file, with_source_lines
from ballast.policytest.target import Target, check_names, compile_diagnostics, compile_target
from ballast.runtime.errors import CompileError, Diagnostic

TEST_SUFFIXES = (".test.yaml", ".test.yml")


@dataclass
class FileResult:
    """One test file: its problems (then no test ran) or its tests' results."""

    path: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    cases: list[CaseResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(d.severity == "error" for d in self.diagnostics)

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.path,
            "diagnostics": [d.to_json() for d in self.diagnostics],
            "tests": [c.to_json() for c in self.cases],
        }


@dataclass
class Report:
    files: list[FileResult]
    coverage: Coverage | None = None

    @property
    def passed(self) -> int:
        return sum(c.passed for f in self.files for c in f.cases)

    @property
    def failed(self) -> int:
        return sum(not c.passed for f in self.files for c in f.cases)

    @property
    def broken_files(self) -> int:
        return sum(not f.ok for f in self.files)

    @property
    def exit_code(self) -> int:
        """2 when a test file could not run, else 1 when a test failed, else 0."""
        return 2 if self.broken_files else 1 if self.failed else 0

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "files": [f.to_json() for f in self.files],
            "summary": {
                "tests": self.passed + self.failed,
                "passed": self.passed,
                "failed": self.failed,
                "broken_files": self.broken_files,
            },
        }
        if self.coverage is not None:
            out["coverage"] = self.coverage.to_json()
        return out


def find_test_files(paths: Sequence[str]) -> list[str]:
    """Files as given; directories expanded to the `*.test.yaml` files under them, sorted.

    Raises UsageError for a path that does not exist or a directory without test files.
    """
    found = expand_paths(paths, lambda p, _root: p.name.endswith(TEST_SUFFIXES), "no test files (*.test.yaml)")
    return list(dict.fromkeys(found))


def run_paths(
    paths: Sequence[str], *, coverage: bool = False, progress: Callable[[int, int], None] | None = None
) -> Report:
    """Run every test of the files and directories; see `Report.exit_code`.

    `progress(done, total)` is called after each test with the number of tests done so far and
    in all (every file is loaded first, so the total is known before the first test runs).
    """
    report = Report([], Coverage() if coverage else None)
    targets: dict[tuple[str, ...], Target | CompileError] = {}
    files = [load_test_file(path) for path in find_test_files(paths)]
    total, done = sum(len(f.tests) for f in files), 0

    def one_more() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    for test in files:
        before = done
        report.files.append(run_file(test, targets, report.coverage, one_more))
        done = before + len(test.tests)  # the tests of a file that could not run count as done
        if progress is not None:
            progress(done, total)
    return report


def run_file(
    test: TestFile,
    targets: dict[tuple[str, ...], Target | CompileError] | None = None,
    coverage: Coverage | None = None,
    after_each: Callable[[], None] | None = None,
) -> FileResult:
    """Check one loaded test file against its policies and run its tests (`after_each` after each)."""
    result = FileResult(test.path, list(test.diagnostics))
    if not test.ok or not test.policies:
        return result
    targets = {} if targets is None else targets
    key = tuple(test.policies)
    if key not in targets:
        try:
            targets[key] = compile_target(test.policies)
        except CompileError as exc:
            targets[key] = exc
    target = targets[key]
    if isinstance(target, CompileError):
        result.diagnostics = compile_diagnostics(test, target)
        result.diagnostics[:1] = with_source_lines(result.diagnostics[:1], test)
        return result
    problems = check_names(test, target)
    if problems:
        result.diagnostics = with_source_lines(problems, test)
        return result
    for case in test.tests:
        result.cases.append(run_case(case, target, coverage))
        if after_each is not None:
            after_each()
    return result


__all__ = [
    "CaseResult",
    "Coverage",
    "Failure",
    "FileResult",
    "NotationError",
    "Report",
    "encode",
    "expand",
    "find_test_files",
    "load_test_file",
    "run_file",
    "run_paths",
]
