"""`ballast serve`: its options checked before it listens (`--check`), and the real executable
serving on a loopback port until it is interrupted."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

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
def test_bad_options_are_one_clear_line_and_exit_2(
    signed: Path, extra: tuple[str, ...], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(signed)  # the options name files relative to it; the next test starts where it was
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


def start(arguments: list[str], url: str, **client: Any) -> subprocess.Popen[str]:
    """`ballast serve ARGUMENTS` in a subprocess, once /v1/health answers at `url`."""
    server = subprocess.Popen(
        [sys.executable, "-m", "ballast.cli", "serve", *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{url}/v1/health", timeout=2, **client)
            return server
        except httpx.TransportError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"the server did not start: {server.communicate()[1][-2000:]}")
            time.sleep(0.1)


def stop(server: subprocess.Popen[str]) -> tuple[str, str]:
    server.send_signal(signal.SIGINT)
    return server.communicate(timeout=30)


def test_the_real_command_serves_until_interrupted_and_closes_its_ledger(signed: Path) -> None:
    port = free_port()
    ledger = signed / "served.sqlite"
    url = f"http://127.0.0.1:{port}"
    server = start(["--bundle", str(signed / "motb.bundle.json"), "--trust", str(signed / "keyring.yaml"),
                    "--ledger", str(ledger), "--port", str(port)], url)  # fmt: skip
    try:
        assert httpx.get(f"{url}/v1/health", timeout=5).json() == {"status": "ok", "reasons": []}
        event = (EXAMPLES / "event.json").read_text()
        answer = httpx.post(f"{url}/v1/evaluate?input=telemetry", content=event, timeout=5)
        assert [d["action"] for d in answer.json()["directives"]] == ["downgrade"]
    finally:
        out, err = stop(server)
    assert server.returncode == 0, err
    assert out.startswith("ballast serve: motb.orchestration 1.2.0")
    code, verified, _ = run_cli("audit", "verify", ledger)
    assert code == 0, verified


def openssl(folder: Path, *args: str) -> None:
    done = subprocess.run(["openssl", *args], cwd=folder, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr


def certificates(folder: Path) -> None:
    """A throw-away CA, a server certificate for 127.0.0.1 and a client certificate, all signed by it."""
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    openssl(folder, "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=test-ca")
    for name, extension in (("server", "subjectAltName=IP:127.0.0.1"), ("client", "extendedKeyUsage=clientAuth")):
        (folder / f"{name}.ext").write_text(extension + "\n")
        openssl(folder, "req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}")
        openssl(folder, "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", f"{name}.pem", "-days", "1", "-extfile", f"{name}.ext")  # fmt: skip


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make test certificates")
def test_with_a_client_ca_only_clients_with_a_certificate_get_an_answer(signed: Path, tmp_path: Path) -> None:
    certificates(tmp_path)
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    trusted = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
    trusted.load_cert_chain(str(tmp_path / "client.pem"), str(tmp_path / "client.key"))
    server = start(["--bundle", str(signed / "motb.bundle.json"), "--trust", str(signed / "keyring.yaml"),
                    "--port", str(port), "--tls-cert", str(tmp_path / "server.pem"),
                    "--tls-key", str(tmp_path / "server.key"), "--tls-client-ca", str(tmp_path / "ca.pem")],
                   url, verify=trusted)  # fmt: skip
    try:
        assert httpx.get(f"{url}/v1/health", timeout=5, verify=trusted).json()["status"] == "ok"
        anonymous = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))  # trusts the server, has no certificate
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{url}/v1/health", timeout=5, verify=anonymous)
        with pytest.raises(httpx.TransportError):  # and plain HTTP is not served at all
            httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=5)
    finally:
        out, err = stop(server)
    assert server.returncode == 0, err
    assert out.startswith("ballast serve: motb.orchestration 1.2.0") and f"on https://127.0.0.1:{port}" in out
