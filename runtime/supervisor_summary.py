"""The human summaries of a supervisor cycle: Markdown for the channels people read, and the
plain text `ballast supervise` prints. Both say "no data" where a KPI has no sample."""

from __future__ import annotations

from ballast.runtime.supervisor_kpis import KPIS, Gap
from ballast.runtime.supervisor_records import Cycle, Directive
from ballast.runtime.values import format_duration, iso


def _value(kpi: str, value: float | None) -> str:
    if value is None:
        return "no data"
    unit = KPIS[kpi].unit
    if unit == "share":
        return f"{value:.1%}"
    if unit == "seconds":
        return f"{value:.1f}s"
    return f"{value:.1f}"


def _gap(gap: Gap) -> str:
    if gap.gap is None:
        return "no data"
    unit = KPIS[gap.kpi].unit
    amount = f"{abs(gap.gap) * 100:.1f} pts" if unit == "share" else _value(gap.kpi, abs(gap.gap))
    if gap.gap > 0:
        return f"{amount} short"
    return "met" if gap.gap == 0 else f"met, {amount} margin"


def _directive(d: Directive) -> str:
    line = f"`{d.id}` {d.describe()}: impact {d.impact} → {d.route}: **{d.status}**"
    if d.note:
        line += f" ({d.note})"
    return line + f". Why: {d.justification}"


def markdown(cycle: Cycle) -> str:
    """The cycle's summary in Markdown."""
    s = cycle.snapshot
    lines = [
        f"## Supervisor {cycle.supervisor}: cycle {cycle.number}, {iso(cycle.at)}",
        "",
        f"Window: {format_duration(s.window_seconds)} ending {iso(s.at)}, {s.entries} entries"
        + (f" ({s.untimed} without a time, not counted)" if s.untimed else "")
        + ".",
        "",
        "| Goal | Target | Observed | Gap | Samples |",
        "|---|---|---|---|---|",
    ]
    for g in s.gaps:
        lines.append(f"| {g.kpi} | {_value(g.kpi, g.target)} | {_value(g.kpi, g.observed)} | {_gap(g)} | {g.samples} |")
    sections = [
        (
            "Verifications",
            [
                f"`{v.directive}` ({v.policy}): **{'passed' if v.passed else 'failed'}**: " + "; ".join(v.reasons)
                for v in cycle.verifications
            ],
        ),
        ("Directives", [_directive(d) for d in cycle.directives]),
        ("Notify", [f"`{d.id}` {d.describe()} ({d.status})" for d in cycle.directives if d.notify]),
        ("Alerts", list(cycle.alerts)),
    ]
    for title, items in sections:
        if items:
            lines += ["", f"### {title}", "", *(f"- {item}" for item in items)]
    if not cycle.directives and not cycle.verifications:
        lines += ["", "No directive this cycle."]
    return "\n".join(lines) + "\n"


def text(cycle: Cycle) -> str:
    """The cycle as `ballast supervise` prints it."""
    s = cycle.snapshot
    lines = [
        f"supervisor {cycle.supervisor}, cycle {cycle.number} at {iso(cycle.at)}: "
        f"{s.entries} entries in the last {format_duration(s.window_seconds)}"
        + (f", {s.untimed} without a time" if s.untimed else "")
    ]
    for g in s.gaps:
        seen = "no data" if g.observed is None else f"observed {_value(g.kpi, g.observed)}, {_gap(g)}"
        lines.append(f"  goal {g.kpi}: target {_value(g.kpi, g.target)}, {seen} ({g.samples} samples)")
    for v in cycle.verifications:
        lines.append(f"verification {v.directive} ({v.policy}): {'passed' if v.passed else 'failed'}")
        lines.extend(f"  {reason}" for reason in v.reasons)
    for d in cycle.directives:
        lines.append(f"directive {d.id} ({d.policy}): {d.describe()}")
        lines.append(f"  impact {d.impact}, route {d.route}: {d.status}" + (f" ({d.note})" if d.note else ""))
        lines.append(f"  why: {d.justification}")
    for skip in cycle.skipped:
        lines.append(f"policy {skip.policy}: {skip.reason}")
    for alert in cycle.alerts:
        lines.append(f"ALERT: {alert}")
    return "\n".join(lines) + "\n"
