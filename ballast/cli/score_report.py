"""`ballast score`'s reports: one tenant's score as JSON, text, Markdown or a self-contained HTML page.

Every function takes one tenant's `TenantScore` (or a list, for the combined text and JSON) and
reads nothing else, so a tenant's report holds only what was computed from that tenant's own
metrics and history. Output is deterministic: the same score gives the same bytes. The HTML page
has inline CSS and inline SVG (a score trend chart and factor bars), no script and no URL.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from ballast.runtime.score_tenants import TenantScore
from ballast.runtime.scoring import Badge, Factor, Profile, Scoring
from ballast.runtime.values import iso
from ballast.simulator.render import svg
from ballast.simulator.render.html import STYLE

REPORT_FORMAT = "ballast.score/1"
REPORTS_FORMAT = "ballast.scores/1"
SCORE_COLOR = "#2563eb"
POSSIBLE_COLOR = "#dbe4f0"
BADGE_COLOR = "#b45309"
_NUMERIC = ' class="num"'


def tenant_json(scoring: Scoring, result: TenantScore) -> dict[str, Any]:
    """One tenant's report as a JSON object (format `ballast.score/1`)."""
    return {
        "format": REPORT_FORMAT,
        "scoring": scoring.name,
        **result.score.to_json(),
        "trend": [{"time": t, "score": _num(s), "badge": b} for t, s, b in result.trend],
    }


def all_json(scoring: Scoring, profile: Profile, now: float, results: Sequence[TenantScore]) -> dict[str, Any]:
    """Every tenant's report in one object (format `ballast.scores/1`)."""
    return {
        "format": REPORTS_FORMAT,
        "scoring": scoring.name,
        "profile": profile.name,
        "version": profile.version,
        "time": now,
        "tenants": [tenant_json(scoring, r) for r in results],
    }


def _num(value: float | None) -> float | None:
    return None if value is None else round(value, 4) + 0.0


def _score_text(score: float | None) -> str:
    return "none" if score is None else f"{score:.1f}"


def headline(result: TenantScore) -> str:
    """`acme: 82.4, badge gold` and why the badge is what it is."""
    s = result.score
    badge = f"badge {s.badge}" if s.badge else ("badge withheld" if s.blocked_by else "no badge")
    return f"{s.tenant}: {_score_text(s.score)}, {badge}"


def _value(factor: Factor) -> str:
    return "—" if factor.value is None else f"{factor.value:g}"


def _state(factor: Factor) -> str:
    if factor.state == "fresh":
        return "fresh"
    if factor.state == "decayed":
        return f"decayed ×{factor.decay_factor:.2f}"
    return f"{factor.state}: {factor.fallback}"


def factor_rows(result: TenantScore) -> list[tuple[str, ...]]:
    """(signal, metric, value, state, share, points, percent, source) per factor, as printed."""
    rows = []
    for f in result.score.factors:
        rows.append(
            (
                f.signal,
                f.metric,
                _value(f),
                _state(f),
                f"{100 * f.share:.1f}%",
                f"{f.points:.1f}",
                f"{f.percent:.1f}%",
                f.source or "—",
            )
        )
    return rows


COLUMNS = ("signal", "metric", "value", "state", "share", "points", "of score", "source")


