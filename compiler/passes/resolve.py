"""Pass `resolve`: follow imports, build each policy's symbol tables, and check every name.

After this pass every name an expression uses is an input field, a constant, a condition
(`let`) or a builtin, every type expression is a semantic type, and every action a rule calls is
declared. What remains for `check-types` is the types themselves.

The pass hands each document to its kind (`ballast.compiler.kinds`). The symbol tables every
kind builds on (`PolicyModel`, `merge`, `resolve_type`) and the policy's own checks live here.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ballast.compiler import types as T
from ballast.compiler.passes.parse import load_document
from ballast.dsl import ast
from ballast.runtime.enforcement import ENFORCE_LEVELS, MODES
from ballast.runtime.errors import ErrorList, Span
from ballast.runtime.suggest import did_you_mean

if TYPE_CHECKING:
    from ballast.compiler.pipeline import Compilation

IMPACTS = ("minimal", "low", "moderate", "high", "critical")
FUNCTIONS = (
    "abs",
    "min",
    "max",
    "len",
    "lower",
    "upper",
    "startswith",
    "endswith",
    "contains",
    "matches",
    "round",
    "clamp",
    "has",
    "int",
    "float",
    "string",
)


@dataclass(frozen=True, slots=True)
class ParamSig:
    name: str
    type: T.Type
    optional: bool = False
    default: ast.Expr | None = None
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True, slots=True)
class ActionSig:
    name: str
    params: tuple[ParamSig, ...]
    builtin: bool
    span: Span | None = None

    def param(self, name: str) -> ParamSig | None:
        return next((p for p in self.params if p.name == name), None)


_ONE = ast.Literal("int", 1, Span("<builtin>", 1, 1, 1, 2), "1")
_HUNDRED = ast.Literal("float", 100.0, Span("<builtin>", 1, 1, 1, 4), "100.0")

# The seeds' four orchestration actions (MOTB FR-M3). Every action names its targets.
BUILTIN_ACTIONS = {
    "scale": ActionSig("scale", (ParamSig("targets", T.SELECTOR), ParamSig("by", T.INT, default=_ONE)), True),
    "pause": ActionSig(
        "pause", (ParamSig("targets", T.SELECTOR), ParamSig("duration", T.DURATION, optional=True)), True
    ),
    "downgrade": ActionSig(
        "downgrade", (ParamSig("targets", T.SELECTOR), ParamSig("level", T.INT, default=_ONE)), True
    ),
    "reroute": ActionSig(
        "reroute",
        (
            ParamSig("targets", T.SELECTOR),
            ParamSig("to", T.STRING),
            ParamSig("percent", T.FLOAT, default=_HUNDRED, low=0.0, high=100.0),
        ),
        True,
    ),
}

NAMED_TYPES = {
    "int": T.INT,
    "float": T.FLOAT,
    "string": T.STRING,
    "bool": T.BOOL,
    "duration": T.DURATION,
    "timestamp": T.TIMESTAMP,
    "selector": T.SELECTOR,
}


@dataclass
class PolicyModel:
    """One policy with its imports merged: the symbol tables later passes look names up in."""

    document: ast.Document
    input_name: str = ""
    input: T.RecordT = field(default_factory=lambda: T.RecordT(()))
    field_spans: dict[str, Span] = field(default_factory=dict)
    types: dict[str, T.Type] = field(default_factory=dict)
    type_syntax: dict[str, ast.TypeAlias] = field(default_factory=dict)
    type_bounds: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    consts: dict[str, ast.Const] = field(default_factory=dict)
    lets: dict[str, ast.Let] = field(default_factory=dict)
    actions: dict[str, ActionSig] = field(default_factory=lambda: dict(BUILTIN_ACTIONS))
    rules: list[ast.Rule] = field(default_factory=list)
    const_types: dict[str, T.Type] = field(default_factory=dict)  # filled by check-types
    # An import failed (missing, unparsable, or a policy): the names, types and actions it would
    # have declared are unknown, so unknown ones are not reported; the import's error is enough.
    incomplete: bool = False

    def names(self) -> list[str]:
        return [f.name for f in self.input.fields] + list(self.consts) + list(self.lets)


def suggest(name: str, candidates: list[str]) -> str:
    """`did you mean 'x'?`, or nothing when no candidate is close (`runtime.suggest`)."""
    return did_you_mean(name, candidates)


def run(compilation: Compilation) -> None:
    """Each document to its kind (`ballast.compiler.kinds`), then each kind's checks across documents."""
    errors = ErrorList()
    for document in compilation.documents:
        compilation.kind_of(document).resolve(compilation, document, errors)
    for kind in compilation.kinds:
        kind.check_across(compilation, errors)
    compilation.diagnostics.extend(errors.items)


