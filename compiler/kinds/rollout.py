"""Rollout documents (the fleet-rollouts issue): which clusters of a fleet get a bundle, how.

    rollout mesh.policy-2026-12 version "1.0.0" {
      fleet "mesh.edge"                 # the fleet document it selects from (checked with it)
      profile "prod"                    # the profile it runs from: dev, test, staging or prod
      select env == "prod"              # the targets: a condition over a cluster
      allow ["eu-west-1", …]            # prod clusters must be named here to be touched
      ceiling 25%                       # per blast-radius group, at once (or a count: 2)
      rollback "on-deviation"           # always | never | on-deviation
      justification "CHG-1234: …"       # why loosened guards in the bundle are acceptable

      gate health {
        pass when error_budget_burn < 1 and p95_latency_ms < 250
        fail when error_budget_burn > 2 or rule_faults > 0
        interval 1m  count 5  failure_limit 1
        consecutive_error_limit 2  consecutive_success_limit 3
      }
      wave canary { select labels["canary"] == "true" max_update 1 bake 10m gates [health] }
      wave global { max_update 25% bake 30m gates [health] }
    }

`resolve` checks the settings and names (selectors read `CLUSTER_FIELDS`, gates
`TELEMETRY_FIELDS`); `check_across` finds the fleet among the documents compiled with the plan;
`lower` types every condition with the checker, assigns the fleet's clusters to waves and
reports every safety rule the plan breaks (`ballast.runtime.fleet.violations`) as an error at the
part of the plan to change. The one rule that needs the bundles — a bundle whose semantic diff
has `guard-loosened` findings needs a justification — is checked when the plan is planned or
applied (`ballast.fleet`), against what each cluster runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ballast.compiler import types as T
from ballast.compiler.checker import Checker
from ballast.compiler.kinds import NotSupportedYet
from ballast.compiler.kinds.data import DataKind, document_header
from ballast.compiler.kinds.fleet import FleetModel
from ballast.compiler.passes.optimize import fold
from ballast.compiler.passes.resolve import PolicyModel, suggest
from ballast.compiler.settings import SettingSpec, head, read_settings, string_of, words_of
from ballast.compiler.spans import at
from ballast.dsl import ast
from ballast.dsl.format_base import format_expr
from ballast.runtime.errors import ErrorList, EvaluationError, Span
from ballast.runtime.fleet import (
    ENVS,
    PROD,
    ROLLBACK_POLICIES,
    ROLLOUT_FORMAT,
    Limit,
    Plan,
    assign_waves,
    selects,
    violations,
)
from ballast.runtime.suggest import did_you_mean

if TYPE_CHECKING:
    from ballast.compiler.pipeline import Compilation

IR = dict[str, Any]

ROLLOUT_SETTINGS = {
    "fleet": SettingSpec(("string",), '"mesh.edge"'),
    "profile": SettingSpec(("string",), '"staging"'),
    "allow": SettingSpec(("list",), '["eu-west-1", "eu-west-2"]'),
    "ceiling": SettingSpec(("percent", "number"), "25%", minimum=1, whole=True),
    "rollback": SettingSpec(("string",), '"on-deviation"'),
}
WAVE_SETTINGS = {
    "max_update": SettingSpec(("percent", "number"), "25%", minimum=1, whole=True),
    "max_unavailable": SettingSpec(("percent", "number"), "1", minimum=0, whole=True),
    "bake": SettingSpec(("duration",), "10m"),
    "gates": SettingSpec(("list",), "[health]"),
}
GATE_SETTINGS = {
    "interval": SettingSpec(("duration",), "1m"),
    "count": SettingSpec(("number",), "5", minimum=1, whole=True),
    "failure_limit": SettingSpec(("number",), "1", minimum=0, whole=True),
    "consecutive_error_limit": SettingSpec(("number",), "4", minimum=0, whole=True),
    "consecutive_success_limit": SettingSpec(("number",), "3", minimum=0, whole=True),
    "inconclusive_limit": SettingSpec(("number",), "0", minimum=0, whole=True),
}
# Argo Rollouts' defaults, so a gate written with conditions only behaves as an AnalysisRun would.
GATE_DEFAULTS = {
    "interval": 60.0,
    "count": 3,
    "failure_limit": 0,
    "consecutive_error_limit": 4,
    "consecutive_success_limit": 0,
    "inconclusive_limit": 0,
}

CLUSTER_TYPE = T.RecordT(
    (
        T.FieldT("id", T.STRING),
        T.FieldT("region", T.STRING),
        T.FieldT("env", T.STRING),
        T.FieldT("group", T.STRING),
        T.FieldT("control_plane", T.STRING),
        T.FieldT("owner", T.STRING),
        T.FieldT("capabilities", T.ListT(T.STRING)),
        T.FieldT("labels", T.MapT(T.STRING)),
        T.FieldT("slo", T.MapT(T.FLOAT)),
    )
)
TELEMETRY_TYPE = T.RecordT(
    (
        T.FieldT("error_budget_burn", T.FLOAT),
        T.FieldT("p95_latency_ms", T.FLOAT),
        T.FieldT("error_rate", T.FLOAT),
        T.FieldT("directive_rate", T.FLOAT),
        T.FieldT("rule_faults", T.INT),
        T.FieldT("requests", T.INT),
    )
)


@dataclass
class RolloutModel:
    """A resolved rollout: its checked settings, gates and waves, and the models its conditions
    are typed against."""

    document: ast.Document
    settings: dict[str, ast.Setting]
    cluster_model: PolicyModel
    telemetry_model: PolicyModel
    gates: dict[str, tuple[ast.Gate, dict[str, ast.Setting]]] = field(default_factory=dict)
    waves: list[tuple[ast.Wave, dict[str, ast.Setting]]] = field(default_factory=list)
    fleet: FleetModel | None = None
    complete: bool = True  # resolved without errors: only then are the safety rules worth checking


def _model(document: ast.Document, name: str, record: T.RecordT) -> PolicyModel:
    model = PolicyModel(document)
    model.input_name = name
    model.input = record
    return model


def resolve_rollout(compilation: Compilation, document: ast.Document, errors: ErrorList) -> RolloutModel:
    before = len(errors.items)
    settings = read_settings(document.of(ast.Setting), ROLLOUT_SETTINGS, f"rollout '{document.name}'", errors)
    rollout = RolloutModel(
        document,
        settings,
        _model(document, "cluster", CLUSTER_TYPE),
        _model(document, "telemetry", TELEMETRY_TYPE),
    )
    for other in compilation.resolved.get("rollout", []):
        if other.document.name == document.name:
            errors.error(
                "duplicate",
                f"rollout '{document.name}' is given twice (also at {head(other.document)})",
                head(document),
                "rollout names must be unique in a set",
            )
    for required, why in (
        ("fleet", "the fleet it selects from"),
        ("profile", "the profile it runs from"),
        ("ceiling", "its blast-radius ceiling per group"),
    ):
        if not any(s.name == required for s in document.of(ast.Setting)):  # (one written wrongly is reported)
            errors.error(
                "missing",
                f"rollout '{document.name}' names no {required} ({why})",
                head(document),
                f"add `{required} {ROLLOUT_SETTINGS[required].example}`",
            )
    for word, values in (("profile", ENVS), ("rollback", ROLLBACK_POLICIES)):
        value = string_of(settings, word)
        if word in settings and value not in values:
            errors.error(
                word,
                f"{word} '{value}' is not one of {', '.join(values)}",
                settings[word].value_span,
                did_you_mean(value, values),
            )
    written = document.of(ast.Select)
    for extra in written[1:]:
        errors.error("duplicate", "second select clause", extra.span, "combine them with `and`")
    for select in written:
        _check_names(select.condition, rollout.cluster_model, "a selector reads a cluster's fields", errors)
    justifications = document.of(ast.Justification)
    for extra in justifications[1:]:
        errors.error("duplicate", "second justification", extra.span, "write one")
    for gate in document.of(ast.Gate):
        _resolve_gate(rollout, gate, errors)
    for wave in document.of(ast.Wave):
        _resolve_wave(rollout, wave, errors)
    if not document.of(ast.Wave):
        errors.error(
            "missing", f"rollout '{document.name}' has no wave", head(document), "add `wave canary { max_update 1 }`"
        )
    rollout.complete = not any(d.severity == "error" for d in errors.items[before:])
    return rollout


def _check_names(expr: ast.Expr, model: PolicyModel, hint: str, errors: ErrorList) -> None:
    known = model.names()
    for node in ast.walk(expr):
        if isinstance(node, ast.Name) and node.name not in known:
            errors.error("name", f"unknown name '{node.name}'", node.span, suggest(node.name, known) or hint)


def _resolve_gate(rollout: RolloutModel, gate: ast.Gate, errors: ErrorList) -> None:
    if gate.name in rollout.gates:
        errors.error("duplicate", f"gate '{gate.name}' is declared twice", gate.name_span, "gate names are unique")
        return
    for word, span in gate.repeated:
        errors.error("duplicate", f"gate '{gate.name}' has a second `{word} when`", span, "combine them with `or`")
    if gate.passes is None and gate.fails is None:
        errors.error(
            "missing",
            f"gate '{gate.name}' has no condition",
            gate.name_span,
            "add `pass when error_budget_burn < 1` (and `fail when …` to tell failure from inconclusive)",
        )
    for condition in (gate.passes, gate.fails):
        if condition is not None:
            _check_names(condition, rollout.telemetry_model, "a gate reads the wave's telemetry", errors)
    rollout.gates[gate.name] = (gate, read_settings(gate.settings, GATE_SETTINGS, f"gate '{gate.name}'", errors))


def _resolve_wave(rollout: RolloutModel, wave: ast.Wave, errors: ErrorList) -> None:
    if any(w.name == wave.name for w, _ in rollout.waves):
        errors.error("duplicate", f"wave '{wave.name}' is declared twice", wave.name_span, "wave names are unique")
        return
    for _, span in wave.repeated:
        errors.error("duplicate", f"wave '{wave.name}' has a second select", span, "combine them with `and`")
    if wave.select is not None:
        _check_names(wave.select.condition, rollout.cluster_model, "a selector reads a cluster's fields", errors)
    settings = read_settings(wave.settings, WAVE_SETTINGS, f"wave '{wave.name}'", errors)
    if "gates" in settings:
        for name in words_of(settings, "gates"):
            if name not in {g.name for g in rollout.document.of(ast.Gate)}:
                errors.error(
                    "name",
                    f"wave '{wave.name}' names no gate '{name}'",
                    settings["gates"].value_span,
                    suggest(name, [g.name for g in rollout.document.of(ast.Gate)]) or "declare it: `gate name { … }`",
                )
    rollout.waves.append((wave, settings))


def check_fleets(compilation: Compilation, errors: ErrorList) -> None:
    """Each rollout's fleet among the documents compiled with it (pass `resolve`)."""
    fleets = {model.document.name: model for model in compilation.resolved.get("fleet", [])}
    for rollout in compilation.resolved.get("rollout", []):
        name = string_of(rollout.settings, "fleet")
        if "fleet" not in rollout.settings:
            continue
        rollout.fleet = fleets.get(name)
        if rollout.fleet is None:
            errors.error(
                "fleet",
                f"fleet '{name}' is not among the files given",
                rollout.settings["fleet"].value_span,
                suggest(name, list(fleets)) or "give its file too: `ballast check FLEET.bal ROLLOUT.bal`",
            )


