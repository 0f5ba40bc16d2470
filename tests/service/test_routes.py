"""Each route of the service through Starlette's TestClient: what it answers, and how it refuses.

The service runs the demo bundle of service_support (policy `demo`: scale a pool whose load is
over 0.5; threat `guard`: ThreatIndex from `risk`), with a fixed clock.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from service_support import ALICE, MALLORY, NOW, TOKEN, compiled, event, release, service, signed
from starlette.testclient import TestClient
from support import run_cli

from ballast.runtime.values import iso
from ballast.service import create_app

EV = "/v1/evaluate?input=ev"  # the demo policy's events (the threat reads another input)
PROBLEM_KEYS = {"type", "title", "status", "detail", "instance"}


def client(**options: Any) -> TestClient:
    return TestClient(create_app(service(**options)))


def problem(response: Any, status: int, kind: str) -> dict[str, Any]:
    """The response's problem document, after checking it is the RFC 9457 one expected."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert set(body) >= PROBLEM_KEYS and body["status"] == status
    assert body["type"] == f"urn:ballast:problem:{kind}", body
    assert "Traceback" not in response.text
    return body


# ---- POST /v1/evaluate ----


def test_one_event_gets_its_directives_with_rationale_and_the_bundle_that_decided() -> None:
    answer = client().post(EV, json=event(0.9))
    assert answer.status_code == 200
    body = answer.json()
    [d] = body["directives"]
    assert (d["action"], d["targets"], d["params"], d["rule"]) == ("scale", ["p1"], {"by": 2}, "warm")
    assert d["reason"] == "load 0.9 on pool p1"
    assert d["rationale"] == [{"check": "load > 0.5", "inputs": {"load": 0.9}, "value": True}]
    assert body["errors"] == [] and body["bundle"]["serial"] == 1
    assert [v["version"] for v in body["bundle"]["versions"]] == ["1.0.0", "1.0.0"]


def test_the_same_events_give_the_same_bytes_from_two_services() -> None:
    batch = {"events": [event(0.9, NOW + i, f"p{i % 3}") for i in range(6)] + [event(0.2, NOW + 9)]}
    first = client().post(EV, json=batch)
    second = client().post(EV, json=batch)
    assert first.status_code == 200 and first.content == second.content


def test_a_batch_answers_every_event_in_order_with_its_faults() -> None:
    batch = {"events": [event(0.9), event(0.1, NOW + 1), {"pool": "p1", "load": "high", "ts": NOW + 2}]}
    body = client().post(EV, json=batch).json()
    assert [r["index"] for r in body["results"]] == [0, 1, 2]
    assert [len(r["directives"]) for r in body["results"]] == [1, 0, 0]
    assert body["results"][1]["errors"] == []
    [fault] = body["results"][2]["errors"]
    assert fault["kind"] == "invalid-event" and fault["field"] == "load"
    assert all(r["bundle"]["serial"] == 1 for r in body["results"])


def test_the_answers_are_what_eval_prints_for_the_same_events(tmp_path: Path) -> None:
    events = [event(0.9), event(0.3, NOW + 5, "p2"), {"pool": 3, "load": 0.7, "ts": NOW + 6}]
    (tmp_path / "demo.json").write_bytes(release())
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    code, out, _ = run_cli(
        "eval", tmp_path / "demo.json", "--events", tmp_path / "events.jsonl", "--input", "ev", "--allow-unsigned"
    )
    assert code == 1  # the third event has an error
    printed = [json.loads(line) for line in out.splitlines()]
    served = client().post("/v1/evaluate?input=ev", json={"events": events}).json()["results"]
    for line, result in zip(printed, served, strict=True):
        assert {k: v for k, v in line.items() if k != "line"} == {
            k: v for k, v in result.items() if k not in ("index", "bundle")
        }