def resolve_policy(compilation: Compilation, document: ast.Document, errors: ErrorList) -> PolicyModel | None:
    """The symbol tables of a policy, its names and clauses checked; None for a module."""
    if document.kind != "policy":
        # A module's conditions read the input of the policy importing it, so its names are
        # checked there; alone, its structure and declarations are.
        merge(compilation, PolicyModel(document), document, errors, chain=[document.file])
        return None
    model = PolicyModel(document)
    merge(compilation, model, document, errors, chain=[document.file])
    _check_rules(model, errors)
    _check_stream(model, errors)
    check_names(model, errors)
    return model


def merge(
    compilation: Compilation, model: PolicyModel, document: ast.Document, errors: ErrorList, chain: list[str]
) -> None:
    """Add a document's declarations to the model, its imports first (depth first)."""
    declared: dict[str, Span] = {}
    for item in document.items:
        if isinstance(item, ast.Import):
            _import(compilation, model, document, item, errors, chain)
    # Type aliases first, so a field may use an alias declared further down; an alias may use
    # another alias declared anywhere (resolved on first use, cycles reported).
    for item in document.of(ast.TypeAlias):
        if item.name in model.type_syntax or item.name in NAMED_TYPES:
            errors.error("duplicate", f"type '{item.name}' is declared twice", item.span, "rename one of them")
        else:
            model.type_syntax[item.name] = item
    for item in document.of(ast.TypeAlias):
        if model.type_syntax.get(item.name) is item:
            alias_type(item.name, model, errors)
    for item in document.items:
        match item:
            case ast.Input():
                if document.kind == "module":
                    errors.error(
                        "declaration",
                        "a module cannot declare an input",
                        item.span,
                        "declare the input in the policy that imports the module",
                    )
                elif model.input_name:
                    errors.error(
                        "duplicate",
                        f"second input '{item.name}': a policy has one input",
                        item.span,
                        "merge the fields into one input block",
                    )
                else:
                    model.input_name = item.name
                    fields = []
                    for f in item.fields:
                        if _declare(f.name, f.span, declared, model, errors):
                            fields.append(_field(f, model, errors))
                            model.field_spans[f.name] = f.span
                    model.input = T.RecordT(tuple(fields))
            case ast.TypeAlias():
                pass  # declared above, before anything that may use them
            case ast.Const():
                if _declare(item.name, item.span, declared, model, errors):
                    model.consts[item.name] = item
            case ast.Let():
                if _declare(item.name, item.span, declared, model, errors):
                    model.lets[item.name] = item
            case ast.ActionDecl():
                if item.name in model.actions:
                    what = "a builtin action" if model.actions[item.name].builtin else "declared twice"
                    errors.error("duplicate", f"action '{item.name}' is {what}", item.span, "choose another name")
                else:
                    model.actions[item.name] = _action(item, model, errors)
            case ast.Rule():
                if document.kind == "module":
                    errors.error("declaration", "a module cannot hold rules", item.span, "move the rule into a policy")
                else:
                    model.rules.append(item)


def _declare(name: str, span: Span, declared: dict[str, Span], model: PolicyModel, errors: ErrorList) -> bool:
    if name in declared or name in model.consts or name in model.lets or model.input.field(name):
        errors.error(
            "duplicate", f"'{name}' is declared twice", span, "each field, constant and condition needs its own name"
        )
        return False
    if name in FUNCTIONS:
        errors.error("reserved", f"'{name}' is the name of a builtin function", span, "choose another name")
        return False
    declared[name] = span
    return True


