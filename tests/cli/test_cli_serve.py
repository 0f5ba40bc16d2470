"""`ballast serve`: its options checked before it listens (`--check`), and the real executable
serving on a loopback port until it is interrupted."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from support import run_cli

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "docs" / "examples"


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with motb.bundle.json signed by alice and bob (MetaAdmin: 2), and the keyring."""
    folder = tmp_path_factory.mktemp("serve")
    for name in ("keyring.yaml", "alice.key", "bob.key", "safety-lite.yaml"):
        shutil.copy(EXAMPLES / name, folder / name)
        if name.endswith(".key"):
            os.chmod(folder / name, 0o600)
    (folder / "short.token").write_text("abc\n")
    bundle = folder / "motb.bundle.json"
    assert run_cli("compile", REPO / "catalog" / "motb.bal", REPO / "catalog" / "gtbe.bal", "-o", bundle)[0] == 0
    shutil.copy(bundle, folder / "unsigned.bundle.json")
    for key in ("alice.key", "bob.key"):
        assert run_cli("sign", bundle, "--key", folder / key)[0] == 0
    return folder


def test_check_loads_everything_and_says_what_it_would_serve(signed: Path) -> None:
    code, out, err = run_cli(
        "serve", "--bundle", signed / "motb.bundle.json", "--trust", signed / "keyring.yaml",
        "--safety", signed / "safety-lite.yaml", "--ledger", signed / "audit.sqlite", "--port", "9999", "--check",
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert out.startswith("ballast serve: motb.orchestration 1.2.0, motb.gtbe 1.0.0 (")
    assert out.endswith(") on http://127.0.0.1:9999 (dashboard /, API /v1, metrics /metrics, contract /openapi.json)\n")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--silent-after", "soon"), "--silent-after soon: expected a duration above zero"),
        (("--tls-cert", "cert.pem"), "HTTPS needs both --tls-cert and --tls-key"),
        (("--queue", "0"), "queue must be a whole number above 0, got 0"),
        (("--reports", "nowhere"), "--reports nowhere: not a directory"),
        (("--admin-token-file", "short.token"), "the token has 3 characters; use at least 16"),
        (("--admin-token-file", "missing"), "--admin-token-file missing: No such file or directory"),
        (("--safety", "motb.bundle.json"), "motb.bundle.json: no safety catalog"),
    ],
    ids=["duration", "tls", "queue", "reports", "short-token", "no-token-file", "not-a-catalog"],
)
def test_bad_options_are_one_clear_line_and_exit_2(signed: Path, extra: tuple[str, ...], message: str) -> None:
    os.chdir(signed)
    code, out, err = run_cli("serve", "--bundle", "motb.bundle.json", "--trust", "keyring.yaml", *extra, "--check")
    assert code == 2 and out == "" and message in err, err
    assert "Traceback" not in err


def test_an_unsigned_bundle_is_not_served(signed: Path) -> None:
    code, _, err = run_cli(
        "serve", "--bundle", signed / "unsigned.bundle.json", "--trust", signed / "keyring.yaml", "--check"
    )
    assert code == 2 and "unsigned" in err


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_real_command_serves_until_interrupted_and_closes_its_ledger(signed: Path) -> None:
    port = free_port()
    ledger = signed / "served.sqlite"
    command = [sys.executable, "-m", "ballast.cli", "serve", "--bundle", str(signed / "motb.bundle.json"),
               "--trust", str(signed / "keyring.yaml"), "--ledger", str(ledger), "--port", str(port)]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"{url}/v1/health", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        assert health.json() == {"status": "ok", "reasons": []}
        event = (EXAMPLES / "event.json").read_text()
        answer = httpx.post(f"{url}/v1/evaluate?input=telemetry", content=event, timeout=5)
        assert [d["action"] for d in answer.json()["directives"]] == ["downgrade"]
    finally:
        server.send_signal(signal.SIGINT)
        out, err = server.communicate(timeout=30)
    assert server.returncode == 0, err
    assert out.startswith("ballast serve: motb.orchestration 1.2.0")
    code, verified, _ = run_cli("audit", "verify", ledger)
    assert code == 0, verified
