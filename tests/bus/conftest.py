"""Fixtures of the bus tests: one real nats-server (JetStream, loopback, a temporary store) per module."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from bus_support import bundle, nats_binary, start_nats

_names = itertools.count(1)


@pytest.fixture(scope="module")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if nats_binary() is None:
        pytest.skip("no nats-server binary beside the Python interpreter or on PATH: pip install 'ballast[bus]'")
    proc, url = start_nats(tmp_path_factory.mktemp("jetstream"))
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def stream_name() -> str:
    """A stream (and subject) of its own for each test."""
    return f"T{next(_names)}"


@pytest.fixture(scope="module")
def hot_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bundle(tmp_path_factory.mktemp("bundle"))
