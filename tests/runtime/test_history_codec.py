"""Packed key histories (`ballast.runtime.history_codec`): exact round trips, refused damage."""

from __future__ import annotations

import base64
import json
import struct
from array import array

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ballast
from ballast import Engine
from ballast.runtime.errors import UsageError
from ballast.runtime.history_codec import HistoryFormatError, pack_histories, unpack_histories
from ballast.runtime.windows import Series

doubles = st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True)


@st.composite
def histories(draw: st.DrawFn) -> list[Series | None]:
    """A key's series: some fields without history, some sampled at the same times as the field before."""
    out: list[Series | None] = []
    times: list[float] | None = None
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["none", "own", "same"]))
        if kind == "none":
            out.append(None)
            continue
        if kind == "own" or times is None:
            times = sorted(draw(st.lists(st.floats(-1e12, 1e12), max_size=12)))
        s = Series(60.0)
        s.times = array("d", times)
        s.values = array("d", draw(st.lists(doubles, min_size=len(times), max_size=len(times))))
        out.append(s)
    return out


def same_bits(a: array, b: array) -> bool:
    return a.tobytes() == b.tobytes()  # NaN payloads and -0.0 included


@settings(max_examples=200, deadline=None)
@given(histories())
def test_a_packing_gives_back_every_sample_bit_for_bit(series: list[Series | None]) -> None:
    text = pack_histories(series)
    assert text.isascii() and json.loads(json.dumps(text)) == text
    back = unpack_histories(text, [30.0] * len(series))
    assert len(back) == len(series)
    for original, copy in zip(series, back, strict=True):
        if original is None:
            assert copy is None
            continue
        assert copy is not None and copy.retention == 30.0
        assert same_bits(original.times, copy.times) and same_bits(original.values, copy.values)
        assert copy.times is not original.times  # each series owns its arrays
    assert pack_histories(back) == text


def test_fields_sampled_together_store_their_times_once() -> None:
    def series(times: list[float], values: list[float]) -> Series:
        s = Series(60.0)
        s.times, s.values = array("d", times), array("d", values)
        return s

    t = [float(i) for i in range(40)]
    shared = pack_histories([series(t, t), series(t, t), series(t, t)])
    apart = pack_histories([series(t, t), series([*t[:-1], 99.0], t), series(t, t)])
    newest = pack_histories([series(t[30:], t[30:]), series(t, t), series(t[10:], t[10:])])
    assert len(base64.b64decode(shared)) == 4 + 3 * 5 + 4 * 40 * 8  # one times column (the clock), three value columns
    assert len(base64.b64decode(apart)) == 4 + 3 * 5 + 5 * 40 * 8  # the second field's times of its own
    assert len(base64.b64decode(newest)) == 4 + 3 * 5 + 8 * (40 + 10 + 40 + 30)  # the newest part of the clock
    back = unpack_histories(shared, [1.0, 2.0, 3.0])
    back[0].times.append(41.0)  # type: ignore[union-attr]
    assert len(back[1].times) == 40  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "fields", "message"),
    [
        ("not base64!", 1, "not base64"),
        ("", 1, "end early"),
        (base64.b64encode(struct.pack("<i", 0)).decode(), 1, "end early"),
        (base64.b64encode(struct.pack("<i", -2)).decode(), 1, "clock of negative length"),
        (base64.b64encode(struct.pack("<i", 3) + b"\0" * 16).decode(), 1, "end early"),
        (base64.b64encode(struct.pack("<iiB", 0, 3, 1) + b"\0" * 16).decode(), 1, "end early"),
        (base64.b64encode(struct.pack("<iiB", 0, 1, 0) + b"\0" * 8).decode(), 1, "longer than its clock"),
        (base64.b64encode(struct.pack("<i", 0) + struct.pack("<iB", -1, 0) * 2).decode(), 1, "more fields"),
        ("é", 1, "not base64"),
    ],
)
def test_a_damaged_packing_is_refused_with_what_is_wrong(text: str, fields: int, message: str) -> None:
    with pytest.raises(HistoryFormatError, match=message):
        unpack_histories(text, [1.0] * fields)


POLICY = """policy t.codec version "1" {
  input m { ts: timestamp  pool: string  x: float }
  stream { time ts }
  action page(targets: selector)
  rule hot { group by pool  when avg(x, 1m) > 60  then page(targets: pool) }
}
"""


def test_a_snapshot_with_damaged_histories_is_refused_not_half_restored() -> None:
    policies = ballast.compile(["codec.bal"], sources={"codec.bal": POLICY})
    engine = Engine(policies)
    for i in range(5):
        engine.process({"ts": 1_763_200_800 + 10 * i, "pool": "a", "x": float(i)})
    snapshot = json.loads(json.dumps(engine.snapshot()))
    assert snapshot["format"] == "ballast-engine-state/3"
    restored = Engine.restore(policies, snapshot)
    assert restored.snapshot() == snapshot
    snapshot["policies"][0]["keys"][0]["histories"] = snapshot["policies"][0]["keys"][0]["histories"][:-8]
    with pytest.raises(UsageError, match="not an engine snapshot: a key's histories"):
        Engine.restore(policies, snapshot)
