"""The live dashboard: its page, its bundled assets, its state and the reports it links to.

The page is `assets/dashboard.html` with the current state embedded as JSON, so it shows the
directives and the ThreatIndex as soon as it loads, without a second request; the script then
follows `/v1/stream` (server-sent events) for what comes next. Nothing is loaded from a CDN:
the script and the style sheet are package data served at /assets/.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from ballast.service.core import Service

# What /assets/ serves: exactly these files of the package, nothing found by a path.
ASSETS = {
    "dashboard.js": "application/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
}
REPORT_TYPES = {".html": "text/html; charset=utf-8", ".md": "text/markdown; charset=utf-8", ".json": "application/json"}
REPORTS_SHOWN = 8
DIRECTIVES_SHOWN = 50
THREAT_POINTS_SHOWN = 500


def asset(name: str) -> tuple[bytes, str] | None:
    """A bundled asset's bytes and media type; None for any other name."""
    if name not in ASSETS:
        return None
    return resources.files("ballast.service").joinpath("assets", name).read_bytes(), ASSETS[name]


def status(service: Service) -> dict[str, Any]:
    """The KPIs: counts, health, requests in flight, the running bundle, the engine's drops."""
    state = service.state()
    engine: dict[str, int] = {}
    for counters in state["engine"].values():
        for name in ("late", "duplicates", "gaps", "suppressed_cooldown", "suppressed_limit"):
            engine[name] = engine.get(name, 0) + int(counters.get(name, 0))
    bundle = state["bundle"]
    return {
        "counts": dict(service.counts),
        "engine": engine,
        "health": service.health.report(),
        "in_flight": state["in_flight"],
        "bundle": {"serial": bundle["serial"], "fingerprint": bundle["fingerprint"], "versions": bundle["versions"]}
        if bundle is not None
        else None,
    }


def reports(service: Service) -> list[dict[str, str]]:
    """The newest shadow, replay and diff reports of --reports (name and link), newest first."""
    folder = service.options.reports
    if folder is None or not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if p.is_file() and p.suffix in REPORT_TYPES and not p.name.startswith(".")]
    # newest first; the name breaks ties so the list does not depend on the directory's order
    found.sort(key=lambda p: (-p.stat().st_mtime, p.name))
    return [{"name": p.name, "url": f"/reports/{p.name}"} for p in found[:REPORTS_SHOWN]]


def report_file(service: Service, name: str) -> tuple[bytes, str] | None:
    """A report the dashboard lists, by name; None for anything else (no path leaves --reports)."""
    if name not in {r["name"] for r in reports(service)}:
        return None
    assert service.options.reports is not None
    path = Path(service.options.reports, name)
    return path.read_bytes(), REPORT_TYPES[path.suffix]


def snapshot(service: Service) -> dict[str, Any]:
    """Everything the page draws: directives, ThreatIndex history, threats, KPIs, reports."""
    return {
        "seq": service.feed.seq,
        "directives": service.feed.latest("directive", DIRECTIVES_SHOWN),
        "threat": service.feed.latest("threat", THREAT_POINTS_SHOWN),
        "threats": service.threats(),
        "status": status(service),
        "reports": reports(service),
    }


def page(service: Service) -> bytes:
    """The dashboard's HTML with the current state embedded."""
    template = resources.files("ballast.service").joinpath("assets", "dashboard.html").read_text(encoding="utf-8")
    state = json.dumps(snapshot(service), ensure_ascii=False, sort_keys=True)
    # inside <script>, "</" could end the element early: JSON allows the escaped form
    state = state.replace("</", "<\\/")
    return template.replace("{{STATE}}", state).encode("utf-8")


__all__ = ["ASSETS", "asset", "page", "report_file", "reports", "snapshot", "status"]
