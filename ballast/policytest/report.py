"""The report of a test run as text (for people) or JSON (for tools)."""

from __future__ import annotations

import json

from ballast.policytest import Report


def render_text(report: Report, *, verbose: bool = True) -> str:
    """Per file: its problems, or PASS/FAIL per test with each failure's details; then totals."""
    lines: list[str] = []
    for f in report.files:
        if not f.ok:
            errors = sum(d.severity == "error" for d in f.diagnostics)
            lines.append(f"ERROR {f.path}: the file has {errors} problem{'s' if errors != 1 else ''}; no test ran")
            lines.extend(d.render() for d in f.diagnostics)
            continue
        for case in f.cases:
            if case.passed:
                if verbose:
                    lines.append(f"PASS  {f.path}: {case.name}")
                continue
            lines.append(f"FAIL  {f.path}: {case.name}")
            for failure in case.failures:
                lines.append(f"  {failure.span}: {failure.message}")
                lines.extend(f"      {d}" for d in failure.details)
    if report.coverage is not None:
        lines.append(report.coverage.render())
    lines.append(summary(report))
    return "\n".join(lines) + "\n"


def summary(report: Report) -> str:
    total = report.passed + report.failed
    text = f"{total} test{'s' if total != 1 else ''}: {report.passed} passed, {report.failed} failed"
    if report.broken_files:
        text += f"; {report.broken_files} file{'s' if report.broken_files != 1 else ''} could not run"
    return text


def render_json(report: Report) -> str:
    return json.dumps(report.to_json(), indent=2, ensure_ascii=False, default=str) + "\n"


__all__ = ["render_json", "render_text", "summary"]
