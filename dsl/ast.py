"""The syntax tree of policy documents: frozen dataclasses, each with the span it came from.

Both front-ends (the `.bal` grammar and the YAML form) build these same nodes, so every later
pass is shared. Nothing here knows about types or code; the checker turns expressions into IR.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ballast.runtime.errors import Span

# ---- expressions ----


@dataclass(frozen=True, slots=True)
class Literal:
    kind: str  # "int" | "float" | "string" | "bool" | "null" | "duration"
    value: object  # durations are float seconds
    span: Span
    text: str = ""  # the literal as written (durations keep "5m" for the formatter)


@dataclass(frozen=True, slots=True)
class Name:
    name: str
    span: Span


@dataclass(frozen=True, slots=True)
class Attribute:
    obj: Expr
    name: str
    span: Span
    name_span: Span


@dataclass(frozen=True, slots=True)
class Index:
    obj: Expr
    index: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Call:
    func: str
    args: tuple[Expr, ...]
    span: Span
    func_span: Span
    method: bool = False  # written `x.f(y)`: args[0] is the receiver


@dataclass(frozen=True, slots=True)
class Unary:
    op: str  # "!" | "-"
    operand: Expr
    span: Span
    keyword: bool = False  # written `not`


@dataclass(frozen=True, slots=True)
class Binary:
    op: str  # "+" | "-" | "*" | "/" | "%"
    left: Expr
    right: Expr
    span: Span
    op_span: Span


@dataclass(frozen=True, slots=True)
class Logical:
    op: str  # "&&" | "||"
    left: Expr
    right: Expr
    span: Span
    keyword: bool = False  # written `and` / `or`


@dataclass(frozen=True, slots=True)
class Compare:
    """`a OP b`, or a chain `a OP b OP c` that the checker rejects with a hint."""

    ops: tuple[str, ...]
    operands: tuple[Expr, ...]
    span: Span
    op_spans: tuple[Span, ...]


@dataclass(frozen=True, slots=True)
class Conditional:
    cond: Expr
    then: Expr
    otherwise: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class ListLiteral:
    items: tuple[Expr, ...]
    span: Span


Expr = Literal | Name | Attribute | Index | Call | Unary | Binary | Logical | Compare | Conditional | ListLiteral


def children(node: Expr) -> tuple[Expr, ...]:
    """The direct sub-expressions of `node`, in source order."""
    match node:
        case Attribute(obj=obj):
            return (obj,)
        case Index(obj=obj, index=index):
            return (obj, index)
        case Call(args=args):
            return args
        case Unary(operand=operand):
            return (operand,)
        case Binary(left=left, right=right) | Logical(left=left, right=right):
            return (left, right)
        case Compare(operands=operands):
            return operands
        case Conditional(cond=c, then=t, otherwise=o):
            return (c, t, o)
        case ListLiteral(items=items):
            return items
    return ()


def walk(node: Expr):
    """Every node of the expression, parents before children."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(children(current)))


# ---- types as written ----


@dataclass(frozen=True, slots=True)
class NamedType:
    name: str
    span: Span


