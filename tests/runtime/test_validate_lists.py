"""The schema's fast check of plain lists (`roles: list<string>`) agrees with `validate`."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ballast.runtime.validate import fast_checker, validate

FIELDS = [
    {"name": "roles", "type": {"list": "string"}},
    {"name": "counts", "type": {"list": "int"}, "optional": True},
    {"name": "flags", "type": {"list": "bool"}, "optional": True},
]
CHECK = fast_checker(FIELDS)
ITEMS = st.one_of(st.text(max_size=3), st.integers(-3, 3), st.booleans(), st.floats(allow_nan=False), st.none())
VALUES = st.one_of(st.lists(ITEMS, max_size=4), ITEMS)


@given(roles=VALUES, counts=st.one_of(st.just(None), VALUES), flags=st.one_of(st.just(None), VALUES))
def test_the_fast_check_passes_only_what_validate_keeps_unchanged(roles: Any, counts: Any, flags: Any) -> None:
    event = {
        "roles": roles,
        **({"counts": counts} if counts is not None else {}),
        **({"flags": flags} if flags is not None else {}),
    }
    data, problems = validate(event, FIELDS)
    if CHECK(event):  # the fast path may pass only what the slow path keeps as it is
        assert data == event and not problems


def test_plain_lists_take_the_fast_path() -> None:
    assert CHECK({"roles": ["sre", "dba"], "counts": [1, 2], "flags": [True]})
    assert CHECK({"roles": []})
    assert (
        not CHECK({"roles": ["sre", 1]}) and not CHECK({"roles": "sre"}) and not CHECK({"roles": [], "counts": [True]})
    )
