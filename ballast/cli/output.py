"""What the commands print alike: diagnostics (GCC style, or one JSON report) and counts in words."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any, TextIO

from ballast.runtime.errors import Diagnostic


def print_diagnostics(
    diagnostics: list[Diagnostic], fmt: str, out: TextIO, summary: dict[str, int] | None = None
) -> None:
    """Write `diagnostics` as text (one line each, then the totals) or as one JSON report with `summary`."""
    if fmt == "json":
        report: dict[str, Any] = {"diagnostics": [d.to_json() for d in diagnostics]}
        if summary is not None:
            report["summary"] = summary
        out.write(json.dumps(report, indent=2) + "\n")
        return
    for d in diagnostics:
        out.write(d.render() + "\n")
    errors = sum(1 for d in diagnostics if d.severity == "error")
    warnings = len(diagnostics) - errors
    if diagnostics:
        out.write(f"{errors} error{'s' if errors != 1 else ''}, {warnings} warning{'s' if warnings != 1 else ''}\n")


def count(n: int, one: str, many: str | None = None) -> str:
    """`1 rule`, `2 rules`, `3 policies` (with `many`)."""
    return f"{n} {one if n == 1 else many or one + 's'}"


@contextlib.contextmanager
def warnings_to(err: TextIO) -> Iterator[None]:
    """Within the block, what Ballast logs as a warning (an unsigned bundle loaded, say) goes to
    `err` as `ballast: warning: …` lines, and nowhere else."""
    import logging  # when a command runs, not at start-up

    handler = logging.StreamHandler(err)
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("ballast: warning: %(message)s"))
    logger = logging.getLogger("ballast")
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


__all__ = ["count", "print_diagnostics", "warnings_to"]
