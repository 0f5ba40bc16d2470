"""RFC 9457 problem documents: every refusal of the service is one JSON object, never a traceback.

A `Problem` is raised anywhere below a route and rendered once, by `problem_response`, as
`application/problem+json` with `type`, `title`, `status`, `detail` and `instance` (the path of
the request). `type` is a URN naming the problem (`urn:ballast:problem:too-large`), listed in
docs/service.md, so a client can branch on it without parsing the words.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

PROBLEM_MEDIA_TYPE = "application/problem+json"

# Each problem the service answers with: its HTTP status and its title (the same for every
# occurrence, as RFC 9457 asks; `detail` says what happened this time).
PROBLEMS: dict[str, tuple[int, str]] = {
    "malformed-json": (400, "The request body is not JSON"),
    "bad-request": (400, "The request is not what this route takes"),
    "unauthorized": (401, "This route needs a bearer token"),
    "forbidden": (403, "The bearer token is not the admin token"),
    "untrusted-bundle": (403, "The keyring does not trust this bundle"),
    "not-found": (404, "No such route"),
    "method-not-allowed": (405, "This route does not take that method"),
    "rollback": (409, "The bundle does not move the policies forward"),
    "too-large": (413, "The request body is over the size limit"),
    "invalid-bundle": (422, "The bundle cannot be run"),
    "invalid-request": (422, "The request is JSON, but not what this route takes"),
    "busy": (429, "Too many requests in flight"),
    "internal": (500, "Internal error in Ballast"),
    "no-safety-catalog": (501, "No safety catalog is loaded"),
    "ledger-unavailable": (503, "The audit ledger cannot be written"),
}


class Problem(Exception):
    """A refusal, rendered as a problem document: `kind` is a key of PROBLEMS."""

    def __init__(self, kind: str, detail: str, *, headers: Mapping[str, str] | None = None, **extra: Any) -> None:
        if kind not in PROBLEMS:
            raise ValueError(f"unknown problem kind {kind!r}")  # a bug in the service, not the request
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = extra

    @property
    def status(self) -> int:
        return PROBLEMS[self.kind][0]

    def document(self, instance: str) -> dict[str, Any]:
        """The RFC 9457 members, then the extension members (`reason`, `outcome`, …)."""
        status, title = PROBLEMS[self.kind]
        return {
            "type": f"urn:ballast:problem:{self.kind}",
            "title": title,
            "status": status,
            "detail": self.detail,
            "instance": instance,
            **self.extra,
        }

    def body(self, instance: str) -> bytes:
        return json.dumps(self.document(instance), ensure_ascii=False, sort_keys=True).encode("utf-8")


def json_type(value: Any) -> str:
    """What a JSON value is, for a message: "an array", "a string", "null", …"""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "null" if value is None else type(value).__name__


__all__ = ["PROBLEMS", "PROBLEM_MEDIA_TYPE", "Problem", "json_type"]
