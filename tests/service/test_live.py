"""The service on a real socket: uvicorn in a thread on a free loopback port, a real HTTP client,
and the dashboard in headless Chromium."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from service_support import NOW, event, release, service
from support import chromium, png_pixels, require_chromium

from ballast.service import Service, create_app


class Running:
    """A service served by uvicorn in a thread, at `url`."""

    def __init__(self, svc: Service) -> None:
        self.service = svc
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        self._server = uvicorn.Server(uvicorn.Config(create_app(svc), log_level="warning", lifespan="off"))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True)

    def __enter__(self) -> Running:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=20)
        self._socket.close()


@pytest.fixture
def running() -> Iterator[Running]:
    with Running(service()) as r:
        yield r


def test_a_reload_over_http_while_another_client_sends_events_loses_none(running: Running) -> None:
    answers: list[dict[str, Any]] = []
    sent = 0
    stop = threading.Event()

    def send() -> None:
        nonlocal sent
        with httpx.Client(base_url=running.url, timeout=10) as http:
            while not stop.is_set():
                batch = [event(0.55, NOW + sent + i) for i in range(5)]
                sent += len(batch)
                answer = http.post("/v1/evaluate?input=ev", json={"events": batch})
                assert answer.status_code == 200, answer.text
                answers.extend(answer.json()["results"])

    sender = threading.Thread(target=send)
    sender.start()
    try:
        while len(answers) < 50:
            time.sleep(0.01)
        put = httpx.put(f"{running.url}/v1/policies", content=release("1.1.0", 0.6), timeout=10)
        assert put.status_code == 200 and put.json()["status"] == "committed"
        at_commit = len(answers)
        while len(answers) < at_commit + 50:
            time.sleep(0.01)
    finally:
        stop.set()
        sender.join(timeout=30)
    assert len(answers) == sent  # every accepted event has its decision
    serials = [a["bundle"]["serial"] for a in answers]
    assert serials == sorted(serials) and set(serials) == {1, 2}
    assert all(len(a["directives"]) == (1 if a["bundle"]["serial"] == 1 else 0) for a in answers)


def test_the_stream_pushes_a_directive_to_a_connected_client(running: Running) -> None:
    with httpx.Client(base_url=running.url, timeout=10) as http, http.stream("GET", "/v1/stream") as stream:
        lines = stream.iter_lines()
        assert next(lines) == "retry: 2000"
        http.post("/v1/evaluate?input=ev", json=event(0.9, pool="live-pool"))
        for line in lines:  # a read timeout (10 s without a line) fails the test
            if line.startswith("data: ") and "live-pool" in line:
                assert json.loads(line[6:])["targets"] == ["live-pool"]
                break
        else:
            pytest.fail("the stream ended without the directive")


@pytest.mark.browser
def test_the_dashboard_shows_a_directive_issued_through_the_api(running: Running, tmp_path: Path) -> None:
    browser = require_chromium()
    http = httpx.Client(base_url=running.url, timeout=10)
    assert http.post("/v1/evaluate?input=ev", json=event(0.9, pool="checkout")).status_code == 200
    samples = [{"ts": NOW + 30 * i, "risk": risk} for i, risk in enumerate([20, 60, 90, 95, 95, 40, 10])]
    assert http.post("/v1/evaluate?input=signals", json={"events": samples}).status_code == 200
    page = f"{running.url}/?live=0"  # a static view: an open event stream would keep the page loading
    png = tmp_path / "dashboard.png"
    shot = chromium(browser, tmp_path / "profile-shot", "--virtual-time-budget=3000", f"--screenshot={png}", page)
    assert png.is_file(), f"no screenshot: {shot.stderr[-2000:]}"
    width, height, colours = png_pixels(png.read_bytes())
    assert (width, height) == (1280, 2400)
    assert len(colours) > 20, "the screenshot is (almost) one colour"
    assert bytes.fromhex("2456a6") in colours, "the ThreatIndex line is not drawn"
    dom = chromium(browser, tmp_path / "profile-dom", "--virtual-time-budget=3000", "--dump-dom", page)
    assert dom.returncode == 0, dom.stderr[-2000:]
    item = re.search(r'<li[^>]*data-directive="[0-9a-f]+"[^>]*>.*?</li>', dom.stdout, flags=re.S)
    assert item is not None, "no directive in the list"
    assert "scale" in item[0] and "checkout" in item[0] and "load 0.9 on pool checkout" in item[0]
    assert "<summary>rationale</summary>" in item[0] and "load &gt; 0.5" in item[0]  # the rationale, one click away
    assert re.search(r'<div id="banner" class="banner">New directive: scale checkout', dom.stdout)
    assert dom.stdout.count("<rect") >= 2 and 'data-mode="lockdown"' in dom.stdout  # the mode bands
    assert re.search(r'data-kpi="events"><div class="value">8</div>', dom.stdout)
