"""Governance documents (issue 14 §2): the intent router's tiers, mission priorities and vote.

A governance document maps intent types to autonomy tiers, weighs the mission and declares who
votes on tiers 3 and 4::

    governance mesh.router version "1" {
      tier 0 { intents ["modify_governance"] routed_to "human_review" }
      tier 3 { intents ["self_improve"] routed_to "unified_logic_hub" min_alignment 50% }
      priority resilience { weight 1.0 signal "resilience_impact" }
      vote { voters ["architect", "sre-lead", "risk"] quorum 2 deadline 10m ties "reject"
             signatures "required" }
    }

`resolve` checks every block at its position: tiers are 0 to 4 and each is declared once, an
intent type sits in one tier only, a priority's weight is in [0, 1], the vote's voters are
distinct and its quorum is reachable (at most the number of voters), `signatures` is `required`
or `none` (a signed vote is checked by `ballast.runtime.vote_signing`), and a voting tier that
lists intents has a vote to wait for. `lower` writes the IR `ballast.runtime.governance.Governance`
reads; the meaning of each tier is fixed by the runtime (its module docstring).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ballast.compiler.kinds import NotSupportedYet
from ballast.compiler.kinds.data import DataKind, document_header
from ballast.compiler.settings import SettingSpec, head, read_settings, string_of, words_of
from ballast.compiler.spans import at
from ballast.dsl import ast
from ballast.runtime.errors import ErrorList, Span
from ballast.runtime.governance import DEFAULT_ROUTES, GOVERNANCE_FORMAT, TIERS, TIES, VOTING_TIERS, Governance
from ballast.runtime.suggest import did_you_mean

if TYPE_CHECKING:
    from ballast.compiler.pipeline import Compilation

IR = dict[str, Any]

TIER_SETTINGS = {
    "intents": SettingSpec(("list",), '["deploy_model", "modify_config"]'),
    "routed_to": SettingSpec(("string",), '"unified_logic_hub"'),
    "min_alignment": SettingSpec(("percent",), "50%"),
}
PRIORITY_SETTINGS = {
    "weight": SettingSpec(("number",), "0.8", minimum=0.0),
    "signal": SettingSpec(("string",), '"revenue_impact"'),
}
VOTE_SETTINGS = {
    "voters": SettingSpec(("list",), '["architect", "sre-lead", "risk"]'),
    "quorum": SettingSpec(("number",), "2", minimum=1, whole=True),
    "deadline": SettingSpec(("duration",), "10m"),
    "ties": SettingSpec(("string",), '"reject"'),
    "signatures": SettingSpec(("string",), '"required"'),
}
SIGNATURES = ("required", "none")  # `required`: a vote counts only signed by its voter's key
BLOCKS = ("tier", "priority", "vote")


@dataclass
class GovernanceModel:
    """A resolved governance document: its tiers, priorities and vote as IR."""

    document: ast.Document
    tiers: list[IR] = field(default_factory=list)
    priorities: list[IR] = field(default_factory=list)
    vote: IR | None = None


def resolve_governance(compilation: Compilation, document: ast.Document, errors: ErrorList) -> GovernanceModel:
    model = GovernanceModel(document)
    for other in compilation.resolved.get("governance", []):
        if other.document.name == document.name:
            errors.error(
                "duplicate",
                f"governance '{document.name}' is given twice (also at {head(other.document)})",
                head(document),
                "governance names must be unique in a set",
            )
    tiers: dict[int, Span] = {}
    intents: dict[str, tuple[int, Span]] = {}
    priorities: dict[str, Span] = {}
    vote_span: Span | None = None
    voting_tier: ast.GovernanceBlock | None = None
    for block in document.items:
        if not isinstance(block, ast.GovernanceBlock):
            errors.error("governance", "a governance document holds tiers, priorities and a vote", block.span, "")
            continue
        if block.keyword == "tier":
            tier = _tier(block, tiers, intents, errors)
            if tier is not None:
                model.tiers.append(tier)
                if tier["tier"] in VOTING_TIERS and tier["intents"] and voting_tier is None:
                    voting_tier = block
        elif block.keyword == "priority":
            if block.label in priorities:
                errors.error(
                    "duplicate",
                    f"priority '{block.label}' is declared twice (first at {priorities[block.label]})",
                    block.label_span,
                    "each priority needs its own name",
                )
                continue
            priorities[block.label] = block.label_span
            priority = _priority(block, errors)
            if priority is not None:
                model.priorities.append(priority)
        elif vote_span is not None:
            errors.error(
                "duplicate", f"a second vote (the first is at {vote_span})", block.label_span, "declare one vote"
            )
        else:
            vote_span = block.label_span
            model.vote = _vote(block, errors)
    if not model.tiers and not tiers:
        errors.error(
            "missing",
            f"governance '{document.name}' declares no tier",
            head(document),
            'add one: `tier 2 { intents ["query_knowledge"] }`',
        )
    if voting_tier is not None and vote_span is None:
        errors.error(
            "missing",
            f"tier {voting_tier.label} lists intents but the document declares no vote",
            voting_tier.label_span,
            'tiers 3 and 4 wait for a quorum vote: add `vote { voters ["a", "b", "c"] quorum 2 deadline 10m }`',
        )
    model.tiers.sort(key=lambda t: t["tier"])
    return model


def _tier(
    block: ast.GovernanceBlock, tiers: dict[int, Span], intents: dict[str, tuple[int, Span]], errors: ErrorList
) -> IR | None:
    number = int(block.label)
    if number not in TIERS:
        errors.error(
            "range",
            f"tier {block.label} does not exist",
            block.label_span,
            "tiers are 0 (human approval) to 4 (emergency)",
        )
        return None
    if number in tiers:
        errors.error(
            "duplicate", f"tier {number} is declared twice (first at {tiers[number]})", block.label_span, "merge them"
        )
        return None
    tiers[number] = block.label_span
    settings = read_settings(block.settings, TIER_SETTINGS, f"tier {number}", errors)
    if "intents" not in settings:
        errors.error(
            "missing",
            f"tier {number} lists no intents",
            block.label_span,
            f"add `intents {TIER_SETTINGS['intents'].example}`",
        )
    listed = words_of(settings, "intents")
    for name in listed:
        if name in intents:
            first, span = intents[name]
            errors.error(
                "duplicate",
                f"intent type '{name}' is in tier {first} (at {span}) and tier {number}",
                settings["intents"].value_span,
                "an intent type routes through one tier: keep it in one",
            )
        else:
            intents[name] = (number, settings["intents"].value_span)
    minimum = settings.get("min_alignment")
    return {
        "tier": number,
        "intents": list(listed),
        "routed_to": string_of(settings, "routed_to", DEFAULT_ROUTES[number]),
        "min_alignment": minimum.value.value / 100 if minimum is not None else 0.0,  # type: ignore[union-attr]
        "at": at(block.span),
    }


def _priority(block: ast.GovernanceBlock, errors: ErrorList) -> IR | None:
    what = f"priority '{block.label}'"
    settings = read_settings(block.settings, PRIORITY_SETTINGS, what, errors)
    ok = True
    for required in ("weight", "signal"):
        if required not in settings:
            ok = False
            errors.error(
                "missing",
                f"{what} has no {required}",
                block.label_span,
                f"add `{required} {PRIORITY_SETTINGS[required].example}`",
            )
    if "weight" in settings and float(settings["weight"].value) > 1:  # type: ignore[arg-type]
        ok = False
        errors.error(
            "range",
            f"{what} weighs {float(settings['weight'].value):g}: weights are in [0, 1]",  # type: ignore[arg-type]
            settings["weight"].value_span,
            "the alignment is a weight: 1.0 is the mission's top priority",
        )
    if not ok:
        return None
    return {
        "name": block.label,
        "weight": float(settings["weight"].value),  # type: ignore[arg-type]
        "signal": string_of(settings, "signal"),
        "at": at(block.span),
    }


def _vote(block: ast.GovernanceBlock, errors: ErrorList) -> IR | None:
    settings = read_settings(block.settings, VOTE_SETTINGS, "the vote", errors)
    ok = True
    for required in ("voters", "quorum", "deadline"):
        if required not in settings:
            ok = False
            errors.error(
                "missing",
                f"the vote has no {required}",
                block.label_span,
                f"add `{required} {VOTE_SETTINGS[required].example}`",
            )
    voters = words_of(settings, "voters")
    if "voters" in settings and (not voters or len(set(voters)) != len(voters)):
        ok = False
        errors.error(
            "voters",
            "the vote's voters must be listed, each once",
            settings["voters"].value_span,
            "a voter listed twice would count twice toward the quorum",
        )
    quorum = int(float(settings["quorum"].value)) if "quorum" in settings else 0  # type: ignore[arg-type]
    if voters and quorum > len(voters):
        ok = False
        errors.error(
            "range",
            f"a quorum of {quorum} out of {len(voters)} voters can never be reached",
            settings["quorum"].value_span,
            f"lower the quorum to at most {len(voters)} or declare more voters",
        )
    ties = string_of(settings, "ties", "reject")
    if ties not in TIES:
        ok = False
        errors.error(
            "ties",
            f"ties '{ties}' is not one of {', '.join(TIES)}",
            settings["ties"].value_span,
            did_you_mean(ties, TIES) or 'write `ties "reject"` (the safe choice) or `ties "approve"`',
        )
    signatures = string_of(settings, "signatures", "none")
    if signatures not in SIGNATURES:
        ok = False
        errors.error(
            "signatures",
            f"signatures '{signatures}' is not one of {', '.join(SIGNATURES)}",
            settings["signatures"].value_span,
            did_you_mean(signatures, SIGNATURES)
            or 'write `signatures "required"` (a vote counts only signed by its voter\'s key) or `signatures "none"`',
        )
    if not ok:
        return None
    return {
        "voters": list(voters),
        "quorum": quorum,
        "deadline_seconds": settings["deadline"].value.seconds,  # type: ignore[union-attr]
        "ties": ties,
        "signed": signatures == "required",
        "at": at(block.span),
    }


def lower_governance(model: GovernanceModel) -> IR:
    document = model.document
    return {
        **document_header(document, GOVERNANCE_FORMAT, "governance"),
        "tiers": model.tiers,
        "priorities": model.priorities,
        "vote": model.vote,
    }


class GovernanceKind(DataKind):
    """A `governance` document: the intent router's tiers, priorities and vote."""

    name = "governance"
    keywords = ("governance",)
    ir_key = "governance"

    resolve_document = staticmethod(resolve_governance)

    def lower(self, compilation: Compilation, errors: ErrorList) -> list[IR]:
        return [lower_governance(model) for model in compilation.resolved.get(self.name, [])]

    def manifest(self, entry: IR) -> IR:
        return {"name": entry["name"], "version": entry["version"], "tiers": len(entry["tiers"])}

    def load(self, entry: IR) -> Any:
        return Governance.from_ir(entry)

    def diff(self, old: IR, new: IR, *, timeout_ms: int, solver_seconds: list[float] | None = None) -> list[Any]:
        from ballast.compiler.diff.governance import GovernanceDiff

        return GovernanceDiff(old, new).run()

    def explain(self, entry: IR) -> list[str]:
        raise NotSupportedYet(f"explaining governance '{entry['name']}' is not supported yet: it has no rules")


KIND = GovernanceKind()