@pytest.mark.parametrize(
    ("body", "status", "kind", "says"),
    [
        (b"{", 400, "malformed-json", "line 1, column 2"),
        (b"", 400, "malformed-json", "empty"),
        (b"\xff\xfe{}", 400, "malformed-json", "not UTF-8"),
        (b"[1, 2]", 422, "invalid-request", "got an array"),
        (b'"load"', 422, "invalid-request", "got a string"),
        (b'{"events": {"load": 1}}', 422, "invalid-request", "events must be an array"),
        (b'{"events": [], "extra": 1}', 422, "invalid-request", "unknown member 'extra'"),
        (b'{"events": [], "input": 7}', 422, "invalid-request", "input must be the name"),
        (b"[" * 100 + b"]" * 100, 400, "malformed-json", "deep"),
    ],
    ids=[
        "truncated",
        "empty",
        "not-utf8",
        "array",
        "string",
        "events-object",
        "extra-member",
        "input-type",
        "too-deep",
    ],
)
def test_a_bad_evaluate_body_is_a_problem_naming_what_is_wrong(body: bytes, status: int, kind: str, says: str) -> None:
    answer = client().post("/v1/evaluate", content=body, headers={"content-type": "application/json"})
    assert says in problem(answer, status, kind)["detail"]


def test_an_unknown_input_names_the_inputs() -> None:
    body = problem(client().post("/v1/evaluate?input=nope", json=event(0.9)), 422, "invalid-request")
    assert body["detail"] == "input 'nope': no policy or threat reads it; inputs are ev, signals"


def test_a_batch_over_the_limit_is_refused_before_any_is_decided() -> None:
    c = client(max_batch=3)
    body = problem(c.post(EV, json={"events": [event(0.9)] * 4}), 422, "invalid-request")
    assert "4 events in one batch; at most 3" in body["detail"]
    assert c.app.state.service.counts["events"] == 0


def test_a_body_over_max_body_is_413_whether_declared_or_streamed() -> None:
    c = client(max_body=100)
    big = json.dumps({"events": [event(0.9)] * 5}).encode()
    assert "at most 100" in problem(c.post(EV, content=big), 413, "too-large")["detail"]

    def chunks() -> Any:  # no Content-Length: the service counts as the body comes
        yield big[:60]
        yield big[60:]

    assert "over 100 bytes" in problem(c.post(EV, content=chunks()), 413, "too-large")["detail"]
    assert c.app.state.service.counts["events"] == 0


def test_unknown_routes_and_methods_are_problems_too() -> None:
    c = client()
    assert "/v2/evaluate: no such route" in problem(c.get("/v2/evaluate"), 404, "not-found")["detail"]
    assert problem(c.get("/v1/evaluate"), 405, "method-not-allowed")["instance"] == "/v1/evaluate"


# ---- 429 back-pressure ----


def test_requests_beyond_the_queue_are_refused_with_retry_after_and_health_says_so() -> None:
    c = client(queue=2)
    s = c.app.state.service
    assert s.admission.enter() and s.admission.enter()  # two requests in flight, as if slow
    try:
        answer = c.post(EV, json=event(0.9))
        body = problem(answer, 429, "busy")
        assert answer.headers["retry-after"] == "1" and "2 requests are in flight" in body["detail"]
        assert c.get("/v1/threat").status_code == 200  # reads are not queued behind evaluations
        health = c.get("/v1/health")
        assert health.status_code == 503 and health.json()["status"] == "degraded"
        assert health.json()["reasons"][0].startswith("back-pressure: requests were refused with 429")
    finally:
        s.admission.leave()
    assert c.post(EV, json=event(0.9)).status_code == 200  # one slot is free again
    assert s.counts["events"] == 1  # the refused request decided nothing


# ---- GET /v1/threat ----


def test_threat_before_any_sample_is_normal_at_zero_with_no_update_time() -> None:
    body = client().get("/v1/threat").json()
    assert (body["threat"], body["threatIndex"], body["mode"], body["updated"]) == ("guard", 0.0, "normal", None)
    assert body["modes"] == ["normal", "heightened", "lockdown"] and body["rationale"] == []


def test_threat_follows_the_signals_in_event_time() -> None:
    c = client()
    samples = [{"ts": NOW, "risk": 80.0}, {"ts": NOW + 30, "risk": 90.0}]
    assert c.post("/v1/evaluate?input=signals", json={"events": samples}).status_code == 200
    body = c.get("/v1/threat").json()
    # ewma(0.5): 0.5·80 = 40 (heightened at 40), then 0.5·90 + 0.5·40 = 65
    assert (body["threatIndex"], body["mode"], body["updated"]) == (65.0, "heightened", iso(NOW + 30))
    assert [(r["source"], r["value"], r["contribution"]) for r in body["rationale"]] == [("risk", 90.0, 90.0)]
    assert c.get("/v1/threat?threat=guard").json() == body
    assert "threats are guard" in problem(c.get("/v1/threat?threat=other"), 404, "not-found")["detail"]


