"""`ballast fmt`: the canonical text of a document, comments kept.

Canonical means: two-space indentation, one declaration per line, one space around binary
operators, parentheses only where precedence needs them, `&& || !` spelled as written (the
formatter never rewrites `and` into `&&`: the author chose the words). Formatting is idempotent:
`fmt(fmt(x)) == fmt(x)`, which the tests check for every catalog file.

Expressions and types are formatted by `ballast.dsl.format_base`, threat declarations and
`stream` blocks by `ballast.dsl.format_threat`, fleet and rollout declarations by
`ballast.dsl.format_fleet`, profile declarations by `ballast.dsl.format_profile`; all return
`format_base.Line`s.

Comments are attached by line: a comment alone on its line stays before the declaration that
follows it; a comment at the end of a line stays at the end of that declaration's line.
"""

from __future__ import annotations

from ballast.dsl import ast
from ballast.dsl.format_base import Line, format_expr, format_type, quote
from ballast.dsl.format_fleet import fleet_item
from ballast.dsl.format_profile import profile_item
from ballast.dsl.format_safety import safety_item
from ballast.dsl.format_supervisor import supervisor_item
from ballast.dsl.format_threat import threat_item


def format_document(document: ast.Document) -> str:
    """The canonical text of a whole file (ends with one newline)."""
    lines: list[Line] = []
    if document.version is not None:  # policies and threats
        head = f"{document.kind} {document.name} version {quote(document.version.value)} {{"
    else:
        head = f"{document.kind} {document.name} {{"
    lines.append((0, head, document.span.line))
    if document.owner:
        lines.append((1, f"owner {quote(document.owner)}", None))
    if document.description:
        lines.append((1, f"description {quote(document.description)}", None))
    if document.labels:
        lines.append((1, "labels " + _labels(document.labels), document.labels[0].span.line))
    previous: type | None = None
    for item in document.items:
        kind = type(item)
        spaced = kind in (ast.Rule, ast.Input, ast.ActionDecl, ast.RecordType, ast.SafetyClass, ast.Cluster, ast.Gate, ast.Wave, ast.GovernanceBlock, ast.ScoringBlock, ast.ProfileSetting, ast.SupervisorBlock)
        if kind in (ast.Select, ast.Justification):
            kind = ast.Setting  # a rollout's settings, selector and justification are one paragraph
        if (previous is None and len(lines) > 1) or (previous is not None and (kind is not previous or spaced)):
            lines.append((0, "", None))
        lines.extend((depth + 1, text, src) for depth, text, src in _item(item))
        previous = kind
    lines.append((0, "}", document.span.end_line))
    return _with_comments(lines, document.comments)


def _with_comments(lines: list[Line], comments: tuple[tuple[int, int, str], ...]) -> str:
    """Interleave comments: each before the first line that comes after it in the source, or at
    the end of the line it shares with code. Trailing comments of consecutive lines are aligned
    in one column, as gofmt does."""
    pending = sorted(comments)
    rows: list[tuple[str, str]] = []  # (code, trailing comment)
    for depth, text, src in lines:
        indent = "  " * depth
        if src is not None:
            while pending and pending[0][0] < src:
                rows.append((indent + pending.pop(0)[2], ""))
            trailing = []
            while pending and pending[0][0] == src:
                trailing.append(pending.pop(0)[2])
            if trailing and not text:
                rows.append((indent + " ".join(trailing), ""))
                continue
            rows.append((indent + text if text else "", " ".join(trailing)))
        else:
            rows.append((indent + text if text else "", ""))
    rows.extend((c[2], "") for c in pending)
    out: list[str] = []
    i = 0
    while i < len(rows):
        if not rows[i][1]:
            out.append(rows[i][0])
            i += 1
            continue
        j = i
        while j < len(rows) and rows[j][1]:
            j += 1
        width = max(len(code) for code, _ in rows[i:j])
        out.extend(f"{code.ljust(width)}  {comment}" for code, comment in rows[i:j])
        i = j
    return "\n".join(out) + "\n"


def _labels(labels: tuple[ast.Label, ...]) -> str:
    return "{ " + ", ".join(f"{lb.key}: {quote(lb.value)}" for lb in labels) + " }"


