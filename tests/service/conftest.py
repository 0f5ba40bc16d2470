"""Set-up of the service tests (service_support.py builds the bundle, keyring and Service).

Starlette 0.5x warns, when its TestClient is imported, that it would rather run on `httpx2`; the
project's dev extras install httpx (pyproject.toml), which it still supports, so the notice is
silenced for these tests rather than repeated in every run's summary.
"""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("filterwarnings", "ignore:Using `httpx` with `starlette.testclient`")
