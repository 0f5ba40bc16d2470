"""Properties of the diff's solver against the reference interpreter, on random condition pairs.

Conditions come from a small typed grammar over one input (an int in [0, 10], a float in [0, 1],
an enum of three values, an optional float, a bool): comparisons with literals, `&&`, `||`, `!`,
`+` and `*`, `in` lists and `== null`. Each pair is compiled, compared with
`solver.compare`, and checked with `runtime.interpret.evaluate_condition` (a fault: the rule does
not fire):

- an "equivalent" verdict: both conditions decide alike on every sampled event (boundary values
  and absent optional fields included);
- every witness separates them: on the event built from it, a `gained` witness makes the new
  condition fire and not the old one, a `lost` witness the reverse;
- "narrowed" has no `gained` witness, "widened" no `lost` one.

The head of a pair is a rewrite of the base (mostly deciding alike), a mutation of it (a literal
or an operator changed), a fresh condition, or a threshold with both sides shifted or scaled
(alike on the reals, not always on doubles), so that every verdict comes up. The examples are
the same on every run (derandomize); the explicit @examples are bugs this test found.
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ballast.compiler.diff.solver import Comparison, Domain, compare
from ballast.compiler.pipeline import compile_paths
from ballast.runtime.errors import CompileError, EvaluationError
from ballast.runtime.interpret import evaluate_condition

SCHEMA = """\
  input ev {
    pool: string
    n: int in [0, 10]
    x: float in [0, 1]
    tier: enum("a", "b", "c")
    w?: float in [0, 1]
    flag: bool
  }