def _import(
    compilation: Compilation,
    model: PolicyModel,
    document: ast.Document,
    item: ast.Import,
    errors: ErrorList,
    chain: list[str],
) -> None:
    path = import_path(compilation, document.file, item.path.value)
    if path in chain:
        cycle = " → ".join([*chain, path])
        errors.error(
            "import",
            f"import cycle: {cycle}",
            item.path.span,
            "break the cycle by moving shared declarations into one module",
        )
        return
    imported = compilation.modules.get(path)
    if imported is None:
        imported = load_document(compilation, path, item.path.span)
        if imported is None:
            model.incomplete = True
            return
        compilation.modules[path] = imported
    if imported.kind != "module":
        errors.error(
            "import",
            f"'{item.path.value}' is a policy; only modules can be imported",
            item.path.span,
            "declare shared constants, conditions and actions in a `module` file",
        )
        model.incomplete = True
        return
    merge(compilation, model, imported, errors, [*chain, path])


def import_path(compilation: Compilation, importer: str, target: str) -> str:
    """The path an `import` names: relative to the importing file's folder. A file given in
    memory under a git name, `REF:path` (`ballast diff HEAD:p.bal …`), imports within the same
    revision: `HEAD:p.bal` imports "lib/x.bal" as `HEAD:lib/x.bal`, never the work tree's file."""
    if Path(target).is_absolute():
        return target
    ref, colon, inside = importer.partition(":")
    if importer in compilation.in_memory and colon and ref and inside:
        return f"{ref}:{posixpath.normpath(posixpath.join(posixpath.dirname(inside), target))}"
    return str(Path(importer).parent / target)


def _field(f: ast.Field, model: PolicyModel, errors: ErrorList) -> T.FieldT:
    resolved = resolve_type(f.type, model, errors)
    low, high = bounds(f.type, model)
    return T.FieldT(f.name, resolved, f.optional, low, high)


def bounds(type_expr: ast.TypeExpr, model: PolicyModel) -> tuple[float | None, float | None]:
    """The numeric range a type as written declares, through aliases: (None, None) for none."""
    if isinstance(type_expr, ast.RangeType):
        return type_expr.low, type_expr.high
    if isinstance(type_expr, ast.NamedType):
        return model.type_bounds.get(type_expr.name, (None, None))
    return None, None


def alias_type(name: str, model: PolicyModel, errors: ErrorList) -> T.Type:
    """The type an alias names, resolved once; a cycle of aliases is reported and reads as any."""
    if name in model.types:
        return model.types[name]
    alias = model.type_syntax[name]
    model.types[name] = T.ANY  # guards cycles: a second visit sees `any`
    if _mentions(alias.type, name, model, set()):
        errors.error(
            "cycle",
            f"type '{name}' is defined in terms of itself",
            alias.span,
            "recursive types are not supported: an event is a finite JSON value, so spell the nesting out",
        )
        return T.ANY
    model.types[name] = resolve_type(alias.type, model, errors)
    model.type_bounds[name] = bounds(alias.type, model)
    return model.types[name]


def _mentions(type_expr: ast.TypeExpr, name: str, model: PolicyModel, seen: set[str]) -> bool:
    match type_expr:
        case ast.NamedType(name=other):
            if other == name:
                return True
            if other in seen or other not in model.type_syntax:
                return False
            seen.add(other)
            return _mentions(model.type_syntax[other].type, name, model, seen)
        case ast.ListType(element=inner) | ast.RangeType(base=inner):
            return _mentions(inner, name, model, seen)
        case ast.MapType(value=inner):
            return _mentions(inner, name, model, seen)
        case ast.RecordType(fields=fields):
            return any(_mentions(f.type, name, model, seen) for f in fields)
    return False


