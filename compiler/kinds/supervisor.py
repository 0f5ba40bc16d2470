"""Supervisor documents (issue 14 §3): the meta-loop supervisor's goals, meta-policies, approval
matrix and verification alerts.

    supervisor mesh.meta version "1" {
      window 10m                          # the snapshot window
      environment "prod"                  # where approval_in_prod holds directives
      goal overall_success_rate { target 95% tolerance 2% min_samples 20 }
      goal mean_recovery_seconds { target 30 tolerance 10 }
      meta_policy improve_success {
        when gap.overall_success_rate > 0.05
        directive adjust_threshold { parameter "retry.min_confidence" step 0.05 max 0.95 }
        impact low
        confidence 70%
        verify_after 10m                  # default: the window
      }
      approval minimal { route "auto" }   # … one per impact level, all five
      verify { alert_failures 2 alert_gap_cycles 5 rollback_impact "low" }
    }

`resolve` checks every block at its position: goals name KPIs of the catalog
(`ballast.runtime.supervisor_kpis.KPIS`) once each, targets and tolerances are in the KPI's unit
(a share as a percentage or a fraction, seconds and scores as numbers), a meta-policy has one
condition, one directive of a known type with the parameters that type takes, an impact level
and a metric to verify, its verification waits at least a window (so pre and post snapshots do
not overlap), and the approval matrix routes every impact level. `lower` types each condition
with the checker over `gap.KPI` (the declared goals) and `kpi.KPI` (every KPI), both floats.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ballast.compiler import types as T
from ballast.compiler.checker import Checker
from ballast.compiler.kinds import NotSupportedYet, unchanged_or_unsupported
from ballast.compiler.kinds.data import DataKind, document_header
from ballast.compiler.passes.optimize import fold
from ballast.compiler.passes.resolve import PolicyModel
from ballast.compiler.settings import SettingSpec, head, read_settings, string_of, words_of
from ballast.compiler.spans import at
from ballast.dsl import ast
from ballast.dsl.format_base import format_expr
from ballast.runtime.errors import ErrorList, Span
from ballast.runtime.suggest import did_you_mean
from ballast.runtime.supervisor_kpis import KPIS
from ballast.runtime.supervisor_model import (
    CONDITION_RECORDS,
    DEFAULT_CONFIDENCE,
    DEFAULT_MIN_SAMPLES,
    DIRECTIVE_TYPES,
    IMPACTS,
    ROLLBACK,
    ROUTES,
    SUPERVISOR_FORMAT,
    SupervisorDocument,
    condition_reads,
)

if TYPE_CHECKING:
    from ballast.compiler.pipeline import Compilation

IR = dict[str, Any]

DOCUMENT_SETTINGS = {
    "window": SettingSpec(("duration",), "10m"),
    "environment": SettingSpec(("string",), '"prod"'),
}
GOAL_SETTINGS = {
    "target": SettingSpec(("percent", "number"), "95%", minimum=0.0),
    "tolerance": SettingSpec(("percent", "number"), "2%", minimum=0.0),
    "min_samples": SettingSpec(("number",), "20", minimum=1, whole=True),
}
POLICY_SETTINGS = {
    "confidence": SettingSpec(("percent",), "70%"),
    "metric": SettingSpec(("string",), '"overall_success_rate"'),
    "verify_after": SettingSpec(("duration",), "10m"),
}
APPROVAL_SETTINGS = {"route": SettingSpec(("string",), '"auto_notify"')}
VERIFY_SETTINGS = {
    "alert_failures": SettingSpec(("number",), "2", minimum=1, whole=True),
    "alert_gap_cycles": SettingSpec(("number",), "5", minimum=1, whole=True),
    "rollback_impact": SettingSpec(("string",), '"low"'),
}
VERIFY_DEFAULTS = {"alert_failures": 2, "alert_gap_cycles": 5, "rollback_impact": "low"}
DEFAULT_ENVIRONMENT = "prod"  # unless told otherwise, moderate directives wait for approval

_STEP = SettingSpec(("number",), "0.05")
_BOUND = SettingSpec(("number",), "0.95")
_PARAMETER = SettingSpec(("string",), '"retry.min_confidence"')
# The parameters each directive type takes; those in REQUIRED must be written.
PARAMETERS: dict[str, dict[str, SettingSpec]] = {
    "adjust_threshold": {"parameter": _PARAMETER, "step": _STEP, "min": _BOUND, "max": _BOUND},
    "adjust_confidence": {"parameter": _PARAMETER, "step": _STEP, "min": _BOUND, "max": _BOUND},
    "enable_playbook": {"playbook": SettingSpec(("string",), '"restart-pod"')},
    "disable_playbook": {"playbook": SettingSpec(("string",), '"restart-pod"')},
    "schedule_experiment": {
        "experiment": SettingSpec(("string",), '"retry-backoff-v2"'),
        "duration": SettingSpec(("duration",), "1h"),
    },
    "request_review": {
        "reviewers": SettingSpec(("list",), '["sre-lead"]'),
        "note": SettingSpec(("string",), '"success rate keeps slipping"'),
    },
    "enable_probe": {
        "probe": SettingSpec(("string",), '"checkout-synthetic"'),
        "interval": SettingSpec(("duration",), "1m"),
    },
    ROLLBACK: {"change": SettingSpec(("string",), '"improve_success"')},
}
REQUIRED = {
    "adjust_threshold": ("parameter", "step"),
    "adjust_confidence": ("parameter", "step"),
    "enable_playbook": ("playbook",),
    "disable_playbook": ("playbook",),
    "schedule_experiment": ("experiment", "duration"),
    "request_review": ("reviewers",),
    "enable_probe": ("probe",),
    ROLLBACK: ("change",),
}
assert set(PARAMETERS) == set(DIRECTIVE_TYPES) == set(REQUIRED)  # every type the runtime knows


@dataclass
class SupervisorModel:
    """A resolved supervisor document: its checked settings and blocks, and the model its
    conditions are typed against."""

    document: ast.Document
    settings: dict[str, ast.Setting]
    goals: list[IR] = field(default_factory=list)
    policies: list[tuple[ast.SupervisorBlock, dict[str, ast.Setting], IR]] = field(default_factory=list)
    approvals: dict[str, str] = field(default_factory=dict)
    verify: IR = field(default_factory=lambda: dict(VERIFY_DEFAULTS))
    condition_model: PolicyModel | None = None


def _value(setting: ast.Setting, kpi: str, what: str, errors: ErrorList) -> float | None:
    """A target or tolerance in the KPI's unit; None (reported) when it cannot be one."""
    unit = KPIS[kpi].unit
    if setting.kind == "percent":
        if unit != "share":
            errors.error(
                "unit",
                f"{kpi} is {'in seconds' if unit == 'seconds' else 'a score out of 100'}: its {what} is not a percentage",
                setting.value_span,
                f"write a number: `{setting.name} {'30' if unit == 'seconds' else '95'}`",
            )
            return None
        return setting.value.value / 100  # type: ignore[union-attr]
    value = float(setting.value)  # type: ignore[arg-type]
    bound = {"share": 1.0, "score": 100.0}.get(unit)
    if bound is not None and value > bound:
        errors.error(
            "range",
            f"{kpi}'s {what} {value:g} is above {bound:g}",
            setting.value_span,
            "a share is a percentage (95%) or a fraction (0.95)" if unit == "share" else "scores are out of 100",
        )
        return None
    return value


