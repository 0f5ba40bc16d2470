"""The ASGI app of `ballast serve`: HTTP in front of a `Service`.

Each route reads and checks its request, calls the Service, and writes its answer as JSON.
Whatever goes wrong becomes an RFC 9457 problem document (service/problems.py): a malformed
body, a body over `max_body` (413), more than `queue` requests in flight (429 with
`Retry-After`), a missing or wrong admin token (401/403), an unknown route (404); an exception
that escapes the Service is logged for the operator and answered as a 500 problem, never as a
traceback. docs/service.md describes every route, and service/openapi.json is its contract.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from ballast.runtime.reading import loads
from ballast.service.core import Service
from ballast.service.dashboard import asset, page, report_file
from ballast.service.problems import PROBLEM_MEDIA_TYPE, Problem, json_type

log = logging.getLogger("ballast.service")
RETRY_AFTER_SECONDS = 1  # a request in flight takes milliseconds: one second is a generous wait
STREAM_POLL_SECONDS = 0.25  # how often the event stream looks for new items
# Requests of up to this many events are decided on the event loop: deciding one takes tens of
# microseconds, handing it to a worker thread and back costs more (and much more on a loaded
# machine). Larger batches go to a thread so that health checks and scrapes are answered meanwhile,
# and so do all requests while a policy change is under way (its commit holds the Engine; a
# change that starts just after the check makes the loop wait for it: slower, never wrong).
INLINE_EVENTS = 16
Handler = Callable[[Request, Service], Awaitable[Response]]


def json_response(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """Sorted keys and no ASCII escapes: the same answer is the same bytes."""
    body = json.dumps(value, ensure_ascii=False, sort_keys=True).encode("utf-8")
    return Response(body, status, headers=headers, media_type="application/json")


def problem_response(problem: Problem, instance: str) -> Response:
    return Response(problem.body(instance), problem.status, headers=problem.headers, media_type=PROBLEM_MEDIA_TYPE)


def create_app(service: Service) -> Starlette:
    """The app serving `service` (its routes: docs/service.md)."""

    def endpoint(
        handler: Handler, *, admitted: bool = False, admin: bool = False
    ) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            entered = False
            try:
                if admin:
                    _check_token(request, service.options.admin_token)
                if admitted:
                    if not service.admission.enter():
                        service.health.saw_busy()
                        raise Problem(
                            "busy",
                            f"{service.admission.limit} requests are in flight (--queue): retry after {RETRY_AFTER_SECONDS}s",
                            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
                        )
                    entered = True
                return await handler(request, service)
            except Problem as problem:
                if problem.status in (401, 403, 413, 429) and problem.kind != "untrusted-bundle":
                    service.metrics.rejected.labels(problem.kind).inc()
                return problem_response(problem, request.url.path)
            except Exception:  # a bug in Ballast: the operator gets the traceback, the client a problem
                log.exception("internal error serving %s %s", request.method, request.url.path)
                internal = Problem(
                    "internal", "internal error in Ballast; the service log has the details: please report it"
                )
                return problem_response(internal, request.url.path)
            finally:
                if entered:
                    service.admission.leave()

        return run

    routes = [
        Route("/", endpoint(_dashboard), methods=["GET"]),
        Route("/assets/{name}", endpoint(_asset), methods=["GET"]),
        Route("/reports/{name}", endpoint(_report), methods=["GET"]),
        Route("/openapi.json", endpoint(_openapi), methods=["GET"]),
        Route("/metrics", endpoint(_metrics), methods=["GET"]),
        Route("/v1/evaluate", endpoint(_evaluate, admitted=True), methods=["POST"]),
        Route("/v1/threat", endpoint(_threat), methods=["GET"]),
        Route("/v1/preflight", endpoint(_preflight, admitted=True), methods=["POST"]),
        Route("/v1/policies", endpoint(_policies, admitted=True, admin=True), methods=["PUT"]),
        Route("/v1/health", endpoint(_health), methods=["GET"]),
        Route("/v1/dashboard", endpoint(_dashboard_state), methods=["GET"]),
        Route("/v1/stream", endpoint(_stream), methods=["GET"]),
    ]

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 405:
            problem = Problem(
                "method-not-allowed",
                f"{request.method} {request.url.path}: this route does not take {request.method}",
                headers=dict(exc.headers or {}),
            )
        else:
            problem = Problem(
                "not-found", f"{request.url.path}: no such route; docs/service.md lists them, and /openapi.json"
            )
        return problem_response(problem, request.url.path)

    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error})
    app.state.service = service
    return app


# ---- request helpers ----
def _check_token(request: Request, token: str | None) -> None:
    if token is None:
        return
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise Problem(
            "unauthorized",
            "this route needs the admin token: send Authorization: Bearer TOKEN",
            headers={"WWW-Authenticate": 'Bearer realm="ballast"'},
        )
    if not hmac.compare_digest(given.strip().encode("utf-8"), token.encode("utf-8")):
        raise Problem("forbidden", "the bearer token is not this service's admin token")


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise Problem("too-large", f"the body has {declared} bytes; this service takes at most {limit} (--max-body)")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:  # a chunked body declares no length: count as it comes
            raise Problem("too-large", f"the body is over {limit} bytes, the most this service takes (--max-body)")
        chunks.append(chunk)
    return b"".join(chunks)


async def _read_json(request: Request, limit: int) -> Any:
    body = await _read_body(request, limit)
    if not body.strip():
        raise Problem("malformed-json", "the body is empty: send one JSON document")
    try:
        return loads(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise Problem("malformed-json", f"the body is not UTF-8: byte {exc.start}: {exc.reason}") from None
    except json.JSONDecodeError as exc:
        raise Problem("malformed-json", f"line {exc.lineno}, column {exc.colno}: {exc.msg}") from None


def _flag(request: Request, name: str) -> bool:
    value = request.query_params.get(name, "false").lower()
    if value not in ("true", "false", "1", "0"):
        raise Problem("bad-request", f"?{name}={value}: expected true or false")
    return value in ("true", "1")


# ---- routes ----
async def _evaluate(request: Request, service: Service) -> Response:
    document = await _read_json(request, service.options.max_body)
    input_name = request.query_params.get("input")
    batch = isinstance(document, dict) and "events" in document
    if batch:
        unknown = sorted(set(document) - {"events", "input"})
        if unknown:
            raise Problem(
                "invalid-request",
                f'a batch is {{"events": [...], "input": NAME}}; unknown member {unknown[0]!r} '
                "(an event with a field named events is sent inside a batch)",
            )
        events = document["events"]
        if not isinstance(events, list):
            raise Problem("invalid-request", "events must be an array of event objects")
        if len(events) > service.options.max_batch:
            raise Problem(
                "invalid-request", f"{len(events)} events in one batch; at most {service.options.max_batch}: split it"
            )
        if "input" in document:
            if not isinstance(document["input"], str):
                raise Problem("invalid-request", "input must be the name of an input (a string)")
            if input_name is not None and input_name != document["input"]:
                raise Problem(
                    "invalid-request", f"?input={input_name} and the body's input {document['input']!r} differ"
                )
            input_name = document["input"]
    elif isinstance(document, dict):
        events = [document]
    else:
        raise Problem(
            "invalid-request",
            'the body is one event (a JSON object) or a batch {"events": [...]}; got ' + json_type(document),
        )
    if len(events) <= INLINE_EVENTS and not service.changing:
        results = service.evaluate(events, input_name)  # a thread hop would cost more than the decision
    else:  # a large batch, or a reload holding the engine: keep the event loop free meanwhile
        results = await run_in_threadpool(service.evaluate, events, input_name)
    if not batch:
        return json_response(results[0].to_dict())
    return json_response({"results": [{"index": i, **r.to_dict()} for i, r in enumerate(results)]})


async def _threat(request: Request, service: Service) -> Response:
    return json_response(service.threat(request.query_params.get("threat")))


async def _preflight(request: Request, service: Service) -> Response:
    simulate = _flag(request, "simulate")
    action = await _read_json(request, service.options.max_body)
    return json_response(await run_in_threadpool(service.preflight, action, simulate=simulate))


async def _policies(request: Request, service: Service) -> Response:
    if "x-signature" in request.headers:
        raise Problem(
            "bad-request",
            "X-Signature is not read: a bundle carries its own signatures (ballast sign), "
            "which the service's keyring must trust; send the signed bundle alone",
        )
    allow_rollback = _flag(request, "allow_rollback")
    body = await _read_body(request, service.options.max_body)
    actor = request.headers.get("x-ballast-actor") or f"http {request.client.host if request.client else 'unknown'}"
    outcome = await run_in_threadpool(service.propose, body, actor=actor[:200], allow_rollback=allow_rollback)
    return json_response(outcome.to_dict())


async def _health(request: Request, service: Service) -> Response:
    report = service.health.report()
    return json_response(report, 200 if report["status"] == "ok" else 503)


async def _metrics(request: Request, service: Service) -> Response:
    from prometheus_client import CONTENT_TYPE_LATEST

    return Response(service.metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def _openapi(request: Request, service: Service) -> Response:
    text = resources.files("ballast.service").joinpath("openapi.json").read_bytes()
    return Response(text, media_type="application/json")


async def _dashboard(request: Request, service: Service) -> Response:
    return Response(page(service), media_type="text/html; charset=utf-8")


async def _asset(request: Request, service: Service) -> Response:
    found = asset(request.path_params["name"])
    if found is None:
        raise Problem("not-found", f"no asset named {request.path_params['name']!r}")
    data, media_type = found
    return Response(data, media_type=media_type, headers={"Cache-Control": "no-cache"})


async def _report(request: Request, service: Service) -> Response:
    found = report_file(service, request.path_params["name"])
    if found is None:
        raise Problem("not-found", f"no report named {request.path_params['name']!r} in --reports")
    data, media_type = found
    return Response(data, media_type=media_type)


async def _dashboard_state(request: Request, service: Service) -> Response:
    from ballast.service.dashboard import snapshot

    return json_response(snapshot(service))


async def _stream(request: Request, service: Service) -> Response:
    """Server-sent events: each new feed item (`directive`, `threat`, `policy`), then `status`
    whenever it changes. `?once=true` sends what there is and ends (for scripts and tests)."""
    from ballast.service.dashboard import status

    once = _flag(request, "once")
    start = request.headers.get("last-event-id") or request.query_params.get("since") or "0"
    if not start.isdigit():
        raise Problem("bad-request", f"Last-Event-ID / ?since={start}: expected the number of an event")

    async def events() -> AsyncIterator[str]:
        last, shown = int(start), None
        yield "retry: 2000\n\n"
        while True:
            for item in service.feed.since(last):
                last = item["seq"]
                yield f"id: {last}\nevent: {item['kind']}\ndata: {json.dumps(item, ensure_ascii=False, sort_keys=True)}\n\n"
            now = status(service)
            if now != shown:
                shown = now
                yield f"event: status\ndata: {json.dumps(now, ensure_ascii=False, sort_keys=True)}\n\n"
            if once or await request.is_disconnected():
                return
            await asyncio.sleep(STREAM_POLL_SECONDS)

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


__all__ = ["create_app", "json_response", "problem_response"]
