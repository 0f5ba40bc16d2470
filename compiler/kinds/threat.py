"""Threat documents (MOTB GTBE, FR-M4/FR-M5): check a `threat` and lower it to IR.

A threat document declares an input, weighted sources read from it, smoothing, a ladder of
response modes and the Fear-Paralysis Governor. It is a document kind (`KIND`, see
`ballast.compiler.kinds`); the passes call its hooks:

* `resolve` from pass `resolve` (`resolve_threat`): builds a `PolicyModel` over the input (the same symbol
  table a policy has), checks names with did-you-mean, the structure (weights, scales, smoothing,
  modes, governor) and the invariants the compiler proves or rejects;
* `lower` from pass `check-types` (`lower_threats`): types every source expression with the
  checker (a source must be a number), folds constants and emits the threat's IR, which
  `ballast.runtime.threat.ThreatEngine` runs.

The invariants (documented in docs/threat.md): every mode has an exit threshold below its enter
threshold; modes rise in severity in declaration order and `lockdown`, when declared, is the
most severe; lockdown is entered and left at or above the floor (30 unless the governor says
otherwise), so the mode ladder never asks for lockdown while the index is below the floor; the
runtime keeps the same guard against dwell and flip limits.

Positions: the AST carries the span of every part of a declaration (a weight, a threshold, the
floor), so each error points at the number that is wrong; no source text is read here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ballast.compiler import types as T
from ballast.compiler.checker import Checker
from ballast.compiler.kinds import NotSupportedYet
from ballast.compiler.kinds.data import document_header
from ballast.compiler.passes.optimize import fold
from ballast.compiler.passes.resolve import PolicyModel, merge, suggest
from ballast.compiler.spans import at
from ballast.dsl import ast
from ballast.dsl.format import format_document, format_expr
from ballast.runtime.errors import ErrorList, Span
from ballast.runtime.ir import walk
from ballast.runtime.threat import DEFAULT_FLOOR, LOCKDOWN, NORMAL, THREAT_FORMAT, ThreatEngine

if TYPE_CHECKING:
    from ballast.compiler.pipeline import Compilation

IR = dict[str, Any]


@dataclass
class ThreatModel:
    """A resolved threat document and its symbol table."""

    document: ast.Document
    model: PolicyModel


# ---- resolve ----


def resolve_threat(compilation: Compilation, document: ast.Document, errors: ErrorList) -> ThreatModel:
    """Symbol table, names and structure of one threat document (pass `resolve`)."""
    model = PolicyModel(document)
    merge(compilation, model, document, errors, chain=[document.file])
    threat = ThreatModel(document, model)
    head = _head(document)
    for other in compilation.resolved.get("threat", []):
        if other.document.name == document.name:
            errors.error(
                "duplicate",
                f"threat '{document.name}' is given twice (also at {_head(other.document)})",
                head,
                "threat names must be unique in a set",
            )
    if not model.input_name:
        errors.error(
            "missing",
            f"threat '{document.name}' declares no input",
            head,
            "declare the signals it reads: `input signals { risk?: float in [0, 100] }`",
        )
    _check_stream(threat, errors)
    _check_sources(threat, errors)
    _check_smooth(threat, errors)
    _check_modes(threat, errors)
    _check_governor(threat, errors)
    return threat


def _head(document: ast.Document) -> Span:
    """The `threat` keyword: where document-level findings point."""
    s = document.span
    return Span(s.file, s.line, s.column, s.line, s.column + len(document.kind))


def _check_stream(threat: ThreatModel, errors: ErrorList) -> None:
    streams = threat.document.of(ast.Stream)
    for extra in streams[1:]:
        errors.error("duplicate", "second stream block", extra.span, "merge them into one")
    if not streams:
        return
    stream = streams[0]
    for present, word in (
        (stream.id, "id"),
        (stream.lateness, "lateness"),
        (stream.sequence, "sequence"),
        (stream.idle, "idle"),
        (stream.stale, "stale"),
    ):
        if present:
            errors.error(
                "threat",
                f"a threat's stream block takes only 'time', not '{word}'",
                _first(stream.keywords, word, stream.span),
                "the threat engine reads events in time order: deduplicate and reorder them before it",
            )
    if not stream.time:
        errors.error(
            "missing", "the stream block names no event time", stream.span, "add `time ts` naming a timestamp field"
        )
        return
    span = stream.time_span or stream.span
    field = threat.model.input.field(stream.time)
    names = [f.name for f in threat.model.input.fields]
    if field is None:
        errors.error(
            "name",
            f"the event time field '{stream.time}' is not an input field",
            span,
            suggest(stream.time, names) or "declare it in the input as a timestamp",
        )
    elif field.type != T.TIMESTAMP:
        errors.error("type", f"the event time field '{stream.time}' must be a timestamp, got {field.type}", span, "")
    elif field.optional:
        errors.error(
            "type", f"the event time field '{stream.time}' cannot be optional", span, "every event must carry it"
        )


def _check_sources(threat: ThreatModel, errors: ErrorList) -> None:
    document, model = threat.document, threat.model
    sources = document.of(ast.Source)
    if not sources:
        errors.error(
            "missing",
            f"threat '{document.name}' declares no source",
            _head(document),
            "add one: `source trp weight 0.6 from risk`",
        )
    known = set(model.names())
    seen: dict[str, Span] = {}
    for source in sources:
        if source.name in seen:
            errors.error(
                "duplicate",
                f"source '{source.name}' is declared twice (first at {seen[source.name]})",
                source.name_span or source.span,
                "each source needs its own name: it labels the source in every rationale",
            )
        seen.setdefault(source.name, source.span)
        if not source.weight > 0:
            errors.error(
                "weight",
                f"source '{source.name}' has weight {source.weight:g}: weights must be positive",
                source.weight_span or source.span,
                "weights are relative (0.6, 0.3, 0.1); leave out a source that should not count",
            )
        if source.low is not None and source.high is not None and not source.low < source.high:
            errors.error(
                "range",
                f"empty scale [{source.low:g}, {source.high:g}] of source '{source.name}'",
                source.scale_span or source.span,
                "write `scale [low, high]` with low < high: low reads as 0, high as 100",
            )
        for node in ast.walk(source.value):
            if isinstance(node, ast.Name) and node.name not in known:
                errors.error(
                    "name",
                    f"unknown name '{node.name}'",
                    node.span,
                    suggest(node.name, model.names()) or "a source reads input fields: declare it in the input",
                )
        _warn_unscaled(threat, source, errors)


def _warn_unscaled(threat: ThreatModel, source: ast.Source, errors: ErrorList) -> None:
    """A bare field declared on another range than 0..100 and read without `scale`."""
    if source.low is not None or not isinstance(source.value, ast.Name):
        return
    field = threat.model.input.field(source.value.name)
    if field is None or field.low is None or field.high is None or (field.low, field.high) == (0, 100):
        return
    errors.warning(
        "scale",
        f"source '{source.name}' reads '{field.name}', declared in [{field.low:g}, {field.high:g}], as a value on 0..100",
        source.value.span,
        f"normalise it: add `scale [{field.low:g}, {field.high:g}]`",
    )


def _check_smooth(threat: ThreatModel, errors: ErrorList) -> None:
    smooths = threat.document.of(ast.Smooth)
    for extra in smooths[1:]:
        errors.error("duplicate", "second smooth clause", extra.span, "a threat is smoothed once")
    for smooth in smooths[:1]:
        if not 0 < smooth.alpha <= 1:
            errors.error(
                "smooth",
                f"ewma({smooth.alpha:g}): the smoothing factor must be in (0, 1]",
                smooth.alpha_span or smooth.span,
                "0.3 gives the newest sample 30 % of the weight; 1 turns smoothing off",
            )


@dataclass(frozen=True)
class _ModeSpans:
    name: Span
    op: Span
    enter: Span
    exit: Span


def _mode_spans(mode: ast.Mode) -> _ModeSpans:
    parts = (mode.name_span, mode.op_span, mode.enter_span, mode.exit_span)
    return _ModeSpans(*(span or mode.span for span in parts))


def _first(pairs: tuple[tuple[str, Span], ...], key: str, default: Span) -> Span:
    """The span of the first `key` in (key, span) pairs as written, else `default`."""
    return next((span for k, span in pairs if k == key), default)


def _check_modes(threat: ThreatModel, errors: ErrorList) -> None:
    seen: dict[str, Span] = {}
    previous: ast.Mode | None = None
    misordered = False
    modes = threat.document.of(ast.Mode)
    for mode in modes:
        spans = _mode_spans(mode)
        if mode.name == NORMAL:
            errors.error(
                "mode",
                "'normal' is the mode below every declared mode: it is not declared",
                spans.name,
                "declare the modes above it, e.g. `mode heightened when index >= 40 exit below 35`",
            )
        if mode.name in seen:
            errors.error(
                "duplicate", f"mode '{mode.name}' is declared twice (first at {seen[mode.name]})", spans.name, ""
            )
        seen.setdefault(mode.name, mode.span)
        if mode.op not in (">=", ">"):
            errors.error(
                "mode",
                f"mode '{mode.name}' is entered with 'index {mode.op}': a mode is entered when the index rises",
                spans.op,
                f"write `when index >= {mode.enter:g}`",
            )
        in_range = True
        for value, span, what in ((mode.enter, spans.enter, "enter"), (mode.exit, spans.exit, "exit")):
            if not 0 <= value <= 100:
                in_range = False
                errors.error(
                    "range",
                    f"mode '{mode.name}': the {what} threshold {value:g} is outside the index range 0..100",
                    span,
                    "the ThreatIndex runs from 0 to 100",
                )
        if in_range and mode.exit >= mode.enter:
            errors.error(
                "hysteresis",
                f"mode '{mode.name}' is left below {mode.exit:g}, not below its enter threshold {mode.enter:g}: it would flap",
                spans.exit,
                f"leave a gap under the enter threshold, e.g. `exit below {max(0.0, mode.enter - 5):g}`",
            )
        if mode.dwell is not None and mode.dwell.seconds <= 0:
            errors.error(
                "mode",
                f"mode '{mode.name}': the dwell '{mode.dwell.text}' must be longer than 0s",
                mode.dwell.span,
                "leave `dwell` out to use the governor's",
            )
        if previous is not None and not mode.enter > previous.enter:
            misordered = True
            errors.error(
                "mode",
                f"mode '{mode.name}' (entered at {mode.enter:g}) is declared after '{previous.name}' (entered at {previous.enter:g})",
                spans.enter,
                "declare the modes from the mildest to the most severe, with rising enter thresholds",
            )
        previous = mode
    lockdown = next((m for m in modes if m.name == LOCKDOWN), None)
    if lockdown is not None and modes[-1] is not lockdown and not misordered:
        errors.error(
            "mode",
            "lockdown must be the most severe mode",
            _mode_spans(lockdown).name,
            "declare it last, with the highest enter threshold",
        )


def _check_governor(threat: ThreatModel, errors: ErrorList) -> None:
    document = threat.document
    governors = document.of(ast.Governor)
    for extra in governors[1:]:
        errors.error("duplicate", "second governor block", extra.span, "merge them into one")
    governor = governors[0] if governors else None
    items: dict[str, Span] = {}
    for key, span in governor.items if governor is not None else ():
        if key in items:
            word = "max_flips" if key == "flips" else key
            errors.error("duplicate", f"the governor sets '{word}' twice", span, "write each setting once")
        items.setdefault(key, span)

    def where(key: str, whole: bool = False) -> Span:
        """The governor's setting `key` as written (`whole`), or just its value."""
        span = items.get(key)
        if span is None:
            return governor.span if governor is not None else _head(document)
        if whole or key not in ("floor", "flips", "spare"):
            return span
        return _first(governor.values if governor is not None else (), key, span)

    floor_given = governor is not None and governor.floor is not None
    floor = governor.floor if governor is not None and governor.floor is not None else DEFAULT_FLOOR
    if governor is not None:
        if floor_given and not 0 <= floor <= 100:
            errors.error(
                "range", f"the floor {floor:g} is outside the index range 0..100", where("floor"), "MOTB's floor is 30"
            )
        if governor.max_flips is not None and governor.max_flips < 1:
            errors.error(
                "governor",
                f"max_flips {governor.max_flips} would freeze the response mode",
                where("flips"),
                "allow 1 change or more per window",
            )
        for duration in (governor.flips_per, governor.dwell):
            if duration is not None and duration.seconds <= 0:
                errors.error(
                    "governor", f"'{duration.text}' must be longer than 0s", duration.span, "write 30s, 5m, 1h…"
                )
        if len(set(governor.spare)) != len(governor.spare):
            errors.error("duplicate", "a class is spared twice", where("spare"), "list each class once")
    lockdown = next((m for m in document.of(ast.Mode) if m.name == LOCKDOWN), None)
    if lockdown is None:
        if governor is not None and governor.spare:
            errors.error(
                "governor",
                f"the governor spares {', '.join(repr(s) for s in governor.spare)} from lockdown, but there is no lockdown mode",
                where("spare", whole=True),
                "declare `mode lockdown when index >= 75 exit below 60`, or drop `spare`",
            )
        if floor_given:
            errors.warning(
                "governor",
                "the floor guards lockdown, but there is no lockdown mode",
                where("floor", whole=True),
                "declare a lockdown mode, or drop the floor",
            )
        return
    spans = _mode_spans(lockdown)
    which = f"the floor {floor:g}" if floor_given else f"the default floor {floor:g} (MOTB: never lockdown below 30)"
    if lockdown.enter < floor:
        errors.error(
            "governor",
            f"lockdown is entered at index {lockdown.op} {lockdown.enter:g}, below {which}",
            spans.enter,
            f"enter lockdown at {floor:g} or above" + (", or lower the floor" if floor_given else ""),
        )
    elif lockdown.exit < floor:
        errors.error(
            "governor",
            f"lockdown is left below {lockdown.exit:g}, so it would hold while the index is under {which}",
            spans.exit,
            f"write `exit below {floor:g}` or higher",
        )


