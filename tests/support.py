"""Helpers shared by the test modules (pytest puts this folder on sys.path): the CLI in-process,
bit-exact comparison, and headless Chromium for pages (the simulator's reports, the service's
dashboard)."""

from __future__ import annotations

import io
import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path
from typing import Any

import pytest


def same_value(a: Any, b: Any) -> bool:
    """Equal and of the same type, recursively; floats bit for bit (so 0.0 is not -0.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return struct.pack("<d", a) == struct.pack("<d", b)
    if isinstance(a, list):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    return a == b


def run_cli(*args: object, stdin: str = "", stdout: io.StringIO | None = None) -> tuple[int, str, str]:
    """The `ballast` command in-process with string streams: (exit code, stdout, stderr)."""
    from ballast.cli import main

    out, err = stdout or io.StringIO(), io.StringIO()
    code = main([str(a) for a in args], stdout=out, stderr=err, stdin=io.StringIO(stdin))
    return code, out.getvalue(), err.getvalue()


# --- headless Chromium -------------------------------------------------------------------------


def find_chromium() -> str | None:
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def chromium(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--window-size=1280,2400",
        "--hide-scrollbars",
    ]
    return subprocess.run([browser, *flags, *args], capture_output=True, text=True, timeout=60, check=False)


def png_pixels(data: bytes) -> tuple[int, int, set[bytes]]:
    """Width, height and the distinct colours of an 8-bit RGB or RGBA PNG (all filters undone)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    offset, idat, header = 8, b"", b""
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind, body = data[offset + 4 : offset + 8], data[offset + 8 : offset + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        offset += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour in (2, 6), f"unexpected PNG depth {depth} colour type {colour}"
    size = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(idat), width * size
    previous, colours = bytearray(stride), set()
    for y in range(height):
        kind, row = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            left = row[i - size] if i >= size else 0
            up, corner = previous[i], previous[i - size] if i >= size else 0
            if kind == 1:
                row[i] = (row[i] + left) & 0xFF
            elif kind == 2:
                row[i] = (row[i] + up) & 0xFF
            elif kind == 3:
                row[i] = (row[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                row[i] = (row[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
        if y % 8 == 0:  # a sample of rows is plenty to tell a drawn page from a blank one
            colours.update(bytes(row[x : x + 3]) for x in range(0, stride, size * 4))
        previous = row
    return width, height, colours


def require_chromium() -> str:
    browser = find_chromium()
    if browser is None:
        if os.environ.get("BALLAST_SKIP_BROWSER") == "1":
            pytest.skip("BALLAST_SKIP_BROWSER=1: no Chromium to render the report in")
        pytest.fail(
            "Chromium is not installed: run `make test`, which installs it "
            "(or set BALLAST_SKIP_BROWSER=1 to skip this test)"
        )
    return browser
