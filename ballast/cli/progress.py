"""A one-line progress bar for long commands (`simulate`, `shadow`, `test`), on a terminal only;
a running count where the total is not known in advance (`replay` streams its telemetry).

The bar goes to standard error and is drawn only when that stream is a terminal, so piped or
redirected output, CI logs and the byte-identical reports stay free of it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

BAR_WIDTH = 25


def progress_bar(err: TextIO, label: str) -> Callable[..., None] | None:
    """`show(done, total, final=False)` drawing `label [####    ]  40%`; None when err is no terminal.

    The bar is redrawn only when the whole percentage changes; `final=True` draws it and ends the
    line so that what follows starts on a fresh one.
    """
    if not (hasattr(err, "isatty") and err.isatty()):
        return None
    shown = [-1]

    def show(done: float, total: float, final: bool = False) -> None:
        share = 0.0 if total <= 0 else min(1.0, done / total)
        percent = int(share * 100)
        if percent == shown[0] and not final:
            return
        shown[0] = percent
        bar = "#" * (percent * BAR_WIDTH // 100)
        err.write(f"\r{label} [{bar:<{BAR_WIDTH}}] {percent:3d}%")
        if final:
            err.write("\n")
        err.flush()

    return show


def progress_counter(err: TextIO, label: str, unit: str) -> Callable[..., None] | None:
    """`show(done, final=False)` drawing `label: 1,234,567 unit`; None when err is no terminal.

    `final=True` ends the line so that what follows starts on a fresh one.
    """
    if not (hasattr(err, "isatty") and err.isatty()):
        return None

    def show(done: int, final: bool = False) -> None:
        err.write(f"\r{label}: {done:,} {unit}")
        if final:
            err.write("\n")
        err.flush()

    return show


__all__ = ["progress_bar", "progress_counter"]
