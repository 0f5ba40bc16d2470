"""The IR: the checked, optimized policy as plain JSON, and the helpers that read it.

Expression nodes are dicts with `k` (kind), `t` (type, informative) and `at` (source span
[line, column, end line, end column]):

| k       | fields                  | meaning                                                  |
|---------|-------------------------|----------------------------------------------------------|
| `lit`   | `v`                     | a literal; durations/timestamps are float seconds        |
| `field` | `path`, `opt`?          | an input field, `path` through nested records            |
| `let`   | `name`, `e`             | a named condition, inlined; kept for explanations        |
| `not`   | `e`                     | logical negation                                         |
| `neg`   | `e`                     | arithmetic negation                                      |
| `and`   | `l`, `r`                | short-circuit and                                        |
| `or`    | `l`, `r`                | short-circuit or                                         |
| `bin`   | `op`, `l`, `r`          | `+ - * / %` (true division; `%` as in Python)            |
| `cmp`   | `op`, `l`, `r`          | `== != < <= > >= in`                                     |
| `cond`  | `c`, `a`, `b`           | `c ? a : b`                                              |
| `index` | `e`, `i`                | `e[i]` on a list or map                                  |
| `attr`  | `e`, `name`             | a record field of a computed record                      |
| `call`  | `fn`, `args`            | a builtin function                                       |
| `list`  | `items`                 | a list literal                                           |
| `has`   | `path`                  | whether an optional input field is present               |
| `agg`   | `fn`, `path`, `window`… | a window aggregate over the field's history (`Engine`)   |

An `agg` node is evaluated by reading `event[slot_key(node)]`: the Engine computes each
aggregate for the rule's key and adds it to the event under that key before evaluating.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ballast.runtime.values import format_duration

IR = dict[str, Any]

FORMAT = "ballast-ir/1"


def children(node: IR) -> list[IR]:
    k = node["k"]
    if k in ("not", "neg", "attr"):
        return [node["e"]]
    if k == "let":
        return [node["e"]]
    if k in ("and", "or", "bin", "cmp"):
        return [node["l"], node["r"]]
    if k == "cond":
        return [node["c"], node["a"], node["b"]]
    if k == "index":
        return [node["e"], node["i"]]
    if k == "call":
        return list(node["args"])
    if k == "list":
        return list(node["items"])
    return []


MAX_PATH = 64  # fields of records nested deeper than events may be (reading.MAX_JSON_DEPTH)


def field_path(node: IR) -> tuple[str, ...]:
    """The path a `field`, `has` or `agg` node (or a plan's threshold chain) reads, checked:
    1 to MAX_PATH names.

    A bundle's IR is read, not trusted: a path that is a long string, say, would otherwise become
    a chain of a million subscripts. Raises ValueError (a malformed bundle) for anything else.
    """
    path = node["path"]
    if not isinstance(path, list) or not 0 < len(path) <= MAX_PATH or not all(isinstance(p, str) for p in path):
        raise ValueError(f"a field path is a list of 1 to {MAX_PATH} names, got {type(path).__name__}")
    return tuple(path)


def walk(node: IR) -> Iterator[IR]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(children(current)))


def fields_used(node: IR) -> list[tuple[str, ...]]:
    """Input field paths the expression reads, in first-use order, without repeats."""
    seen: dict[tuple[str, ...], None] = {}
    for n in walk(node):
        if n["k"] in ("field", "has"):
            seen.setdefault(field_path(n), None)
    return list(seen)


def slot_key(node: IR) -> str:
    """The event key under which the Engine passes an aggregate's value: `@avg(latency_ms, 1m)`."""
    return "@" + unparse(node)


def can_fault(node: IR) -> bool:
    """Whether evaluating the node may fault on a validated event (and so cannot be hoisted)."""
    for n in walk(node):
        k = n["k"]
        if k == "field" and n.get("opt"):
            return True
        if k in ("index", "attr", "call", "cond", "agg"):  # an aggregate of an empty window is null
            return True
        if k == "bin" and (n["op"] in ("/", "%") or _mixes_int_and_float(n)):
            return True
    return False


def _mixes_int_and_float(node: IR) -> bool:
    # `i * 1.5` converts i to a float: OverflowError for an int beyond the float range (> 2**1024)
    types = {node["l"].get("t"), node["r"].get("t")}
    return "int" in types and bool(types & {"float", "duration", "timestamp"})


def may_be_null(node: IR) -> bool:
    """Whether the node's value may be null on a validated event: an absent optional field (of the
    input or of a computed record), the literal null, or a `?:` with such a branch. A bool context
    must check such a value, not read it as falsy, and folding must not drop the `&&`/`||` that
    checks it."""
    k = node["k"]
    if k in ("field", "attr"):
        return bool(node.get("opt"))
    if k == "let":
        return may_be_null(node["e"])
    if k == "cond":
        return may_be_null(node["a"]) or may_be_null(node["b"])
    if k == "agg":
        return node["fn"] not in ("count", "absent")  # no samples in the window: null
    return k == "lit" and node["v"] is None


_PREC = {"cond": 1, "or": 2, "and": 3, "cmp": 4, "+": 5, "-": 5, "*": 6, "/": 6, "%": 6, "not": 7, "neg": 7}


def _prec(node: IR) -> int:
    k = node["k"]
    if k == "bin":
        return _PREC[node["op"]]
    return _PREC.get(k, 9)


def unparse(node: IR) -> str:
    """The expression in the language's syntax (constants shown by name, conditions by name)."""
    k = node["k"]
    if k == "lit":
        if "const" in node:
            return node["const"]
        if "text" in node:
            return node["text"]
        return literal(node["v"])
    if k == "field" or k == "has":
        path = ".".join(node["path"])
        return f"has({path})" if k == "has" else path
    if k == "let":
        return node["name"]
    if k == "not":
        return "!" + _wrap(node["e"], 7)
    if k == "neg":
        return "-" + _wrap(node["e"], 7)
    if k in ("and", "or"):
        p = _PREC[k]
        op = "&&" if k == "and" else "||"
        return f"{_wrap(node['l'], p)} {op} {_wrap(node['r'], p + 1)}"
    if k == "bin":
        p = _PREC[node["op"]]
        return f"{_wrap(node['l'], p)} {node['op']} {_wrap(node['r'], p + 1)}"
    if k == "cmp":
        return f"{_wrap(node['l'], 5)} {node['op']} {_wrap(node['r'], 5)}"
    if k == "cond":
        return f"{_wrap(node['c'], 2)} ? {_wrap(node['a'], 2)} : {_wrap(node['b'], 1)}"
    if k == "index":
        return f"{_wrap(node['e'], 8)}[{unparse(node['i'])}]"
    if k == "attr":
        return f"{_wrap(node['e'], 8)}.{node['name']}"
    if k == "call":
        return f"{node['fn']}(" + ", ".join(unparse(a) for a in node["args"]) + ")"
    if k == "list":
        return "[" + ", ".join(unparse(i) for i in node["items"]) + "]"
    if k == "agg":
        args = [".".join(node["path"])]
        if "p" in node:
            args.append(format(node["p"], "g"))
        if "alpha" in node:
            args.append(format(node["alpha"], "g"))
        if "window" in node:
            args.append(format_duration(node["window"]))
        return f"{node['fn']}(" + ", ".join(args) + ")"
    raise ValueError(f"unknown IR node kind {k!r}")


def _wrap(node: IR, minimum: int) -> str:
    text = unparse(node)
    return f"({text})" if _prec(node) < minimum else text


def literal(value: Any) -> str:
    """A value as source text: `"a"`, `[1, 2]`, `true`, `null`."""
    from ballast.runtime.functions import render

    return render(value, quote=True)


def conjuncts(node: IR) -> list[IR]:
    """The top-level `&&` operands of a condition (lets see-through), in order."""
    if node["k"] == "and":
        return conjuncts(node["l"]) + conjuncts(node["r"])
    if node["k"] == "let":
        return conjuncts(node["e"])
    return [node]


def atoms(node: IR) -> list[IR]:
    """The leaves of a condition's boolean structure: comparisons, calls, fields, lets' leaves."""
    k = node["k"]
    if k in ("and", "or"):
        return atoms(node["l"]) + atoms(node["r"])
    if k == "not":
        return atoms(node["e"])
    if k == "let":
        return atoms(node["e"])
    return [node]