"""
TIERS = ("a", "b", "c")
INT_LITERALS = (-1, 0, 1, 2, 3, 5, 7, 10, 11)
FLOAT_LITERALS = (0.0, 0.1, 0.25, 0.3, 0.5, 0.75, 0.9, 1.0, 2.5)
SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    derandomize=True,  # the same examples on every run: a failure here is a bug, not bad luck
)

# ------------------------------------------------------------------ the grammar
# Expressions are tuples: ("lit", v) ("field", name) ("bin", op, a, b) for numbers (a kind: "int"
# or "float"), and ("cmp", op, a, b) ("and", a, b) ("or", a, b) ("not", a) ("in", a, [values])
# ("null", field, "==" | "!=") ("has", field) ("flag",) ("tier", op, value) for conditions.


def numbers(kind: str, depth: int) -> st.SearchStrategy[tuple]:
    if kind == "int":
        leaves = st.one_of(st.just(("field", "n")), st.sampled_from(INT_LITERALS).map(lambda v: ("lit", v)))
    else:
        leaves = st.one_of(
            st.sampled_from([("field", "x"), ("field", "w")]),
            st.sampled_from(FLOAT_LITERALS).map(lambda v: ("lit", v)),
        )
    if depth == 0:
        return leaves
    kinds = ("int",) if kind == "int" else ("int", "float")
    compound = st.tuples(
        st.just("bin"),
        st.sampled_from(["+", "*"]),
        st.sampled_from(kinds).flatmap(lambda k: numbers(k, depth - 1)),
        st.sampled_from(kinds).flatmap(lambda k: numbers(k, depth - 1)),
    ).filter(lambda t: kind == "int" or "float" in (kind_of(t[2]), kind_of(t[3])))
    return st.one_of(leaves, leaves, compound)


def kind_of(e: tuple) -> str:
    if e[0] == "lit":
        return "int" if isinstance(e[1], int) else "float"
    if e[0] == "field":
        return "int" if e[1] == "n" else "float"
    return "int" if kind_of(e[2]) == kind_of(e[3]) == "int" else "float"


def atoms(depth: int) -> st.SearchStrategy[tuple]:
    kinds = st.sampled_from(["int", "float"])
    comparison = st.tuples(
        st.just("cmp"),
        st.sampled_from(["<", "<=", ">", ">=", "==", "!="]),
        kinds.flatmap(lambda k: numbers(k, depth)),
        kinds.flatmap(lambda k: numbers(k, depth)),
    )
    return st.one_of(
        comparison,
        comparison,
        st.tuples(st.just("tier"), st.sampled_from(["==", "!="]), st.sampled_from(TIERS)),
        st.tuples(st.just("in"), st.just(("field", "tier")), st.lists(st.sampled_from(TIERS), min_size=1, max_size=3)),
        st.tuples(st.just("in"), numbers("int", 1), st.lists(st.sampled_from(INT_LITERALS), min_size=1, max_size=3)),
        st.tuples(st.just("in"), st.just(("field", "w")), st.lists(st.sampled_from(FLOAT_LITERALS), max_size=2)),
        st.tuples(st.just("null"), st.just("w"), st.sampled_from(["==", "!="])),
        st.just(("has", "w")),
        st.just(("flag",)),
    )


def conditions(depth: int = 2) -> st.SearchStrategy[tuple]:
    if depth == 0:
        return atoms(1)
    inner = conditions(depth - 1)
    return st.one_of(
        atoms(1),
        st.tuples(st.sampled_from(["and", "or"]), inner, inner),
        st.tuples(st.just("not"), inner),
    )


def text(e: tuple) -> str:
    """The expression in the language, fully parenthesized."""
    k = e[0]
    if k == "lit":
        return repr(e[1])  # the shortest text that reads back as the same double
    if k == "field":
        return e[1]
    if k in ("bin", "cmp"):
        return f"({text(e[2])} {e[1]} {text(e[3])})"
    if k in ("and", "or"):
        return f"({text(e[1])} {'&&' if k == 'and' else '||'} {text(e[2])})"
    if k == "not":
        return f"!({text(e[1])})"
    if k == "in":
        items = ", ".join(f'"{v}"' if isinstance(v, str) else text(("lit", v)) for v in e[2])
        return f"({text(e[1])} in [{items}])"
    if k == "null":
        return f"({e[1]} {e[2]} null)"
    if k == "has":
        return f"has({e[1]})"
    if k == "flag":
        return "flag"
    if k == "tier":
        return f'(tier {e[1]} "{e[2]}")'
    raise AssertionError(e)


# ------------------------------------------------------------------ rewrites and mutations

FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
NEGATE = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}


def rewrite(e: tuple, choose: Any) -> tuple:
    """A rewrite of `e` that mostly decides alike (swaps, De Morgan, double negation, negated
    comparisons); `choose(n)` picks one of n options."""
    k = e[0]
    if k in ("and", "or"):
        a, b = rewrite(e[1], choose), rewrite(e[2], choose)
        option = choose(4)
        if option == 1:
            return (k, b, a)
        if option == 2:  # De Morgan
            return ("not", ("or" if k == "and" else "and", ("not", a), ("not", b)))
        return (k, a, b)
    if k == "not":
        inner = rewrite(e[1], choose)
        if inner[0] == "cmp" and choose(2):
            return ("cmp", NEGATE[inner[1]], inner[2], inner[3])
        return ("not", inner)
    if k == "cmp":
        option = choose(5)
        if option == 1:
            return ("cmp", FLIP[e[1]], e[3], e[2])
        if option == 2:
            return ("not", ("not", e))
        if option >= 3:
            return moved(e, choose)
        return e
    if k == "bin" and choose(2):
        return ("bin", e[1], e[3], e[2])
    return e


def moved(e: tuple, choose: Any) -> tuple:
    """Both sides of a comparison shifted, or scaled by a positive factor: alike on the reals, not
    always on doubles (where rounding makes two neighbours equal)."""
    if choose(2):
        k = ("lit", (0.1, 0.2, 0.5, 1, 2.5)[choose(5)])
        return ("cmp", e[1], ("bin", "+", e[2], k), ("bin", "+", e[3], k))
    k = ("lit", (2, 3, 0.5, 10, 0.1)[choose(5)])
    return ("cmp", e[1], ("bin", "*", e[2], k), ("bin", "*", e[3], k))


def mutate(e: tuple, choose: Any) -> tuple:
    """`e` with one literal, operator or operand changed somewhere."""
    k = e[0]
    if k == "lit":
        pool = INT_LITERALS if isinstance(e[1], int) else FLOAT_LITERALS
        return ("lit", pool[choose(len(pool))])
    if k == "cmp":
        option = choose(3)
        if option == 0:
            return ("cmp", list(NEGATE)[choose(6)], e[2], e[3])
        return ("cmp", e[1], mutate(e[2], choose), e[3]) if option == 1 else ("cmp", e[1], e[2], mutate(e[3], choose))
    if k == "bin":
        return ("bin", e[1], mutate(e[2], choose), e[3]) if choose(2) else ("bin", e[1], e[2], mutate(e[3], choose))
    if k in ("and", "or"):
        option = choose(4)
        if option == 0:
            return ("or" if k == "and" else "and", e[1], e[2])
        if option == 1:
            return e[1]
        return (k, mutate(e[1], choose), e[2]) if option == 2 else (k, e[1], mutate(e[2], choose))
    if k == "not":
        return e[1] if choose(2) else ("not", mutate(e[1], choose))
    if k == "tier":
        return ("tier", e[1], TIERS[choose(3)])
    if k == "in":
        return ("in", e[1], e[2][:-1] if len(e[2]) > 1 else e[2] * 2)
    if k == "null":
        return ("null", e[1], "!=" if e[2] == "==" else "==")
    return ("not", e)


@st.composite
def pairs(draw: st.DrawFn) -> tuple[tuple, tuple]:
    how = draw(st.sampled_from(["rewrite", "rewrite", "mutate", "fresh", "arithmetic"]))

    def choose(n: int) -> int:
        return draw(st.integers(0, n - 1))

    if how == "arithmetic":
        # a threshold and the same threshold with both sides shifted or scaled: where doubles
        # round, the two part at the threshold's neighbours
        base = draw(
            st.tuples(
                st.just("cmp"),
                st.sampled_from(["<", "<=", ">", ">=", "=="]),
                st.sampled_from([("field", "x"), ("field", "w"), ("field", "n")]),
                st.sampled_from(FLOAT_LITERALS + INT_LITERALS).map(lambda v: ("lit", v)),
            )
        )
        head = moved(base, choose)
        return (base, ("and", head, base)) if choose(4) == 0 else (base, head)
    base = draw(conditions())
    if how == "rewrite":
        return base, rewrite(base, choose)
    if how == "mutate":
        return base, mutate(base, choose)
    return base, draw(conditions())


# ------------------------------------------------------------------ compiling and evaluating


def compile_condition(condition: str) -> tuple[dict, list[dict]] | None:
    """The checked IR of `condition` as a rule's `when`, and the input's fields; None when it does
    not compile (a comparison the checker refuses)."""
    source = f'policy p version "1" {{\n{SCHEMA}\n  rule r {{\n    when {condition}\n    then scale(targets: pool)\n  }}\n}}\n'
    try:
        ir = compile_paths(["p.bal"], sources={"p.bal": source}, stop_after="check-types").ir
    except CompileError:
        return None
    policy = ir["policies"][0]
    return policy["rules"][0]["when"], policy["input"]["fields"]


def fires(condition: dict, event: dict[str, Any]) -> bool:
    try:
        return evaluate_condition(condition, event)
    except EvaluationError:
        return False


FILLER = {"pool": "p", "n": 0, "x": 0.0, "tier": "a", "flag": False}


def event_of(values: dict[str, Any]) -> dict[str, Any]:
    """A valid event around a witness: the other required fields at any valid value; an optional
    field the witness leaves out, or gives as None, is absent."""
    event = dict(FILLER)
    for name, value in values.items():
        assert name in (*FILLER, "w"), f"the witness names {name!r}, not an input field"
        if value is not None:
            event[name] = float(value) if name in ("x", "w") else value
        else:
            event.pop(name, None)
    for name, value in event.items():
        if name == "n":
            assert isinstance(value, int) and 0 <= value <= 10, event
        if name in ("x", "w"):
            assert 0 <= value <= 1, event
    return event


def near(values: set[float]) -> list[float]:
    """Boundary values in [0, 1]: each literal, its float neighbours, and the ends."""
    out = {0.0, 1.0}
    for v in values:
        for candidate in (v, math.nextafter(v, -math.inf), math.nextafter(v, math.inf), v / 2, v / 10):
            if 0 <= candidate <= 1:
                out.add(float(candidate))
    return sorted(out)


BOUNDARIES = near(set(FLOAT_LITERALS) | {v / 10 for v in INT_LITERALS})
FLOATS = st.one_of(st.sampled_from(BOUNDARIES), st.floats(0, 1))
EVENTS = st.lists(
    st.fixed_dictionaries(
        {
            "pool": st.just("p"),
            "n": st.integers(0, 10),
            "x": FLOATS,
            "tier": st.sampled_from(TIERS),
            "flag": st.booleans(),
        },
        optional={"w": FLOATS},
    ),
    min_size=20,
    max_size=40,
)


# ------------------------------------------------------------------ the properties


def check(base: str, head: str) -> tuple[Comparison, dict, dict] | None:
    """Compare two conditions and check properties (b) and (c): (the comparison, the old and the
    new condition's IR), or None when one side does not compile."""
    old, new = compile_condition(base), compile_condition(head)
    if old is None or new is None:
        return None
    (before, fields_old), (after, fields_new) = old, new
    result = compare(before, after, Domain(fields_old, fields_new))
    # (c) the verdict and the witnesses agree
    assert result.verdict in ("equivalent", "narrowed", "widened", "changed", "undecided"), result
    if result.verdict == "narrowed":
        assert result.gained is None and result.lost is not None, result
    if result.verdict == "widened":
        assert result.lost is None and result.gained is not None, result
    if result.verdict == "equivalent":
        assert result.gained is None and result.lost is None, result
    # (b) every witness separates the two conditions
    for witness, new_fires in ((result.gained, True), (result.lost, False)):
        if witness is None:
            continue
        event = event_of(witness.values)
        got = (fires(before, event), fires(after, event))
        assert got == (not new_fires, new_fires), (
            f"{'gained' if new_fires else 'lost'} witness {witness.values} (event {event}) does not separate "
            f"{base!r} and {head!r}: old fires {got[0]}, new fires {got[1]}"
        )
    return result, before, after


def event(**values: Any) -> dict[str, Any]:
    return {**FILLER, **values}


@SETTINGS
@given(pair=pairs(), events=EVENTS)
# float arithmetic: the two agree on real numbers, not on doubles (0.1 + 0.2 > 0.3 in Python)
@example(
    pair=(
        ("cmp", ">", ("bin", "+", ("field", "x"), ("lit", 0.2)), ("lit", 0.3)),
        ("cmp", ">", ("field", "x"), ("lit", 0.1)),
    ),
    events=[event(x=0.1)],
)
@example(
    pair=(
        ("cmp", ">", ("bin", "*", ("field", "n"), ("lit", 0.1)), ("lit", 0.3)),
        ("cmp", ">", ("field", "n"), ("lit", 3)),
    ),
    events=[event(n=3)],
)
# a witness on the reals that Python's rounding undoes: x = 0.2 (0.2 * 3 is 0.6000000000000001)
@example(
    pair=(
        ("cmp", ">", ("bin", "*", ("field", "x"), ("lit", 3)), ("lit", 0.3)),
        ("cmp", ">", ("bin", "*", ("field", "x"), ("lit", 3)), ("lit", 0.6)),
    ),
    events=[],
)
def test_solver_against_the_interpreter(pair: tuple[tuple, tuple], events: list[dict[str, Any]]) -> None:
    base, head = (text(e) for e in pair)
    checked = check(base, head)
    if checked is None or checked[0].verdict != "equivalent":
        return
    # (a) "equivalent" means alike on every sampled event
    _, before, after = checked
    for e in events:
        assert fires(before, e) == fires(after, e), (
            f"proven equivalent, yet {base!r} and {head!r} decide differently on {e}"
        )
