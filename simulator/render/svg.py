"""SVG building blocks for the report charts: scales, ticks, axes, legends and escaped elements.

Pure functions returning strings. Coordinates are written with one decimal and text is always
escaped, so the same data gives the same bytes and a rule name cannot inject markup.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape

from ballast.simulator.render.numbers import number

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
CHAR_WIDTH = 6.6  # average advance of a 12 px sans-serif character: enough to lay out legends
TEXT_COLOR = "#1f2933"
MUTED = "#52606d"
GRID = "#e4e7eb"
AXIS = "#9aa5b1"


def fmt(value: float) -> str:
    """A coordinate: one decimal, no trailing `.0`, never `-0`, so output is stable."""
    text = f"{value:.1f}"
    if text.endswith(".0"):
        text = text[:-2]
    return "0" if text == "-0" else text


def text_width(label: str, size: float = 12) -> float:
    """About how wide `label` renders, to place legends and truncate labels without a font."""
    return len(label) * CHAR_WIDTH * size / 12


def truncate(label: str, width: float, size: float = 12) -> str:
    """`label` cut with an ellipsis to fit `width` pixels."""
    if text_width(label, size) <= width:
        return label
    keep = max(1, int(width / (CHAR_WIDTH * size / 12)) - 1)
    return label[:keep] + "…"


@dataclass(frozen=True)
class Scale:
    """A linear map from data values (`low`..`high`) to pixels (`start`..`end`)."""

    low: float
    high: float
    start: float
    end: float

    def __call__(self, value: float) -> float:
        span = self.high - self.low
        if span == 0:  # a degenerate domain maps to the middle rather than dividing by zero
            return (self.start + self.end) / 2
        return self.start + (value - self.low) / span * (self.end - self.start)


def nice_step(span: float, target: int) -> float:
    """A round tick step (1, 2, 2.5 or 5 times a power of ten) giving about `target` ticks."""
    raw = span / max(1, target)
    if raw <= 0 or not math.isfinite(raw):
        return 1.0
    magnitude = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 2.5, 5, 10):
        if raw <= multiple * magnitude * (1 + 1e-9):
            return multiple * magnitude
    return 10 * magnitude


def nice_domain(low: float, high: float, target: int = 5) -> tuple[float, float]:
    """`low`..`high` widened to round ticks; an empty range becomes a small one around it."""
    if high < low:
        low, high = high, low
    if high == low:  # a constant series: a small range around it, so the scale does not collapse
        pad = abs(low) * 0.1 or 1.0
        low, high = (0.0, 1.0) if low == 0 else (low - pad, high + pad)
    step = nice_step(high - low, target)
    return _round(math.floor(low / step + 1e-9) * step), _round(math.ceil(high / step - 1e-9) * step)


def ticks(low: float, high: float, target: int = 5) -> list[float]:
    """Round values from `low` to `high` (inclusive) for about `target` tick marks."""
    if high <= low:
        return [low]
    step = nice_step(high - low, target)
    first = math.ceil(low / step - 1e-9)
    last = math.floor(high / step + 1e-9)
    return [_round(k * step) for k in range(first, last + 1)]


def _round(value: float) -> float:
    # k * step in binary floating point gives 0.30000000000000004; labels must not show it
    return float(f"{value:.12g}") + 0.0


@dataclass(frozen=True)
class TimeAxis:
    """A time axis in the unit that suits the scenario's length."""

    duration_s: float
    unit: str
    seconds_per_unit: float

    def ticks(self, target: int = 8) -> list[tuple[float, str]]:
        """(seconds, label) pairs from zero to the end."""
        out = []
        for value in ticks(0, self.duration_s / self.seconds_per_unit, target):
            out.append((value * self.seconds_per_unit, "0" if value == 0 else f"{number(value)} {self.unit}"))
        return out


def time_axis(duration_s: float) -> TimeAxis:
    """Seconds up to three minutes, minutes up to three hours, hours beyond."""
    duration_s = duration_s if duration_s > 0 else 1.0
    if duration_s <= 180:
        return TimeAxis(duration_s, "s", 1)
    if duration_s <= 3 * 3600:
        return TimeAxis(duration_s, "min", 60)
    return TimeAxis(duration_s, "h", 3600)


# --- elements ---------------------------------------------------------------------------------


def tooltip(label: str) -> str:
    """A `<title>` child: browsers show it when the pointer rests on the parent element."""
    return f"<title>{escape(label)}</title>"


def text(
    x: float,
    y: float,
    label: str,
    *,
    anchor: str = "start",
    size: float = 12,
    color: str = TEXT_COLOR,
    weight: str = "normal",
    baseline: str = "auto",
) -> str:
    """An escaped `<text>` element."""
    attrs = f'x="{fmt(x)}" y="{fmt(y)}" font-size="{fmt(size)}" fill="{color}"'
    if anchor != "start":
        attrs += f' text-anchor="{anchor}"'
    if weight != "normal":
        attrs += f' font-weight="{weight}"'
    if baseline != "auto":
        attrs += f' dominant-baseline="{baseline}"'
    return f"<text {attrs}>{escape(label)}</text>"