# ---- check-types: typing, waves and safety ----


def lower_rollout(rollout: RolloutModel, errors: ErrorList) -> IR | None:
    document, settings = rollout.document, rollout.settings
    clusters = Checker(rollout.cluster_model, errors)
    written = document.of(ast.Select)
    select = _condition(clusters, written[0].condition, "a selector", document.file, errors) if written else None
    gates = [_lower_gate(rollout, gate, gate_settings, errors) for gate, gate_settings in rollout.gates.values()]
    waves = []
    for wave, wave_settings in rollout.waves:
        condition = wave.select.condition if wave.select is not None else None
        waves.append(
            {
                "name": wave.name,
                "select": _condition(clusters, condition, "a selector", document.file, errors) if condition else None,
                "clusters": [],
                "max_update": _limit(wave_settings.get("max_update"), Limit(percent=100.0)),
                "max_unavailable": _limit(wave_settings.get("max_unavailable"), Limit(count=0)),
                "bake": wave_settings["bake"].value.seconds if "bake" in wave_settings else 0.0,
                "gates": list(words_of(wave_settings, "gates")),
                "at": at(wave.span),
            }
        )
    justification = document.of(ast.Justification)
    entry = {
        **document_header(document, ROLLOUT_FORMAT, "rollout"),
        "fleet": string_of(settings, "fleet"),
        "profile": string_of(settings, "profile"),
        "allow": list(words_of(settings, "allow")),
        "ceiling": _limit(settings.get("ceiling"), Limit(count=1)),
        "rollback": string_of(settings, "rollback", "on-deviation"),
        "justification": justification[0].text.value if justification else "",
        "select": select,
        "gates": gates,
        "waves": waves,
    }
    if errors.has_errors or rollout.fleet is None or not rollout.complete:
        return entry
    _assign(rollout, entry, errors)
    return entry