@dataclass(frozen=True, slots=True)
class EnumType:
    values: tuple[str, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class ListType:
    element: TypeExpr
    span: Span


@dataclass(frozen=True, slots=True)
class MapType:
    key: TypeExpr
    value: TypeExpr
    span: Span


@dataclass(frozen=True, slots=True)
class RecordType:
    fields: tuple[Field, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class RangeType:
    base: TypeExpr
    low: float
    high: float
    span: Span
    low_text: str = ""
    high_text: str = ""


TypeExpr = NamedType | EnumType | ListType | MapType | RecordType | RangeType


# ---- declarations ----


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    type: TypeExpr
    optional: bool
    span: Span


@dataclass(frozen=True, slots=True)
class StringValue:
    """A string as written in a declaration, with the span of its text (quotes excluded)."""

    value: str
    span: Span


@dataclass(frozen=True, slots=True)
class Import:
    path: StringValue
    span: Span


@dataclass(frozen=True, slots=True)
class Input:
    name: str
    fields: tuple[Field, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class TypeAlias:
    name: str
    type: TypeExpr
    span: Span


@dataclass(frozen=True, slots=True)
class Const:
    name: str
    type: TypeExpr | None
    value: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Let:
    name: str
    value: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    type: TypeExpr
    optional: bool
    default: Expr | None
    span: Span


@dataclass(frozen=True, slots=True)
class ActionDecl:
    name: str
    params: tuple[Param, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Argument:
    name: str
    value: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class ActionCall:
    name: str
    args: tuple[Argument, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Label:
    key: str
    value: str
    span: Span


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    span: Span
    when: Expr | None = None
    then: tuple[ActionCall, ...] = ()
    priority: int | None = None
    priority_span: Span | None = None
    impact: str | None = None
    impact_span: Span | None = None
    reason: StringValue | None = None
    labels: tuple[Label, ...] = ()
    description: str = ""
    # Why loosening this rule's guard is safe, for reviewers (`ballast diff --require-justification`);
    # "" when not written. The span is the text's, quotes excluded, so a diff can point at it.
    justification: str = ""
    justification_span: Span | None = None
    # The clauses written more than once, reported by the resolver (the grammar cannot).
    repeated: tuple[tuple[str, Span], ...] = ()
    # (clause, first line, last line) as written, so the formatter keeps comments beside them.
    clause_lines: tuple[tuple[str, int, int], ...] = ()
    # Time (stateful rules): the key fields, enter/exit conditions (hysteresis) and durations.
    group_by: tuple[str, ...] = ()
    group_span: Span | None = None
    enter: Expr | None = None
    exit: Expr | None = None
    hold: Duration | None = None  # `for 30s`
    keep: Duration | None = None
    cooldown: Duration | None = None
    limit: tuple[int, Duration] | None = None  # `at most 10 per 1m`
    limit_span: Span | None = None
    repeat: Duration | None = None  # `repeat every 5m`: re-issue while firing
    # Graded enforcement (runtime/enforcement.py): "" when not written (hard, deny).
    enforce: str = ""
    enforce_span: Span | None = None
    mode: str = ""
    mode_span: Span | None = None

    @property
    def stateful(self) -> bool:
        clauses = (self.group_by, self.enter, self.exit, self.hold, self.keep, self.cooldown, self.limit, self.repeat)
        return any(bool(c) for c in clauses)


@dataclass(frozen=True, slots=True)
class Duration:
    """A duration as written in a clause (`for 30s`): seconds, the text, where."""

    seconds: float
    text: str
    span: Span


@dataclass(frozen=True, slots=True)
class Stream:
    """How a policy reads time from its events (the `stream { … }` block)."""

    span: Span
    time: str = ""
    time_span: Span | None = None
    id: str = ""
    id_span: Span | None = None
    lateness: Duration | None = None
    sequence: str = ""
    sequence_by: str = ""
    sequence_span: Span | None = None
    idle: Duration | None = None
    stale: Duration | None = None  # `stale after 5m`; None: the runtime's default
    # (setting, span of its keyword) as written: `lateness`, `idle`, ….
    keywords: tuple[tuple[str, Span], ...] = ()


@dataclass(frozen=True, slots=True)
class Source:
    """A threat source: `source trp weight 0.6 from risk scale [0, 100]`."""

    name: str
    weight: float
    value: Expr
    span: Span
    low: float | None = None
    high: float | None = None
    # Where each part is written, so an error points at the part that is wrong.
    name_span: Span | None = None
    weight_span: Span | None = None
    scale_span: Span | None = None  # `scale [low, high]`


@dataclass(frozen=True, slots=True)
class Smooth:
    alpha: float
    span: Span
    alpha_span: Span | None = None


@dataclass(frozen=True, slots=True)
class Mode:
    """`mode heightened when index >= 40 exit below 35 dwell 2m`."""

    name: str
    op: str
    enter: float
    exit: float
    span: Span
    dwell: Duration | None = None
    name_span: Span | None = None
    op_span: Span | None = None
    enter_span: Span | None = None
    exit_span: Span | None = None


@dataclass(frozen=True, slots=True)
class Governor:
    """The Fear-Paralysis Governor: the floor under lockdown, flip limits, dwell, spared targets."""

    span: Span
    floor: float | None = None
    max_flips: int | None = None
    flips_per: Duration | None = None
    spare: tuple[str, ...] = ()
    dwell: Duration | None = None
    # (setting, span) as written, repeats included: for duplicate checks, positions, the formatter.
    items: tuple[tuple[str, Span], ...] = ()
    # (setting, span of its value) in the same order: the floor's number, max_flips' count, the
    # spared classes, the dwell.
    values: tuple[tuple[str, Span], ...] = ()


# ---- safety catalogs ----


@dataclass(frozen=True, slots=True)
class Control:
    """One control a safety class requires: `dual_control`, `justification`, `hold 10m`,
    `approvers role "dba" count 2` or `block`."""

    kind: str  # "dual_control" | "justification" | "hold" | "approvers" | "block"
    span: Span
    hold: Duration | None = None
    role: StringValue | None = None
    count: int | None = None
    count_span: Span | None = None


@dataclass(frozen=True, slots=True)
class SafetyClass:
    """A class of high-risk action in a safety catalog: `class mass_delete { when … risk high … }`."""

    name: str
    span: Span
    name_span: Span | None = None
    when: Expr | None = None
    risk: str = ""
    risk_span: Span | None = None
    controls: tuple[Control, ...] = ()
    enforce: str = ""  # "" when not written: hard
    enforce_span: Span | None = None
    mode: str = ""  # "" when not written: deny
    mode_span: Span | None = None
    reason: StringValue | None = None
    description: str = ""
    justification: str = ""
    justification_span: Span | None = None
    # The clauses written more than once (`require` may be), reported by the resolver.
    repeated: tuple[tuple[str, Span], ...] = ()


# ---- fleets and rollouts ----


@dataclass(frozen=True, slots=True)
class Percent:
    """`25%` as written in a setting."""

    value: float
    text: str


# A setting's value: a string, a number, a duration, a percentage, a list of words, a map.
SettingValue = str | float | Duration | Percent | tuple[str, ...] | tuple[Label, ...]


@dataclass(frozen=True, slots=True)
class Setting:
    """`name value` in a fleet or rollout block: `region "eu-west"`, `bake 10m`, `max_update 25%`.

    `kind` says which form was written ("string", "number", "duration", "percent", "list", "map"),
    so the kind that reads the setting can say what it expected instead."""

    name: str
    kind: str
    value: SettingValue
    span: Span
    name_span: Span
    value_span: Span


@dataclass(frozen=True, slots=True)
class Cluster:
    """`cluster "eu-west-1" { region "eu-west" env "prod" … }` in a fleet."""

    id: str
    span: Span
    id_span: Span
    settings: tuple[Setting, ...] = ()
    owner: str = ""
    owner_span: Span | None = None
    labels: tuple[Label, ...] = ()


@dataclass(frozen=True, slots=True)
class GovernanceBlock:
    """A labelled block of settings: `tier 3 { … }`, `priority resilience { … }` or `vote { … }` in
    a governance document, `window standard { … }` in a profile: `keyword` says which, `label` is
    the tier number, the priority's name or the tenant class ("" for a vote)."""

    keyword: str
    label: str
    span: Span
    label_span: Span
    settings: tuple[Setting, ...] = ()


@dataclass(frozen=True, slots=True)
class ScoringBlock:
    """`signal NAME { … }`, `profile NAME { … }` or, inside a profile, `badge NAME { … }` in a
    scoring document: `keyword` says which; a profile also holds its badges and justifications
    (every one written, so the kind can report a second)."""

    keyword: str
    label: str
    span: Span
    label_span: Span
    settings: tuple[Setting, ...] = ()
    badges: tuple[ScoringBlock, ...] = ()
    justifications: tuple[Justification, ...] = ()


@dataclass(frozen=True, slots=True)
class SafetyOrder:
    """How a profile setting's values rank by safety.

    `form` is "higher" or "lower" (`higher is safer`: numbers and durations), "true" or "false"
    (`true is safer`: booleans), "exact" (only the required value is safe: strings), "chain"
    (`order required > optional > off`) or "partial" (`order { eu > any, us > any }`). `pairs`
    holds the declared (safer, less safe) pairs of a chain or a partial order, in written order."""

    form: str
    span: Span
    pairs: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class ProfileValue:
    """A profile setting's `value`: `form` is "number", "duration", "string" or "name" (a bare
    word: an enum value, `true`, `false`)."""

    form: str
    value: str | float | Duration
    text: str
    span: Span


@dataclass(frozen=True, slots=True)
class ProfileSetting:
    """`setting retention: int days { higher is safer value 30 }` in a profile."""

    name: str
    type: str
    unit: str
    span: Span
    name_span: Span
    type_span: Span
    orders: tuple[SafetyOrder, ...] = ()
    values: tuple[ProfileValue, ...] = ()
    after: tuple[tuple[str, Span], ...] = ()
    remediation: str = ""
    description: str = ""


@dataclass(frozen=True, slots=True)
class Extends:
    """`extends baseline`: the profile a profile raises."""

    name: str
    span: Span
    name_span: Span


@dataclass(frozen=True, slots=True)
class ChangeEntry:
    """`change "2" on "2026-11-15" "what changed" justification "why"`: one change-log entry."""

    version: StringValue
    date: StringValue
    text: str
    span: Span
    justification: str = ""


@dataclass(frozen=True, slots=True)
class DirectiveTemplate:
    """`directive adjust_threshold { parameter "retry.min_confidence" step 0.05 }` in a meta-policy."""

    type: str
    span: Span
    type_span: Span
    settings: tuple[Setting, ...] = ()


@dataclass(frozen=True, slots=True)
class SupervisorBlock:
    """`goal KPI { … }`, `meta_policy NAME { … }`, `approval LEVEL { … }` or `verify { … }` in a
    supervisor document: `keyword` says which, `label` is the KPI, policy or level ("" for verify).
    A meta-policy also has its `when` condition, its directive template and its `impact`."""

    keyword: str
    label: str
    span: Span
    label_span: Span
    settings: tuple[Setting, ...] = ()
    when: Expr | None = None
    directive: DirectiveTemplate | None = None
    impact: str = ""
    impact_span: Span | None = None
    # The clauses written more than once (`when`, `directive`, `impact`), for the resolver.
    repeated: tuple[tuple[str, Span], ...] = ()


@dataclass(frozen=True, slots=True)
class Select:
    """`select <condition over a cluster>`, in a rollout or one of its waves."""

    condition: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Gate:
    """`gate health { pass when … fail when … interval 1m count 5 … }` in a rollout."""

    name: str
    span: Span
    name_span: Span
    passes: Expr | None = None
    fails: Expr | None = None
    settings: tuple[Setting, ...] = ()
    # The `pass when` / `fail when` clauses written more than once, for the resolver.
    repeated: tuple[tuple[str, Span], ...] = ()


@dataclass(frozen=True, slots=True)
class Approvals:
    """`approvals expire after 15m`: how long a preflight's approvals stay valid."""

    expire: Duration
    span: Span


@dataclass(frozen=True, slots=True)
class Wave:
    """`wave canary { select … max_update 1 bake 10m gates [health] }` in a rollout."""

    name: str
    span: Span
    name_span: Span
    select: Select | None = None
    settings: tuple[Setting, ...] = ()
    repeated: tuple[tuple[str, Span], ...] = ()


@dataclass(frozen=True, slots=True)
class Justification:
    """A rollout's `justification "…"`: why loosened guards in its bundle are acceptable."""

    text: StringValue
    span: Span


Item = (
    Import
    | Input
    | TypeAlias
    | Const
    | Let
    | ActionDecl
    | Rule
    | Stream
    | Source
    | Smooth
    | Mode
    | Governor
    | GovernanceBlock
    | ScoringBlock
    | ProfileSetting
    | Extends
    | ChangeEntry
    | SupervisorBlock
    | SafetyClass
    | Approvals
    | Cluster
    | Select
    | Gate
    | Wave
    | Setting
    | Justification
)


@dataclass(frozen=True, slots=True)
class Document:
    """One file: a `policy` (evaluated), a `module` (imported by policies), a `threat`, a `fleet`
    or a `rollout`."""

    kind: str  # "policy" | "module" | "threat" | "safety" | "fleet" | "rollout" | "governance" | "scoring" | "profile" | "supervisor"
    name: str
    span: Span
    file: str
    version: StringValue | None = None
    owner: str = ""
    description: str = ""
    labels: tuple[Label, ...] = ()
    items: tuple[Item, ...] = ()
    comments: tuple[tuple[int, int, str], ...] = field(default=(), compare=False)

    def of(self, kind: type) -> list:
        return [item for item in self.items if isinstance(item, kind)]
