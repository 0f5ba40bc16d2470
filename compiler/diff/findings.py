"""What a semantic diff reports: findings, each an instance of one documented check.

Every check has a stable id, a level and one line of documentation; docs/diff.md lists them all
(a test keeps that page and `CHECKS` in step). Levels, from most to least severe:

- `breaking`: a consumer of the policy's directives or a producer of its events must change
  (a rule, action, input field or enum value removed; a type or range narrowed; …);
- `behavioral`: the same events now get other decisions (a rule added, a condition or a
  threshold changed, a time clause changed, …);
- `cosmetic`: everything that compiles to the same decisions (proven so for conditions).

Tags qualify a finding across levels: `guard-loosened` marks a safety guard relaxed (a rule that
now fires on fewer inputs, a `for` or cooldown shortened, a rate limit raised, a lockdown floor
lowered); `ballast diff --require-justification` demands a `justification` on such rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

LEVELS = ("breaking", "behavioral", "cosmetic")
DEFAULT_TIMEOUT_MS = 2000  # the solver's limit per question: "undecided" past it, never "cosmetic"
CONFIDENCES = ("proven", "sampled", "structural")
GUARD_LOOSENED = "guard-loosened"
GUARD_TIGHTENED = "guard-tightened"


@dataclass(frozen=True)
class Check:
    id: str
    level: str
    subject: str  # what the finding's `subject` names: a rule, a field, an action, a mode…
    summary: str


def _checks(*rows: tuple[str, str, str, str]) -> dict[str, Check]:
    return {row[0]: Check(*row) for row in rows}


# The catalog. Ids are a public interface: never rename one, add a new one instead.
CHECKS: dict[str, Check] = _checks(
    # documents
    ("policy-removed", "breaking", "policy", "A policy present in the base is gone from the head."),
    ("policy-added", "behavioral", "policy", "A policy of the head is not in the base."),
    ("policy-metadata-changed", "cosmetic", "policy", "Version, owner, description or labels of a policy changed."),
    ("threat-removed", "breaking", "threat", "A threat document of the base is gone from the head."),
    ("threat-added", "behavioral", "threat", "A threat document of the head is not in the base."),
    (
        "threat-metadata-changed",
        "cosmetic",
        "threat",
        "Version, owner, description or labels of a threat document changed.",
    ),
    # input schemas (policies and threat documents)
    ("input-field-removed", "breaking", "field", "An input field was removed: events carrying it are now rejected."),
    (
        "input-field-added-required",
        "breaking",
        "field",
        "A required input field was added: events without it are now rejected.",
    ),
    (
        "input-field-added-optional",
        "behavioral",
        "field",
        "An optional input field was added: events carrying it, rejected before, are now accepted.",
    ),
    (
        "input-field-type-changed",
        "breaking",
        "field",
        "An input field's type changed incompatibly (or narrowed, float to int).",
    ),
    (
        "input-field-type-widened",
        "behavioral",
        "field",
        "An input field's type was widened (int to float, enum to string): more events are accepted.",
    ),
    (
        "input-field-range-narrowed",
        "breaking",
        "field",
        "An input field's range was narrowed: events outside the new range are now rejected.",
    ),
    (
        "input-field-range-widened",
        "behavioral",
        "field",
        "An input field's range was widened: more events are accepted.",
    ),
    (
        "input-enum-value-removed",
        "breaking",
        "field",
        "An enum value was removed: events carrying it are now rejected.",
    ),
    ("input-enum-value-added", "behavioral", "field", "An enum value was added: events carrying it are now accepted."),
    ("input-field-made-required", "breaking", "field", "An optional input field became required."),
    ("input-field-made-optional", "behavioral", "field", "A required input field became optional."),
    ("input-renamed", "cosmetic", "input", "The input declaration's name changed (events are unaffected)."),
    # actions (the directives a policy emits)
    ("action-removed", "breaking", "action", "No rule emits this action any more: its consumers stop receiving it."),
    ("action-added", "behavioral", "action", "A rule now emits an action the base never emitted."),
    ("action-parameter-removed", "breaking", "action", "An action lost a parameter its consumers may read."),
    ("action-parameter-added-required", "breaking", "action", "An action gained a required parameter."),
    ("action-parameter-added-optional", "behavioral", "action", "An action gained an optional parameter."),
    ("action-parameter-type-changed", "breaking", "action", "An action parameter's type changed."),
    ("action-parameter-made-required", "breaking", "action", "An optional action parameter became required."),
    (
        "action-parameter-made-optional",
        "behavioral",
        "action",
        "A required action parameter became optional: consumers may now miss it.",
    ),
    ("action-parameter-range-narrowed", "breaking", "action", "An action parameter's range was narrowed."),
    (
        "action-parameter-range-widened",
        "behavioral",
        "action",
        "An action parameter's range was widened: consumers may see new values.",
    ),
    # rules
    ("rule-removed", "breaking", "rule", "A rule was removed (and no added rule is equivalent to it)."),
    ("rule-added", "behavioral", "rule", "A rule was added (and no removed rule is equivalent to it)."),
    (
        "rule-renamed",
        "behavioral",
        "rule",
        "A removed and an added rule decide alike: the rule was renamed (directives carry the new name).",
    ),
    (
        "rule-condition-widened",
        "behavioral",
        "rule",
        "The rule now fires on strictly more inputs (witness and region given).",
    ),
    (
        "rule-condition-narrowed",
        "behavioral",
        "rule",
        "The rule now fires on strictly fewer inputs (guard loosened; witness and region given).",
    ),
    (
        "rule-condition-changed",
        "behavioral",
        "rule",
        "The rule fires on some new inputs and no longer on others (witness for each direction).",
    ),
    (
        "rule-condition-undecided",
        "behavioral",
        "rule",
        "The condition changed and the solver could not decide whether it decides alike: review it.",
    ),
    ("rule-condition-rewritten", "cosmetic", "rule", "The condition was rewritten and is proven to decide alike."),
    ("rule-exit-changed", "behavioral", "rule", "The exit condition of a rule with hysteresis changed."),
    ("rule-hysteresis-changed", "behavioral", "rule", "A rule gained or lost its enter/exit hysteresis."),
    (
        "rule-for-changed",
        "behavioral",
        "rule",
        "How long the condition must hold (`for`) changed; shortened is a loosened guard.",
    ),
    (
        "rule-keep-changed",
        "behavioral",
        "rule",
        "How long the rule keeps firing after its condition clears (`keep`) changed.",
    ),
    ("rule-cooldown-changed", "behavioral", "rule", "The cooldown changed; shortened is a loosened guard."),
    ("rule-repeat-changed", "behavioral", "rule", "The repeat interval changed."),
    (
        "rule-rate-limit-changed",
        "behavioral",
        "rule",
        "The rate limit (`at most N per D`) changed; raised is a loosened guard.",
    ),
    ("rule-group-by-changed", "behavioral", "rule", "The keys the rule's state is kept per (`group by`) changed."),
    ("rule-window-changed", "behavioral", "rule", "The window of an aggregate the condition reads changed."),
    ("rule-aggregate-changed", "behavioral", "rule", "The aggregates the condition reads changed (function or field)."),
    (
        "rule-priority-changed",
        "behavioral",
        "rule",
        "The rule's priority changed (the order of its directives among others).",
    ),
    ("rule-impact-changed", "behavioral", "rule", "The rule's declared impact changed."),
    ("rule-action-added", "behavioral", "rule", "The rule emits an action it did not emit before."),
    ("rule-action-removed", "behavioral", "rule", "The rule no longer emits one of its actions."),
    ("rule-targets-changed", "behavioral", "rule", "The targets of one of the rule's actions changed."),
    ("rule-action-argument-changed", "behavioral", "rule", "An argument of one of the rule's actions changed."),
    (
        "rule-action-argument-rewritten",
        "cosmetic",
        "rule",
        "An argument was rewritten and is proven to have the same value.",
    ),
    (
        "rule-reason-changed",
        "cosmetic",
        "rule",
        "The rule's reason text changed (directives' rationale reads differently).",
    ),
    ("rule-metadata-changed", "cosmetic", "rule", "The rule's description, labels or justification changed."),
    (
        "rule-reordered",
        "cosmetic",
        "rule",
        "The rule moved within its policy; priorities decide the order of directives.",
    ),
    (
        "stream-changed",
        "behavioral",
        "policy",
        "Event-time settings changed (time field, lateness, dedup id, sequence, idle, stale).",
    ),
    # threat documents
    ("threat-mode-removed", "breaking", "mode", "A response mode was removed: consumers of the mode see it no more."),
    ("threat-mode-added", "behavioral", "mode", "A response mode was added."),
    (
        "threat-mode-threshold-changed",
        "behavioral",
        "mode",
        "A mode's enter or exit threshold changed; a higher enter is a loosened guard.",
    ),
    ("threat-mode-dwell-changed", "behavioral", "mode", "How long a mode must hold before it is left changed."),
    (
        "threat-source-removed",
        "behavioral",
        "source",
        "A risk source no longer feeds the ThreatIndex (guard loosened).",
    ),
    ("threat-source-added", "behavioral", "source", "A risk source now feeds the ThreatIndex."),
    ("threat-source-weight-changed", "behavioral", "source", "A risk source's weight changed."),
    ("threat-source-changed", "behavioral", "source", "A risk source's expression or scale changed."),
    (
        "threat-source-rewritten",
        "cosmetic",
        "source",
        "A risk source's expression was rewritten and is proven to have the same value.",
    ),
    ("threat-smoothing-changed", "behavioral", "threat", "The smoothing of the ThreatIndex changed."),
    (
        "threat-governor-changed",
        "behavioral",
        "governor",
        "A Fear-Paralysis Governor setting changed; a lower floor, more flips, a shorter dwell or fewer spared tiers loosen it.",
    ),
    # safety catalogs (docs/governance.md): a guard loosened is breaking, tightened behavioral
    ("safety-removed", "breaking", "safety", "A safety catalog of the base is gone from the head: none of its classes guards anything."),
    ("safety-added", "behavioral", "safety", "A safety catalog of the head is not in the base."),
    (
        "safety-metadata-changed",
        "cosmetic",
        "class",
        "Version, owner, description or labels of a catalog, or a class's description, reason or justification, changed.",
    ),
    (
        "safety-class-removed",
        "breaking",
        "class",
        "A class was removed: the actions it matched need none of its controls (guard loosened).",
    ),
    ("safety-class-added", "behavioral", "class", "A class was added: the actions it matches need its controls."),
    ("safety-risk-lowered", "breaking", "class", "A class's risk level was lowered (guard loosened)."),
    ("safety-risk-raised", "behavioral", "class", "A class's risk level was raised (guard tightened)."),
    (
        "safety-control-removed",
        "breaking",
        "class",
        "A class no longer requires a control: dual_control, justification, a hold, approvers or block (guard loosened).",
    ),
    ("safety-control-added", "behavioral", "class", "A class requires a new control (guard tightened)."),
    (
        "safety-control-weakened",
        "breaking",
        "class",
        "A control of a class was weakened: a shorter hold, fewer approvers of a role (guard loosened).",
    ),
    (
        "safety-control-strengthened",
        "behavioral",
        "class",
        "A control of a class was strengthened: a longer hold, more approvers of a role (guard tightened).",
    ),
    (
        "safety-enforcement-loosened",
        "breaking",
        "class",
        "A class's enforce (hard → soft → advisory) or mode (deny → warn → dryrun) was relaxed (guard loosened).",
    ),
    (
        "safety-enforcement-tightened",
        "behavioral",
        "class",
        "A class's enforce or mode was made stricter (guard tightened).",
    ),
    (
        "safety-condition-narrowed",
        "breaking",
        "class",
        "A class now matches strictly fewer actions (guard loosened; witness given).",
    ),
    (
        "safety-condition-widened",
        "behavioral",
        "class",
        "A class now matches strictly more actions (guard tightened; witness given).",
    ),
    (
        "safety-condition-changed",
        "breaking",
        "class",
        "A class matches other actions, or the solver could not decide how (guard loosened where it no longer matches).",
    ),
    (
        "safety-condition-rewritten",
        "cosmetic",
        "class",
        "A class's condition was rewritten and is proven to match the same actions.",
    ),
    (
        "safety-approvals-loosened",
        "breaking",
        "safety",
        "Approvals stay valid longer (`approvals expire after`) (guard loosened).",
    ),
    ("safety-approvals-tightened", "behavioral", "safety", "Approvals expire sooner (guard tightened)."),
    # governance documents (docs/governance.md): less human control is breaking
    ("governance-removed", "breaking", "governance", "A governance document of the base is gone from the head."),
    ("governance-added", "behavioral", "governance", "A governance document of the head is not in the base."),
    (
        "governance-metadata-changed",
        "cosmetic",
        "governance",
        "Version, owner, description or labels of a governance document changed.",
    ),
    (
        "governance-intent-loosened",
        "breaking",
        "intent",
        "An intent type moved to a tier of less human control (0, 4, 3, 1, 2 from most to least; guard loosened).",
    ),
    (
        "governance-intent-tightened",
        "behavioral",
        "intent",
        "An intent type moved to a tier of more human control (guard tightened).",
    ),
    ("governance-tier-loosened", "breaking", "tier", "A tier's min_alignment was lowered (guard loosened)."),
    ("governance-tier-tightened", "behavioral", "tier", "A tier's min_alignment was raised (guard tightened)."),
    ("governance-tier-routed-changed", "behavioral", "tier", "Where a tier routes its intents changed."),
    (
        "governance-priority-changed",
        "behavioral",
        "priority",
        "A mission priority was added, removed, or its weight or signal changed: alignments change.",
    ),
    (
        "governance-vote-loosened",
        "breaking",
        "vote",
        "The vote gives humans less control: removed, a lower quorum, voters removed, a longer deadline, "
        "ties that approve, signatures no longer required (guard loosened).",
    ),
    (
        "governance-vote-tightened",
        "behavioral",
        "vote",
        "The vote gives humans more control: added, a higher quorum, voters added, a shorter deadline, "
        "ties that reject, signatures required (guard tightened).",
    ),
    # tenant scoring documents: documents only, for now (a change inside one is "not supported yet")
    ("scoring-removed", "breaking", "scoring", "A scoring document of the base is gone from the head."),
    ("scoring-added", "behavioral", "scoring", "A scoring document of the head is not in the base."),
    # supervisor documents: documents only, for now (a change inside one is "not supported yet")
    ("supervisor-removed", "breaking", "supervisor", "A supervisor document of the base is gone from the head."),
    ("supervisor-added", "behavioral", "supervisor", "A supervisor document of the head is not in the base."),
    # fleets (`ballast.compiler.diff.fleet`): which clusters rollouts reach, and how they see them
    ("fleet-removed", "breaking", "fleet", "A fleet document of the base is gone from the head."),
    ("fleet-added", "behavioral", "fleet", "A fleet document of the head is not in the base."),
    ("fleet-metadata-changed", "cosmetic", "fleet", "Version, owner, description or labels of a fleet changed."),
    (
        "fleet-cluster-removed",
        "behavioral",
        "cluster",
        "A cluster left the fleet: rollouts of the fleet no longer reach it.",
    ),
    (
        "fleet-cluster-added",
        "behavioral",
        "cluster",
        "A cluster joined the fleet: rollouts whose selectors match it now reach it.",
    ),
    (
        "fleet-cluster-changed",
        "behavioral",
        "cluster",
        "A cluster's region, env, group, control plane, owner, capabilities, labels or SLO changed; leaving prod loosens its guards.",
    ),
    # rollouts (`ballast.compiler.diff.rollout`): loosened guards let a bad bundle reach more, sooner
    ("rollout-removed", "breaking", "rollout", "A rollout document of the base is gone from the head."),
    ("rollout-added", "behavioral", "rollout", "A rollout document of the head is not in the base."),
    (
        "rollout-metadata-changed",
        "cosmetic",
        "rollout",
        "Version, owner, description, labels or justification of a rollout changed.",
    ),
    ("rollout-target-changed", "behavioral", "setting", "The rollout's fleet, profile or target selector changed."),
    (
        "rollout-allow-loosened",
        "breaking",
        "setting",
        "The prod allowlist names more clusters (guard loosened).",
    ),
    ("rollout-allow-tightened", "behavioral", "setting", "The prod allowlist names fewer clusters (guard tightened)."),
    (
        "rollout-ceiling-loosened",
        "breaking",
        "setting",
        "The ceiling per blast-radius group was raised or removed (guard loosened).",
    ),
    (
        "rollout-ceiling-tightened",
        "behavioral",
        "setting",
        "The ceiling per blast-radius group was lowered or added (guard tightened).",
    ),
    (
        "rollout-rollback-loosened",
        "breaking",
        "setting",
        "The rollback policy rolls back less (always, on-deviation, never) (guard loosened).",
    ),
    (
        "rollout-rollback-tightened",
        "behavioral",
        "setting",
        "The rollback policy rolls back more (guard tightened).",
    ),
    (
        "rollout-wave-removed",
        "breaking",
        "wave",
        "A wave was removed: its clusters go with a later wave, with one stage less (guard loosened).",
    ),
    ("rollout-wave-added", "behavioral", "wave", "A wave was added: one stage more (guard tightened)."),
    ("rollout-waves-reordered", "behavioral", "rollout", "The waves run in another order."),
    (
        "rollout-wave-targets-changed",
        "behavioral",
        "wave",
        "A wave's selector, or the clusters it takes from the fleet, changed.",
    ),
    (
        "rollout-wave-loosened",
        "breaking",
        "wave",
        "A wave updates more clusters at once, tolerates more unavailable, bakes shorter or lost a gate (guard loosened).",
    ),
    (
        "rollout-wave-tightened",
        "behavioral",
        "wave",
        "A wave updates fewer clusters at once, tolerates fewer unavailable, bakes longer or gained a gate (guard tightened).",
    ),
    ("rollout-gate-removed", "breaking", "gate", "A gate was removed: no wave is judged by it (guard loosened)."),
    ("rollout-gate-added", "behavioral", "gate", "A gate was added (guard tightened)."),
    (
        "rollout-gate-loosened",
        "breaking",
        "gate",
        "A gate passes on more telemetry, fails on less, counts less or tolerates more (solver-decided; undecided counts as loosened).",
    ),
    (
        "rollout-gate-tightened",
        "behavioral",
        "gate",
        "A gate passes on less telemetry, fails on more, counts more or tolerates less (guard tightened).",
    ),
    # profiles (`ballast.compiler.diff.profile`): each setting's required value against its safety order
    (
        "profile-removed",
        "breaking",
        "profile",
        "A profile of the base is gone from the head: tenants that apply it fail.",
    ),
    ("profile-added", "behavioral", "profile", "A profile of the head is not in the base."),
    (
        "profile-metadata-changed",
        "cosmetic",
        "profile",
        "Version, owner, description, labels or change log of a profile changed.",
    ),
    (
        "profile-changed",
        "behavioral",
        "profile",
        "What a profile extends, its change windows or a setting's dependencies changed.",
    ),
    (
        "profile-setting-lowered",
        "behavioral",
        "setting",
        "A setting's required value moved down its safety order (guard loosened; --require-justification wants a justification in the change log).",
    ),
    (
        "profile-setting-raised",
        "behavioral",
        "setting",
        "A setting's required value moved up its safety order (guard tightened).",
    ),
    (
        "profile-setting-removed",
        "breaking",
        "setting",
        "A setting is no longer required: tenants may hold any value (guard loosened).",
    ),
    ("profile-setting-added", "behavioral", "setting", "A profile now requires a setting (guard tightened)."),
    (
        "profile-setting-changed",
        "breaking",
        "setting",
        "A setting's type or safety order changed: what counts as safe changed (guard loosened).",
    ),
    # simulator scenarios (`ballast.simulator.scenario_diff`): test fixtures, so only removing one breaks
    (
        "scenario-removed",
        "breaking",
        "scenario",
        "A scenario of the base is gone from the head: jobs that run it fail, and what it tested is not tested (guard loosened).",
    ),
    ("scenario-added", "behavioral", "scenario", "A scenario of the head is not in the base."),
    ("scenario-metadata-changed", "cosmetic", "scenario", "A scenario's description changed."),
    (
        "scenario-run-changed",
        "behavioral",
        "setting",
        "How the scenario runs changed: seed, start, duration, model step or telemetry interval.",
    ),
    ("scenario-policies-changed", "behavioral", "setting", "The policy files the scenario runs by default changed."),
    (
        "scenario-slo-changed",
        "behavioral",
        "setting",
        "What counts as an SLO breach changed; a higher latency or error-rate limit is a loosened guard.",
    ),
    ("scenario-pool-added", "behavioral", "pool", "A pool was added to the simulated mesh."),
    ("scenario-pool-removed", "behavioral", "pool", "A pool was removed from the simulated mesh."),
    (
        "scenario-pool-changed",
        "behavioral",
        "pool",
        "A pool's class, region, workers, service time, demand, queue limit, subscriptions or cost changed.",
    ),
    (
        "scenario-load-changed",
        "behavioral",
        "setting",
        "The load profile changed: the diurnal amplitude or a load step.",
    ),
    (
        "scenario-risk-changed",
        "behavioral",
        "setting",
        "The background risk signals changed (TRP level, noise, reversion, CVE score).",
    ),
    (
        "scenario-actuation-changed",
        "behavioral",
        "setting",
        "How long the simulated mesh takes to carry out directives, or how long they hold, changed.",
    ),
    (
        "scenario-supervisor-changed",
        "behavioral",
        "setting",
        "The meta-loop supervisor's section changed: added, removed, or how often it runs and how long it judges outcomes.",
    ),
    ("scenario-fault-added", "behavioral", "fault", "A fault is now injected (guard tightened)."),
    (
        "scenario-fault-removed",
        "behavioral",
        "fault",
        "A fault is no longer injected: the policies are no longer tested against it (guard loosened).",
    ),
    (
        "scenario-fault-changed",
        "behavioral",
        "fault",
        "A fault's kind, start, duration, target or parameters changed; shorter or milder is a loosened guard.",
    ),
    (
        "scenario-probe-added",
        "behavioral",
        "probe",
        "A probe was added to the steady-state hypothesis (guard tightened).",
    ),
    (
        "scenario-probe-removed",
        "behavioral",
        "probe",
        "A probe was removed from the steady-state hypothesis (guard loosened).",
    ),
    (
        "scenario-probe-changed",
        "behavioral",
        "probe",
        "A probe's metric, pool, phase or tolerance changed; a lower min, a higher max, a narrower phase or allow_empty loosen it.",
    ),
    ("scenario-probe-renamed", "cosmetic", "probe", "A probe was renamed and checks the same."),
    ("scenario-stop-changed", "behavioral", "stop", "A stop condition was added, removed or changed."),
    ("scenario-gate-added", "behavioral", "gate", "A shadow gate now judges a KPI (guard tightened)."),
    ("scenario-gate-removed", "behavioral", "gate", "A shadow gate no longer judges its KPI (guard loosened)."),
    (
        "scenario-gate-changed",
        "behavioral",
        "gate",
        "A shadow gate's criterion changed; better to better-or-same to not-worse, or a wider within margin, loosens it.",
    ),
    # configuration files under a JSON Schema (`ballast.compiler.diff.config`, with --schema)
    (
        "config-removed",
        "breaking",
        "config",
        "A configuration file of the base is gone from the head: its readers find nothing.",
    ),
    ("config-added", "behavioral", "config", "A configuration file of the head is not in the base."),
    (
        "config-key-removed",
        "breaking",
        "key",
        "A key with no default in the schema was removed: its readers now get nothing.",
    ),
    ("config-key-added", "behavioral", "key", "A key with no default in the schema was added."),
    (
        "config-value-changed",
        "behavioral",
        "key",
        "A value changed (numbers say up or down); a key dropped for its schema default counts as changed to it.",
    ),
    ("config-flag-toggled", "behavioral", "key", "A boolean changed: a feature enabled or disabled."),
    (
        "config-type-changed",
        "breaking",
        "key",
        "A value's JSON type changed (the schema allows both): its readers must handle the new type.",
    ),
    (
        "config-item-added",
        "behavioral",
        "item",
        "An item was added to a list whose items are identified by id or name.",
    ),
    (
        "config-item-removed",
        "breaking",
        "item",
        "An item of a list identified by id or name was removed: readers that look it up find nothing.",
    ),
    (
        "config-items-reordered",
        "behavioral",
        "key",
        "The items of a list identified by id or name are in another order (readers may take the first match).",
    ),
    (
        "config-list-changed",
        "behavioral",
        "key",
        "A list without identities (scalars, or objects with no id or name) gained, lost or reordered items.",
    ),
)


@dataclass
class Position:
    file: str
    line: int
    column: int

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "column": self.column}

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass
class Finding:
    """One change, an instance of `CHECKS[id]`."""

    id: str
    kind: str  # the document kind: policy, threat, …
    document: str  # the document's name
    subject: str  # the rule, field, action, mode, source…; "" for the document itself
    message: str
    base: Position | None = None
    head: Position | None = None
    confidence: str = "structural"
    tags: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)
    level: str = ""  # from the catalog, unless a severity override changed it

    def __post_init__(self) -> None:
        if self.id not in CHECKS:
            raise KeyError(f"no check {self.id!r} in the catalog")
        if not self.level:
            self.level = CHECKS[self.id].level

    @property
    def key(self) -> str:
        """What identifies the finding across runs (ignore files and `--since` match on it)."""
        return "/".join(part for part in (self.id, self.document, self.subject) if part)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "key": self.key,
            "id": self.id,
            "level": self.level,
            "kind": self.kind,
            "document": self.document,
            "subject": self.subject,
            "message": self.message,
            "confidence": self.confidence,
            "tags": list(self.tags),
            "base": self.base.to_json() if self.base else None,
            "head": self.head.to_json() if self.head else None,
        }
        if self.details:
            out["details"] = self.details
        return out


def position(file: str, at: list[int] | None) -> Position | None:
    """A finding's position from an IR node's `at` ([line, column, end line, end column])."""
    if not at:
        return None
    return Position(file, at[0], at[1])


def severity_rank(level: str) -> int:
    """0 for breaking, 1 behavioral, 2 cosmetic: lower is more severe."""
    return LEVELS.index(level)
