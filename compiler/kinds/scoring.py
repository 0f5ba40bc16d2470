"""Scoring documents (issue 15 §3): tenant maturity signals, weighted profiles and badges.

    scoring tenants.maturity version "2026.12" {
      signal training_completion {
        metric "training.completion_ratio"
        stale_after 30d
        decay 14d
      }
      profile regulator {
        weights { training_completion: 2, governance_health: 3 }
        missing "block"
        badge gold { enter 80 exit 75 }
      }
    }

`resolve` checks every block at its position: a signal reads a metric, `low < high`, `better`,
`missing` and the durations are valid; a profile weighs declared signals only, with weights at
least 0 and one above 0, and has at least one badge; badges have `exit < enter` on 0..100 and,
ordered by `enter`, their `exit` levels rise too (so holding a badge means holding those under
it). The **bias guard** (`ballast.runtime.scoring.decisive_signals`): a signal whose share of the
weight can veto or grant a badge alone is an error unless the profile carries a `justification`.
`lower` writes the IR `ballast.runtime.scoring.Scoring` reads; docs/scoring.md has the semantics.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ballast.compiler.kinds import NotSupportedYet, unchanged_or_unsupported
from ballast.compiler.kinds.data import DataKind, document_header
from ballast.compiler.settings import SettingSpec, head, read_settings, string_of
from ballast.compiler.spans import at
from ballast.dsl import ast
from ballast.runtime.errors import ErrorList, Span
from ballast.runtime.scoring import (
    BETTER,
    DEFAULT_MISSING,
    MISSING_MODES,
    SCORING_FORMAT,
    Badge,
    Scoring,
    decisive_signals,
    largest_fair_share,
)
from ballast.runtime.suggest import did_you_mean

if TYPE_CHECKING:
    from ballast.compiler.pipeline import Compilation

IR = dict[str, Any]

SIGNAL_SETTINGS = {
    "metric": SettingSpec(("string",), '"training.completion_ratio"'),
    "low": SettingSpec(("number",), "0"),
    "high": SettingSpec(("number",), "1"),
    "better": SettingSpec(("string",), '"higher"'),
    "stale_after": SettingSpec(("duration",), "30d"),
    "decay": SettingSpec(("duration",), "14d"),
    "missing": SettingSpec(("string",), '"renormalise"'),
    "about": SettingSpec(("string",), '"Share of staff who finished the training"'),
}
PROFILE_SETTINGS = {
    "weights": SettingSpec(("map",), "{ training_completion: 2, governance_health: 3 }"),
    "missing": SettingSpec(("string",), '"renormalise"'),
    "version": SettingSpec(("string",), '"2"'),
    "about": SettingSpec(("string",), '"What an auditor looks at"'),
}
BADGE_SETTINGS = {
    "enter": SettingSpec(("number",), "80", minimum=0.0),
    "exit": SettingSpec(("number",), "75", minimum=0.0),
}


@dataclass
class ScoringModel:
    """A resolved scoring document: its signals and profiles as IR."""

    document: ast.Document
    signals: list[IR] = field(default_factory=list)
    profiles: list[IR] = field(default_factory=list)


def resolve_scoring(compilation: Compilation, document: ast.Document, errors: ErrorList) -> ScoringModel:
    model = ScoringModel(document)
    for other in compilation.resolved.get("scoring", []):
        if other.document.name == document.name:
            errors.error(
                "duplicate",
                f"scoring '{document.name}' is given twice (also at {head(other.document)})",
                head(document),
                "scoring document names must be unique in a set",
            )
    names: dict[tuple[str, str], Span] = {}
    blocks = [b for b in document.items if isinstance(b, ast.ScoringBlock)]
    for block in document.items:
        if not isinstance(block, ast.ScoringBlock):
            errors.error("scoring", "a scoring document holds signals and profiles", block.span, "")
    for block in blocks:  # every signal first: profiles weigh them wherever they are written
        key = (block.keyword, block.label)
        if key in names:
            errors.error(
                "duplicate",
                f"{block.keyword} '{block.label}' is declared twice (first at {names[key]})",
                block.label_span,
                f"each {block.keyword} needs its own name",
            )
            continue
        names[key] = block.label_span
        if block.keyword == "signal":
            signal = _signal(block, errors)
            if signal is not None:
                model.signals.append(signal)
    declared = {name for kind, name in names if kind == "signal"}
    version = document.version.value if document.version else ""
    seen_profiles: set[str] = set()
    for block in blocks:
        if block.keyword == "profile" and block.label not in seen_profiles:
            seen_profiles.add(block.label)
            profile = _profile(block, declared, version, errors)
            if profile is not None:
                model.profiles.append(profile)
    if not any(kind == "signal" for kind, _ in names):
        errors.error("missing", f"scoring '{document.name}' declares no signal", head(document), _SIGNAL_EXAMPLE)
    if not any(kind == "profile" for kind, _ in names):
        errors.error(
            "missing",
            f"scoring '{document.name}' declares no profile",
            head(document),
            "add one: `profile csm { weights { feature_coverage: 1 } badge gold { enter 80 exit 75 } }`",
        )
    return model


_SIGNAL_EXAMPLE = 'add one: `signal feature_coverage { metric "features.enabled_ratio" stale_after 30d }`'


def _signal(block: ast.ScoringBlock, errors: ErrorList) -> IR | None:
    what = f"signal '{block.label}'"
    settings = read_settings(block.settings, SIGNAL_SETTINGS, what, errors)
    ok = True
    for required in ("metric", "stale_after"):
        if required not in settings and not any(s.name == required for s in block.settings):
            ok = False
            errors.error(
                "missing",
                f"{what} has no {required}",
                block.label_span,
                f"add `{required} {SIGNAL_SETTINGS[required].example}`",
            )
    low = float(settings["low"].value) if "low" in settings else 0.0  # type: ignore[arg-type]
    high = float(settings["high"].value) if "high" in settings else 1.0  # type: ignore[arg-type]
    if not low < high:
        ok = False
        where = settings["high"] if "high" in settings else settings["low"]
        errors.error(
            "range",
            f"{what} reads its metric on {low:g}..{high:g}: low must be under high",
            where.value_span,
            "the range is what the metric's worst and best values are, such as `low 0 high 1`",
        )
    for name, allowed in (("better", BETTER), ("missing", MISSING_MODES)):
        value = string_of(settings, name)
        if name in settings and value not in allowed:
            ok = False
            errors.error(
                "scoring",
                f"{what}: {name} '{value}' is not one of {', '.join(allowed)}",
                settings[name].value_span,
                did_you_mean(value, allowed) or f'write `{name} "{allowed[0]}"`',
            )
    for name in ("stale_after", "decay"):
        if name in settings and settings[name].value.seconds <= 0:  # type: ignore[union-attr]
            ok = False
            errors.error(
                "range", f"{what}: {name} must be longer than 0s", settings[name].value_span, f"write `{name} 14d`"
            )
    if not ok or "metric" not in settings or "stale_after" not in settings:
        return None
    return {
        "name": block.label,
        "metric": string_of(settings, "metric"),
        "low": low,
        "high": high,
        "better": string_of(settings, "better", "higher"),
        "stale_after_seconds": settings["stale_after"].value.seconds,  # type: ignore[union-attr]
        "decay_seconds": settings["decay"].value.seconds if "decay" in settings else None,  # type: ignore[union-attr]
        "missing": string_of(settings, "missing") or None,
        "about": string_of(settings, "about"),
        "at": at(block.span),
    }


def _profile(block: ast.ScoringBlock, declared: set[str], version: str, errors: ErrorList) -> IR | None:
    what = f"profile '{block.label}'"
    settings = read_settings(block.settings, PROFILE_SETTINGS, what, errors)
    ok = True
    if "weights" not in settings:
        if not any(s.name == "weights" for s in block.settings):
            errors.error(
                "missing",
                f"{what} has no weights",
                block.label_span,
                f"add `weights {PROFILE_SETTINGS['weights'].example}`",
            )
        return None
    weights = _weights(what, settings["weights"], declared, errors)
    if weights is None:
        ok = False
    missing = string_of(settings, "missing", DEFAULT_MISSING)
    if missing not in MISSING_MODES:
        ok = False
        errors.error(
            "scoring",
            f"{what}: missing '{missing}' is not one of {', '.join(MISSING_MODES)}",
            settings["missing"].value_span,
            did_you_mean(missing, MISSING_MODES) or 'write `missing "renormalise"`',
        )
    badges = _badges(block, what, errors)
    if badges is None:
        ok = False
    if len(block.justifications) > 1:
        ok = False
        errors.error(
            "duplicate",
            f"{what} has a second justification (the first is at {block.justifications[0].span})",
            block.justifications[1].span,
            "write one justification",
        )
    justification = block.justifications[0].text.value if block.justifications else ""
    if not ok or weights is None or badges is None:
        return None
    if not justification:
        _bias_guard(what, weights, badges, settings["weights"], errors)
    return {
        "name": block.label,
        "version": string_of(settings, "version", version),
        "weights": {name: weight for name, (weight, _) in weights.items()},
        "missing": missing,
        "badges": [{"name": b.name, "enter": b.enter, "exit": b.exit} for b in badges],
        "justification": justification,
        "about": string_of(settings, "about"),
        "at": at(block.span),
    }


def _weights(
    what: str, setting: ast.Setting, declared: set[str], errors: ErrorList
) -> dict[str, tuple[float, Span]] | None:
    out: dict[str, tuple[float, Span]] = {}
    ok = True
    for pair in setting.value:  # type: ignore[union-attr]  # kind "map": a tuple of Labels
        if pair.key not in declared:
            ok = False
            errors.error(
                "name",
                f"{what} weighs '{pair.key}', which is not a signal of the document",
                pair.span,
                did_you_mean(pair.key, declared) or f"the signals are: {', '.join(sorted(declared)) or 'none'}",
            )
            continue
        if pair.key in out:
            ok = False
            errors.error("duplicate", f"{what} weighs '{pair.key}' twice", pair.span, "write each weight once")
            continue
        try:
            weight = float(pair.value)
        except ValueError:
            weight = math.nan
        if not math.isfinite(weight) or weight < 0:
            ok = False
            errors.error(
                "type",
                f"{what}: the weight of '{pair.key}' is {pair.value!r}: a weight is a number, at least 0",
                pair.span,
                f"write `{pair.key}: 2`",
            )
            continue
        out[pair.key] = (weight, pair.span)
    if ok and not any(weight > 0 for weight, _ in out.values()):
        errors.error(
            "range",
            f"{what} gives no signal a weight above 0: it could never score",
            setting.value_span,
            "weigh at least one signal, such as `weights { feature_coverage: 1 }`",
        )
        return None
    return out if ok else None


def _badges(block: ast.ScoringBlock, what: str, errors: ErrorList) -> list[Badge] | None:
    badges: list[tuple[Badge, ast.ScoringBlock]] = []
    seen: dict[str, Span] = {}
    ok = True
    for badge in block.badges:
        name = f"badge '{badge.label}' of {what}"
        if badge.label in seen:
            ok = False
            errors.error(
                "duplicate",
                f"{name} is declared twice (first at {seen[badge.label]})",
                badge.label_span,
                "each badge needs its own name",
            )
            continue
        seen[badge.label] = badge.label_span
        settings = read_settings(badge.settings, BADGE_SETTINGS, name, errors)
        if "enter" not in settings or "exit" not in settings:
            ok = False
            missing = "enter" if "enter" not in settings else "exit"
            if not any(s.name == missing for s in badge.settings):
                errors.error(
                    "missing", f"{name} has no {missing} level", badge.label_span, "write `{ enter 80 exit 75 }`"
                )
            continue
        enter, exit_ = float(settings["enter"].value), float(settings["exit"].value)  # type: ignore[arg-type]
        if enter > 100:
            ok = False
            errors.error("range", f"{name} enters at {enter:g}: scores are 0 to 100", settings["enter"].value_span, "")
            continue
        if not exit_ < enter:
            ok = False
            errors.error(
                "hysteresis",
                f"{name} exits at {exit_:g}, not below its enter level {enter:g}",
                settings["exit"].value_span,
                "the exit level is where a tenant that holds the badge loses it: put it a few points under enter",
            )
            continue
        badges.append((Badge(badge.label, enter, exit_), badge))
    if not block.badges:
        errors.error(
            "missing", f"{what} awards no badge", block.label_span, "add one: `badge gold { enter 80 exit 75 }`"
        )
        return None
    badges.sort(key=lambda pair: pair[0].enter)
    for (lower, _), (upper, upper_block) in itertools.pairwise(badges):
        if lower.enter == upper.enter or lower.exit >= upper.exit:
            ok = False
            errors.error(
                "hysteresis",
                f"badges '{lower.name}' ({lower.enter:g}/{lower.exit:g}) and '{upper.name}' "
                f"({upper.enter:g}/{upper.exit:g}) overlap: ordered by enter level, enter and exit levels must both rise",
                upper_block.label_span,
                "a tenant holding a badge holds every badge under it, so a higher badge enters and exits higher",
            )
    return [b for b, _ in badges] if ok else None


def _bias_guard(
    what: str, weights: dict[str, tuple[float, Span]], badges: list[Badge], setting: ast.Setting, errors: ErrorList
) -> None:
    fair = largest_fair_share(badges)
    for decisive in decisive_signals({name: w for name, (w, _) in weights.items()}, badges):
        errors.error(
            "bias",
            f"{what}: {decisive.explain()}, so it decides the badge alone",
            weights[decisive.signal][1],
            f"weigh it at most {100 * fair:.4g}% of the total, or give the profile a "
            '`justification "…"` saying why one signal may decide',
        )


def lower_scoring(model: ScoringModel) -> IR:
    document = model.document
    return {
        **document_header(document, SCORING_FORMAT, "scoring"),
        "signals": model.signals,
        "profiles": model.profiles,
    }


class ScoringKind(DataKind):
    """A `scoring` document: tenant maturity signals, weighted profiles and badges."""

    name = "scoring"
    keywords = ("scoring",)
    ir_key = "scoring"

    resolve_document = staticmethod(resolve_scoring)

    def lower(self, compilation: Compilation, errors: ErrorList) -> list[IR]:
        return [lower_scoring(model) for model in compilation.resolved.get(self.name, [])]

    def manifest(self, entry: IR) -> IR:
        return {"name": entry["name"], "version": entry["version"], "profiles": len(entry["profiles"])}

    def load(self, entry: IR) -> Any:
        return Scoring.from_ir(entry)

    def diff(self, old: IR, new: IR, *, timeout_ms: int, solver_seconds: list[float] | None = None) -> list[Any]:
        return unchanged_or_unsupported(old, new, f"diffing changes to scoring '{new['name']}' is not supported yet")

    def explain(self, entry: IR) -> list[str]:
        raise NotSupportedYet(f"explaining scoring '{entry['name']}' is not supported yet: it has no rules")


KIND = ScoringKind()
