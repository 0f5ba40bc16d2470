"""A report as one self-contained HTML page: inline CSS, inline SVG charts, no script, no URL.

The page opens offline and from a CI artifact alike. It shows every table of the Markdown
version, with the charts placed beside the tables they explain. Output is deterministic: the
same report gives the same bytes, so pages can be diffed and cached.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from html import escape
from typing import Any

from ballast.simulator.render import charts
from ballast.simulator.render.charts import BASELINE_COLOR, CANDIDATE_COLOR, Run
from ballast.simulator.render.document import Code, Details, Document, Table
from ballast.simulator.render.rehearsal_charts import sweep_chart, waves_chart
from ballast.simulator.render.summary import REHEARSAL, REPLAY, SHADOW, SIMULATION, summarize

KINDS = {
    SIMULATION: "Simulation report",
    SHADOW: "Shadow comparison",
    REPLAY: "Replay comparison",
    REHEARSAL: "Rollout rehearsal",
}

# A page is a list of blocks: ("table", key), ("details", key), ("heading", text), ("chart", svg),
# ("note", text).
Block = tuple[str, str]

STYLE = """
:root { color-scheme: light; --text: #1f2933; --muted: #52606d; --line: #e4e7eb; --good: #15803d;
  --bad: #b91c1c; --mixed: #b45309; }
* { box-sizing: border-box; }
body { margin: 0; background: #f5f7fa; color: var(--text); font: 14px/1.5 system-ui, -apple-system,
  'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif; }
main { max-width: 1160px; margin: 0 auto; padding: 28px 24px 48px; }
header { margin-bottom: 20px; }
.kind { margin: 0; color: var(--muted); font-size: 12px; letter-spacing: .08em; text-transform: uppercase; }
h1 { margin: 4px 0 14px; font-size: 26px; font-weight: 650; }
h2 { margin: 32px 0 10px; font-size: 19px; font-weight: 650; }
h3 { margin: 0 0 10px; font-size: 15px; font-weight: 650; }
.verdict { margin: 0 0 16px; padding: 12px 16px; border-radius: 8px; border-left: 6px solid var(--muted);
  background: #fff; font-size: 17px; font-weight: 600; }
.verdict.good { border-color: var(--good); background: #f0fdf4; }
.verdict.bad { border-color: var(--bad); background: #fef2f2; }
.verdict.mixed { border-color: var(--mixed); background: #fffbeb; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 16px; margin: 14px 0; }
figure.chart { margin: 0; }
figure.chart svg { display: block; width: 100%; height: auto; }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
table.narrow { width: auto; min-width: 50%; }
th, td { padding: 6px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { color: var(--muted); font-weight: 600; font-size: 12px; background: #f8fafc; }
td.num, th.num { text-align: right; white-space: nowrap; }
tr.good td:last-child { color: var(--good); font-weight: 600; }
tr.bad td:last-child { color: var(--bad); font-weight: 600; }
tr.mixed td:last-child { color: var(--mixed); font-weight: 600; }
.note, .empty { color: var(--muted); margin: 8px 0 0; }
details summary { cursor: pointer; font-weight: 600; }
details h4 { margin: 14px 0 4px; font-size: 14px; }
details ul { margin: 4px 0; padding-left: 20px; }
pre { background: #f8fafc; border: 1px solid var(--line); border-radius: 6px; padding: 10px; overflow-x: auto;
  font: 12px/1.45 ui-monospace, 'SFMono-Regular', Menlo, Consolas, monospace; }
footer { margin-top: 32px; color: var(--muted); font-size: 12px; }
"""


def render_html(report: Mapping[str, Any]) -> str:
    """The report (any of the three formats, chosen by `format`) as a self-contained HTML page.

    Raises `UsageError` for a report of an unknown format.
    """
    document = summarize(report)
    blocks = LAYOUTS[document.format](report)
    return page(document, blocks)


def page(document: Document, blocks: Sequence[Block]) -> str:
    """The page for a summarised report; tables and details the layout left out follow at the end."""
    placed = {key for kind, key in blocks if kind in ("table", "details")}
    blocks = [
        *blocks,
        *(("table", t.key) for t in document.tables if t.key not in placed),
        *(("details", d.key) for d in document.details if d.key not in placed),
    ]
    facts = "".join(f"<dt>{escape(label)}</dt><dd>{_fact(value)}</dd>" for label, value in document.facts)
    body = [
        "<header>",
        f'<p class="kind">{escape(KINDS[document.format])}</p>',
        f"<h1>{escape(document.title)}</h1>",
        f'<p class="verdict {escape(document.tone)}">{escape(document.verdict)}</p>',
        f'<dl class="facts">{facts}</dl>',
        "</header>",
    ]
    tables = {t.key: t for t in document.tables}
    details = {d.key: d for d in document.details}
    for kind, value in blocks:
        if kind == "heading":
            body.append(f"<h2>{escape(value)}</h2>")
        elif kind == "chart":
            body.append(f'<section class="card"><figure class="chart">\n{value}\n</figure></section>')
        elif kind == "note":
            body.append(f'<p class="note">{escape(value)}</p>')
        elif kind == "table" and value in tables:
            body.append(_table(tables[value]))
        elif kind == "details" and value in details:
            body.append(_details(details[value]))
    body.append(f"<footer>Report format {escape(document.format)}, rendered by Ballast.</footer>")
    return (
        "\n".join(
            [
                "<!DOCTYPE html>",
                '<html lang="en">',
                "<head>",
                '<meta charset="utf-8">',
                '<meta name="viewport" content="width=device-width, initial-scale=1">',
                f"<title>{escape(document.title)}</title>",
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


def _table(table: Table) -> str:
    out = [f'<section class="card" id="{escape(table.key)}">', f"<h3>{escape(table.title)}</h3>"]
    if table.rows:
        head = "".join(f"<th{_num(i, table)}>{escape(c)}</th>" for i, c in enumerate(table.columns))
        narrow = ' class="narrow"' if len(table.columns) <= 3 else ""  # two numbers need not span the page
        out.append(f"<table{narrow}><thead><tr>{head}</tr></thead><tbody>")
        for r, row in enumerate(table.rows):
            tone = table.tones[r] if r < len(table.tones) else None
            cells = "".join(f"<td{_num(i, table)}>{escape(cell)}</td>" for i, cell in enumerate(row))
            out.append(f'<tr class="{escape(tone)}">{cells}</tr>' if tone else f"<tr>{cells}</tr>")
        out.append("</tbody></table>")
    else:
        out.append(f'<p class="empty">{escape(table.empty)}</p>')
    if table.note:
        out.append(f'<p class="note">{escape(table.note)}</p>')
    out.append("</section>")
    return "\n".join(out)


def _num(column: int, table: Table) -> str:
    return ' class="num"' if column in table.numeric else ""


def _details(details: Details) -> str:
    out = [
        f'<section class="card" id="{escape(details.key)}"><details>',
        f"<summary>{escape(details.summary)}</summary>",
    ]
    for item in details.items:
        out.append(f"<h4>{escape(item.heading)}</h4>")
        if item.lines:
            out.append("<ul>" + "".join(f"<li>{escape(line)}</li>" for line in item.lines) + "</ul>")
        if item.code is not None:
            out.append(f"<pre>{escape(item.code)}</pre>")
    out.append("</details></section>")
    return "\n".join(out)


# --- layouts: where each format's charts go among its tables --------------------------------------


def _duration(report: Mapping[str, Any], *timelines: Mapping[str, Any]) -> float:
    declared = (report.get("scenario") or {}).get("duration_s")
    if declared:
        return float(declared)
    times = [float(t) for timeline in timelines for t in timeline.get("t_s", ())]
    return max(times, default=0.0)


def _time_charts(
    runs: Sequence[Run], faults: Sequence[Mapping[str, Any]], duration_s: float, slo_ms: float | None
) -> list[Block]:
    # a ThreatIndex chart without a threat document would be an empty frame: one line says why
    threat: Block = (
        ("chart", charts.threat_index_chart(runs, duration_s))
        if charts.has_threat_index(runs)
        else ("note", "No ThreatIndex chart: the policy set runs no threat document.")
    )
    return [
        threat,
        ("chart", charts.directives_chart(runs, faults, duration_s)),
        ("chart", charts.latency_chart(runs, duration_s, slo_ms)),
        ("chart", charts.fleet_kpis_chart(runs, duration_s)),
    ]


def _slo_ms(report: Mapping[str, Any]) -> float | None:
    slo = (report.get("scenario") or {}).get("slo_latency_ms")
    return float(slo) if isinstance(slo, int | float) and not isinstance(slo, bool) else None


def _simulation(report: Mapping[str, Any]) -> list[Block]:
    timeline = report.get("timeline") or {}
    run = Run("simulation", CANDIDATE_COLOR, timeline, report.get("modes") or (), report.get("directives") or ())
    return [
        ("table", "probes"),
        ("heading", "Over time"),
        *_time_charts([run], report.get("faults") or (), _duration(report, timeline), _slo_ms(report)),
        ("heading", "Outcome"),
        ("table", "kpis"),
        ("table", "breaches"),
        ("table", "faults"),
    ]


def _shadow(report: Mapping[str, Any]) -> list[Block]:
    blocks: list[Block] = [
        ("chart", charts.kpi_diff_chart(report.get("kpis") or [])),
        ("table", "kpis"),
        ("chart", charts.rule_diff_chart(report.get("rules") or [])),
        ("table", "rules"),
        ("details", "divergences"),
    ]
    example = report.get("example")
    if example:
        runs = [
            Run(
                "baseline",
                BASELINE_COLOR,
                example.get("baseline") or {},
                example.get("baseline_modes") or (),
                example.get("baseline_directives") or (),
            ),
            Run(
                "candidate",
                CANDIDATE_COLOR,
                example.get("candidate") or {},
                example.get("candidate_modes") or (),
                example.get("candidate_directives") or (),
            ),
        ]
        duration_s = _duration(report, runs[0].timeline, runs[1].timeline)
        blocks += [
            ("heading", f"Example run, seed {example.get('seed')}"),
            *_time_charts(runs, example.get("faults") or (), duration_s, _slo_ms(report)),
        ]
    return blocks


def _replay(report: Mapping[str, Any]) -> list[Block]:
    return [
        ("table", "decisions"),
        ("chart", charts.rule_diff_chart(report.get("rules") or [])),
        ("table", "rules"),
        ("details", "divergences"),
        ("details", "problems"),
    ]


def _rehearsal(report: Mapping[str, Any]) -> list[Block]:
    runs = report.get("runs") or []
    # The first seed's waves, as in the Markdown: one run drawn in full; the table has the others.
    waves: list[Block] = [("chart", waves_chart(runs[0]))] if runs else [("note", "No run: no seed was rehearsed.")]
    return [
        ("table", "figures"),
        ("heading", "Waves over time"),
        *waves,
        ("heading", "Threshold sweep"),
        ("chart", sweep_chart(report.get("sweep") or [])),
        ("table", "sweep"),
        ("heading", "Seeds"),
        ("table", "runs"),
    ]


LAYOUTS: dict[str, Callable[[Mapping[str, Any]], list[Block]]] = {
    SIMULATION: _simulation,
    SHADOW: _shadow,
    REPLAY: _replay,
    REHEARSAL: _rehearsal,
}


def _fact(value: str) -> str:
    return f"<code>{escape(value)}</code>" if isinstance(value, Code) else escape(value)
