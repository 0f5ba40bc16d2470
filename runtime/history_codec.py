"""A key's field histories as one string, for Engine snapshots (format `ballast-engine-state/3`).

A snapshot of 10,000 keys with seven windowed fields holds a million samples. As JSON lists
they cost on three counts: a list per series is an object the cyclic collector scans (hundreds
of thousands of them right after a snapshot), every float is printed and parsed as decimal
text, and both take longer than the state took to build. Packed as raw IEEE doubles, a key's
histories are one string: nothing for the collector, no decimal conversion, and exact by
construction (the bytes are the values).

The layout, base64 (RFC 4648, padded) of little-endian bytes: the key's clock, then one record
per field of the key's grouping, in the order the snapshot's `fields` lists them:

    int32 m, float64 × m     the clock: the times of the key's longest series
    per field:
      int32 n                -1: the key has no history of this field
      uint8 own              0: the times are the clock's last n; 1: they follow
      float64 × n            the times (only when own)
      float64 × n            the values

Fields of one event are sampled at the same instant, and each series keeps the samples of its
own longest window: most series' times are the newest part of the clock.
"""

from __future__ import annotations

import base64
import binascii
import struct
import sys
from array import array
from collections.abc import Sequence

from ballast.runtime.windows import Series

_HEAD = struct.Struct("<iB")
_COUNT = struct.Struct("<i")
_NONE = _HEAD.pack(-1, 0)
_SWAP = sys.byteorder == "big"  # the bytes are little-endian on every machine


class HistoryFormatError(ValueError):
    """A packed history that is not what `pack_histories` writes."""


def pack_histories(series: Sequence[Series | None]) -> str:
    """The samples of every series (None: no history) as one base64 string."""
    present = [s for s in series if s is not None]
    clock = max((s.times for s in present), key=len, default=array("d"))
    out = bytearray(_COUNT.pack(len(clock)))
    out += _little(clock)
    m = len(clock)
    for s in series:
        if s is None:
            out += _NONE
            continue
        times = s.times
        n = len(times)
        own = clock[m - n :] != times
        out += _HEAD.pack(n, own)
        if own:
            out += _little(times)
        out += _little(s.values)
    return base64.b64encode(bytes(out)).decode("ascii")


def unpack_histories(text: str, retentions: Sequence[float]) -> list[Series | None]:
    """The series `pack_histories` packed, one per field, each with its field's retention.
    Raises HistoryFormatError when the text is not such a packing of `len(retentions)` fields."""
    try:
        data = memoryview(base64.b64decode(text.encode("ascii"), validate=True))
    except (binascii.Error, UnicodeEncodeError, AttributeError) as exc:
        raise HistoryFormatError(f"a key's histories are not base64: {exc}") from None
    if len(data) < _COUNT.size:
        raise HistoryFormatError("a key's histories end early")
    (m,) = _COUNT.unpack_from(data)
    if m < 0:
        raise HistoryFormatError("a key's histories have a clock of negative length")
    clock, at = _doubles(data, _COUNT.size, m)
    out: list[Series | None] = []
    for retention in retentions:
        if at + _HEAD.size > len(data):
            raise HistoryFormatError("a key's histories end early")
        n, own = _HEAD.unpack_from(data, at)
        at += _HEAD.size
        if n < 0:
            out.append(None)
            continue
        series = Series(retention)
        if own:
            series.times, at = _doubles(data, at, n)
        elif n <= m:
            series.times = clock[m - n :]
        else:
            raise HistoryFormatError("a key's history is longer than its clock")
        series.values, at = _doubles(data, at, n)
        out.append(series)
    if at != len(data):
        raise HistoryFormatError("a key's histories hold more fields than the snapshot lists")
    return out


def _little(values: array) -> bytes:
    if not _SWAP:
        return values.tobytes()
    swapped = array("d", values)
    swapped.byteswap()
    return swapped.tobytes()


def _doubles(data: memoryview, at: int, n: int) -> tuple[array, int]:
    end = at + 8 * n
    if end > len(data):
        raise HistoryFormatError("a key's histories end early")
    values = array("d")
    values.frombytes(data[at:end])
    if _SWAP:
        values.byteswap()
    return values, end


__all__ = ["HistoryFormatError", "pack_histories", "unpack_histories"]
