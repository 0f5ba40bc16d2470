"""The OpenAPI document is the service's contract: schemathesis generates requests for every
documented operation from it and checks each answer against it (a documented status, the
documented media type, a body of the documented schema, no 5xx), against the app itself.

The document describes what the HTTP layer checks: an event is an object, an action descriptor
is an object, a bundle is a JSON object. What the running bundle accepts beyond that (the names
of its inputs, the fields of its safety catalog, a bundle its keyring trusts) changes with the
bundle, is checked by the runtime and refused with a 422 problem; for those three operations
schemathesis' "a schema-valid request is accepted" check cannot hold and is left out (every
other check runs; test_routes.py checks each of those 422s).

The event stream is left to test_routes.py: without `?once=true` it does not end, and
schemathesis would wait on it forever; its answer is checked against the document there.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks
from service_support import event, service
from starlette.testclient import TestClient

from ballast.service import create_app

DOCUMENTED_STATUSES = {"200", "400", "401", "403", "404", "409", "413", "422", "429", "500", "501", "503"}


DOCUMENT = json.loads(resources.files("ballast.service").joinpath("openapi.json").read_text(encoding="utf-8"))
# every documented operation but the endless event stream (see the module docstring)
BUNDLE_DEPENDENT = {("post", "/v1/evaluate"), ("post", "/v1/preflight"), ("put", "/v1/policies")}
OPERATIONS = sorted(
    (method, path) for path, item in DOCUMENT["paths"].items() for method in item if path != "/v1/stream"
)


@pytest.fixture(scope="module")
def api_schema() -> Any:
    s = service(safety=True, max_batch=50)
    app = create_app(s)
    client = TestClient(app)
    # some history, so the threat and dashboard answers are not all empty
    client.post("/v1/evaluate?input=ev", json=event(0.9))
    client.post("/v1/evaluate?input=signals", json={"ts": 1_780_000_000, "risk": 50})
    return schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m.upper()} {p}" for m, p in OPERATIONS])
def test_the_app_answers_as_its_openapi_document_says(api_schema: Any, method: str, path: str) -> None:
    operation = api_schema[path][method]
    excluded = [checks.positive_data_acceptance] if (method, path) in BUNDLE_DEPENDENT else []

    @given(case=operation.as_strategy())
    @settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate(excluded_checks=excluded)

    check()


def test_the_served_document_is_the_packaged_one_and_is_openapi_3_1() -> None:
    client = TestClient(create_app(service()))
    served = client.get("/openapi.json")
    assert served.status_code == 200
    packaged = json.loads(resources.files("ballast.service").joinpath("openapi.json").read_text(encoding="utf-8"))
    assert served.json() == packaged
    assert packaged["openapi"] == "3.1.0"


def test_every_route_of_the_app_is_documented_and_every_documented_route_exists() -> None:
    app = create_app(service())
    routes = {(route.path, method.lower()) for route in app.routes for method in route.methods if method != "HEAD"}
    documented = {(path, method) for path, item in DOCUMENT["paths"].items() for method in item}
    assert routes == documented


def test_every_problem_status_is_documented_somewhere() -> None:
    from ballast.service import PROBLEMS

    statuses = {code for item in DOCUMENT["paths"].values() for op in item.values() for code in op["responses"]}
    # 404 and 405 for unknown routes and methods come from the router, for any path
    assert {str(status) for status, _ in PROBLEMS.values()} - {"405"} <= statuses
    assert statuses <= DOCUMENTED_STATUSES