def _condition(checker: Checker, expr: ast.Expr, what: str, file: str, errors: ErrorList) -> IR:
    ir = checker.condition(expr, what)
    known = checker.model.names()
    if any(isinstance(node, ast.Name) and node.name not in known for node in ast.walk(expr)):
        return ir  # an unknown name reads as null: folding would report a second, misleading error
    return fold(ir, errors, file)


def _limit(setting: ast.Setting | None, default: Limit) -> IR:
    if setting is None:
        return default.to_ir()
    if setting.kind == "percent":
        return Limit(percent=setting.value.value).to_ir()  # type: ignore[union-attr]
    return Limit(count=int(setting.value)).to_ir()  # type: ignore[arg-type]


def _lower_gate(rollout: RolloutModel, gate: ast.Gate, settings: dict[str, ast.Setting], errors: ErrorList) -> IR:
    telemetry = Checker(rollout.telemetry_model, errors)
    file = rollout.document.file
    entry: IR = {"name": gate.name, "at": at(gate.span)}
    entry["pass"] = _condition(telemetry, gate.passes, "a gate", file, errors) if gate.passes is not None else None
    entry["fail"] = _condition(telemetry, gate.fails, "a gate", file, errors) if gate.fails is not None else None
    entry["text"] = " / ".join(
        f"{word} when {format_expr(c)}" for word, c in (("pass", gate.passes), ("fail", gate.fails)) if c is not None
    )
    for name, default in GATE_DEFAULTS.items():
        setting = settings.get(name)
        if setting is None:
            entry[name] = default
        elif setting.kind == "duration":
            entry[name] = setting.value.seconds  # type: ignore[union-attr]
        else:
            entry[name] = int(setting.value)  # type: ignore[arg-type]
    return entry


