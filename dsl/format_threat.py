"""`ballast fmt` for the declarations of threat documents, and for `stream` blocks (policies too).

Called from `ballast.dsl.format`; returns formatted lines (`ballast.dsl.format_base.Line`): (indent level, text,
the source line it came from or None), so comments stay beside the settings they annotate.

Canonical forms:

    source trp weight 0.6 from trp_risk
    source cve weight 0.3 from cve_score scale [0, 10]
    smooth ewma(0.3)
    mode lockdown when index >= 75 exit below 60 dwell 2m
    stream { time ts }
    governor {
      floor 30
      max_flips 3 per 10m
      spare critical
      dwell 1m
    }

A block (`stream`, `governor`) stays on one line when it was written on one line and holds one
setting; otherwise it has one setting per line, in the order above. Numbers are written in their
shortest exact form (`40`, `0.3`).
"""

from __future__ import annotations

from ballast.dsl import ast
from ballast.dsl.format_base import Line, format_expr


def threat_item(item: ast.Item) -> list[Line]:
    """The formatted lines of a Source, Smooth, Mode, Governor or Stream."""
    line = item.span.line
    match item:
        case ast.Source(name=name, weight=weight, value=value, low=low, high=high):
            scale = f" scale [{number(low)}, {number(high)}]" if low is not None and high is not None else ""
            return [(0, f"source {name} weight {number(weight)} from {format_expr(value)}{scale}", line)]
        case ast.Smooth(alpha=alpha):
            return [(0, f"smooth ewma({number(alpha)})", line)]
        case ast.Mode(name=name, op=op, enter=enter, exit=exit_, dwell=dwell):
            text = f"mode {name} when index {op} {number(enter)} exit below {number(exit_)}"
            return [(0, text + (f" dwell {dwell.text}" if dwell is not None else ""), line)]
        case ast.Governor():
            return _block("governor", _governor(item), item.span)
        case ast.Stream():
            return _block("stream", _stream(item), item.span)
    raise TypeError(item)


def number(value: float) -> str:
    """The shortest text that reads back as the same number: 40.0 → `40`, 0.3 → `0.3`."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _block(keyword: str, settings: list[tuple[str, int | None]], span) -> list[Line]:
    if span.line == span.end_line and len(settings) <= 1:
        inner = f" {settings[0][0]} " if settings else " "
        return [(0, f"{keyword} {{{inner}}}", span.line)]
    return [(0, f"{keyword} {{", span.line), *((1, text, src) for text, src in settings), (0, "}", span.end_line)]


def _governor(governor: ast.Governor) -> list[tuple[str, int | None]]:
    lines = {key: span.line for key, span in governor.items}  # a repeat keeps the last, as the parser does
    out: list[tuple[str, int | None]] = []
    if governor.floor is not None:
        out.append((f"floor {number(governor.floor)}", lines.get("floor")))
    if governor.max_flips is not None and governor.flips_per is not None:
        out.append((f"max_flips {governor.max_flips} per {governor.flips_per.text}", lines.get("flips")))
    if governor.spare:
        out.append(("spare " + ", ".join(governor.spare), lines.get("spare")))
    if governor.dwell is not None:
        out.append((f"dwell {governor.dwell.text}", lines.get("dwell")))
    return out


def _stream(stream: ast.Stream) -> list[tuple[str, int | None]]:
    out: list[tuple[str, int | None]] = []
    if stream.time:
        out.append((f"time {stream.time}", stream.time_span.line if stream.time_span else None))
    if stream.id:
        out.append((f"id {stream.id}", stream.id_span.line if stream.id_span else None))
    if stream.lateness is not None:
        out.append((f"lateness {stream.lateness.text}", stream.lateness.span.line))
    if stream.sequence:
        line = stream.sequence_span.line if stream.sequence_span else None
        out.append((f"sequence {stream.sequence} by {stream.sequence_by}", line))
    if stream.idle is not None:
        out.append((f"idle {stream.idle.text}", stream.idle.span.line))
    if stream.stale is not None:
        out.append((f"stale after {stream.stale.text}", stream.stale.span.line))
    return out
