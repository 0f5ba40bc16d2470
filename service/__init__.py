"""`ballast serve`: the runtime as an HTTP service, with Prometheus metrics and a live dashboard.

    service = open_service("motb.bundle.json", trust="keyring.json", ledger="audit.sqlite")
    app = create_app(service)              # an ASGI app: uvicorn.run(app, port=8181)

`Service` (service/core.py) owns the policy store, the ledger, the metrics and the health, and
knows nothing of HTTP; `create_app` (service/app.py) puts the routes of docs/service.md in front
of it. The runtime never imports this package: it needs Starlette, uvicorn and prometheus-client
(`pip install 'ballast[serve]'`), which an embedded runtime does not.
"""

from __future__ import annotations

from ballast.service.app import create_app
from ballast.service.core import Admission, Service, ServiceOptions
from ballast.service.health import Health, HealthPolicy
from ballast.service.opening import open_service, read_token
from ballast.service.problems import PROBLEMS, Problem

__all__ = [
    "PROBLEMS",
    "Admission",
    "Health",
    "HealthPolicy",
    "Problem",
    "Service",
    "ServiceOptions",
    "create_app",
    "open_service",
    "read_token",
]