def resolve_type(type_expr: ast.TypeExpr, model: PolicyModel, errors: ErrorList) -> T.Type:
    """The semantic type of a type as written; unknown names are reported and read as `any`."""
    match type_expr:
        case ast.NamedType(name=name, span=span):
            if name in NAMED_TYPES:
                return NAMED_TYPES[name]
            if name in model.type_syntax:
                return alias_type(name, model, errors)
            if model.incomplete:
                return T.ANY
            candidates = list(NAMED_TYPES) + list(model.type_syntax)
            hint = suggest(name, candidates) or "types are " + ", ".join(candidates)
            errors.error("type", f"unknown type '{name}'", span, hint)
            return T.ANY
        case ast.EnumType(values=values, span=span):
            if len(set(values)) != len(values):
                errors.error("duplicate", "an enum value is listed twice", span, "list each value once")
            return T.EnumT(values)
        case ast.ListType(element=element):
            return T.ListT(resolve_type(element, model, errors), *bounds(element, model))
        case ast.MapType(key=key, value=value, span=span):
            if resolve_type(key, model, errors) != T.STRING:
                errors.error("type", "map keys must be strings", span, "write map<string, T>")
            return T.MapT(resolve_type(value, model, errors), *bounds(value, model))
        case ast.RecordType(fields=fields):
            seen: set[str] = set()
            out = []
            for f in fields:
                if f.name in seen:
                    errors.error("duplicate", f"field '{f.name}' is declared twice", f.span, "")
                    continue
                seen.add(f.name)
                out.append(_field(f, model, errors))
            return T.RecordT(tuple(out))
        case ast.RangeType(base=base, span=span):
            if type_expr.low > type_expr.high:
                errors.error(
                    "range",
                    f"empty range [{type_expr.low_text}, {type_expr.high_text}]",
                    span,
                    "write the lower bound first",
                )
            resolved = resolve_type(base, model, errors)
            if not T.is_numeric(resolved) and resolved != T.DURATION:
                errors.error(
                    "type",
                    f"a range needs a number type, not {resolved}",
                    span,
                    "ranges apply to int, float and duration",
                )
            return resolved
    raise AssertionError(type_expr)


def _action(item: ast.ActionDecl, model: PolicyModel, errors: ErrorList) -> ActionSig:
    params = []
    seen: set[str] = set()
    for p in item.params:
        if p.name in seen:
            errors.error("duplicate", f"parameter '{p.name}' is declared twice", p.span, "")
            continue
        seen.add(p.name)
        params.append(
            ParamSig(p.name, resolve_type(p.type, model, errors), p.optional, p.default, *bounds(p.type, model))
        )
    return ActionSig(item.name, tuple(params), False, item.span)


def check_enforcement(
    enforce: str, enforce_span: Span | None, mode: str, mode_span: Span | None, span: Span, errors: ErrorList
) -> None:
    """`enforce` and `mode` name known levels (rules and safety classes write them alike)."""
    if enforce and enforce not in ENFORCE_LEVELS:
        errors.error(
            "enforce",
            f"unknown enforcement level '{enforce}'",
            enforce_span or span,
            suggest(enforce, list(ENFORCE_LEVELS)) or f"write one of {', '.join(ENFORCE_LEVELS)}",
        )
    if mode and mode not in MODES:
        errors.error(
            "mode", f"unknown mode '{mode}'", mode_span or span, suggest(mode, list(MODES)) or f"write one of {', '.join(MODES)}"
        )


def _check_rules(model: PolicyModel, errors: ErrorList) -> None:
    seen: dict[str, Span] = {}
    for rule in model.rules:
        if rule.name in seen:
            errors.error(
                "duplicate",
                f"rule '{rule.name}' is declared twice (first at {seen[rule.name]})",
                rule.span,
                "rule names identify directives; make them unique",
            )
        seen.setdefault(rule.name, rule.span)
        for clause, span in rule.repeated:
            errors.error(
                "duplicate", f"rule '{rule.name}' has a second '{clause}' clause", span, "write each clause once"
            )
        if rule.priority is not None and not isinstance(rule.priority, int):
            errors.error(
                "priority",
                f"rule '{rule.name}' has priority {rule.priority}: priorities are integers",
                rule.priority_span or rule.span,
                "write a whole number; higher fires first",
            )
        if rule.when is None and rule.enter is None:
            errors.error("missing", f"rule '{rule.name}' has no 'when' condition", rule.span, "add `when <condition>`")
        check_enforcement(rule.enforce, rule.enforce_span, rule.mode, rule.mode_span, rule.span, errors)
        _check_time_clauses(rule, model, errors)
        if not rule.then:
            errors.error(
                "missing",
                f"rule '{rule.name}' has no 'then' action",
                rule.span,
                "add `then scale(targets: pool, by: 1)` or another action",
            )
        if rule.impact is not None and rule.impact not in IMPACTS:
            errors.error(
                "impact",
                f"unknown impact '{rule.impact}'",
                rule.impact_span or rule.span,
                suggest(rule.impact, list(IMPACTS)) or "impact is one of " + ", ".join(IMPACTS),
            )
        for call in rule.then:
            _check_call(call, model, errors)


