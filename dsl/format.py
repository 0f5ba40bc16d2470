"""`ballast fmt`: the canonical text of a document, comments kept.

Canonical means: two-space indentation, one declaration per line, one space around binary
operators, parentheses only where precedence needs them, `&& || !` spelled as written (the
formatter never rewrites `and` into `&&`: the author chose the words). Formatting is idempotent:
`fmt(fmt(x)) == fmt(x)`, which the tests check for every catalog file.

Comments are attached by line: a comment alone on its line stays before the declaration that
follows it; a comment at the end of a line stays at the end of that declaration's line.
"""

from __future__ import annotations

import json

from ballast.dsl import ast

_PRECEDENCE = {"cond": 1, "||": 2, "&&": 3, "cmp": 4, "+": 5, "-": 5, "*": 6, "/": 6, "%": 6, "unary": 7, "member": 8}


def format_expr(node: ast.Expr) -> str:
    """The canonical text of an expression."""
    return _expr(node, 0)


def _prec(node: ast.Expr) -> int:
    match node:
        case ast.Conditional():
            return 1
        case ast.Logical(op=op):
            return _PRECEDENCE[op]
        case ast.Compare():
            return 4
        case ast.Binary(op=op):
            return _PRECEDENCE[op]
        case ast.Unary():
            return 7
    return 9


def _wrap(node: ast.Expr, minimum: int) -> str:
    text = _expr(node, minimum)
    return f"({text})" if _prec(node) < minimum else text


def _expr(node: ast.Expr, _minimum: int = 0) -> str:
    match node:
        case ast.Literal(kind=kind, value=value, text=text):
            if kind == "string":
                return json.dumps(value, ensure_ascii=False)
            if kind == "duration" and text:
                return text
            return text or _literal(value)
        case ast.Name(name=name):
            return name
        case ast.Attribute(obj=obj, name=name):
            return f"{_wrap(obj, 8)}.{name}"
        case ast.Index(obj=obj, index=index):
            return f"{_wrap(obj, 8)}[{_expr(index)}]"
        case ast.Call(func=func, args=args, method=method):
            if method:
                receiver, *rest = args
                return f"{_wrap(receiver, 8)}.{func}({', '.join(_expr(a) for a in rest)})"
            return f"{func}({', '.join(_expr(a) for a in args)})"
        case ast.Unary(op=op, operand=operand, keyword=keyword):
            if op == "!":
                return f"not {_wrap(operand, 7)}" if keyword else f"!{_wrap(operand, 7)}"
            return f"-{_wrap(operand, 7)}"
        case ast.Binary(op=op, left=left, right=right):
            p = _PRECEDENCE[op]
            return f"{_wrap(left, p)} {op} {_wrap(right, p + 1)}"
        case ast.Logical(op=op, left=left, right=right, keyword=keyword):
            p = _PRECEDENCE[op]
            word = ({"&&": "and", "||": "or"}[op]) if keyword else op
            return f"{_wrap(left, p)} {word} {_wrap(right, p + 1)}"
        case ast.Compare(ops=ops, operands=operands):
            parts = [_wrap(operands[0], 5)]
            for op, operand in zip(ops, operands[1:], strict=True):
                parts.append(f"{op} {_wrap(operand, 5)}")
            return " ".join(parts)
        case ast.Conditional(cond=cond, then=then, otherwise=otherwise):
            return f"{_wrap(cond, 2)} ? {_wrap(then, 2)} : {_wrap(otherwise, 1)}"
        case ast.ListLiteral(items=items):
            return "[" + ", ".join(_expr(i) for i in items) + "]"
    raise TypeError(node)