def _assign(rollout: RolloutModel, entry: IR, errors: ErrorList) -> None:
    """Put the fleet's clusters in waves and report the safety rules the plan breaks."""
    assert rollout.fleet is not None  # checked by the caller
    fleet = rollout.fleet.fleet()
    document = rollout.document
    if not _selectors_evaluate(rollout, entry, fleet, errors):
        return
    assigned = assign_waves(entry["select"], [(w["name"], w["select"]) for w in entry["waves"]], fleet)
    for wave in entry["waves"]:
        wave["clusters"] = assigned[wave["name"]]
    targets = {c.id for c in fleet.clusters if _targeted(entry, c)}
    left = [c for c in fleet.clusters if c.id in targets and not any(c.id in w for w in assigned.values())]
    if left:
        errors.error(
            "wave",
            f"{len(left)} targeted cluster(s) are in no wave: {', '.join(c.id for c in left[:5])}",
            _select_span(rollout),
            "end with a wave without `select`, which takes every target left",
        )
    allowed = set(entry["allow"])
    for cid in sorted(allowed - {c.id for c in fleet.clusters}):
        errors.error(
            "name",
            f"the allowlist names '{cid}', which fleet '{fleet.name}' does not have",
            rollout.settings["allow"].value_span,
            suggest(cid, [c.id for c in fleet.clusters]),
        )
    for violation in violations(Plan.from_ir(entry), fleet):
        errors.error(violation.code, violation.message, _place(rollout, violation.place), violation.hint)
    if entry["profile"] != PROD and allowed:
        errors.warning(
            "allow", "the allowlist names prod clusters, which a non-prod profile never touches", head(document), ""
        )


