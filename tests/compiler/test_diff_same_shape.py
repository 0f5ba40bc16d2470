"""`same_shape`, the diff's fast path, answers exactly as comparing the two `_shape` copies.

It walks both expressions at once instead of copying them (compiler/diff/solver.py); a rule it
wrongly calls unchanged would never reach the solver, so it must agree with the copies' `==` on
everything the copies ignore (positions, constant names, types, lets) and everything they keep.
"""

from __future__ import annotations

from typing import Any

import pytest

from ballast.compiler.diff.solver import _shape, same_shape


def cmp(op: str, field: str, value: Any, at: int = 1) -> dict[str, Any]:
    return {
        "k": "cmp",
        "op": op,
        "l": {"k": "field", "path": [field], "t": "float", "at": [at, 1, at, 5]},
        "r": {"k": "lit", "v": value, "at": [at, 8, at, 11]},
        "at": [at, 1, at, 11],
    }


LOAD = cmp(">", "load", 0.8)
CASES = [
    (LOAD, cmp(">", "load", 0.8, at=7)),  # positions differ
    (LOAD, {**cmp(">", "load", 0.8), "t": "bool", "text": "load > 0.8"}),  # types and texts are not shape
    (LOAD, {"k": "let", "name": "hot", "e": cmp(">", "load", 0.8)}),  # a let is its expression
    ({"k": "let", "name": "a", "e": LOAD}, {"k": "let", "name": "b", "e": LOAD}),
    (LOAD, cmp(">", "load", 0.85)),  # a threshold moved
    (LOAD, cmp(">=", "load", 0.8)),
    (LOAD, cmp(">", "risk", 0.8)),
    (LOAD, {**cmp(">", "load", 0.8), "extra": 1}),  # a key more
    ({"k": "lit", "v": 1}, {"k": "lit", "v": 1.0}),  # Python's == on values: 1 == 1.0
    ({"k": "lit", "v": 1, "const": "limit"}, {"k": "lit", "v": 1}),
    ({"k": "list", "items": [LOAD]}, {"k": "list", "items": [LOAD, LOAD]}),  # lengths differ
    ({"k": "list", "items": [LOAD]}, {"k": "list", "items": (LOAD,)}),  # a tuple is not a list
    ({"k": "list", "items": []}, {"k": "list", "items": {}}),
    ({"k": "lit", "v": "x"}, {"k": "lit", "v": ["x"]}),
    (LOAD, LOAD),
]


@pytest.mark.parametrize(("a", "b"), CASES + [(b, a) for a, b in CASES])
def test_same_shape_agrees_with_comparing_the_shapes(a: Any, b: Any) -> None:
    assert same_shape(a, b) == (_shape(a) == _shape(b))
