"""Requests to `ballast serve`'s app, in process (docs/service.md runs this file).

Starlette's TestClient sends each request to the same app `ballast serve` runs, without a
socket, and this prints what comes back: the status, then the JSON body, one member a line.
"""

import json
import sys
import warnings
from pathlib import Path

warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")  # it would rather have httpx2

from starlette.testclient import TestClient  # noqa: E402

from ballast.keyring import read_keyring  # noqa: E402
from ballast.service import create_app, open_service  # noqa: E402

service = open_service("motb.bundle.json", read_keyring("keyring.yaml"))
client = TestClient(create_app(service))


def show(method: str, path: str, body: bytes | None = None) -> None:
    answer = client.request(method, path, content=body, headers={"content-type": "application/json"})
    print(f"{method} {path} → {answer.status_code} {answer.headers['content-type']}")
    body = answer.json()
    members = [
        f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False, sort_keys=True)}" for k, v in sorted(body.items())
    ]
    print("{\n" + ",\n".join(members) + "\n}")


requests = {
    "evaluate": ("POST", "/v1/evaluate?input=telemetry", Path("event.json").read_bytes()),
    "signals": (
        "POST",
        "/v1/evaluate?input=signals",
        json.dumps(
            {
                "events": [
                    {"ts": 1700000000, "trp_risk": 83.0, "cve_score": 9.8, "load": 0.9},
                    {"ts": 1700000060, "trp_risk": 95.0, "cve_score": 9.8, "load": 0.95},
                ]
            }
        ).encode(),
    ),
    "threat": ("GET", "/v1/threat", None),
    "health": ("GET", "/v1/health", None),
    "malformed": ("POST", "/v1/evaluate", b'{"pool": "B",'),
    "unsigned": ("PUT", "/v1/policies", Path("unsigned.bundle.json").read_bytes()),
}
for name in sys.argv[1:]:
    show(*requests[name])