def _selectors_evaluate(rollout: RolloutModel, entry: IR, fleet: Any, errors: ErrorList) -> bool:
    """Every selector evaluates on every cluster; a fault is reported at the selector."""
    written = rollout.document.of(ast.Select)
    pairs = [(written[0].span if written else None, entry["select"])]
    pairs += [
        (w.select.span if w.select else None, ir["select"])
        for (w, _), ir in zip(rollout.waves, entry["waves"], strict=True)
    ]
    ok = True
    for span, condition in pairs:
        if condition is None or span is None:
            continue
        for cluster in fleet.clusters:
            try:
                selects(condition, cluster)
            except EvaluationError as exc:
                ok = False
                errors.error(
                    "select",
                    f"this selector cannot be evaluated on cluster '{cluster.id}': {exc}",
                    span,
                    'read a label not every cluster has as `"canary" in labels && labels["canary"] == "true"`',
                )
                break
    return ok


def _targeted(entry: IR, cluster: Any) -> bool:
    return selects(entry["select"], cluster)


def _select_span(rollout: RolloutModel) -> Span:
    written = rollout.document.of(ast.Select)
    return written[0].span if written else head(rollout.document)


def _place(rollout: RolloutModel, place: str) -> Span:
    if place.startswith("wave:"):
        name = place.removeprefix("wave:")
        wave = next((w for w, _ in rollout.waves if w.name == name), None)
        return wave.name_span if wave is not None else head(rollout.document)
    setting = rollout.settings.get(place)
    if setting is not None:
        return setting.span
    if place == "allow":  # no allowlist at all: point at what selected the prod clusters
        return _select_span(rollout)
    return _select_span(rollout) if place == "select" else head(rollout.document)


class RolloutKind(DataKind):
    """A `rollout` document: a staged plan for pushing a bundle to a fleet's clusters."""

    name = "rollout"
    keywords = ("rollout",)
    ir_key = "rollouts"

    resolve_document = staticmethod(resolve_rollout)

    def check_across(self, compilation: Compilation, errors: ErrorList) -> None:
        check_fleets(compilation, errors)

    def lower(self, compilation: Compilation, errors: ErrorList) -> list[IR]:
        entries = [lower_rollout(r, errors) for r in compilation.resolved.get(self.name, [])]
        return [e for e in entries if e is not None]

    def manifest(self, entry: IR) -> IR:
        return {
            "name": entry["name"],
            "version": entry["version"],
            "fleet": entry["fleet"],
            "waves": [w["name"] for w in entry["waves"]],
        }

    def load(self, entry: IR) -> Any:
        return Plan.from_ir(entry)

    def diff(self, old: IR, new: IR, *, timeout_ms: int, solver_seconds: list[float] | None = None) -> list[Any]:
        # Imported here: only `ballast diff` pays for the detectors (and the solver).
        from ballast.compiler.diff.rollout import RolloutDiff

        return RolloutDiff(old, new, timeout_ms).run()

    def explain(self, entry: IR) -> list[str]:
        raise NotSupportedYet(f"explaining rollout '{entry['name']}' is not supported yet: it has no rules")


KIND = RolloutKind()