def resolve_supervisor(compilation: Compilation, document: ast.Document, errors: ErrorList) -> SupervisorModel:
    settings = read_settings(document.of(ast.Setting), DOCUMENT_SETTINGS, f"supervisor '{document.name}'", errors)
    model = SupervisorModel(document, settings)
    for other in compilation.resolved.get("supervisor", []):
        if other.document.name == document.name:
            errors.error(
                "duplicate",
                f"supervisor '{document.name}' is given twice (also at {head(other.document)})",
                head(document),
                "supervisor names must be unique in a set",
            )
    if "window" not in settings and not any(s.name == "window" for s in document.of(ast.Setting)):
        errors.error(
            "missing",
            f"supervisor '{document.name}' declares no window (the span of each snapshot)",
            head(document),
            "add `window 10m`",
        )
    blocks = document.of(ast.SupervisorBlock)
    seen: dict[tuple[str, str], Span] = {}
    for block in blocks:
        key = (block.keyword, block.label)
        if key in seen:
            what = "verify block" if block.keyword == "verify" else f"{block.keyword.replace('_', '-')} '{block.label}'"
            errors.error(
                "duplicate", f"{what} is declared twice (first at {seen[key]})", block.label_span, "merge them"
            )
            continue
        seen[key] = block.label_span
        if block.keyword == "goal":
            _goal(model, block, errors)
        elif block.keyword == "approval":
            _approval(model, block, errors)
        elif block.keyword == "verify":
            _verify(model, block, errors)
    if not model.goals and not any(b.keyword == "goal" for b in blocks):
        errors.error(
            "missing",
            f"supervisor '{document.name}' declares no goal",
            head(document),
            "add one: `goal overall_success_rate { target 95% }`",
        )
    written = {b.label for b in blocks if b.keyword == "approval"}  # a level written wrongly is reported
    missing = [level for level in IMPACTS if level not in written]
    if missing:
        errors.error(
            "missing",
            f"the approval matrix does not route impact level{'s' if len(missing) > 1 else ''} {', '.join(missing)}",
            head(document),
            f'add `approval {missing[0]} {{ route "…" }}` (routes: {", ".join(ROUTES)}); '
            "catalog/supervisor/meta-loop.bal has the seed's matrix",
        )
    model.condition_model = _condition_model(document, [g["kpi"] for g in model.goals])
    policy_names = [b.label for b in blocks if b.keyword == "meta_policy"]
    for block in blocks:
        if block.keyword == "meta_policy" and seen.get(("meta_policy", block.label)) is block.label_span:
            _policy(model, block, policy_names, errors)
    return model