def _check_time_clauses(rule: ast.Rule, model: PolicyModel, errors: ErrorList) -> None:
    """Hysteresis comes in pairs; durations are positive; keys are declared, required scalars."""
    if (rule.enter is None) != (rule.exit is None):
        present, missing = ("enter", "exit") if rule.enter is not None else ("exit", "enter")
        errors.error("hysteresis", f"rule '{rule.name}' has '{present} when' but no '{missing} when'", rule.span, "hysteresis needs both: `enter when load > 0.8` and `exit when load < 0.7`")
    if rule.enter is not None and rule.when is not None:
        errors.error("hysteresis", f"rule '{rule.name}' has both 'when' and 'enter when'", rule.when.span, "with hysteresis, the rule is active from `enter when` until `exit when`: drop the `when`")
    for clause in (rule.hold, rule.keep, rule.cooldown, rule.repeat, rule.limit[1] if rule.limit else None):
        if clause is not None and clause.seconds <= 0:
            errors.error("window", f"'{clause.text}' must be longer than 0s", clause.span, "write a positive duration such as 30s or 5m")
    _check_idle_cooldown(rule, errors)
    if rule.limit is not None and rule.limit[0] < 1:
        errors.error("window", f"rule '{rule.name}' allows at most {rule.limit[0]} directives: it could never act", rule.limit_span or rule.span, "write `at most 1 per 5m` or more")
    for name in rule.group_by:
        field = model.input.field(name)
        span = rule.group_span or rule.span
        if field is None:
            errors.error("name", f"'group by {name}': no input field '{name}'", span, suggest(name, [f.name for f in model.input.fields]) or "group by input fields such as the pool or service")
        elif field.optional or not (T.is_stringy(field.type) or field.type in (T.INT, T.BOOL)):
            errors.error("type", f"'group by {name}': a key must be a required string, enum, int or bool field, not {'optional ' if field.optional else ''}{field.type}", span, "")


def _check_idle_cooldown(rule: ast.Rule, errors: ErrorList) -> None:
    """Warn about a `cooldown` that can never hold anything back.

    An edge rule without `repeat` emits once per firing, and with one key (no `group by`) two
    firings are at least `for` + `keep` apart: a cooldown no longer than that has always run out
    by the next firing. With `group by`, keys that share a target can still meet the cooldown.
    """
    edge = rule.hold or rule.keep or rule.enter is not None
    if rule.cooldown is None or not edge or rule.repeat is not None or rule.group_by:
        return
    gap = (rule.hold.seconds if rule.hold else 0.0) + (rule.keep.seconds if rule.keep else 0.0)
    if 0 < rule.cooldown.seconds <= gap:
        errors.warning(
            "cooldown",
            f"rule '{rule.name}' emits once per firing, and firings are at least {gap:g}s apart (for + keep): "
            f"'cooldown {rule.cooldown.text}' can never hold anything back",
            rule.cooldown.span,
            f"to re-issue the directives while the rule fires, add `repeat every {rule.cooldown.text}`; otherwise drop the cooldown",
        )


def _check_stream(model: PolicyModel, errors: ErrorList) -> None:
    """The `stream` block names fields of the right types; time clauses need an event time."""
    streams = model.document.of(ast.Stream)
    stream = streams[0] if streams else None
    for extra in streams[1:]:
        errors.error("duplicate", "second stream block", extra.span, "merge them into one")
    if stream is not None:
        checks = [
            (stream.time, stream.time_span, (T.TIMESTAMP,), "the event time", "a timestamp"),
            (stream.id, stream.id_span, (T.STRING, T.INT), "the event id", "a string or int"),
            (stream.sequence, stream.sequence_span, (T.INT,), "the sequence number", "an int"),
            (stream.sequence_by, stream.sequence_span, (T.STRING,), "the sequence's source", "a string"),
        ]
        for name, span, types, role, wanted in checks:
            if not name:
                continue
            field = model.input.field(name)
            if field is None:
                errors.error("name", f"{role} field '{name}' is not an input field", span or stream.span, suggest(name, [f.name for f in model.input.fields]) or f"declare it in the input as {wanted}")
            elif field.type not in types and not (T.STRING in types and isinstance(field.type, T.EnumT)):
                errors.error("type", f"{role} field '{name}' must be {wanted}, got {field.type}", span or stream.span, "")
            elif field.optional:
                errors.error("type", f"{role} field '{name}' cannot be optional", span or stream.span, "every event must carry it")
        if not stream.time:
            errors.error("missing", "the stream block names no event time", stream.span, "add `time ts` naming a timestamp field")
        if stream.lateness is not None and stream.lateness.seconds < 0:
            errors.error("window", "lateness cannot be negative", stream.lateness.span, "")
        if stream.stale is not None and stream.stale.seconds <= 0:
            errors.error("window", f"'stale after {stream.stale.text}' must be longer than 0s", stream.stale.span, "write a duration longer than the gap between two events of a key, such as 5m")