def _item(item: ast.Item) -> list[Line]:
    line = item.span.line
    match item:
        case ast.Import(path=path):
            return [(0, f"import {quote(path.value)}", line)]
        case ast.Input(name=name, fields=fields):
            return [(0, f"input {name} {{", line), *_fields(fields, 1), (0, "}", item.span.end_line)]
        case ast.TypeAlias(name=name, type=t):
            return _typed(f"type {name} = ", t, "", line, 0)
        case ast.Const(name=name, type=t, value=value):
            typed = f": {format_type(t)}" if t is not None else ""
            return [(0, f"const {name}{typed} = {format_expr(value)}", line)]
        case ast.Let(name=name, value=value):
            return [(0, f"let {name} = {format_expr(value)}", line)]
        case ast.ActionDecl(name=name, params=params):
            return [(0, f"action {name}(" + ", ".join(_param(p) for p in params) + ")", line)]
        case ast.Rule():
            return _rule(item)
        case ast.Source() | ast.Smooth() | ast.Mode() | ast.Governor() | ast.Stream():
            return threat_item(item)
        case ast.SafetyClass() | ast.Approvals():
            return safety_item(item)
        case ast.Cluster() | ast.Select() | ast.Gate() | ast.Wave() | ast.Setting() | ast.Justification() | ast.GovernanceBlock() | ast.ScoringBlock():
            return fleet_item(item)
        case ast.Extends() | ast.ProfileSetting() | ast.ChangeEntry():
            return profile_item(item)
        case ast.SupervisorBlock():
            return supervisor_item(item)
    raise TypeError(item)


def _fields(fields: tuple[ast.Field, ...], depth: int) -> list[Line]:
    out: list[Line] = []
    for f in fields:
        prefix = f"{f.name}{'?' if f.optional else ''}: "
        out.extend(_typed(prefix, f.type, "", f.span.line, depth))
    return out


def _typed(prefix: str, t: ast.TypeExpr, suffix: str, line: int, depth: int) -> list[Line]:
    """A declaration whose type may be a record spanning several lines."""
    if isinstance(t, ast.RecordType) and t.fields:
        return [(depth, prefix + "{", line), *_fields(t.fields, depth + 1), (depth, "}" + suffix, t.span.end_line)]
    return [(depth, prefix + format_type(t) + suffix, line)]


def _param(p: ast.Param) -> str:
    text = f"{p.name}{'?' if p.optional else ''}: {format_type(p.type)}"
    return text + (f" = {format_expr(p.default)}" if p.default is not None else "")


def _call(call: ast.ActionCall) -> str:
    return f"{call.name}(" + ", ".join(f"{a.name}: {format_expr(a.value)}" for a in call.args) + ")"


_CLAUSE_ORDER = (
    "description", "group", "when", "enter", "exit", "for", "keep", "then", "repeat", "cooldown", "limit",
    "priority", "impact", "enforce", "mode", "reason", "justification", "labels",
)


def _rule(rule: ast.Rule) -> list[Line]:
    where = {key: first for key, first, _ in rule.clause_lines}
    text = {
        "description": f"description {quote(rule.description)}" if rule.description else None,
        "when": f"when {format_expr(rule.when)}" if rule.when is not None else None,
        "then": "then " + ", ".join(_call(c) for c in rule.then) if rule.then else None,
        "priority": f"priority {rule.priority}" if rule.priority is not None else None,
        "impact": f"impact {rule.impact}" if rule.impact is not None else None,
        "reason": f"reason {quote(rule.reason.value)}" if rule.reason is not None else None,
        "justification": f"justification {quote(rule.justification)}" if rule.justification else None,
        "labels": "labels " + _labels(rule.labels) if rule.labels else None,
        "group": "group by " + ", ".join(rule.group_by) if rule.group_by else None,
        "enter": f"enter when {format_expr(rule.enter)}" if rule.enter is not None else None,
        "exit": f"exit when {format_expr(rule.exit)}" if rule.exit is not None else None,
        "for": f"for {rule.hold.text}" if rule.hold else None,
        "keep": f"keep {rule.keep.text}" if rule.keep else None,
        "repeat": f"repeat every {rule.repeat.text}" if rule.repeat else None,
        "cooldown": f"cooldown {rule.cooldown.text}" if rule.cooldown else None,
        "limit": f"at most {rule.limit[0]} per {rule.limit[1].text}" if rule.limit else None,
        "enforce": f"enforce {rule.enforce}" if rule.enforce else None,
        "mode": f"mode {rule.mode}" if rule.mode else None,
    }
    lines: list[Line] = [(0, f"rule {rule.name} {{", rule.span.line)]
    for key in _CLAUSE_ORDER:
        if text[key] is not None:
            lines.append((1, text[key], where.get(key)))
    lines.append((0, "}", rule.span.end_line))
    return lines