def _condition_model(document: ast.Document, goals: list[str]) -> PolicyModel:
    model = PolicyModel(document)
    model.input_name = "snapshot"
    model.input = T.RecordT(
        (
            T.FieldT("gap", T.RecordT(tuple(T.FieldT(k, T.FLOAT) for k in goals))),
            T.FieldT("kpi", T.RecordT(tuple(T.FieldT(k, T.FLOAT) for k in KPIS))),
        )
    )
    return model


def _goal(model: SupervisorModel, block: ast.SupervisorBlock, errors: ErrorList) -> None:
    if block.label not in KPIS:
        errors.error(
            "kpi",
            f"unknown KPI '{block.label}'",
            block.label_span,
            did_you_mean(block.label, KPIS) or f"the KPIs are {', '.join(KPIS)}",
        )
        return
    what = f"goal {block.label}"
    settings = read_settings(block.settings, GOAL_SETTINGS, what, errors)
    if "target" not in settings:
        if not any(s.name == "target" for s in block.settings):
            errors.error("missing", f"{what} has no target", block.label_span, "add `target 95%`")
        return
    target = _value(settings["target"], block.label, "target", errors)
    tolerance = _value(settings["tolerance"], block.label, "tolerance", errors) if "tolerance" in settings else None
    if target is None or ("tolerance" in settings and tolerance is None):
        return
    samples = settings.get("min_samples")
    model.goals.append(
        {
            "kpi": block.label,
            "target": target,
            "tolerance": tolerance,
            "min_samples": int(float(samples.value)) if samples else DEFAULT_MIN_SAMPLES,  # type: ignore[arg-type]
            "at": at(block.span),
        }
    )


def _approval(model: SupervisorModel, block: ast.SupervisorBlock, errors: ErrorList) -> None:
    if block.label not in IMPACTS:
        errors.error(
            "impact",
            f"impact level '{block.label}' does not exist",
            block.label_span,
            did_you_mean(block.label, IMPACTS) or f"the levels are {', '.join(IMPACTS)}",
        )
        return
    settings = read_settings(block.settings, APPROVAL_SETTINGS, f"approval {block.label}", errors)
    if "route" not in settings:
        if not block.settings:
            errors.error(
                "missing", f"approval {block.label} has no route", block.label_span, 'add `route "auto_notify"`'
            )
        return
    route = string_of(settings, "route")
    if route not in ROUTES:
        errors.error(
            "route",
            f"route '{route}' is not one of {', '.join(ROUTES)}",
            settings["route"].value_span,
            did_you_mean(route, ROUTES) or "docs/governance.md says what each route does",
        )
        return
    model.approvals[block.label] = route


def _verify(model: SupervisorModel, block: ast.SupervisorBlock, errors: ErrorList) -> None:
    settings = read_settings(block.settings, VERIFY_SETTINGS, "the verify block", errors)
    for name in ("alert_failures", "alert_gap_cycles"):
        if name in settings:
            model.verify[name] = int(float(settings[name].value))  # type: ignore[arg-type]
    if "rollback_impact" in settings:
        impact = string_of(settings, "rollback_impact")
        if impact not in IMPACTS:
            errors.error(
                "impact",
                f"impact level '{impact}' does not exist",
                settings["rollback_impact"].value_span,
                did_you_mean(impact, IMPACTS) or f"the levels are {', '.join(IMPACTS)}",
            )
        else:
            model.verify["rollback_impact"] = impact


