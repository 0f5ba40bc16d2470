"""Test-session set-up, shared by every folder of the suite.

The folders mirror the packages (`compiler/`, `dsl/`, `runtime/`, `simulator/`, `cli/`,
`policytest/`, and `project/` for checks of the whole repository); `support.py` beside this file
holds the helpers they share (`run_cli`, `same_value`), `cases/` and `golden/` their data.

Ballast's on-disk caches go to a fresh directory, not the user's own.

The suite checks thousands of generated and mutated files; their parsed documents would otherwise
pile up in ~/.cache/ballast, and a developer's cache could make a test pass that fails on CI.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

_CACHE = tempfile.mkdtemp(prefix="ballast-test-cache-")
os.environ["BALLAST_CACHE_DIR"] = _CACHE
atexit.register(shutil.rmtree, _CACHE, True)


import pytest  # noqa: E402 - after the cache is set up, before any test imports ballast


@pytest.fixture(autouse=True)
def _working_directory_kept():
    """A test that changes the working directory without `monkeypatch.chdir` would move every
    later test that reads a relative path (catalog/…): put it back, and fail the test that moved it."""
    before = os.getcwd()
    yield
    after = os.getcwd()
    if after != before:
        os.chdir(before)
        pytest.fail(f"the test changed the working directory to {after}; use monkeypatch.chdir")
