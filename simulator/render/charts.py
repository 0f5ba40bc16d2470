"""The report charts as inline SVG: small pure functions from report data to an `<svg>` string.

Each root `<svg>` carries `data-chart="<name>"` so tests and readers can find it. Every chart
copes with missing data (no ticks, a null ThreatIndex, no directives) by drawing its frame and a
note instead of dividing by zero. Hovering a mark shows its `<title>` tooltip.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ballast.simulator.render import svg
from ballast.simulator.render.numbers import clock, kpi_difference, kpi_interval, kpi_label, number, plural

WIDTH = 1100
LEFT = 84  # room for value labels such as "1,250" and lane names such as "downgrade"
RIGHT = WIDTH - 24
TITLE_Y = 24

BASELINE_COLOR = "#8a94a6"
CANDIDATE_COLOR = "#2563eb"
MODE_COLORS = {"normal": "#dcfce7", "heightened": "#fef3c7", "lockdown": "#fee2e2"}
MODE_STRIP_COLORS = {"normal": "#86efac", "heightened": "#fcd34d", "lockdown": "#f87171"}
UNKNOWN_MODE_COLOR = "#e5e7eb"
FAULT_COLOR = "#e9d5ff"
VERDICT_COLORS = {"better": "#15803d", "worse": "#b91c1c", "inconclusive": "#b45309"}
# Lanes in the order an operator escalates; actions the simulator adds later follow alphabetically.
ACTION_ORDER = ("scale", "reroute", "downgrade", "pause", "page", "lockdown")
MAX_RULE_ROWS = 30
MAX_TOOLTIP_LINES = 6
MARK_SPACING = 9  # px: directives closer than this share a mark (its radius is 5)


@dataclass(frozen=True)
class Run:
    """One simulated run as the time charts need it: a timeline, its mode bands and its directives."""

    label: str
    color: str
    timeline: Mapping[str, Any]
    modes: Sequence[Mapping[str, Any]] = ()
    directives: Sequence[Mapping[str, Any]] = field(default_factory=tuple)


def _time_scale(duration_s: float) -> tuple[svg.TimeAxis, svg.Scale]:
    axis = svg.time_axis(duration_s)
    return axis, svg.Scale(0, axis.duration_s, LEFT, RIGHT)


def _segments(times: Sequence[float], values: Sequence[float | None]) -> list[list[tuple[float, float]]]:
    """Runs of consecutive non-null samples: a null is a gap in the line, not a zero."""
    out: list[list[tuple[float, float]]] = []
    current: list[tuple[float, float]] = []
    for t, v in zip(times, values, strict=False):
        if v is None:
            if current:
                out.append(current)
            current = []
        else:
            current.append((t, float(v)))
    if current:
        out.append(current)
    return out


def _thin(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """At most the lowest and highest point per pixel column, in time order, so spikes survive."""
    if len(points) <= 2 * (RIGHT - LEFT):
        return points
    columns: dict[int, list[tuple[float, float]]] = {}
    for point in points:
        columns.setdefault(int(point[0]), []).append(point)
    out: list[tuple[float, float]] = []
    for column in columns.values():
        low = min(column, key=lambda p: p[1])
        high = max(column, key=lambda p: p[1])
        out.extend(sorted({low, high}))
    return out


def _series(
    times: Sequence[float], values: Sequence[float | None], x: svg.Scale, y: svg.Scale, color: str, label: str
) -> list[str]:
    out = []
    for segment in _segments(times, values):
        pixels = _thin([(x(t), y(v)) for t, v in segment])
        if len(pixels) == 1:  # a lone sample has no line to draw: show it as a dot
            out.append(svg.circle(*pixels[0], 3, color, title=label))
        else:
            out.append(svg.polyline(pixels, color, title=label))
    return out


def _peak(times: Sequence[float], values: Sequence[float | None]) -> tuple[float, float] | None:
    samples = [(v, t) for t, v in zip(times, values, strict=False) if v is not None]
    if not samples:
        return None
    value, t = max(samples, key=lambda s: (s[0], -s[1]))
    return t, value


def _mode_legend() -> list[tuple[str, str, str]]:
    return [(mode, "box", color) for mode, color in MODE_COLORS.items()]


def _mode_bands(
    modes: Sequence[Mapping[str, Any]],
    x: svg.Scale,
    top: float,
    height: float,
    colors: Mapping[str, str],
    who: str = "",
) -> list[str]:
    out = []
    for band in modes:
        mode = str(band.get("mode") or "unknown")
        start, end = float(band["from_s"]), float(band["to_s"])
        label = f"{who}{mode} from {clock(start)} to {clock(end)}"
        out.append(
            svg.rect(x(start), top, x(end) - x(start), height, colors.get(mode, UNKNOWN_MODE_COLOR), title=label)
        )
    return out


def threat_index_chart(runs: Sequence[Run], duration_s: float) -> str:
    """ThreatIndex over time, one line per run, over the last run's mode bands.

    With two runs (a shadow comparison) each run's modes also show as a thin strip above the plot,
    so a mode change in either run is visible even where the background shows the other's.
    """
    axis, x = _time_scale(duration_s)
    strips = len(runs) > 1
    top = 48 + (len(runs) * 14 + 4 if strips else 0)
    bottom = top + 220
    height = bottom + 32
    values = [v for run in runs for v in run.timeline.get("threat_index", ()) if v is not None]
    y = svg.Scale(*svg.nice_domain(min([0.0, *values]), max([100.0, *values])), bottom, top)
    body = [svg.heading(16, TITLE_Y, "ThreatIndex and response mode")]
    items = _mode_legend() + [
        (f"{run.label} ThreatIndex" if strips else "ThreatIndex", "line", run.color) for run in runs
    ]
    body += svg.legend(items, RIGHT, TITLE_Y - 4)
    if strips:
        for i, run in enumerate(runs):
            row = 44 + i * 14
            body.append(
                svg.text(LEFT - 8, row + 5, run.label, anchor="end", size=10, color=svg.MUTED, baseline="central")
            )
            body.append(svg.rect(LEFT, row, RIGHT - LEFT, 10, "#f3f4f6"))
            body += _mode_bands(run.modes, x, row, 10, MODE_STRIP_COLORS, f"{run.label}: ")
    if runs:
        body += _mode_bands(runs[-1].modes, x, top, bottom - top, MODE_COLORS, f"{runs[-1].label}: " if strips else "")
    body += svg.value_axis(y, svg.ticks(y.low, y.high, 5), LEFT, RIGHT)
    body += svg.time_ticks(axis, x, top, bottom)
    if not values:
        body.append(svg.empty_note(LEFT, top, RIGHT, bottom, "No ThreatIndex: the policy set has no threat document"))
    for run in runs:
        times = run.timeline.get("t_s", ())
        series = run.timeline.get("threat_index", ())
        peak = _peak(times, series)
        label = f"{run.label} ThreatIndex" + (f", peak {number(peak[1])} at {clock(peak[0])}" if peak else "")
        body += _series(times, series, x, y, run.color, label)
    body.append(svg.frame(LEFT, top, RIGHT, bottom))
    return svg.document("threat-index", WIDTH, height, "ThreatIndex over time with response-mode bands", body)


def _lanes(runs: Sequence[Run]) -> list[str]:
    actions = {str(d["action"]) for run in runs for d in run.directives}
    known = [a for a in ACTION_ORDER if a in actions]
    return known + sorted(actions - set(ACTION_ORDER))


def _directive_line(directive: Mapping[str, Any]) -> str:
    targets = ", ".join(str(t) for t in directive.get("targets", ())) or "no targets"
    line = f"{clock(float(directive['t_s']))} · {directive.get('policy', '')}/{directive.get('rule', '')} → {targets}: {directive.get('reason', '')}"
    return line if directive.get("actuated", True) else line + " (not actuated)"


def _fault_spans(faults: Sequence[Mapping[str, Any]], x: svg.Scale, top: float, bottom: float) -> list[str]:
    """Shaded fault windows; names go in the strip above the plot, clear of the marks, when they fit.

    Faults over the same window (a load spike and a risk spike together) share one span and label.
    """
    windows: dict[tuple[float, float], list[Mapping[str, Any]]] = {}
    for fault in faults:
        windows.setdefault((float(fault["from_s"]), float(fault["to_s"])), []).append(fault)
    out: list[str] = []
    label_end = float("-inf")
    for (start_s, end_s), group in sorted(windows.items()):
        start, end = x(start_s), x(end_s)
        title = "\n".join(
            f"fault {f['name']} ({f.get('kind', '')}) on {', '.join(str(t) for t in f.get('targets', ())) or 'the fleet'}"
            f": {clock(start_s)}–{clock(end_s)}"
            for f in group
        )
        out.append(
            svg.rect(start, top, end - start, bottom - top, FAULT_COLOR, title=title, extra='fill-opacity="0.6"')
        )
        name = " + ".join(str(f["name"]) for f in group)
        if start > label_end:
            out.append(svg.text(start + 2, top - 5, name, size=10, color="#6b21a8"))
            label_end = start + svg.text_width(name, 10) + 8
        out.append(svg.line(start, top - 3, start, top, "#a855f7"))
    return out


def _clusters(
    directives: Sequence[Mapping[str, Any]], lanes: list[str], x: svg.Scale
) -> list[tuple[int, list[Mapping[str, Any]]]]:
    """Directives grouped per lane into runs whose marks would overlap (closer than a mark's width)."""
    out: list[tuple[int, list[Mapping[str, Any]]]] = []
    last: dict[int, tuple[float, list[Mapping[str, Any]]]] = {}
    for directive in sorted(directives, key=lambda d: (float(d["t_s"]), str(d.get("rule", "")))):
        lane, at = lanes.index(str(directive["action"])), x(float(directive["t_s"]))
        if lane in last and at - last[lane][0] < MARK_SPACING:
            last[lane][1].append(directive)
            continue
        group = [directive]
        last[lane] = (at, group)
        out.append((lane, group))
    return out


def directives_chart(runs: Sequence[Run], faults: Sequence[Mapping[str, Any]], duration_s: float) -> str:
    """One lane per action, a mark per directive (hollow when nothing actuated it), faults behind.

    Directives that fall on the same few pixels of a lane share one mark whose tooltip lists them,
    which keeps the page small for long runs.
    """
    axis, x = _time_scale(duration_s)
    lanes = _lanes(runs)
    rows = max(1, len(runs))
    lane_height = 14 + 18 * rows
    top = 62  # leaves a strip for fault names between the legend and the lanes
    bottom = top + (len(lanes) * lane_height if lanes else 64)
    body = [svg.heading(16, TITLE_Y, "Directives")]
    items = [(run.label if len(runs) > 1 else "directive", "dot", run.color) for run in runs]
    items += [("not actuated", "ring", runs[-1].color if runs else CANDIDATE_COLOR), ("fault", "box", FAULT_COLOR)]
    body += svg.legend(items, RIGHT, TITLE_Y - 4)
    for i, action in enumerate(lanes):
        lane_top = top + i * lane_height
        if i % 2:
            body.append(svg.rect(LEFT, lane_top, RIGHT - LEFT, lane_height, "#f8fafc"))
        body.append(
            svg.text(
                LEFT - 8, lane_top + lane_height / 2, svg.truncate(action, LEFT - 16), anchor="end", baseline="central"
            )
        )
    body += svg.time_ticks(axis, x, top, bottom)
    body += _fault_spans(faults, x, top, bottom)
    for i in range(1, len(lanes)):
        body.append(svg.line(LEFT, top + i * lane_height, RIGHT, top + i * lane_height, svg.GRID))
    if not lanes:
        body.append(svg.empty_note(LEFT, top, RIGHT, bottom, "No directives"))
    for row, run in enumerate(runs):
        for lane, group in _clusters(run.directives, lanes, x):
            cx = x(float(group[0]["t_s"]))
            cy = top + lane * lane_height + 7 + 18 * row + 9
            lines = [_directive_line(d) for d in group[:MAX_TOOLTIP_LINES]]
            if len(group) > MAX_TOOLTIP_LINES:
                lines.append(f"… and {len(group) - MAX_TOOLTIP_LINES} more")
            head = f"{run.label}: {plural(len(group), str(group[0]['action']) + ' directive')}\n"
            actuated = any(d.get("actuated", True) for d in group)
            fill, stroke = (run.color, "#ffffff") if actuated else ("#ffffff", run.color)
            body.append(svg.circle(cx, cy, 5, fill, stroke=stroke, title=head + "\n".join(lines)))
    body.append(svg.frame(LEFT, top, RIGHT, bottom))
    return svg.document("directives", WIDTH, bottom + 32, "Directives over time, one lane per action", body)


SLO_COLOR = "#b91c1c"


def has_threat_index(runs: Sequence[Run]) -> bool:
    """Whether any run has a ThreatIndex value: without a threat document every entry is null."""
    return any(v is not None for run in runs for v in run.timeline.get("threat_index", ()))


def latency_chart(runs: Sequence[Run], duration_s: float, slo_ms: float | None = None) -> str:
    """Fleet p95 latency over time (the mean of the pools' p95 weighted by requests), with the SLO line.

    The value axis always reaches the SLO, so a reader sees how close to it the fleet came.
    """
    axis, x = _time_scale(duration_s)
    top, bottom = 56, 256
    values = [float(v) for run in runs for v in run.timeline.get("latency_p95_ms", ()) if v is not None]
    high = max([*values, slo_ms or 0.0], default=0.0)
    y = svg.Scale(*svg.nice_domain(0.0, high, 5), bottom, top)
    body = [svg.heading(16, TITLE_Y, "Latency p95 (ms)")]
    items = [(run.label if len(runs) > 1 else "fleet p95", "line", run.color) for run in runs]
    if slo_ms is not None:
        items.append((f"SLO {number(slo_ms)} ms", "line", SLO_COLOR))
    body += svg.legend(items, RIGHT, TITLE_Y - 4)
    body += svg.value_axis(y, svg.ticks(y.low, y.high, 5), LEFT, RIGHT)
    body += svg.time_ticks(axis, x, top, bottom)
    if not values:
        body.append(svg.empty_note(LEFT, top, RIGHT, bottom, "No latency samples"))
    if slo_ms is not None:
        body.append(svg.line(LEFT, y(slo_ms), RIGHT, y(slo_ms), SLO_COLOR, dash="6 4"))
    for run in runs:
        times, series = run.timeline.get("t_s", ()), run.timeline.get("latency_p95_ms", ())
        peak = _peak(times, series)
        label = f"{run.label} latency p95" + (f", max {number(peak[1])} ms at {clock(peak[0])}" if peak else "")
        body += _series(times, series, x, y, run.color, label)
    body.append(svg.frame(LEFT, top, RIGHT, bottom))
    return svg.document("latency", WIDTH, bottom + 32, "Fleet p95 latency over time against the SLO", body)


FLEET_PANELS = (
    ("SLA adherence (%)", "sla_adherence_pct"),
    ("Load", "load"),
    ("Workers", "workers"),
    ("Queue", "queue"),
)


def _panel_domain(key: str, values: Sequence[float]) -> tuple[float, float]:
    if key == "sla_adherence_pct":  # zoom on the top of the scale, where an SLA lives
        low = min(values, default=100.0)
        return svg.nice_domain(low if low < 100 else 90.0, 100.0, 4)
    return svg.nice_domain(min(0.0, *values) if values else 0.0, max(values, default=0.0), 4)


def fleet_kpis_chart(runs: Sequence[Run], duration_s: float) -> str:
    """Fleet-wide SLA adherence, load, workers and queue over time: one panel each, shared time axis."""
    axis, x = _time_scale(duration_s)
    panel_height, gap, first_top = 96, 38, 66
    body = [svg.heading(16, TITLE_Y, "Fleet over time")]
    if len(runs) > 1:
        body += svg.legend([(run.label, "line", run.color) for run in runs], RIGHT, TITLE_Y - 4)
    bottom = first_top
    for i, (title, key) in enumerate(FLEET_PANELS):
        top = first_top + i * (panel_height + gap)
        bottom = top + panel_height
        values = [float(v) for run in runs for v in run.timeline.get(key, ()) if v is not None]
        y = svg.Scale(*_panel_domain(key, values), bottom, top)
        body.append(svg.text(LEFT, top - 10, title, weight="600", color=svg.MUTED))
        body += svg.value_axis(y, svg.ticks(y.low, y.high, 3), LEFT, RIGHT)
        body += svg.time_ticks(axis, x, top, bottom, labels=i == len(FLEET_PANELS) - 1)
        if not values:
            body.append(svg.empty_note(LEFT, top, RIGHT, bottom, "No samples"))
        for run in runs:
            times, series = run.timeline.get("t_s", ()), run.timeline.get(key, ())
            peak = _peak(times, series)
            label = f"{run.label} {title.lower()}" + (f", max {number(peak[1])} at {clock(peak[0])}" if peak else "")
            body += _series(times, series, x, y, run.color, label)
        body.append(svg.frame(LEFT, top, RIGHT, bottom))
    return svg.document(
        "fleet-kpis", WIDTH, bottom + 32, "Fleet SLA adherence, load, workers and queue over time", body
    )


def kpi_diff_chart(kpis: Sequence[Mapping[str, Any]]) -> str:
    """Each KPI's difference (candidate − baseline) as a dot with its 95% interval, coloured by verdict.

    KPIs have different units, so each row has its own scale, symmetric around zero, and is drawn
    so that right of zero means the candidate is better: a lower-is-better KPI is mirrored.
    """
    label_right, plot_left, plot_right, text_left = 300, 320, 700, 724
    top, row_height = 72, 38
    bottom = top + max(1, len(kpis)) * row_height
    middle = (plot_left + plot_right) / 2
    body = [svg.heading(16, TITLE_Y, "KPI differences, candidate − baseline, with 95% intervals")]
    items = [(verdict, "dot", color) for verdict, color in VERDICT_COLORS.items()] + [
        ("no interval", "ring", svg.MUTED)
    ]
    body += svg.legend(items, RIGHT, TITLE_Y - 4)
    body.append(svg.text(middle - 10, top - 12, "← candidate worse", anchor="end", size=11, color=svg.MUTED))
    body.append(svg.text(middle + 10, top - 12, "candidate better →", size=11, color=svg.MUTED))
    body.append(svg.text(text_left, top - 12, "difference  [95% interval]", size=11, color=svg.MUTED))
    body.append(svg.line(middle, top - 4, middle, bottom, svg.AXIS, dash="3 3"))
    if not kpis:
        body.append(svg.empty_note(plot_left, top, plot_right, bottom, "No KPIs compared"))
    for i, kpi in enumerate(kpis):
        name, verdict = str(kpi["kpi"]), str(kpi.get("verdict", "inconclusive"))
        color = VERDICT_COLORS.get(verdict, svg.MUTED)
        row_top = top + i * row_height
        mid = row_top + row_height / 2
        if i:
            body.append(svg.line(16, row_top, RIGHT, row_top, svg.GRID))
        direction = 1.0 if kpi.get("better", "higher") == "higher" else -1.0
        difference = float(kpi["difference"])
        interval = kpi.get("ci95")
        extent = max([abs(difference), *(abs(float(b)) for b in interval or ())]) * 1.15 or 1.0
        scale = svg.Scale(-extent, extent, plot_left, plot_right)
        summary = (
            f"{kpi_label(name)}: {kpi_difference(name, difference)}, 95% interval {kpi_interval(name, interval)}; "
            f"{verdict}: {kpi.get('reason', '')}"
        )
        body.append(svg.text(label_right, mid - 5, svg.truncate(kpi_label(name), 280), anchor="end"))
        body.append(
            svg.text(
                label_right,
                mid + 10,
                f"{kpi.get('better', 'higher')} is better",
                anchor="end",
                size=10,
                color=svg.MUTED,
            )
        )
        if interval is not None:
            low, high = sorted(scale(direction * float(b)) for b in interval)
            body.append(svg.line(low, mid, high, mid, color, width=2.5))
            body.append(svg.line(low, mid - 6, low, mid + 6, color, width=2))
            body.append(svg.line(high, mid - 6, high, mid + 6, color, width=2))
        # Without an interval (one seed) the dot is hollow: a point estimate and nothing more.
        fill, stroke = (color, "#ffffff") if interval is not None else ("#ffffff", color)
        body.append(svg.circle(scale(direction * difference), mid, 6, fill, stroke=stroke, title=summary))
        interval_text = kpi_interval(name, interval) if interval is not None else "no interval"
        body.append(
            svg.text(text_left, mid, f"{kpi_difference(name, difference)}  {interval_text}", baseline="central")
        )
        body.append(svg.text(RIGHT, mid, verdict, anchor="end", weight="600", color=color, baseline="central"))
    return svg.document("kpi-diff", WIDTH, bottom + 16, "KPI differences between candidate and baseline", body)


def rule_diff_chart(rules: Sequence[Mapping[str, Any]]) -> str:
    """How many times each changed rule fired, baseline against candidate, as paired bars."""
    changed = [r for r in rules if r.get("change") != "same"]
    shown = changed[:MAX_RULE_ROWS]
    label_right, bar_left, bar_right = 330, 346, RIGHT - 56
    top, row_height = 48, 34
    bottom = top + max(1, len(shown)) * row_height
    counts = [int(r.get(side) or 0) for r in shown for side in ("baseline", "candidate")]
    x = svg.Scale(*svg.nice_domain(0, max(counts, default=0), 6), bar_left, bar_right)
    body = [svg.heading(16, TITLE_Y, "Times each changed rule fired")]
    body += svg.legend([("baseline", "box", BASELINE_COLOR), ("candidate", "box", CANDIDATE_COLOR)], RIGHT, TITLE_Y - 4)
    for value in svg.ticks(x.low, x.high, 6) if shown else ():
        body.append(svg.line(x(value), top, x(value), bottom, svg.GRID))
        body.append(svg.text(x(value), bottom + 17, number(value), anchor="middle", size=11, color=svg.MUTED))
    if not shown:
        body.append(svg.empty_note(bar_left, top, bar_right, bottom, "No rule changed its decisions"))
    for i, rule in enumerate(shown):
        row_top = top + i * row_height
        name = f"{rule.get('policy', '')}/{rule.get('rule', '')}"
        body.append(svg.text(label_right, row_top + 14, svg.truncate(str(rule.get("rule", "")), 310), anchor="end"))
        body.append(
            svg.text(
                label_right,
                row_top + 27,
                svg.truncate(f"{rule.get('policy', '')} · {rule.get('change', '')}", 310),
                anchor="end",
                size=10,
                color=svg.MUTED,
            )
        )
        for offset, side, color in ((5, "baseline", BASELINE_COLOR), (17, "candidate", CANDIDATE_COLOR)):
            count = int(rule.get(side) or 0)
            end = x(count)
            body.append(
                svg.rect(
                    bar_left,
                    row_top + offset,
                    end - bar_left,
                    11,
                    color,
                    title=f"{name}: {side} fired {plural(count, 'time')}",
                )
            )
            body.append(
                svg.text(end + 5, row_top + offset + 5.5, number(count), size=10, color=svg.MUTED, baseline="central")
            )
    body.append(svg.line(bar_left, top, bar_left, bottom, svg.AXIS))
    height = bottom + 30
    if len(changed) > len(shown):
        body.append(
            svg.text(
                bar_left,
                bottom + 36,
                f"… and {plural(len(changed) - len(shown), 'more changed rule')} (see the table)",
                size=11,
                color=svg.MUTED,
            )
        )
        height += 14
    return svg.document("rule-diff", WIDTH, height, "Times each changed rule fired, baseline and candidate", body)
