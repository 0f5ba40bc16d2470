"""The service benchmark: sustained events/s and request latency of `ballast serve` on loopback.

    python -m bench.serve              # full run (about 35 s)
    python -m bench.serve --quick      # smoke run (about 10 s; rough numbers)
    python -m bench.serve --markdown   # the table as Markdown (for docs/performance.md)

The real command (`ballast serve`, uvicorn) runs in a subprocess on a free 127.0.0.1 port with
the catalog set (`catalog/motb.bal`, 11 rules, signed by two throw-away keys); this process is
the client (a minimal HTTP/1.1 client on asyncio streams, one keep-alive connection per request
in flight). Two
modes, each for a fixed time and at most a fixed number of events:

* sequential: one event per request, one request at a time: the latency of a decision as a
  client sees it (the HTTP round trip included);
* single: one event per request, several requests in flight: sustained requests/s;
* batch: 100 events per request (`{"events": [...]}`), several in flight: sustained events/s.

The server's own time per request (`ballast_evaluation_seconds`, from reading the events to the
decisions, HTTP excluded) is read from its /metrics at the end: its mean, and the histogram
bucket that holds the 95th percentile.

Nothing lost: every answer must be 200 with one result per event sent, in order, and each
result's directives must be those of the same bundle evaluated here (`ballast.load`); the
server's `ballast_events_total` must equal the events sent. The benchmark stops with an error
otherwise. A 429 (back-pressure) would be counted and reported; it is not expected at this
concurrency (--queue 64).

This is a benchmark, not a test: it asserts nothing about speed.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

import ballast
from ballast.compiler.pipeline import compile_paths
from ballast.runtime.bundle import dump_bundle
from ballast.runtime.signing import PrivateKey, sign_bundle
from bench.harness import (
    ROOT,
    BenchReport,
    fmt_rate,
    head_lines,
    load_average,
    parse_arguments,
    percentile,
    progress,
    report_head,
    report_tail,
)

BATCH = 100
TARGET_P95_MS = 5.0  # the target for a decision, per request


@dataclass(frozen=True)
class Settings:
    seconds: float  # per mode
    max_events: int  # per mode: bounded in count as well as in time
    concurrency: int

    @classmethod
    def make(cls, quick: bool) -> Settings:
        return cls(2.0, 20_000, 4) if quick else cls(10.0, 300_000, 8)


@dataclass
class Mode:
    name: str
    size: int  # events per request
    in_flight: int
    events: int = 0
    requests: int = 0
    refused: int = 0  # 429
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)


@dataclass
class Report(BenchReport):
    settings: Settings
    rows: list[tuple[str, str]] = field(default_factory=list)


def signed_bundle(folder: Path) -> tuple[Path, Path]:
    """The catalog set signed by two fresh keys, and a keyring trusting them (MetaAdmin, 2)."""
    bundle = compile_paths([str(ROOT / "catalog" / "motb.bal")]).bundle
    keys = [PrivateKey.from_seed(hashlib.sha256(f"bench-{n}".encode()).digest(), n) for n in ("ann", "ben")]
    for key in keys:
        bundle = sign_bundle(bundle, key)
    (folder / "motb.bundle.json").write_bytes(dump_bundle(bundle))
    lines = [
        "keyring: bench",
        "roles:",
        "  Operator: {threshold: 1}",
        "  MetaAdmin: {threshold: 2}",
        "default_role: Operator",
        "keys:",
    ]
    for key in keys:
        public = base64.b64encode(key.public_key).decode()
        lines += [
            f'  - id: "{key.key_id}"',
            f"    name: {key.name}",
            f"    public_key: {public}",
            "    roles: [Operator, MetaAdmin]",
        ]
    (folder / "keyring.yaml").write_text("\n".join(lines) + "\n")
    return folder / "motb.bundle.json", folder / "keyring.yaml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(bundle: Path, keyring: Path, port: int) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "ballast.cli", "serve", "--bundle", str(bundle), "--trust", str(keyring),
               "--port", str(port), "--queue", "64"]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=2).status_code in (200, 503):
                return server
        except httpx.TransportError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            raise SystemExit(f"bench.serve: the server did not start: {server.stderr.read() if server.stderr else ''}")
        time.sleep(0.1)


class Connection:
    """A minimal HTTP/1.1 client over one keep-alive connection (asyncio streams): requests
    with a Content-Length, answers with a Content-Length, which is all uvicorn sends here. A
    full client (httpx) costs several times the server's work per request on a shared
    machine; this keeps the client's share of the cores small."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        self.reader, self.writer, self.host = reader, writer, host

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer, f"{host}:{port}")

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode("ascii") + body)
        await self.writer.drain()
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


async def drive(port: int, mode: Mode, events: list[dict[str, Any]], expected: list[list[str]], s: Settings) -> None:
    """Send events for `s.seconds` (at most `s.max_events`) over `mode.in_flight` connections; check each answer."""
    size = mode.size
    stop_at = time.perf_counter() + s.seconds
    cursor = 0

    async def worker(connection: Connection) -> None:
        nonlocal cursor
        while time.perf_counter() < stop_at and cursor < s.max_events:
            start, cursor = cursor, cursor + size
            chunk = [events[(start + i) % len(events)] for i in range(size)]
            body = json.dumps(chunk[0] if size == 1 else {"events": chunk}).encode()
            t0 = time.perf_counter()
            status, answer = await connection.post("/v1/evaluate", body)
            mode.latencies_ms.append((time.perf_counter() - t0) * 1000)
            mode.requests += 1
            if status == 429:
                mode.refused += size
                continue
            if status != 200:
                raise SystemExit(f"bench.serve: {mode.name}: HTTP {status}: {answer[:300]!r}")
            data = json.loads(answer)
            results = [data] if size == 1 else data["results"]
            if len(results) != size:
                raise SystemExit(f"bench.serve: {mode.name}: {size} events sent, {len(results)} results")
            for i, result in enumerate(results):
                got = [d["directive_id"] for d in result["directives"]]
                if got != expected[(start + i) % len(events)]:
                    raise SystemExit(f"bench.serve: {mode.name}: event {start + i} decided differently from the bundle")
            mode.events += size

    connections = [await Connection.open("127.0.0.1", port) for _ in range(mode.in_flight)]
    try:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(c) for c in connections))
        mode.seconds = time.perf_counter() - t0
    finally:
        for c in connections:
            c.close()


