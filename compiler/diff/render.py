"""A diff report in each output format: text, json, md, github, junit, sarif.

Every format is a pure function of the report: the same report gives the same bytes (no clock, no
absolute paths), so a CI job can diff two runs' outputs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from ballast.compiler.diff.findings import CHECKS, GUARD_LOOSENED, LEVELS, Finding
from ballast.compiler.diff.report import Report

FORMATS = ("text", "json", "md", "github", "junit", "sarif")


def render(report: Report, fmt: str, fail_on: str) -> str:
    return _RENDERERS[fmt](report, fail_on)


def _where(f: Finding) -> str:
    parts = []
    if f.base is not None:
        parts.append(f"base {f.base}")
    if f.head is not None:
        parts.append(f"head {f.head}")
    return ", ".join(parts)


def _repo_path(file: str) -> str:
    """A finding's file as the repository names it: `HEAD:catalog/motb.bal` (a git side) is
    catalog/motb.bal, so that an annotation or a SARIF location lands on a real file."""
    return file.split(":", 1)[-1] if ":" in file else file


def _subject(f: Finding) -> str:
    return f"{f.document}/{f.subject}" if f.subject else f.document


def _summary_line(report: Report) -> str:
    c = report.counts()
    total = len(report.findings)
    line = f"{total} finding{'s' if total != 1 else ''}: {c['breaking']} breaking, {c['behavioral']} behavioral, {c['cosmetic']} cosmetic"
    if c[GUARD_LOOSENED]:
        line += f" ({c[GUARD_LOOSENED]} guard-loosened)"
    if report.ignored:
        line += f"; {len(report.ignored)} ignored"
    if report.unchanged_since:
        line += f"; {report.unchanged_since} unchanged since the previous report"
    return line


def _justified_by(f: Finding) -> str:
    """Where the justification of a loosened guard goes: the rule, the class, the rollout plan, or
    a profile's change log."""
    return {
        "rollout": "the rollout plan",
        "safety": "the class",
        "profile": "the change-log entry of the new version",
    }.get(f.kind, "the rule")


def text(report: Report, fail_on: str) -> str:
    lines = [f"ballast diff {report.base['source']} → {report.head['source']}"]
    for f in report.findings:
        tags = f" [{', '.join(f.tags)}]" if f.tags else ""
        lines.append(f"{f.level:<10}  {f.id}  {_subject(f)}{tags}")
        lines.append(f"    {f.message}")
        lines.append(f"    {_where(f)} ({f.confidence})")
        if f.key in report.missing_justification:
            lines.append(
                f'    missing justification: add `justification "…"` to {_justified_by(f)} (--require-justification)'
            )
        lines.extend(f"    {line}" for line in _evidence_lines(f))
    for note in report.notes:
        lines.append(f"note: {note}")
    lines.extend(_runs(report))
    lines.append(_summary_line(report))
    lines.append(_verdict(report, fail_on))
    return "\n".join(lines) + "\n"


def _evidence_lines(f: Finding) -> list[str]:
    """What the --shadow / --replay runs saw of the finding's rule."""
    out = []
    for source, entries in sorted(f.details.get("evidence", {}).items()):
        for e in entries:
            out.append(
                f"{source}: rule {e['rule']} decided {e['base']} times on the base, {e['head']} on the head ({e['change']})"
            )
    return out


def _runs(report: Report) -> list[str]:
    out = []
    shadow = report.evidence.get("shadow")
    if shadow:
        out.append(
            f"shadow {shadow['scenario']} over {shadow['seeds']} seeds: {shadow['rules_changed']} rule(s) decided differently"
        )
        for k in shadow["kpis"]:
            if k["difference"] is not None:
                ci = f" (95% CI {k['ci95'][0]:g} to {k['ci95'][1]:g})" if k["ci95"] else ""
                out.append(f"    {k['kpi']}: {k['base']:g} → {k['head']:g}, difference {k['difference']:g}{ci}")
    replay = report.evidence.get("replay")
    if replay:
        out.append(
            f"replay {replay['telemetry']}: {replay['evaluated']} events evaluated, {replay['differing_events']} decided differently,"
            f" {replay['rules_changed']} rule(s) changed"
        )
        if replay.get("failure"):
            out.append(f"    replay: {replay['failure']['reason']}")
    return out


def _verdict(report: Report, fail_on: str) -> str:
    """The last line: whether the diff fails, and because of what."""
    reasons = []
    if fail_on != "never":
        reasons.append(f"{len(report.failing(fail_on))} at or above {fail_on}")
    if report.missing_justification:
        reasons.append(f"{len(report.missing_justification)} loosened guard(s) without justification")
    return f"{'FAIL' if report.fails(fail_on) else 'ok'}: {', '.join(reasons) if reasons else 'nothing fails the diff'}"