def _policy(model: SupervisorModel, block: ast.SupervisorBlock, names: list[str], errors: ErrorList) -> None:
    what = f"meta-policy '{block.label}'"
    for word, span in block.repeated:
        errors.error("duplicate", f"{what} has a second `{word}`", span, "a meta-policy has one of each")
    ok = True
    if block.when is None:
        ok = False
        errors.error(
            "missing", f"{what} has no condition", block.label_span, "add `when gap.overall_success_rate > 0.05`"
        )
    else:
        ok = _check_reads(model, block.when, errors) and ok
    if block.directive is None:
        ok = False
        errors.error(
            "missing",
            f"{what} issues no directive",
            block.label_span,
            'add `directive adjust_threshold { parameter "retry.min_confidence" step 0.05 }`',
        )
    if not block.impact:
        ok = False
        errors.error(
            "missing",
            f"{what} has no impact level",
            block.label_span,
            f"add `impact low` (levels: {', '.join(IMPACTS)})",
        )
    elif block.impact not in IMPACTS:
        ok = False
        errors.error(
            "impact",
            f"impact level '{block.impact}' does not exist",
            block.impact_span or block.label_span,
            did_you_mean(block.impact, IMPACTS) or f"the levels are {', '.join(IMPACTS)}",
        )
    settings = read_settings(block.settings, POLICY_SETTINGS, what, errors)
    directive = _directive(block.directive, names, block.label, errors) if block.directive is not None else None
    metric = string_of(settings, "metric")
    if "metric" in settings and metric not in KPIS:
        ok = False
        errors.error(
            "kpi",
            f"unknown KPI '{metric}'",
            settings["metric"].value_span,
            did_you_mean(metric, KPIS) or f"the KPIs are {', '.join(KPIS)}",
        )
    window = model.settings["window"].value.seconds if "window" in model.settings else None  # type: ignore[union-attr]
    verify_after = settings["verify_after"].value.seconds if "verify_after" in settings else window  # type: ignore[union-attr]
    if window is not None and verify_after is not None and verify_after < window:
        ok = False
        errors.error(
            "verify",
            f"{what} is verified {settings['verify_after'].value.text} after it is applied, "  # type: ignore[union-attr]
            f"less than the window ({model.settings['window'].value.text})",  # type: ignore[union-attr]
            settings["verify_after"].value_span,
            "the post snapshot would still hold events from before the change: wait at least a window",
        )
    if not ok or directive is None:
        return
    confidence = settings.get("confidence")
    model.policies.append(
        (
            block,
            settings,
            {
                "name": block.label,
                "directive": directive,
                "impact": block.impact,
                "confidence": confidence.value.value / 100 if confidence else DEFAULT_CONFIDENCE,  # type: ignore[union-attr]
                "metric": metric,
                "verify_after": verify_after,
                "text": format_expr(block.when) if block.when is not None else "",
                "at": at(block.span),
            },
        )
    )


def _check_reads(model: SupervisorModel, expr: ast.Expr, errors: ErrorList) -> bool:
    """Names other than `gap` and `kpi`, and KPIs not in the catalog or without a goal, at their place."""
    ok = True
    goals = [g["kpi"] for g in model.goals]
    parents = {id(n.obj) for n in ast.walk(expr) if isinstance(n, ast.Attribute)}
    for node in ast.walk(expr):
        if isinstance(node, ast.Name) and node.name not in CONDITION_RECORDS:
            ok = False
            errors.error(
                "name",
                f"unknown name '{node.name}'",
                node.span,
                did_you_mean(node.name, CONDITION_RECORDS) or "a condition reads `gap.KPI` and `kpi.KPI`",
            )
        elif isinstance(node, ast.Name) and id(node) not in parents:
            ok = False
            errors.error("name", f"'{node.name}' needs a KPI", node.span, f"write `{node.name}.overall_success_rate`")
        elif isinstance(node, ast.Attribute) and isinstance(node.obj, ast.Name) and node.obj.name in CONDITION_RECORDS:
            known = goals if node.obj.name == "gap" else list(KPIS)
            if node.name in known:
                continue
            ok = False
            if node.obj.name == "gap" and node.name in KPIS:
                hint = f"declare its goal: `goal {node.name} {{ target … }}`, or read its value as `kpi.{node.name}`"
                errors.error("kpi", f"KPI '{node.name}' has no goal, so no gap", node.name_span, hint)
            else:
                hint = did_you_mean(node.name, known) or f"the KPIs are {', '.join(known) or 'none'}"
                errors.error("kpi", f"unknown KPI '{node.name}'", node.name_span, hint)
    return ok