def tenant_text(result: TenantScore) -> str:
    """One tenant as the text `ballast score` prints: the headline, then a line per factor."""
    lines = [headline(result)]
    lines += [f"  {reason}" for reason in result.score.reasons]
    rows = [COLUMNS, *factor_rows(result)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    for row in rows:
        lines.append(("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))).rstrip())
    return "\n".join(lines) + "\n"


def all_text(profile: Profile, now: float, results: Sequence[TenantScore]) -> str:
    """Every tenant, after a line naming the profile and the time."""
    head = f"profile {profile.name} (version {profile.version}) at {iso(now)}: {len(results)} tenant{'s' if len(results) != 1 else ''}\n"
    return head + "".join("\n" + tenant_text(r) for r in results)


def _md(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("*", "\\*").replace("_", "\\_").replace("<", "&lt;")


def tenant_markdown(profile: Profile, now: float, result: TenantScore) -> str:
    """One tenant as Markdown: headline, reasons, the factor table and the trend as a table."""
    out = [
        f"## Tenant {_md(result.score.tenant)}",
        "",
        f"**{_md(headline(result))}** under profile `{profile.name}` (version {_md(profile.version)}) at {iso(now)}",
        "",
    ]
    out += [f"- {_md(reason)}" for reason in result.score.reasons]
    if result.score.reasons:
        out.append("")
    out.append("| " + " | ".join(COLUMNS) + " |")
    out.append("|" + "|".join("---:" if c in ("share", "points", "of score") else "---" for c in COLUMNS) + "|")
    for row in factor_rows(result):
        out.append("| " + " | ".join(_md(cell) for cell in row) + " |")
    about = [f"- `{f.signal}`: {_md(f.about)}" for f in result.score.factors if f.about]
    if about:
        out += ["", "What the signals measure:", "", *about]
    out += ["", "| time | score | badge |", "|---|---:|---|"]
    for time, score, badge in result.trend:
        out.append(f"| {iso(time)} | {_score_text(score)} | {_md(badge or '—')} |")
    return "\n".join(out) + "\n"


# --- HTML -----------------------------------------------------------------------------------------


def trend_chart(result: TenantScore, badges: Sequence[Badge]) -> str:
    """The score over time (0..100), with each badge's enter level as a dashed line."""
    width, height, left, right, top, bottom = 900.0, 300.0, 56.0, 860.0, 40.0, 260.0
    body = [svg.heading(left, 22, "Score over time")]
    y = svg.Scale(0, 100, bottom, top)
    body += svg.value_axis(y, [0, 20, 40, 60, 80, 100], left, right)
    for badge in badges:
        body.append(svg.line(left, y(badge.enter), right, y(badge.enter), BADGE_COLOR, dash="4 4"))
        body.append(
            svg.text(
                right - 4,
                y(badge.enter) - 4,
                f"{badge.name} ≥ {badge.enter:g}",
                anchor="end",
                size=11,
                color=BADGE_COLOR,
            )
        )
    points = [(t, s) for t, s, _ in result.trend if s is not None]
    if not points:
        body.append(svg.empty_note(left, top, right, bottom, "no score yet"))
    else:
        first, last = points[0][0], points[-1][0]
        x = svg.Scale(first, last, left + 10, right - 10)
        body.append(svg.text(left, bottom + 18, iso(first)[:10], size=11, color=svg.MUTED))
        if last != first:
            body.append(svg.text(right, bottom + 18, iso(last)[:10], anchor="end", size=11, color=svg.MUTED))
        if len(points) > 1:
            body.append(svg.polyline([(x(t), y(s)) for t, s in points], SCORE_COLOR))
        for t, s, badge in result.trend:
            if s is not None:
                body.append(svg.circle(x(t), y(s), 4, SCORE_COLOR, title=f"{iso(t)}: {s:.1f}, {badge or 'no badge'}"))
    body.append(svg.frame(left, top, right, bottom))
    return svg.document("trend", width, height, "Score over time", body)


def factor_chart(result: TenantScore) -> str:
    """A bar per factor: the points it earned over the points its weight could earn."""
    factors = result.score.factors
    row, left, label_width = 30.0, 210.0, 200.0
    width, top = 900.0, 40.0
    height = top + row * max(1, len(factors)) + 16
    plot = width - left - 120
    # the largest share fills the plot: points are at most 100 × share, so every bar fits
    most = max((100.0 * f.share for f in factors), default=0.0) or 100.0
    body = [svg.heading(8, 22, "Points per factor (of what its weight allows)")]
    for i, f in enumerate(factors):
        y = top + i * row
        body.append(svg.text(left - 10, y + 10, svg.truncate(f.signal, label_width), anchor="end", baseline="central"))
        possible = plot * 100.0 * f.share / most
        body.append(
            svg.rect(left, y, possible, 20, POSSIBLE_COLOR, title=f"{f.signal}: up to {100 * f.share:.1f} points")
        )
        body.append(
            svg.rect(
                left,
                y,
                plot * f.points / most,
                20,
                SCORE_COLOR,
                title=f"{f.signal}: {f.points:.1f} points from {f.metric}",
            )
        )
        label = (
            f"{f.points:.1f} pts" if f.state in ("fresh", "decayed") or f.fallback == "zero" else f.fallback or f.state
        )
        body.append(
            svg.text(
                left + max(possible, plot * f.points / most) + 8,
                y + 10,
                label,
                size=11,
                color=svg.MUTED,
                baseline="central",
            )
        )
    if not factors:
        body.append(svg.empty_note(left, top, width, height, "no factor"))
    return svg.document("factors", width, height, "Points per factor", body)


def _about(result: TenantScore) -> str:
    items = "".join(
        f"<li><code>{escape(f.signal)}</code>: {escape(f.about)}</li>" for f in result.score.factors if f.about
    )
    return f'<p class="note">What the signals measure:</p><ul>{items}</ul>' if items else ""


def tenant_html(scoring: Scoring, profile: Profile, now: float, result: TenantScore) -> str:
    """One tenant's self-contained page."""
    s = result.score
    tone = "good" if s.badge else ("bad" if s.blocked_by or s.score is None else "mixed")
    facts = [
        ("scoring", f"{scoring.name} (version {scoring.version})"),
        ("profile", f"{profile.name} (version {profile.version})"),
        ("time", iso(now)),
        ("badges", ", ".join(f"{b.name} {b.enter:g}/{b.exit:g}" for b in profile.badges)),
    ]
    rows = "".join(
        "<tr>"
        + "".join(f"<td{_NUMERIC if i in (4, 5, 6) else ''}>{escape(c)}</td>" for i, c in enumerate(row))
        + "</tr>"
        for row in factor_rows(result)
    )
    head = "".join(f"<th{_NUMERIC if i in (4, 5, 6) else ''}>{escape(c)}</th>" for i, c in enumerate(COLUMNS))
    body = [
        "<header>",
        '<p class="kind">Tenant maturity score</p>',
        f"<h1>{escape(s.tenant)}</h1>",
        f'<p class="verdict {tone}">{escape(headline(result))}</p>',
        '<dl class="facts">' + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in facts) + "</dl>",
        "</header>",
        *(f'<p class="note">{escape(reason)}</p>' for reason in s.reasons),
        f'<section class="card"><figure class="chart">\n{trend_chart(result, profile.badges)}\n</figure></section>',
        f'<section class="card"><figure class="chart">\n{factor_chart(result)}\n</figure></section>',
        f'<section class="card" id="factors"><h3>Factors</h3><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
        + _about(result)
        + "</section>",
        f"<footer>Report format {REPORT_FORMAT}, rendered by Ballast.</footer>",
    ]
    return (
        "\n".join(
            [
                "<!DOCTYPE html>",
                '<html lang="en">',
                "<head>",
                '<meta charset="utf-8">',
                '<meta name="viewport" content="width=device-width, initial-scale=1">',
                f"<title>{escape(s.tenant)}: tenant score</title>",
                f"<style>{STYLE}</style>",
                "</head>",
                "<body><main>",
                *body,
                "</main></body>",
                "</html>",
            ]
        )
        + "\n"
    )


__all__ = [
    "REPORTS_FORMAT",
    "REPORT_FORMAT",
    "all_json",
    "all_text",
    "factor_chart",
    "headline",
    "tenant_html",
    "tenant_json",
    "tenant_markdown",
    "tenant_text",
    "trend_chart",
]
