"""The Global Threat-Balance Engine (MOTB FR-M4, FR-M5): a ThreatIndex and a response mode.

A `ThreatEngine` runs one compiled `threat` document (its IR, see `ballast.compiler.kinds.threat`).
Each `update(time, event)` reads the sources present in the event, fuses them into a raw index,
smooths it, and lets the Fear-Paralysis Governor decide the response mode:

* every source's value is normalised to 0..100 (`scale [lo, hi]` maps lo..hi onto 0..100,
  otherwise the value is read as 0..100 already) and clamped;
* a source missing from an event keeps its last value; a source never seen does not count;
* raw index = Σ wᵢ·vᵢ / Σ wᵢ over the sources seen so far (0 before any is seen);
* index = α·raw + (1-α)·previous index, starting from 0 (`smooth ewma(α)`; no smoothing is α=1),
  reported and decided on rounded to 2 decimals;
* modes form a ladder above `normal`: a mode is entered when the index crosses its enter
  threshold and left when the index falls below its exit threshold (hysteresis); a change waits
  until the current mode has lasted its dwell, and at most `max_flips` changes happen per window;
  changes held back are *suppressed* and counted;
* never lockdown while the index is below the floor: this guard overrides dwell and flip limits.

Time is the event time the host passes, never the wall clock, so the same updates always give the
same decisions; `snapshot()` and `ThreatEngine.restore()` carry the whole state across restarts.

Standard library only, like the rest of the runtime.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ballast.runtime.bundle import fingerprint, verify_bundle
from ballast.runtime.errors import EvaluationError, UsageError
from ballast.runtime.interpret import check_expression, evaluate, lookup
from ballast.runtime.ir import IR, walk
from ballast.runtime.validate import check_schema, validate

THREAT_FORMAT = "ballast-threat/1"
SNAPSHOT_FORMAT = "ballast-threat-snapshot/1"
NORMAL = "normal"
LOCKDOWN = "lockdown"
DEFAULT_FLOOR = 30.0  # MOTB goal b): never enter lockdown on ThreatIndex < 30
SUPPRESSED_REASONS = ("dwell", "max_flips")


def _round(value: float, digits: int = 2) -> float:
    return float(round(value, digits))


@dataclass(frozen=True, slots=True)
class ThreatUpdate:
    """What one update decided, with everything needed to explain it.

    `index` is the smoothed ThreatIndex, `raw_index` the fused value before smoothing and
    `previous_index` the smoothed index before this update (`index = α·raw + (1-α)·previous`, up
    to rounding). `wanted` is the mode the thresholds asked for; when it differs from `mode`,
    `suppressed` says why (`"dwell"` or `"max_flips"`). `floor_guard` is true when the floor kept
    or took the engine out of lockdown. `rationale` has one entry per source, in declaration order:
    `{source, value, normalised, weight, contribution, fresh, seen_at}` (and `fault` when the
    source's expression failed on this event); the contributions add up to `raw_index`.
    """

    time: float
    index: float
    raw_index: float
    previous_index: float
    mode: str
    previous_mode: str
    changed: bool
    wanted: str
    suppressed: str
    floor_guard: bool
    rationale: tuple[dict[str, Any], ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (the `ThreatIndexUpdated` audit payload)."""
        return {
            "time": self.time,
            "index": self.index,
            "raw_index": self.raw_index,
            "previous_index": self.previous_index,
            "mode": self.mode,
            "previous_mode": self.previous_mode,
            "changed": self.changed,
            "wanted": self.wanted,
            "suppressed": self.suppressed,
            "floor_guard": self.floor_guard,
            "rationale": [dict(entry) for entry in self.rationale],
        }

    def to_api(self) -> dict[str, Any]:
        """The MOTB `GET /mcp/motb/threat` response: timestamp, threatIndex, responseMode, rationale."""
        moment = datetime.fromtimestamp(self.time, UTC)
        return {
            "timestamp": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "threatIndex": self.index,
            "responseMode": self.mode,
            "rationale": [
                {"source": e["source"], "value": e["value"], "weight": e["weight"], "contribution": e["contribution"]}
                for e in self.rationale
                if e["seen_at"] is not None
            ],
        }


@dataclass(frozen=True, slots=True)
class _Source:
    name: str
    weight: float
    expr: IR
    text: str
    low: float | None
    high: float | None
    optional_paths: tuple[tuple[str, ...], ...]

    def normalise(self, value: float) -> float:
        if self.low is not None and self.high is not None:
            value = (value - self.low) / (self.high - self.low) * 100.0
        return min(100.0, max(0.0, value))


@dataclass(frozen=True, slots=True)
class _Mode:
    name: str
    op: str  # ">=" | ">"
    enter: float
    exit: float
    dwell: float | None

    def entered_by(self, index: float) -> bool:
        return index >= self.enter if self.op == ">=" else index > self.enter


class ThreatEngine:
    """One threat document at run time: feed it events in time order, read the decisions.

    The contract for whoever applies directives (the simulator, the policy `Engine`): while the
    mode is `lockdown`, a `pause` must never be applied to a target whose class is in `spared`;
    `allows_pause(target_class)` answers exactly that.
    """

    def __init__(self, ir: IR) -> None:
        if not isinstance(ir, Mapping) or ir.get("format") != THREAT_FORMAT:
            found = ir.get("format") if isinstance(ir, Mapping) else type(ir).__name__
            raise UsageError(f"not a compiled threat (format {found!r}, expected {THREAT_FORMAT!r})")
        self._fingerprint = fingerprint(semantic_ir(ir))
        self.name: str = ir["name"]
        self.input_name: str = ir.get("input", {}).get("name", "")
        self.version: str = ir.get("version", "")
        self.time_field: str | None = ir.get("time")
        self._fields: list[dict[str, Any]] = ir["input"]["fields"]
        check_schema(self._fields)
        if self.time_field is not None and self.time_field not in {f["name"] for f in self._fields}:
            raise UsageError(f"threat {self.name!r}: its time field is not a field of its input")
        self._sources = tuple(_source(s) for s in ir["sources"])
        if not self._sources:
            raise UsageError(f"threat {self.name!r} has no source")
        self._total_weight = sum(s.weight for s in self._sources)
        self.alpha: float = float(ir["smooth"]["alpha"])
        self._ladder: tuple[_Mode | None, ...] = (None, *(_mode(m) for m in ir["modes"]))
        self.modes: tuple[str, ...] = (NORMAL, *(m.name for m in self._ladder[1:] if m is not None))
        governor = ir["governor"]
        self.floor: float = float(governor["floor"])
        self.max_flips: int | None = governor.get("max_flips")
        self.flips_per: float | None = governor.get("per")
        self.default_dwell: float | None = governor.get("dwell")
        self.spared: tuple[str, ...] = tuple(governor.get("spare", ()))
        self._lockdown = self.modes.index(LOCKDOWN) if LOCKDOWN in self.modes else 0
        if self._lockdown and self._lockdown != len(self.modes) - 1:
            raise UsageError(f"threat {self.name!r}: lockdown must be the most severe mode")
        # state
        self._time: float | None = None
        self._smoothed = 0.0
        self._raw = 0.0
        self._level = 0
        self._entered_at: float | None = None  # None: the initial normal, which has no dwell
        self._flips: list[float] = []
        self._last: dict[str, tuple[float, float, float]] = {}  # source → (value, normalised, seen_at)
        self.updates = 0
        self.changes = 0
        self.suppressed_counts: dict[str, int] = dict.fromkeys(SUPPRESSED_REASONS, 0)

    # ---- reading the state ----
    @property
    def mode(self) -> str:
        return self.modes[self._level]

    @property
    def index(self) -> float:
        """The smoothed ThreatIndex as last reported (rounded to 2 decimals)."""
        return _round(self._smoothed)

    @property
    def time(self) -> float | None:
        """The event time of the last update, None before the first."""
        return self._time

    def allows_pause(self, target_class: str) -> bool:
        """Whether a lockdown may pause targets of this class: False for the spared classes."""
        return target_class not in self.spared

    # ---- updates ----
    def update(self, time: float, event: Mapping[str, Any]) -> ThreatUpdate:
        """Fold one validated input record, observed at event time `time` (seconds), into the
        index and decide the mode. Times must not go backwards (UsageError, state unchanged)."""
        if isinstance(time, bool) or not isinstance(time, int | float) or not math.isfinite(time):
            raise UsageError(f"the update time must be a finite number of seconds, got {time!r}")
        time = float(time)
        if self._time is not None and time < self._time:
            raise UsageError(f"time {time:g} is before the last update's {self._time:g}: feed events in time order")
        readings: dict[str, tuple[float, float, float]] = {}
        faults: dict[str, str] = {}
        for source in self._sources:
            reading = self._read(source, event, time)
            if isinstance(reading, str):
                faults[source.name] = reading
            elif reading is not None:
                readings[source.name] = reading
        # nothing below can fail: commit
        self._last.update(readings)
        seen = [s for s in self._sources if s.name in self._last]
        weight = sum(s.weight for s in seen)
        raw = sum(s.weight * self._last[s.name][1] for s in seen) / weight if weight else 0.0
        previous = self._smoothed
        self._raw = raw
        self._smoothed = self.alpha * raw + (1.0 - self.alpha) * previous
        self._time = time
        self.updates += 1
        index = _round(self._smoothed)
        previous_level = self._level
        wanted, floor_guard, suppressed = self._govern(time, index)
        rationale = []
        for s in self._sources:
            last = self._last.get(s.name)
            entry: dict[str, Any] = {
                "source": s.name,
                "value": last[0] if last else None,
                "normalised": _round(last[1], 4) if last else None,
                "weight": s.weight,
                "contribution": _round(s.weight * last[1] / weight, 4) if last else 0.0,
                "fresh": s.name in readings,
                "seen_at": last[2] if last else None,
            }
            if s.name in faults:
                entry["fault"] = faults[s.name]
            rationale.append(entry)
        return ThreatUpdate(
            time=time,
            index=index,
            raw_index=_round(raw),
            previous_index=_round(previous),
            mode=self.mode,
            previous_mode=self.modes[previous_level],
            changed=self._level != previous_level,
            wanted=self.modes[wanted],
            suppressed=suppressed,
            floor_guard=floor_guard,
            rationale=tuple(rationale),
        )

    def update_event(self, event: Any) -> ThreatUpdate:
        """Validate a raw event against the threat's input, read its time from the `stream` time
        field, and update. Raises EvaluationError for an invalid event (state unchanged)."""
        if not self.time_field:
            raise UsageError(
                f"threat {self.name!r} declares no event time: add `stream {{ time ts }}` or call update()"
            )
        data, problems = validate(event, self._fields)
        if data is None:
            first = problems[0]
            more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
            raise EvaluationError(f"invalid event: {first.message}{more}", field=first.field)
        return self.update(data[self.time_field], data)

    def _read(self, source: _Source, event: Mapping[str, Any], time: float) -> tuple[float, float, float] | str | None:
        """(value, normalised, time) when the source is in the event, None when it is absent, the
        fault's message when its expression failed."""
        try:
            value = evaluate(source.expr, event)
        except EvaluationError as exc:
            if any(lookup(event, list(path), True) is None for path in source.optional_paths):
                return None  # an optional field it reads is absent: the source is missing
            return str(exc)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return f"'{source.text}' is {value!r}, not a finite number"
        value = float(value)
        return value, source.normalise(value), time

    def _govern(self, time: float, index: float) -> tuple[int, bool, str]:
        """The Fear-Paralysis Governor: the mode the thresholds want, whether the floor guard
        acted, and why a change was held back ("" when it was not)."""
        current = self._level
        top = len(self._ladder) - 1
        wanted = self._target(current, index, top)
        below_floor = bool(self._lockdown) and index < self.floor
        floor_guard = False
        if below_floor:
            # never lockdown below the floor: the ladder stops under lockdown, and leaving
            # lockdown is never held back by dwell or flip limits
            capped = self._lockdown - 1
            floor_guard = self._lockdown in (wanted, current)
            wanted = self._target(min(current, capped), index, capped)
        if wanted == current:
            return wanted, floor_guard, ""
        if not (below_floor and current == self._lockdown):
            dwell = self._dwell(current)
            if self._entered_at is not None and dwell is not None and time - self._entered_at < dwell:
                self.suppressed_counts["dwell"] += 1
                return wanted, floor_guard, "dwell"
            if self.max_flips is not None and self.flips_per is not None:
                self._flips = [t for t in self._flips if t > time - self.flips_per]
                if len(self._flips) >= self.max_flips:
                    self.suppressed_counts["max_flips"] += 1
                    return wanted, floor_guard, "max_flips"
        self._level = wanted
        self._entered_at = time
        if self.max_flips is not None and self.flips_per is not None:
            self._flips = [t for t in self._flips if t > time - self.flips_per]
            self._flips.append(time)
        self.changes += 1
        return wanted, floor_guard, ""

    def _target(self, current: int, index: float, top: int) -> int:
        """The ladder with hysteresis: climb to the highest mode (up to `top`) whose enter
        threshold the index crosses; otherwise step down while the index is below the current
        mode's exit threshold."""
        up = 0
        for level in range(top, 0, -1):
            mode = self._ladder[level]
            if mode is not None and mode.entered_by(index):
                up = level
                break
        if up > current:
            return up
        level = current
        while level > 0 and index < self._ladder[level].exit:  # type: ignore[union-attr]
            level -= 1
        return max(level, up)

    def _dwell(self, level: int) -> float | None:
        mode = self._ladder[level]
        if mode is not None and mode.dwell is not None:
            return mode.dwell
        return self.default_dwell

    # ---- persistence ----
    @property
    def fingerprint(self) -> str:
        """The fingerprint of what decides (the IR without positions); a snapshot carries it."""
        return self._fingerprint

    def snapshot(self) -> dict[str, Any]:
        """The whole state as JSON values; `ThreatEngine.restore(ir, snapshot)` continues exactly."""
        return {
            "format": SNAPSHOT_FORMAT,
            "threat": self.name,
            "version": self.version,
            "fingerprint": self._fingerprint,
            "time": self._time,
            "index": self._smoothed,
            "raw_index": self._raw,
            "mode": self.mode,
            "entered_at": self._entered_at,
            "flips": list(self._flips),
            "sources": {
                name: {"value": v, "normalised": n, "seen_at": t} for name, (v, n, t) in sorted(self._last.items())
            },
            "counters": {"updates": self.updates, "changes": self.changes, "suppressed": dict(self.suppressed_counts)},
        }

    @classmethod
    def restore(cls, ir: IR, snapshot: Mapping[str, Any]) -> ThreatEngine:
        """An engine for `ir` in the state `snapshot` recorded; UsageError if it was taken from
        another threat (or another version of it)."""
        engine = cls(ir)
        if not isinstance(snapshot, Mapping) or snapshot.get("format") != SNAPSHOT_FORMAT:
            raise UsageError(f"not a threat snapshot (expected format {SNAPSHOT_FORMAT!r})")
        if snapshot.get("fingerprint") != engine._fingerprint:
            raise UsageError(
                f"the snapshot was taken from {snapshot.get('threat')!r} {snapshot.get('version')!r}, "
                f"not from this compilation of {engine.name!r} {engine.version!r}"
            )
        try:
            engine._time = None if snapshot["time"] is None else float(snapshot["time"])
            engine._smoothed = float(snapshot["index"])
            engine._raw = float(snapshot["raw_index"])
            engine._level = engine.modes.index(snapshot["mode"])
            engine._entered_at = None if snapshot["entered_at"] is None else float(snapshot["entered_at"])
            engine._flips = [float(t) for t in snapshot["flips"]]
            names = {s.name for s in engine._sources}
            engine._last = {
                name: (float(s["value"]), float(s["normalised"]), float(s["seen_at"]))
                for name, s in snapshot["sources"].items()
                if name in names
            }
            counters = snapshot["counters"]
            engine.updates = int(counters["updates"])
            engine.changes = int(counters["changes"])
            engine.suppressed_counts = {r: int(counters["suppressed"].get(r, 0)) for r in SUPPRESSED_REASONS}
        except (KeyError, TypeError, ValueError) as exc:
            raise UsageError(f"malformed threat snapshot: {exc!r}") from None
        return engine


def load_threats(ir: Mapping[str, Any]) -> dict[str, ThreatEngine]:
    """A fresh engine for every threat of a compiled set, by name: `compilation.ir`, or a bundle
    (`{"manifest", "ir"}`, verified first: BundleError when it was tampered with)."""
    if "manifest" in ir:
        ir = verify_bundle(dict(ir))["ir"]
    return {t["name"]: ThreatEngine(t) for t in ir.get("threats", ())}


def semantic_ir(value: Any) -> Any:
    """The IR without what does not change decisions (positions, the file name): the snapshot's
    fingerprint, so a snapshot restores into a recompile of the same threat from a moved file."""
    if isinstance(value, Mapping):
        return {k: semantic_ir(v) for k, v in value.items() if k not in ("at", "file")}
    if isinstance(value, list | tuple):
        return [semantic_ir(v) for v in value]
    return value


def _source(s: Mapping[str, Any]) -> _Source:
    if not isinstance(s["name"], str):
        raise UsageError("a threat source's name is a string")
    check_expression(s["expr"])  # interpreted on every update: checked once, here
    scale = s.get("scale")
    optional = tuple(tuple(n["path"]) for n in walk(s["expr"]) if n["k"] == "field" and n.get("opt"))
    weight = float(s["weight"])
    if not weight > 0:
        raise UsageError(f"source {s['name']!r}: the weight must be positive")
    if scale and not float(scale[0]) < float(scale[1]):
        raise UsageError(f"source {s['name']!r}: the scale {scale!r} is empty")
    return _Source(
        name=s["name"],
        weight=weight,
        expr=s["expr"],
        text=s.get("text", s["name"]),
        low=float(scale[0]) if scale else None,
        high=float(scale[1]) if scale else None,
        optional_paths=optional,
    )


def _mode(m: Mapping[str, Any]) -> _Mode:
    return _Mode(m["name"], m["op"], float(m["enter"]), float(m["exit"]), m.get("dwell"))


__all__ = [
    "DEFAULT_FLOOR",
    "LOCKDOWN",
    "NORMAL",
    "SNAPSHOT_FORMAT",
    "THREAT_FORMAT",
    "ThreatEngine",
    "ThreatUpdate",
    "load_threats",
    "semantic_ir",
]
