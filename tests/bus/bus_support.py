"""What the bus tests share: a real nats-server, publishing, the test policy, reading the ledger."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from support import run_cli

POLICY = """\
policy bus.hot version "1" {
  input sample {
    ts: timestamp
    id: string
    pool: string
    load: float
  }

  stream {
    time ts
    id id
    lateness 1h
  }

  rule hot {
    when load > 0.9
    then scale(targets: pool, by: 1)
    reason "{pool} is at {load}"
  }
}
"""


def event(i: int, *, load: float | None = None) -> dict[str, Any]:
    """Event `e<i>`, a second apart; every third one is hot (a directive)."""
    value = load if load is not None else (0.95 if i % 3 == 0 else 0.5)
    return {
        "ts": f"2026-01-01T{i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z",
        "id": f"e{i}",
        "pool": "A",
        "load": value,
    }


def payloads(ids: Sequence[int]) -> list[bytes]:
    return [json.dumps(event(i)).encode() for i in ids]


def bundle(tmp: Path) -> Path:
    """The test policy compiled (unsigned: the tests pass --allow-unsigned)."""
    (tmp / "hot.bal").write_text(POLICY, encoding="utf-8")
    code, _, err = run_cli("compile", tmp / "hot.bal", "-o", tmp / "hot.json")
    assert code == 0, err
    return tmp / "hot.json"


def entries(ledger: Path, kind: str) -> list[dict[str, Any]]:
    """The bodies of the ledger's entries of `kind`, in order (read-only: a writer may be running)."""
    if not ledger.exists():
        return []
    conn = sqlite3.connect(ledger.absolute().as_uri() + "?mode=ro", uri=True, timeout=5)
    try:
        rows = conn.execute("SELECT body FROM entries WHERE kind = ? ORDER BY seq", (kind,)).fetchall()
    except sqlite3.OperationalError:  # not created yet
        return []
    finally:
        conn.close()
    return [json.loads(body) for (body,) in rows]


def decided_ids(ledger: Path) -> list[str]:
    return [e["subject"] for e in entries(ledger, "EventDecided")]


# ---- a real NATS server ----


def nats_binary() -> str | None:
    found = shutil.which("nats-server") or str(Path(sys.executable).with_name("nats-server"))
    return found if os.access(found, os.X_OK) else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_nats(store: Path) -> tuple[subprocess.Popen[bytes], str]:
    """nats-server with JetStream on a free loopback port, its store in `store`; waits until it listens."""
    binary = nats_binary()
    assert binary is not None
    port = free_port()
    proc = subprocess.Popen(
        [binary, "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", str(store)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, f"nats://127.0.0.1:{port}"
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"nats-server exited with {proc.returncode}") from None
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("nats-server did not listen within 15 s")


def nats_admin(url: str, steps: Any) -> Any:
    """Run `steps(js, jsm)` (a coroutine function) against the server."""
    import nats

    async def go() -> Any:
        nc = await nats.connect(url)
        try:
            return await steps(nc.jetstream(), nc.jsm())
        finally:
            await nc.close()

    return asyncio.run(go())


def create_stream(url: str, stream: str, subject: str) -> None:
    async def steps(js: Any, jsm: Any) -> None:
        await jsm.add_stream(name=stream, subjects=[subject])

    nats_admin(url, steps)


def publish(url: str, subject: str, messages: Sequence[bytes]) -> list[int]:
    """Publish and wait for each ack; the stream sequences."""

    async def steps(js: Any, jsm: Any) -> list[int]:
        return [(await js.publish(subject, m)).seq for m in messages]

    return nats_admin(url, steps)  # type: ignore[no-any-return]


def delete(url: str, stream: str, sequences: Sequence[int]) -> None:
    async def steps(js: Any, jsm: Any) -> None:
        for seq in sequences:
            await jsm.delete_msg(stream, seq)

    nats_admin(url, steps)
