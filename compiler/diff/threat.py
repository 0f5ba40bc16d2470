"""Detectors for the `threat` kind: sources, smoothing, modes and the governor.

A threat document turns signals into a ThreatIndex and a response mode (docs/threat.md). Its
guards are the modes' thresholds and the Fear-Paralysis Governor: a higher enter threshold, a
lower floor, more flips allowed, a shorter dwell or fewer spared tiers let the index push the mesh
around more easily (or respond later), and are tagged `guard-loosened`.
"""

from __future__ import annotations

from typing import Any

from ballast.compiler.diff.document import DocumentDiff
from ballast.compiler.diff.findings import GUARD_LOOSENED, Finding, position
from ballast.compiler.diff.schema import diff_input
from ballast.compiler.diff.solver import DEFAULT_TIMEOUT_MS, Domain, same_value
from ballast.runtime.ir import unparse
from ballast.runtime.values import format_duration

IR = dict[str, Any]


class ThreatDiff(DocumentDiff):
    kind = "threat"
    label = "threat document"

    def __init__(self, old: IR, new: IR, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> None:
        super().__init__(old, new)
        self.timeout_ms = timeout_ms

    def run(self) -> list[Finding]:
        self.metadata()
        base, head = position(self.old.get("file", ""), [1, 1]), position(self.new.get("file", ""), [1, 1])
        self.findings.extend(diff_input("threat", self.name, self.old["input"], self.new["input"], base, head))
        self.sources()
        if self.old.get("smooth") != self.new.get("smooth"):
            self.add(
                "threat-smoothing-changed",
                "",
                f"smoothing {_smooth(self.old.get('smooth'))} → {_smooth(self.new.get('smooth'))}",
                before=self.old.get("smooth"),
                after=self.new.get("smooth"),
            )
        self.modes()
        self.governor()
        return self.findings

    def sources(self) -> None:
        old = {s["name"]: s for s in self.old["sources"]}
        new = {s["name"]: s for s in self.new["sources"]}
        for name, s in old.items():
            if name not in new:
                self.add(
                    "threat-source-removed",
                    name,
                    f"source '{name}' no longer feeds the ThreatIndex",
                    s["at"],
                    None,
                    tags=(GUARD_LOOSENED,),
                )
        for name, s in new.items():
            if name not in old:
                self.add(
                    "threat-source-added",
                    name,
                    f"source '{name}' now feeds the ThreatIndex (weight {s['weight']:g})",
                    None,
                    s["at"],
                )
        domain = Domain(self.old["input"]["fields"], self.new["input"]["fields"])
        for name, a in old.items():
            b = new.get(name)
            if b is None:
                continue
            if a["weight"] != b["weight"]:
                tags = (GUARD_LOOSENED,) if b["weight"] < a["weight"] else ()
                self.add(
                    "threat-source-weight-changed",
                    name,
                    f"source '{name}' weight {a['weight']:g} → {b['weight']:g}",
                    a["at"],
                    b["at"],
                    tags=tags,
                    before=a["weight"],
                    after=b["weight"],
                )
            verdict, witness, assumptions = same_value(a["expr"], b["expr"], domain, self.timeout_ms)
            if verdict == "equal" and a["scale"] == b["scale"]:
                if unparse(a["expr"]) != unparse(b["expr"]):
                    self.add(
                        "threat-source-rewritten",
                        name,
                        f"source '{name}' rewritten, proven equal: {unparse(a['expr'])} → {unparse(b['expr'])}",
                        a["at"],
                        b["at"],
                        confidence="proven",
                    )
                continue
            text = f"source '{name}' {unparse(a['expr'])}{_scale(a)} → {unparse(b['expr'])}{_scale(b)}"
            extra: dict[str, Any] = {"before": unparse(a["expr"]), "after": unparse(b["expr"])}
            if witness is not None and witness.values:  # none for two constants: they differ everywhere
                text += f"; differs when {witness.text()}"
                extra["differs_when"] = witness.text()
            confidence = "proven" if witness is not None and not assumptions else "structural"
            self.add("threat-source-changed", name, text, a["at"], b["at"], confidence=confidence, **extra)

    def modes(self) -> None:
        old = {m["name"]: m for m in self.old["modes"]}
        new = {m["name"]: m for m in self.new["modes"]}
        for name, m in old.items():
            if name not in new:
                self.add("threat-mode-removed", name, f"mode '{name}' was removed", m["at"], None)
        for name, m in new.items():
            if name not in old:
                self.add(
                    "threat-mode-added",
                    name,
                    f"mode '{name}' was added (enter at index {m['op']} {m['enter']:g})",
                    None,
                    m["at"],
                )
        for name, a in old.items():
            b = new.get(name)
            if b is None:
                continue
            if (a["op"], a["enter"], a["exit"]) != (b["op"], b["enter"], b["exit"]):
                tags = (GUARD_LOOSENED,) if b["enter"] > a["enter"] else ()
                self.add(
                    "threat-mode-threshold-changed",
                    name,
                    f"mode '{name}' enter {a['op']} {a['enter']:g} → {b['op']} {b['enter']:g}, exit below {a['exit']:g} → {b['exit']:g}",
                    a["at"],
                    b["at"],
                    tags=tags,
                    before={"op": a["op"], "enter": a["enter"], "exit": a["exit"]},
                    after={"op": b["op"], "enter": b["enter"], "exit": b["exit"]},
                )
            if a.get("dwell") != b.get("dwell"):
                self.add(
                    "threat-mode-dwell-changed",
                    name,
                    f"mode '{name}' dwell {_duration(a.get('dwell'))} → {_duration(b.get('dwell'))}",
                    a["at"],
                    b["at"],
                    before=a.get("dwell"),
                    after=b.get("dwell"),
                )

    def governor(self) -> None:
        a, b = self.old.get("governor") or {}, self.new.get("governor") or {}
        for key in sorted(set(a) | set(b)):
            x, y = a.get(key), b.get(key)
            if x == y:
                continue
            if key == "spare":
                loosened = not set(x or []) <= set(y or [])
            elif key in ("floor", "dwell", "per"):
                loosened = (y if y is not None else 0) < (x if x is not None else 0)
            else:  # max_flips
                loosened = (y if y is not None else float("inf")) > (x if x is not None else float("inf"))
            tags = (GUARD_LOOSENED,) if loosened else ()
            self.add(
                "threat-governor-changed",
                key,
                f"governor {key} {_setting(x)} → {_setting(y)}",
                tags=tags,
                before=x,
                after=y,
            )


def _smooth(s: IR | None) -> str:
    return "none" if not s else f"{s['kind']}({s['alpha']:g})"


def _scale(s: IR) -> str:
    return f" scale [{s['scale'][0]:g}, {s['scale'][1]:g}]" if s.get("scale") else ""


def _duration(v: float | None) -> str:
    return "(none)" if v is None else format_duration(v)


def _setting(v: Any) -> str:
    if v is None:
        return "(unset)"
    if isinstance(v, list):
        return ", ".join(v) or "(none)"
    return format(v, "g") if isinstance(v, float) else str(v)