def as_json(report: Report, fail_on: str) -> str:
    return json.dumps(report.to_json(fail_on), indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def markdown(report: Report, fail_on: str) -> str:
    c = report.counts()
    verdict = "❌ fails" if report.fails(fail_on) else "✅ passes"
    lines = [
        "## Ballast semantic diff",
        "",
        f"`{report.base['source']}` → `{report.head['source']}`: {verdict} `--fail-on {fail_on}`",
        "",
        "| breaking | behavioral | cosmetic | guard-loosened |",
        "|---:|---:|---:|---:|",
        f"| {c['breaking']} | {c['behavioral']} | {c['cosmetic']} | {c[GUARD_LOOSENED]} |",
    ]
    if report.unchanged_since:
        lines += [
            "",
            f"{report.unchanged_since} finding(s) unchanged since the previous report are not shown (`--since`).",
        ]
    for level in LEVELS:
        chosen = [f for f in report.findings if f.level == level]
        if not chosen:
            continue
        lines += ["", f"### {level.capitalize()} ({len(chosen)})", ""]
        for f in chosen:
            tags = " " + " ".join(f"`{t}`" for t in f.tags) if f.tags else ""
            where = f.head or f.base
            lines.append(f"- **{f.id}** `{_subject(f)}`{tags}: {_md(f.message)} ({where}, {f.confidence})")
            if f.key in report.missing_justification:
                lines.append(f"  - ⚠️ missing `justification` on {_justified_by(f)}")
            lines.extend(f"  - {_md(line)}" for line in _evidence_lines(f))
    runs = _runs(report)
    if runs:
        lines += ["", "### Evidence", "", "```", *runs, "```"]
    for note in report.notes:
        lines += ["", f"> {_md(note)}"]
    if report.ignored:
        lines += ["", f"<details><summary>{len(report.ignored)} ignored</summary>", ""]
        lines += [f"- `{i['key']}`: {_md(i['reason'])}" for i in report.ignored]
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;")


def github(report: Report, fail_on: str) -> str:
    """GitHub Actions workflow commands: one annotation per finding, on the head's line."""
    command = {"breaking": "error", "behavioral": "warning", "cosmetic": "notice"}
    lines = []
    for f in report.findings:
        where = f.head or f.base
        location = f"file={_gh(_repo_path(where.file))},line={where.line},col={where.column}," if where else ""
        title = _gh(f"{f.id} ({f.level})")
        lines.append(f"::{command[f.level]} {location}title={title}::{_gh_message(f.message)}")
    lines.append(_summary_line(report))
    return "\n".join(lines) + "\n"


def _gh(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A").replace(":", "%3A").replace(",", "%2C")


def _gh_message(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def junit(report: Report, fail_on: str) -> str:
    failing = {id(f) for f in report.failing(fail_on)}
    failures = sum(1 for f in report.findings if id(f) in failing or f.key in report.missing_justification)
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<testsuites name="ballast diff" tests="{len(report.findings)}" failures="{failures}">',
        f'  <testsuite name={quoteattr(report.base["source"] + " → " + report.head["source"])} tests="{len(report.findings)}" failures="{failures}">',
    ]
    for f in report.findings:
        name = quoteattr(f"{f.id} {_subject(f)}")
        lines.append(f"    <testcase classname={quoteattr(f.kind + '.' + f.document)} name={name}>")
        if id(f) in failing or f.key in report.missing_justification:
            why = "missing justification" if id(f) not in failing else f.level
            lines.append(
                f"      <failure type={quoteattr(f.id)} message={quoteattr(why + ': ' + f.message)}>{escape(_where(f))}</failure>"
            )
        else:
            lines.append(f"      <system-out>{escape(f.level + ': ' + f.message)}</system-out>")
        lines.append("    </testcase>")
    lines += ["  </testsuite>", "</testsuites>"]
    return "\n".join(lines) + "\n"


def sarif(report: Report, fail_on: str) -> str:
    """SARIF 2.1.0, for code-scanning dashboards."""
    level = {"breaking": "error", "behavioral": "warning", "cosmetic": "note"}
    used = sorted({f.id for f in report.findings})
    rules = [
        {
            "id": check,
            "shortDescription": {"text": CHECKS[check].summary},
            "helpUri": f"docs/diff.md#{check}",
            "properties": {"level": CHECKS[check].level},
        }
        for check in used
    ]
    results = []
    for f in report.findings:
        result: dict[str, Any] = {
            "ruleId": f.id,
            "ruleIndex": used.index(f.id),
            "level": level[f.level],
            "message": {"text": f.message},
            "partialFingerprints": {"ballastFinding": f.key},
            "properties": {"confidence": f.confidence, "tags": list(f.tags), "ballastLevel": f.level},
        }
        where = f.head or f.base
        if where is not None:
            result["locations"] = [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": _repo_path(where.file)},
                        "region": {"startLine": where.line, "startColumn": where.column},
                    }
                }
            ]
        results.append(result)
    document = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "ballast", "rules": rules}}, "results": results}],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


_RENDERERS: dict[str, Callable[[Report, str], str]] = {
    "text": text,
    "json": as_json,
    "md": markdown,
    "github": github,
    "junit": junit,
    "sarif": sarif,
}