# ---- PUT /v1/policies ----


def test_a_newer_signed_bundle_is_hot_reloaded_and_decides_the_next_events() -> None:
    c = client()
    assert len(c.post(EV, json=event(0.55)).json()["directives"]) == 1  # 0.55 > 0.5
    answer = c.put("/v1/policies", content=release("1.1.0", 0.6), headers={"X-Ballast-Actor": "ci"})
    assert answer.status_code == 200
    outcome = answer.json()
    assert (outcome["status"], outcome["actor"], outcome["new"]["serial"]) == ("committed", "ci", 2)
    after = c.post(EV, json=event(0.55, NOW + 1)).json()
    assert after["directives"] == [] and after["bundle"]["serial"] == 2  # 0.55 is not over 0.6
    again = c.put("/v1/policies", content=release("1.1.0", 0.6))
    assert again.status_code == 200 and again.json()["status"] == "no-op"


@pytest.mark.parametrize(
    ("bundle", "status", "kind", "reason"),
    [
        (lambda: signed(compiled("1.1.0")), 403, "untrusted-bundle", "unsigned"),
        (lambda: signed(compiled("1.1.0"), ALICE), 403, "untrusted-bundle", "too-few-signers"),
        (lambda: signed(compiled("1.1.0"), MALLORY, ALICE), 403, "untrusted-bundle", "too-few-signers"),
        (lambda: release("1.1.0").replace(b'"1.1.0"', b'"1.1.1"', 1), 422, "invalid-bundle", "fingerprint-mismatch"),
        (lambda: release("1.1.0").replace(b"\n", b" \n", 1), 403, "untrusted-bundle", "not-canonical"),
        (lambda: b"{not json", 422, "invalid-bundle", "not-json"),
        (lambda: b'{"events": []}', 422, "invalid-bundle", "not-a-bundle"),
        (lambda: release("0.9.0"), 409, "rollback", "rollback"),
    ],
    ids=["unsigned", "one-signer", "untrusted-key", "tampered", "re-encoded", "not-json", "not-a-bundle", "older"],
)
def test_a_refused_bundle_changes_nothing_and_says_why(bundle: Any, status: int, kind: str, reason: str) -> None:
    c = client()
    body = problem(c.put("/v1/policies", content=bundle()), status, kind)
    assert body["reason"] == reason and body["outcome"]["status"] == "rejected"
    assert c.post(EV, json=event(0.55)).json()["bundle"]["serial"] == 1
    assert c.app.state.service.store.current.bundle.versions[0][2] == "1.0.0"


def test_a_rollback_goes_through_only_when_allowed_and_says_so() -> None:
    c = client()
    assert c.put("/v1/policies", content=release("1.1.0")).status_code == 200
    assert c.put("/v1/policies?allow_rollback=maybe", content=release("1.0.0")).status_code == 400
    answer = c.put("/v1/policies?allow_rollback=true", content=release("1.0.0"))
    assert answer.status_code == 200 and answer.json()["rollback"] is True


def test_an_x_signature_header_is_refused_rather_than_ignored() -> None:
    body = problem(
        client().put("/v1/policies", content=release("1.1.0"), headers={"X-Signature": "abc"}), 400, "bad-request"
    )
    assert "a bundle carries its own signatures" in body["detail"]


