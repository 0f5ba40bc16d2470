"""Render simulator reports for people: Markdown for a pull-request comment, HTML for a browser.

Both take a report dict as the simulator writes it (`ballast.simulation/1`, `ballast.shadow/1`
or `ballast.replay/1`, see docs/reports.md) and return text; neither touches files.

    >>> from ballast.simulator.render import render_markdown
    >>> render_markdown({"format": "ballast.replay/1", "telemetry": {"file": "t.jsonl", "events": 3},
    ...                  "decisions": {}, "problems": {}, "rules": []}).splitlines()[2]
    '**✅ Replay of 3 events: 0 rules changed, 0 events decided differently**'
"""

from __future__ import annotations

from ballast.simulator.render.html import render_html
from ballast.simulator.render.markdown import render_markdown

__all__ = ["render_html", "render_markdown"]
