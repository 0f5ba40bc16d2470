"""What a rendered report says, before it is Markdown or HTML: a verdict, facts, tables, details.

The summaries build these plain values once, so the Markdown comment and the HTML page show the
same numbers in the same words; the renderers only decide how they look.
"""

from __future__ import annotations

from dataclasses import dataclass

# Tones colour a verdict or a row in HTML and pick the marker in Markdown.
GOOD, BAD, MIXED, NEUTRAL = "good", "bad", "mixed", "neutral"


class Code(str):
    """Text shown verbatim, as written (a path, a fingerprint): a code span in Markdown, `<code>` in HTML."""

    __slots__ = ()


@dataclass(frozen=True)
class Table:
    """A titled table of already formatted cells.

    `numeric` holds the indexes of right-aligned columns, `tones` one tone (or None) per row,
    `note` a line printed under the table (such as how many rules did not change), and `empty`
    what to print instead when there are no rows.
    """

    key: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: frozenset[int] = frozenset()
    tones: tuple[str | None, ...] = ()
    note: str | None = None
    empty: str = "Nothing to show."


@dataclass(frozen=True)
class Item:
    """One entry of a collapsible block: a heading, lines of text and an optional code block."""

    heading: str
    lines: tuple[str, ...] = ()
    code: str | None = None


@dataclass(frozen=True)
class Details:
    """A collapsible block (`<details>`) for what a reader opens only when they need it."""

    key: str
    summary: str
    items: tuple[Item, ...]


@dataclass(frozen=True)
class Document:
    """A report ready to render: title, headline verdict and its tone, facts, tables, details."""

    format: str
    title: str
    verdict: str
    tone: str
    facts: tuple[tuple[str, str], ...]
    tables: tuple[Table, ...]
    details: tuple[Details, ...] = ()

    def table(self, key: str) -> Table | None:
        """The table named `key`, if the report has one."""
        return next((t for t in self.tables if t.key == key), None)