def scrape(url: str) -> dict[str, float]:
    """The server's metrics, `name{labels}` → value."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line and line[0] != "#"
    }


def server_time(metrics: dict[str, float]) -> tuple[float, str]:
    """The mean time per request in ms, and the bucket holding the 95th percentile."""
    prefix = 'ballast_evaluation_seconds_bucket{le="'
    count = metrics['ballast_evaluation_seconds_count{route="evaluate"}']
    mean = metrics['ballast_evaluation_seconds_sum{route="evaluate"}'] / count * 1000
    buckets = sorted(
        (float(name[len(prefix) :].split('"')[0]), value) for name, value in metrics.items() if name.startswith(prefix)
    )
    bound = next(le for le, cumulative in buckets if cumulative >= 0.95 * count)
    return mean, f"≤ {bound * 1000:g} ms"


def run_bench(s: Settings) -> Report:
    report = Report(settings=s, load_before=load_average())
    events = [json.loads(line) for line in (ROOT / "catalog" / "events.jsonl").read_text().splitlines() if line.strip()]
    with tempfile.TemporaryDirectory(prefix="ballast-bench-serve-") as tmp:
        bundle, keyring = signed_bundle(Path(tmp))
        local = ballast.load(bundle, trust=keyring)
        expected = [[d.directive_id for d in local.evaluate(e).directives] for e in events]
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        progress(f"serving {bundle.name} on {url}")
        server = start_server(bundle, keyring, port)
        try:
            modes = [Mode("sequential", 1, 1), Mode("single", 1, s.concurrency), Mode("batch", BATCH, s.concurrency)]
            for mode in modes:
                progress(f"{mode.name}: {s.seconds:g} s, {mode.in_flight} requests in flight")
                asyncio.run(drive(port, mode, events, expected, s))
            total = sum(m.events for m in modes)
            metrics = scrape(url)
            if metrics["ballast_events_total"] != total:
                raise SystemExit(
                    f"bench.serve: {total} events answered, the server counted {metrics['ballast_events_total']:.0f}"
                )
        finally:
            server.terminate()
            server.wait(timeout=30)
    for mode in modes:
        lat = sorted(mode.latencies_ms)
        unit = "event" if mode.size == 1 else f"batch of {BATCH}"
        report.rows += [
            (f"{mode.name}: events/s ({mode.events:,} events in {mode.seconds:.1f} s)", fmt_rate(mode.events / mode.seconds)),
            (f"{mode.name}: requests/s", f"{mode.requests / mode.seconds:,.0f}"),
            (f"{mode.name}: request latency p50 / p95 / p99 (ms, one {unit})",
             f"{percentile(lat, 0.5):.2f} / {percentile(lat, 0.95):.2f} / {percentile(lat, 0.99):.2f}"),
            (f"{mode.name}: refused with 429 (events)", str(mode.refused)),
        ]  # fmt: skip
    sequential = modes[0]
    mean, bucket = server_time(metrics)
    report.rows.append(
        (
            "server: time per request, reading to decisions, HTTP excluded (ms, mean; p95 bucket)",
            f"{mean:.3f}; {bucket}",
        )
    )
    report.notes += [
        f"client: asyncio streams in this process (a minimal HTTP/1.1 client), one keep-alive connection per request in flight (1 or {s.concurrency}); server: "
        "`ballast serve` (uvicorn, one process) in a subprocess on 127.0.0.1, the catalog set (11 rules)",
        "nothing lost: every answer was 200 with one result per event, each with the directives the same bundle "
        f"gives here, and the server's ballast_events_total equals the {total:,} events sent",
        "client and server share the machine's 2 cores: the figures are of the pair, not of the server alone",
    ]
    p95 = percentile(sorted(sequential.latencies_ms), 0.95)
    report.targets.append(
        (
            f"P95 ≤ {TARGET_P95_MS:g} ms per decision, HTTP round trip included (sequential)",
            f"{p95:.2f} ms",
            p95 <= TARGET_P95_MS,
        )
    )
    report.load_after = load_average()
    return report


def render(report: Report, markdown: bool) -> str:
    s = report.settings
    head = head_lines(
        "service",
        s.seconds < 10,
        f"`ballast serve` in a subprocess, an asyncio client here, {s.seconds:g} s (at most {s.max_events:,} events) per mode",
        (report.load_before, report.load_after),
        software=f"; uvicorn {_version('uvicorn')}; starlette {_version('starlette')}; httpx {httpx.__version__}",
    )
    return "\n".join([*report_head(head, report.rows, markdown), "", *report_tail(report, markdown)])


def _version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_arguments(
        argv,
        "serve",
        __doc__,
        quick="a fast smoke run (2 s per mode); rough numbers",
        profile="(no profile for this benchmark: the server runs in another process)",
    )
    os.environ.setdefault("PYTHONHASHSEED", "0")
    started = time.perf_counter()
    report = run_bench(Settings.make(args.quick))
    report.elapsed_s = time.perf_counter() - started
    print(render(report, args.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
