"""A report as GitHub-flavoured Markdown, short enough for a pull-request comment.

A headline verdict, the facts on one line, the tables, and the first divergences folded in a
`<details>` block. No time series: the HTML page has the charts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ballast.simulator.render.document import BAD, GOOD, MIXED, Code, Details, Document, Table
from ballast.simulator.render.summary import summarize

MARKERS = {GOOD: "✅", BAD: "❌", MIXED: "⚠️"}
# Only what changes meaning in a line: GitHub leaves intraword `_` and a lone `[x]` alone, and
# escaping them would make the raw comment hard to read. `<` matters only where it opens a tag
# (`a < b` stays as written), `&` only where it starts an entity, and `>` only at the start of a
# line, where no escaped text ever goes (each line starts with our own `|`, `**`, `- ` or `#`).
_SPECIAL = re.compile(r"[\\`*]|<(?=[A-Za-z/!?])|&(?=#?\w+;)")
_CELL_SPECIAL = re.compile(r"[\\`*|]|<(?=[A-Za-z/!?])|&(?=#?\w+;)")  # a `|` would split the cell


def render_markdown(report: Mapping[str, Any]) -> str:
    """The report (any of the three formats, chosen by `format`) as Markdown.

    Raises `UsageError` for a report of an unknown format.
    """
    return markdown(summarize(report))


def markdown(document: Document) -> str:
    """A summarised report as Markdown."""
    marker = MARKERS.get(document.tone)
    verdict = f"{marker} " if marker else ""
    parts = [f"### {escape(document.title)}", f"**{verdict}{escape(document.verdict)}**"]
    parts.append(" · ".join(f"{escape(label)}: {_inline(value)}" for label, value in document.facts))
    parts += [_table(table) for table in document.tables]
    parts += [_details(details) for details in document.details]
    return "\n\n".join(parts) + "\n"


def escape(text: str, *, cell: bool = False) -> str:
    """User text made inert: Markdown's specials (and `|` in a table cell) escaped, newlines folded.

    >>> escape("load > 0.9 & a<b> | c"), escape("x | y", cell=True)
    ('load > 0.9 & a&lt;b> | c', 'x \\\\| y')
    """
    text = " ".join(str(text).split())
    specials = _CELL_SPECIAL if cell else _SPECIAL
    return specials.sub(lambda m: {"<": "&lt;", "&": "&amp;"}.get(m[0], "\\" + m[0]), text)


def code_span(text: str) -> str:
    """Text as a code span, verbatim: Markdown reads no escape and no entity inside one (an
    escaped `>` would show as `&gt;`), so the text is only fenced by a longer backtick run."""
    text = " ".join(str(text).split())
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""  # a backtick must not touch the fence
    return f"{fence}{pad}{text}{pad}{fence}"


def _inline(value: str) -> str:
    return code_span(value) if isinstance(value, Code) else escape(value)


def _table(table: Table) -> str:
    lines = [f"#### {escape(table.title)}"]
    if table.rows:
        align = ["---:" if i in table.numeric else ":---" for i in range(len(table.columns))]
        lines += ["", _row(table.columns), _row(align, raw=True)]
        lines += [
            _row(_marked(row, table.tones[i] if i < len(table.tones) else None)) for i, row in enumerate(table.rows)
        ]
    else:
        lines += ["", escape(table.empty)]
    if table.note:
        lines += ["", escape(table.note)]
    return "\n".join(lines)


def _marked(row: tuple[str, ...], tone: str | None) -> tuple[str, ...]:
    """The row with its tone's marker before the last cell, where verdicts and results live."""
    marker = MARKERS.get(tone or "")
    return row if marker is None else (*row[:-1], f"{marker} {row[-1]}")


def _row(cells: tuple[str, ...] | list[str], raw: bool = False) -> str:
    return "| " + " | ".join(cell if raw else escape(cell, cell=True) for cell in cells) + " |"


def _fence(code: str) -> str:
    # A fence longer than any backtick run inside, so user text cannot close it early.
    longest = max((len(run) for run in re.findall(r"`+", code)), default=0)
    return "`" * max(3, longest + 1)


def _details(details: Details) -> str:
    # The blank lines after <summary> and before </details> make GitHub render the Markdown inside.
    lines = [f"<details><summary>{escape(details.summary)}</summary>", ""]
    for item in details.items:
        lines += [f"**{escape(item.heading)}**", ""]
        lines += [f"- {escape(line)}" for line in item.lines]
        if item.lines:
            lines.append("")
        if item.code is not None:
            fence = _fence(item.code)
            lines += [f"{fence}json", item.code, fence, ""]
    lines.append("</details>")
    return "\n".join(lines)