def _directive(template: ast.DirectiveTemplate, names: list[str], policy: str, errors: ErrorList) -> IR | None:
    if template.type not in PARAMETERS:
        errors.error(
            "directive",
            f"unknown directive type '{template.type}'",
            template.type_span,
            did_you_mean(template.type, DIRECTIVE_TYPES) or f"the types are {', '.join(DIRECTIVE_TYPES)}",
        )
        return None
    what = f"directive {template.type}"
    before = len(errors.items)
    settings = read_settings(template.settings, PARAMETERS[template.type], what, errors)
    for required in REQUIRED[template.type]:
        if required not in settings and not any(s.name == required for s in template.settings):
            errors.error(
                "missing",
                f"{what} has no {required}",
                template.type_span,
                f"add `{required} {PARAMETERS[template.type][required].example}`",
            )
    if "step" in settings and float(settings["step"].value) == 0:  # type: ignore[arg-type]
        errors.error(
            "range", "a step of 0 changes nothing", settings["step"].value_span, "write `step 0.05` or `step -0.05`"
        )
    low, high = settings.get("min"), settings.get("max")
    if low is not None and high is not None and float(low.value) > float(high.value):  # type: ignore[arg-type]
        errors.error(
            "range",
            f"min {float(low.value):g} is above max {float(high.value):g}",  # type: ignore[arg-type]
            low.value_span,
            "swap them",
        )
    if template.type == ROLLBACK and "change" in settings:
        change = string_of(settings, "change")
        if change not in names or change == policy:
            errors.error(
                "name",
                f"no other meta-policy '{change}' to roll back",
                settings["change"].value_span,
                did_you_mean(change, [n for n in names if n != policy])
                or "name the meta-policy whose change it undoes",
            )
    if any(d.severity == "error" for d in errors.items[before:]):
        return None
    params: IR = {}
    for name, setting in settings.items():
        if setting.kind == "duration":
            params[name] = setting.value.seconds  # type: ignore[union-attr]
        elif setting.kind == "list":
            params[name] = list(words_of(settings, name))
        elif setting.kind == "number":
            params[name] = float(setting.value)  # type: ignore[arg-type]
        else:
            params[name] = str(setting.value)
    return {"type": template.type, "params": params}


def lower_supervisor(model: SupervisorModel, errors: ErrorList) -> IR:
    document = model.document
    assert model.condition_model is not None  # set by resolve
    checker = Checker(model.condition_model, errors)
    policies = []
    for block, _settings, entry in model.policies:
        assert block.when is not None  # checked by resolve
        condition = fold(checker.condition(block.when, "a meta-policy condition"), errors, document.file)
        reads = condition_reads(condition)
        metric = entry["metric"]
        if not metric:
            if len(reads) != 1:
                errors.error(
                    "missing",
                    f"meta-policy '{block.label}' reads {len(reads)} KPIs: say which one verification checks",
                    block.label_span,
                    f'add `metric "{reads[0] if reads else "overall_success_rate"}"`',
                )
                continue
            metric = reads[0]
        policies.append({**entry, "when": condition, "reads": list(reads), "metric": metric})
    window = model.settings.get("window")
    return {
        **document_header(document, SUPERVISOR_FORMAT, "supervisor"),
        "window_seconds": window.value.seconds if window else 0.0,  # type: ignore[union-attr]
        "environment": string_of(model.settings, "environment", DEFAULT_ENVIRONMENT),
        "goals": model.goals,
        "policies": policies,
        "approvals": {level: model.approvals[level] for level in IMPACTS if level in model.approvals},
        "verify": model.verify,
    }


class SupervisorKind(DataKind):
    """A `supervisor` document: the meta-loop supervisor's goals, meta-policies and approval matrix."""

    name = "supervisor"
    keywords = ("supervisor",)
    ir_key = "supervisors"

    resolve_document = staticmethod(resolve_supervisor)

    def lower(self, compilation: Compilation, errors: ErrorList) -> list[IR]:
        return [lower_supervisor(model, errors) for model in compilation.resolved.get(self.name, [])]

    def manifest(self, entry: IR) -> IR:
        return {"name": entry["name"], "version": entry["version"], "meta_policies": len(entry["policies"])}

    def load(self, entry: IR) -> Any:
        return SupervisorDocument.from_ir(entry)

    def diff(self, old: IR, new: IR, *, timeout_ms: int, solver_seconds: list[float] | None = None) -> list[Any]:
        return unchanged_or_unsupported(
            old,
            new,
            f"diffing changes to supervisor '{new['name']}' is not supported yet: `ballast shadow` compares two "
            "supervisor documents on the same simulated world",
        )

    def explain(self, entry: IR) -> list[str]:
        raise NotSupportedYet(f"explaining supervisor '{entry['name']}' is not supported yet: it has no rules")


KIND = SupervisorKind()