def _literal(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def format_type(t: ast.TypeExpr, indent: str = "") -> str:
    """The canonical text of a type expression."""
    match t:
        case ast.NamedType(name=name):
            return name
        case ast.EnumType(values=values):
            return "enum(" + ", ".join(json.dumps(v) for v in values) + ")"
        case ast.ListType(element=element):
            return f"list<{format_type(element, indent)}>"
        case ast.MapType(key=key, value=value):
            return f"map<{format_type(key, indent)}, {format_type(value, indent)}>"
        case ast.RecordType(fields=fields):
            inner = indent + "  "
            lines = [f"{inner}{_field(f, inner)}" for f in fields]
            return "{\n" + "\n".join(lines) + f"\n{indent}}}"
        case ast.RangeType(base=base, low_text=low, high_text=high):
            return f"{format_type(base, indent)} in [{low}, {high}]"
    raise TypeError(t)


def _field(f: ast.Field, indent: str) -> str:
    return f"{f.name}{'?' if f.optional else ''}: {format_type(f.type, indent)}"


def _string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


class _Writer:
    def __init__(self, comments: tuple[tuple[int, int, str], ...]) -> None:
        self.lines: list[str] = []
        self.pending = sorted(comments)

    def comments_before(self, line: int, indent: str) -> None:
        while self.pending and self.pending[0][0] < line:
            self.lines.append(indent + self.pending.pop(0)[2])

    def emit(self, text: str, indent: str, first_line: int, last_line: int) -> None:
        """Write a declaration; trailing comments of its source lines go after its first line."""
        self.comments_before(first_line, indent)
        out = [indent + line if line else line for line in text.split("\n")]
        trailing = []
        while self.pending and first_line <= self.pending[0][0] <= last_line:
            trailing.append(self.pending.pop(0)[2])
        if trailing:
            if len(out) == 1:
                out[0] += "  " + " ".join(trailing)
            else:
                out = [indent + t for t in trailing] + out
        self.lines.extend(out)

    def blank(self) -> None:
        if self.lines and self.lines[-1] != "":
            self.lines.append("")


def format_document(document: ast.Document) -> str:
    """The canonical text of a whole file (ends with one newline)."""
    w = _Writer(document.comments)
    head = (
        f"policy {document.name} version {_string(document.version.value)}"
        if document.kind == "policy" and document.version
        else f"{document.kind} {document.name}"
    )
    w.comments_before(document.span.line, "")
    w.lines.append(head + " {")
    inner = "  "
    if document.owner:
        w.lines.append(f"{inner}owner {_string(document.owner)}")
    if document.description:
        w.lines.append(f"{inner}description {_string(document.description)}")
    if document.labels:
        w.lines.append(
            f"{inner}labels {{ " + ", ".join(f"{lb.key}: {_string(lb.value)}" for lb in document.labels) + " }"
        )
    previous: type | None = None
    for item in document.items:
        kind = type(item)
        if (previous is not None and (kind is not previous or kind in (ast.Rule, ast.Input, ast.ActionDecl))) or (
            previous is None and w.lines[-1] != head + " {"
        ):
            w.blank()
        w.emit(_item(item, inner), inner, item.span.line, item.span.end_line)
        previous = kind
    w.comments_before(document.span.end_line, inner)
    w.lines.append("}")
    for rest in w.pending:
        w.lines.append(rest[2])
    return "\n".join(w.lines) + "\n"


def _item(item: ast.Item, indent: str) -> str:
    match item:
        case ast.Import(path=path):
            return f"import {_string(path.value)}"
        case ast.Input(name=name, fields=fields):
            body = "\n".join(f"  {_field(f, '  ')}" for f in fields)
            return f"input {name} {{\n{body}\n}}"
        case ast.TypeAlias(name=name, type=t):
            return f"type {name} = {format_type(t)}"
        case ast.Const(name=name, type=t, value=value):
            typed = f": {format_type(t)}" if t is not None else ""
            return f"const {name}{typed} = {format_expr(value)}"
        case ast.Let(name=name, value=value):
            return f"let {name} = {format_expr(value)}"
        case ast.ActionDecl(name=name, params=params):
            return f"action {name}(" + ", ".join(_param(p) for p in params) + ")"
        case ast.Rule():
            return _rule(item)
    raise TypeError(item)


def _param(p: ast.Param) -> str:
    text = f"{p.name}{'?' if p.optional else ''}: {format_type(p.type)}"
    return text + (f" = {format_expr(p.default)}" if p.default is not None else "")


def _call(call: ast.ActionCall) -> str:
    return f"{call.name}(" + ", ".join(f"{a.name}: {format_expr(a.value)}" for a in call.args) + ")"


def _rule(rule: ast.Rule) -> str:
    lines = [f"rule {rule.name} {{"]
    if rule.description:
        lines.append(f"  description {_string(rule.description)}")
    if rule.when is not None:
        lines.append(f"  when {format_expr(rule.when)}")
    if rule.then:
        lines.append("  then " + ", ".join(_call(c) for c in rule.then))
    if rule.priority is not None:
        lines.append(f"  priority {rule.priority}")
    if rule.impact is not None:
        lines.append(f"  impact {rule.impact}")
    if rule.reason is not None:
        lines.append(f"  reason {_string(rule.reason.value)}")
    if rule.labels:
        lines.append("  labels { " + ", ".join(f"{lb.key}: {_string(lb.value)}" for lb in rule.labels) + " }")
    lines.append("}")
    return "\n".join(lines)