def rect(
    x: float, y: float, width: float, height: float, fill: str, *, title: str | None = None, extra: str = ""
) -> str:
    """A `<rect>`, with a tooltip when `title` is given; negative sizes are clamped to zero."""
    attrs = f'x="{fmt(x)}" y="{fmt(y)}" width="{fmt(max(0.0, width))}" height="{fmt(max(0.0, height))}" fill="{fill}"'
    if extra:
        attrs += " " + extra
    if title is None:
        return f"<rect {attrs}/>"
    return f"<rect {attrs}>{tooltip(title)}</rect>"


def line(x1: float, y1: float, x2: float, y2: float, color: str, *, width: float = 1, dash: str = "") -> str:
    """A `<line>`."""
    attrs = f'x1="{fmt(x1)}" y1="{fmt(y1)}" x2="{fmt(x2)}" y2="{fmt(y2)}" stroke="{color}" stroke-width="{fmt(width)}"'
    if dash:
        attrs += f' stroke-dasharray="{dash}"'
    return f"<line {attrs}/>"


def polyline(points: Iterable[tuple[float, float]], color: str, *, width: float = 2, title: str | None = None) -> str:
    """An unfilled `<polyline>` through `points`, with a tooltip when `title` is given."""
    coords = " ".join(f"{fmt(x)},{fmt(y)}" for x, y in points)
    attrs = (
        f'points="{coords}" fill="none" stroke="{color}" stroke-width="{fmt(width)}" '
        'stroke-linejoin="round" stroke-linecap="round"'
    )
    if title is None:
        return f"<polyline {attrs}/>"
    return f"<polyline {attrs}>{tooltip(title)}</polyline>"


def circle(x: float, y: float, radius: float, fill: str, *, stroke: str = "none", title: str | None = None) -> str:
    """A `<circle>`, with a tooltip when `title` is given."""
    attrs = f'cx="{fmt(x)}" cy="{fmt(y)}" r="{fmt(radius)}" fill="{fill}"'
    if stroke != "none":
        attrs += f' stroke="{stroke}" stroke-width="1.5"'
    if title is None:
        return f"<circle {attrs}/>"
    return f"<circle {attrs}>{tooltip(title)}</circle>"


def document(name: str, width: float, height: float, title: str, body: Sequence[str]) -> str:
    """The root `<svg>` of a chart, findable by its `data-chart` name, titled for screen readers."""
    # No xmlns: inline SVG in HTML needs none, and the page must not mention any URL.
    head = (
        f'<svg data-chart="{escape(name)}" viewBox="0 0 {fmt(width)} '
        f'{fmt(height)}" width="{fmt(width)}" height="{fmt(height)}" role="img" aria-label="{escape(title)}" '
        f'font-family="{escape(FONT)}">'
    )
    return "\n".join([head, tooltip(title), *body, "</svg>"])


def heading(x: float, y: float, label: str) -> str:
    """A chart's title, drawn in the SVG so the chart reads on its own."""
    return text(x, y, label, size=14, weight="600")


def legend(items: Sequence[tuple[str, str, str]], right: float, y: float) -> list[str]:
    """Swatches right-aligned at `right`: items are (label, kind, color), kind `line`, `box`, `dot` or `ring`."""
    widths = [18 + text_width(label) + 16 for label, _kind, _color in items]
    x = right - sum(widths) + 16
    out = []
    for (label, kind, color), width in zip(items, widths, strict=True):
        if kind == "line":
            out.append(line(x, y, x + 12, y, color, width=2.5))
        elif kind == "dot":
            out.append(circle(x + 6, y, 4.5, color))
        elif kind == "ring":
            out.append(circle(x + 6, y, 4, "#ffffff", stroke=color))
        else:
            out.append(rect(x, y - 6, 12, 12, color, extra='stroke="#00000022"'))
        out.append(text(x + 18, y, label, color=MUTED, baseline="central"))
        x += width
    return out


def value_axis(scale: Scale, values: Sequence[float], left: float, right: float, *, unit: str = "") -> list[str]:
    """Horizontal grid lines with value labels left of the plot."""
    out = []
    for value in values:
        y = scale(value)
        out.append(line(left, y, right, y, GRID))
        label = number(value) + (f" {unit}" if unit else "")
        out.append(text(left - 8, y, label, anchor="end", size=11, color=MUTED, baseline="central"))
    return out


def time_ticks(axis: TimeAxis, scale: Scale, top: float, bottom: float, *, labels: bool = True) -> list[str]:
    """Vertical grid lines at round times, labelled under the plot when `labels`."""
    out = []
    for seconds, label in axis.ticks():
        x = scale(seconds)
        out.append(line(x, top, x, bottom, GRID))
        if labels:
            out.append(line(x, bottom, x, bottom + 4, AXIS))
            out.append(text(x, bottom + 17, label, anchor="middle", size=11, color=MUTED))
    return out


def frame(left: float, top: float, right: float, bottom: float) -> str:
    """The plot area's outline: axis lines on the left and at the bottom."""
    return line(left, top, left, bottom, AXIS) + line(left, bottom, right, bottom, AXIS)


def empty_note(left: float, top: float, right: float, bottom: float, message: str) -> str:
    """A centred message in a plot area that has nothing to draw."""
    return text((left + right) / 2, (top + bottom) / 2, message, anchor="middle", color=MUTED, baseline="central")