def test_the_admin_token_guards_policy_changes_only() -> None:
    c = client(admin_token=TOKEN)
    missing = c.put("/v1/policies", content=release("1.1.0"))
    problem(missing, 401, "unauthorized")
    assert missing.headers["www-authenticate"].startswith("Bearer")
    problem(c.put("/v1/policies", content=release("1.1.0"), headers={"Authorization": "Bearer nope"}), 403, "forbidden")
    problem(
        c.put("/v1/policies", content=release("1.1.0"), headers={"Authorization": f"Basic {TOKEN}"}),
        401,
        "unauthorized",
    )
    assert c.app.state.service.store.current.bundle.serial == 1
    ok = c.put("/v1/policies", content=release("1.1.0"), headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and ok.json()["status"] == "committed"
    assert c.post(EV, json=event(0.9)).status_code == 200  # evaluation needs no token
    assert 'ballast_requests_rejected_total{problem="unauthorized"} 2.0' in c.get("/metrics").text


# ---- POST /v1/preflight ----

DELETE = {
    "actor": "ops-bot",
    "roles": ["operator"],
    "operation": "delete",
    "tenant": "acme",
    "sensitivity": "internal",
    "volume": 5000,
    "scope": "collection",
    "environment": "prod",
}


def test_preflight_answers_what_ballast_preflight_prints(tmp_path: Path) -> None:
    answer = client(safety=True).post("/v1/preflight", json=DELETE)
    assert answer.status_code == 200
    catalog = Path(__file__).resolve().parents[2] / "docs" / "examples" / "safety-lite.yaml"
    code, out, err = run_cli(
        "preflight", catalog, "--action", json.dumps(DELETE), "--simulate", "--now", iso(NOW), "--format", "json"
    )
    assert code == 0, err
    assert answer.json() == json.loads(out)
    assert answer.json()["decision"] == "needs-controls" and answer.json()["simulated"] is True


def test_preflight_refuses_what_the_catalog_cannot_read_and_answers_501_without_one() -> None:
    c = client(safety=True)
    assert (
        "JSON object, got an array" in problem(c.post("/v1/preflight", json=[DELETE]), 422, "invalid-request")["detail"]
    )
    problem(c.post("/v1/preflight", json={**DELETE, "volume": "lots"}), 422, "invalid-request")
    assert "--safety" in problem(client().post("/v1/preflight", json=DELETE), 501, "no-safety-catalog")["detail"]


# ---- the event stream and the dashboard ----


def sse(text: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in fields:
            out.append((fields["event"], json.loads(fields["data"])))
    return out


def test_the_stream_sends_new_directives_threat_samples_and_status() -> None:
    c = client()
    c.post(EV, json=event(0.9))
    c.post("/v1/evaluate?input=signals", json={"ts": NOW, "risk": 50.0})
    answer = c.get("/v1/stream?once=true")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/event-stream")
    events = sse(answer.text)
    assert [kind for kind, _ in events] == ["directive", "threat", "status"]
    assert events[0][1]["reason"] == "load 0.9 on pool p1" and events[0][1]["seq"] == 1
    assert (events[1][1]["index"], events[1][1]["mode"]) == (25.0, "normal")
    assert events[2][1]["counts"]["events"] == 2
    later = sse(c.get("/v1/stream?once=true", headers={"Last-Event-ID": "1"}).text)
    assert [kind for kind, _ in later] == ["threat", "status"]
    problem(c.get("/v1/stream?once=true&since=x"), 400, "bad-request")


def test_the_dashboard_page_embeds_the_state_and_its_assets_are_bundled() -> None:
    c = client()
    c.post(EV, json=event(0.9, pool="</script><b>x"))
    page = c.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "</script><b>" not in page.text and "<\\/script><b>x" in page.text  # the embedded JSON cannot end the script
    assert 'src="/assets/dashboard.js"' in page.text and "http" not in page.text.split("<body>")[1]
    for name, media in (("dashboard.js", "application/javascript"), ("dashboard.css", "text/css")):
        asset = c.get(f"/assets/{name}")
        assert asset.status_code == 200 and asset.headers["content-type"].startswith(media)
    problem(c.get("/assets/..%2Fcore.py"), 404, "not-found")
    state = c.get("/v1/dashboard").json()
    assert [d["targets"] for d in state["directives"]] == [["</script><b>x"]]


def test_the_dashboard_lists_the_newest_reports_and_serves_only_those(tmp_path: Path) -> None:
    (tmp_path / "shadow.html").write_text("<p>shadow</p>")
    (tmp_path / "notes.txt").write_text("not a report")
    c = client(reports=tmp_path)
    assert [r["name"] for r in c.get("/v1/dashboard").json()["reports"]] == ["shadow.html"]
    assert c.get("/reports/shadow.html").text == "<p>shadow</p>"
    problem(c.get("/reports/notes.txt"), 404, "not-found")
    problem(c.get("/reports/..%2F..%2Fetc%2Fpasswd"), 404, "not-found")


def test_a_bug_inside_the_service_is_a_500_problem_and_a_log_line_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    c = client()

    def broken(name: str | None = None) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(c.app.state.service, "threat", broken)
    answer = c.get("/v1/threat")
    assert "the service log has the details" in problem(answer, 500, "internal")["detail"]
    assert "a bug" not in answer.text
    assert "internal error serving GET /v1/threat" in caplog.text and "RuntimeError: a bug" in caplog.text
