"""The canonical text of expressions and types, and the line shape of every formatter.

Shared by the document formatters (`ballast.dsl.format` for documents and policy declarations,
`ballast.dsl.format_threat` for threat declarations), so neither imports the other, and by the
compiler, which quotes expressions as written in messages and IR (`format_expr`).
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
            lines = [f"{inner}{format_field(f, inner)}" for f in fields]
            return "{\n" + "\n".join(lines) + f"\n{indent}}}"
        case ast.RangeType(base=base, low_text=low, high_text=high):
            return f"{format_type(base, indent)} in [{low}, {high}]"
    raise TypeError(t)


def format_field(f: ast.Field, indent: str) -> str:
    """`name?: type` of a record field."""
    return f"{f.name}{'?' if f.optional else ''}: {format_type(f.type, indent)}"


def quote(value: str) -> str:
    """A string literal as written in the DSL."""
    return json.dumps(value, ensure_ascii=False)


# A formatted line: (indent level, text, the source line it came from or None).
Line = tuple[int, str, int | None]