# ---- check-types: lowering ----


def lower_threats(threats: list[ThreatModel], errors: ErrorList) -> list[IR]:
    """The IR of every threat (pass `check-types`); type errors go to `errors`."""
    return [_lower(threat, errors) for threat in threats]


def _lower(threat: ThreatModel, errors: ErrorList) -> IR:
    document, model = threat.document, threat.model
    checker = Checker(model, errors)
    sources = []
    for source in document.of(ast.Source):
        ir, typ = checker.expr(source.value)
        if not T.is_numeric(typ):
            hint = "a flag counts as `flag ? 100 : 0`" if typ == T.BOOL else "convert it with float(…)"
            errors.error("type", f"source '{source.name}' must be a number, got {typ}", source.value.span, hint)
        elif any(n.get("k") == "agg" for n in walk(ir)):
            errors.error(
                "threat",
                f"source '{source.name}' reads a window aggregate",
                source.value.span,
                "a threat smooths its index with `smooth ewma(α)`; read the latest value here",
            )
        else:
            ir = fold(ir, errors, document.file)
        sources.append(
            {
                "name": source.name,
                "weight": source.weight,
                "expr": ir,
                "text": format_expr(source.value),
                "scale": [source.low, source.high] if source.low is not None else None,
                "at": at(source.span),
            }
        )
    smooths = document.of(ast.Smooth)
    governors = document.of(ast.Governor)
    governor = governors[0] if governors else ast.Governor(document.span)
    streams = document.of(ast.Stream)
    return {
        **document_header(document, THREAT_FORMAT, "threat"),
        "input": {"name": model.input_name, "fields": [T.field_to_json(f) for f in model.input.fields]},
        "time": streams[0].time if streams and streams[0].time else None,
        "sources": sources,
        "smooth": {"kind": "ewma", "alpha": smooths[0].alpha if smooths else 1.0},
        "modes": [
            {
                "name": m.name,
                "op": m.op,
                "enter": m.enter,
                "exit": m.exit,
                "dwell": m.dwell.seconds if m.dwell else None,
                "at": at(m.span),
            }
            for m in document.of(ast.Mode)
        ],
        "governor": {
            "floor": governor.floor if governor.floor is not None else DEFAULT_FLOOR,
            "max_flips": governor.max_flips,
            "per": governor.flips_per.seconds if governor.flips_per else None,
            "dwell": governor.dwell.seconds if governor.dwell else None,
            "spare": list(governor.spare),
        },
    }


