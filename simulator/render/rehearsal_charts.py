"""The charts of a rollout rehearsal: one seed's waves over time, and the threshold sweep.

Built from the shared SVG helpers (`svg`) with the layout constants of the other charts, so the
page looks like the simulator's; each root `<svg>` is findable by its `data-chart` name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ballast.simulator.render import svg
from ballast.simulator.render.charts import CANDIDATE_COLOR, LEFT, RIGHT, TITLE_Y, WIDTH
from ballast.simulator.render.numbers import clock, number
from ballast.simulator.render.rehearsal import rate

WAVE_ROW = 34
WAVE_COLOR = CANDIDATE_COLOR
# A mark per turning point of the run; the gate failure is the abort (`failed`).
EVENT_COLORS = {"failed": "#b91c1c", "rolled_back": "#b45309", "paused": "#ca8a04", "succeeded": "#15803d"}
EVENT_LABELS = {
    "failed": "gate failed: abort",
    "rolled_back": "rolled back",
    "paused": "paused",
    "succeeded": "promoted",
}
EXPOSED_COLOR = "#b91c1c"
FALSE_ABORT_COLOR = "#b45309"
MISSED_COLOR = "#7c3aed"


def waves_chart(run: Mapping[str, Any]) -> str:
    """One row per wave of `run` (a report's `runs[i]`): a bar from its first push to its last step.

    The run's turning points (gate failure and abort, pause, rollback, promotion) are marked on
    the row of the wave that was open, with a dashed line across the waves at the same moment.
    """
    waves = run.get("waves") or []
    events = run.get("events") or []
    times = [float(t) for w in waves for t in (w.get("start"), w.get("end")) if t is not None]
    times += [float(e["t"]) for e in events]
    axis = svg.time_axis(max(times, default=0.0))
    x = svg.Scale(0, axis.duration_s, LEFT, RIGHT)
    top = 48
    bottom = top + max(1, len(waves)) * WAVE_ROW
    title = f"Waves over time, seed {run.get('seed')}: {str(run.get('outcome', '')).replace('_', ' ')}"
    body = [svg.heading(16, TITLE_Y, title)]
    kinds = [k for k in EVENT_COLORS if any(e.get("kind") == k for e in events)]
    body += svg.legend(
        [
            ("wave", "box", WAVE_COLOR),
            *((EVENT_LABELS[k], "ring" if k == "rolled_back" else "dot", EVENT_COLORS[k]) for k in kinds),
        ],
        RIGHT,
        TITLE_Y - 4,
    )
    body += svg.time_ticks(axis, x, top, bottom)
    if not waves:
        body.append(svg.empty_note(LEFT, top, RIGHT, bottom, "The plan has no waves"))
    rows = {}
    for i, wave in enumerate(waves):
        name = str(wave.get("wave", ""))
        rows[name] = row_top = top + i * WAVE_ROW
        body.append(
            svg.text(LEFT - 8, row_top + WAVE_ROW / 2, svg.truncate(name, LEFT - 16), anchor="end", baseline="central")
        )
        start, end = wave.get("start"), wave.get("end")
        if start is None:
            body.append(
                svg.text(
                    LEFT + 6, row_top + WAVE_ROW / 2, "never started", size=11, color=svg.MUTED, baseline="central"
                )
            )
            continue
        end = float(end if end is not None else axis.duration_s)
        label = f"wave {name}: {clock(float(start))} to {clock(end)}"
        # At least 2 px wide, so a wave that started and ended at once still shows.
        width = max(2.0, x(end) - x(float(start)))
        body.append(svg.rect(x(float(start)), row_top + 8, width, WAVE_ROW - 16, WAVE_COLOR, title=label))
    for event in events:
        kind, at = str(event.get("kind")), float(event["t"])
        color = EVENT_COLORS.get(kind, svg.MUTED)
        body.append(svg.line(x(at), top, x(at), bottom, color, dash="4 3"))
        row_top = rows.get(str(event.get("wave")), top)
        label = f"{EVENT_LABELS.get(kind, kind)} at {clock(at)}: {event.get('detail', '')}"
        if kind == "rolled_back":  # a ring: the rollback often ends where the abort began, around its dot
            body.append(svg.circle(x(at), row_top + WAVE_ROW / 2, 10, "none", stroke=color, title=label))
        else:
            body.append(svg.circle(x(at), row_top + WAVE_ROW / 2, 6, color, stroke="#ffffff", title=label))
    body.append(svg.frame(LEFT, top, RIGHT, bottom))
    return svg.document("waves", WIDTH, bottom + 32, "Waves of one seed over time, with the run's turning points", body)


def _panel(
    sweep: Sequence[Mapping[str, Any]],
    x: svg.Scale,
    top: float,
    bottom: float,
    series: Sequence[tuple[str, str, str]],
    *,
    percent: bool,
) -> list[str]:
    """A plot of `series` (label, key, color) over the factors, its value axis from zero."""
    values = [float(row[key]) for row in sweep for _label, key, _color in series if row.get(key) is not None]
    high = max(values, default=0.0)
    y = svg.Scale(*svg.nice_domain(0.0, 1.0 if percent and high <= 1.0 else high, 4), bottom, top)
    out = []
    for value in svg.ticks(y.low, y.high, 4):
        out.append(svg.line(LEFT, y(value), RIGHT, y(value), svg.GRID))
        shown = rate(value) if percent else number(value)
        out.append(svg.text(LEFT - 8, y(value), shown, anchor="end", size=11, color=svg.MUTED, baseline="central"))
    for label, key, color in series:
        points = [(float(row["factor"]), row.get(key)) for row in sweep]
        present = [(x(f), y(float(v))) for f, v in points if v is not None]
        if len(present) > 1:
            out.append(svg.polyline(present, color, title=label))
        for factor, value in points:
            if value is not None:
                shown = rate(value) if percent else number(value)
                out.append(
                    svg.circle(x(factor), y(float(value)), 4, color, title=f"×{number(factor)}: {label} {shown}")
                )
    out.append(svg.frame(LEFT, top, RIGHT, bottom))
    return out


def sweep_chart(sweep: Sequence[Mapping[str, Any]]) -> str:
    """How exposure and the false-abort (and missed) rates move with the gates' threshold factor.

    Two panels over one factor axis: the mean clusters exposed to the bad bundle above, the
    rates of runs that aborted for nothing and that promoted a bad bundle below.
    """
    factors = sorted(float(row["factor"]) for row in sweep)
    low, high = (factors[0], factors[-1]) if factors else (0.0, 1.0)
    pad = (high - low) * 0.05 or 0.1  # the end points' dots stay inside the frame
    x = svg.Scale(low - pad, high + pad, LEFT, RIGHT)
    body = [svg.heading(16, TITLE_Y, "Threshold sweep")]
    body += svg.legend(
        [
            ("clusters exposed (mean)", "line", EXPOSED_COLOR),
            ("false-abort rate", "line", FALSE_ABORT_COLOR),
            ("missed rate", "line", MISSED_COLOR),
        ],
        RIGHT,
        TITLE_Y - 4,
    )
    first, second = (56, 176), (206, 326)
    body.append(svg.text(LEFT, first[0] - 6, "clusters exposed (mean)", size=11, color=svg.MUTED))
    body += _panel(sweep, x, *first, [("clusters exposed (mean)", "exposed_mean", EXPOSED_COLOR)], percent=False)
    body.append(svg.text(LEFT, second[0] - 6, "share of runs", size=11, color=svg.MUTED))
    body += _panel(
        sweep,
        x,
        *second,
        [("false-abort rate", "false_abort_rate", FALSE_ABORT_COLOR), ("missed rate", "missed_rate", MISSED_COLOR)],
        percent=True,
    )
    for factor in factors:
        body.append(svg.line(x(factor), second[1], x(factor), second[1] + 4, svg.AXIS))
        body.append(
            svg.text(x(factor), second[1] + 17, f"×{number(factor)}", anchor="middle", size=11, color=svg.MUTED)
        )
    if not sweep:
        body.append(svg.empty_note(LEFT, first[0], RIGHT, second[1], "No sweep: no factor was given"))
    return svg.document(
        "threshold-sweep", WIDTH, second[1] + 32, "Exposure and false-abort rate by threshold factor", body
    )


__all__ = ["sweep_chart", "waves_chart"]