def _check_call(call: ast.ActionCall, model: PolicyModel, errors: ErrorList) -> None:
    sig = model.actions.get(call.name)
    if sig is None:
        if model.incomplete:
            return
        hint = suggest(call.name, list(model.actions)) or f"declare it: `action {call.name}(targets: selector, ...)`"
        errors.error("action", f"unknown action '{call.name}'", call.span, hint)
        return
    given: set[str] = set()
    for arg in call.args:
        if arg.name in given:
            errors.error("duplicate", f"argument '{arg.name}' is given twice", arg.span, "")
        given.add(arg.name)
        if sig.param(arg.name) is None:
            names = [p.name for p in sig.params]
            errors.error(
                "action",
                f"action '{call.name}' has no parameter '{arg.name}'",
                arg.span,
                suggest(arg.name, names) or "its parameters are " + ", ".join(names),
            )
    for p in sig.params:
        if p.name not in given and p.default is None and not p.optional:
            errors.error(
                "action", f"action '{call.name}' needs the argument '{p.name}'", call.span, f"add `{p.name}: …`"
            )


def check_names(model: PolicyModel, errors: ErrorList) -> None:
    """Every `Name` in every expression is a field, constant or condition; lets do not cycle."""
    known = set(model.names())
    candidates = model.names()

    def check(expr: ast.Expr | None) -> None:
        if expr is None:
            return
        for node in ast.walk(expr):
            if isinstance(node, ast.Name) and node.name not in known and not model.incomplete:
                hint = suggest(node.name, candidates)
                if not hint and node.name in ("True", "False", "None"):
                    hint = f"write {node.name.lower() if node.name != 'None' else 'null'}"
                errors.error(
                    "name",
                    f"unknown name '{node.name}'",
                    node.span,
                    hint or "declare it as an input field, a `const` or a `let`",
                )

    for const in model.consts.values():
        check(const.value)
    for let in model.lets.values():
        check(let.value)
    for p in (p for a in model.actions.values() for p in a.params):
        check(p.default)
    for rule in model.rules:
        check(rule.when)
        check(rule.enter)
        check(rule.exit)
        for call in rule.then:
            for arg in call.args:
                check(arg.value)
    _check_cycles(model, errors)


def _check_cycles(model: PolicyModel, errors: ErrorList) -> None:
    definitions = {**{n: c.value for n, c in model.consts.items()}, **{n: v.value for n, v in model.lets.items()}}
    spans = {**{n: c.span for n, c in model.consts.items()}, **{n: v.span for n, v in model.lets.items()}}
    state: dict[str, int] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = " → ".join([*path[path.index(name) :], name])
            errors.error("cycle", f"'{name}' is defined in terms of itself: {cycle}", spans[name], "break the cycle")
            return
        state[name] = 1
        for node in ast.walk(definitions[name]):
            if isinstance(node, ast.Name) and node.name in definitions:
                visit(node.name, [*path, name])
        state[name] = 2

    for name in definitions:
        visit(name, [])


def check_unique_policies(compilation: Compilation, errors: ErrorList) -> None:
    """Policy names are unique in a set; policies reading one input declare it alike."""
    seen: dict[str, Span] = {}
    inputs: dict[str, PolicyModel] = {}
    for model in compilation.models:
        doc = model.document
        first = inputs.setdefault(model.input_name, model)
        if first is not model and first.input != model.input:
            errors.warning(
                "input",
                f"policies '{first.document.name}' and '{doc.name}' both read input '{model.input_name}' but declare it differently",
                doc.span,
                "an event valid for one is then invalid for the other: declare the same fields, or name the inputs apart",
            )
        if doc.name in seen:
            errors.error(
                "duplicate",
                f"policy '{doc.name}' is given twice (also at {seen[doc.name]})",
                doc.span,
                "policy names must be unique in a set",
            )
        seen.setdefault(doc.name, doc.span)