# ---- the kind ----


class ThreatKind:
    """A `threat` document: weighted sources, smoothing, a ladder of modes, the governor."""

    name = "threat"
    keywords = ("threat",)
    ir_key = "threats"
    ir_required = False  # bundles without threats stay as they were before threats existed

    def resolve(self, compilation: Compilation, document: ast.Document, errors: ErrorList) -> None:
        threat = resolve_threat(compilation, document, errors)
        compilation.resolved.setdefault(self.name, []).append(threat)

    def check_across(self, compilation: Compilation, errors: ErrorList) -> None:
        pass  # names are unique: `resolve_threat` checks each against those before it

    def lower(self, compilation: Compilation, errors: ErrorList) -> list[IR]:
        return lower_threats(compilation.resolved.get(self.name, []), errors)

    def optimize(self, entries: list[IR], errors: ErrorList) -> None:
        pass  # the sources are folded as they are lowered; nothing is left to plan

    def manifest(self, entry: IR) -> IR:
        return {"name": entry["name"], "version": entry["version"], "sources": len(entry["sources"])}

    def load(self, entry: IR) -> Any:
        return ThreatEngine(entry)

    def format(self, document: ast.Document) -> str:
        return format_document(document)

    def diff(self, old: IR, new: IR, *, timeout_ms: int, solver_seconds: list[float] | None = None) -> list[Any]:
        # Imported here: only `ballast diff` pays for the solver. Threat documents compare
        # expressions (same_value), never rule conditions: nothing goes to `solver_seconds`.
        from ballast.compiler.diff.threat import ThreatDiff

        return ThreatDiff(old, new, timeout_ms).run()

    def explain(self, entry: IR) -> list[str]:
        raise NotSupportedYet(
            f"explaining threat '{entry['name']}' is not supported yet: `ballast explain` takes a policy's rule"
        )


KIND = ThreatKind()
