"""`ballast serve`: run a signed bundle as an HTTP service with metrics and a live dashboard."""

from __future__ import annotations

import argparse
from argparse import Namespace
from typing import Any, TextIO

DESCRIPTION = """Serve a signed bundle over HTTP: POST /v1/evaluate, GET /v1/threat,
POST /v1/preflight, PUT /v1/policies (a signed bundle, hot-reloaded), GET
/v1/health, GET /metrics (Prometheus), the live dashboard at / and its OpenAPI
document at /openapi.json (docs/service.md). Decisions use the events' own time.
--check loads and checks everything, prints what would be served, and exits."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of `ballast serve`."""
    parser.add_argument("--bundle", required=True, metavar="BUNDLE", help="the signed bundle to run first (.json)")
    parser.add_argument(
        "--trust", required=True, metavar="KEYRING", help="the keyring every bundle must satisfy, at start and on PUT"
    )
    parser.add_argument(
        "--ledger", metavar="FILE", help="write policy changes, directives and preflights to this audit ledger"
    )
    parser.add_argument("--ledger-key", metavar="KEY", help="sign the ledger's checkpoints with this private key")
    parser.add_argument(
        "--safety",
        metavar="CATALOG",
        help="the safety catalog of POST /v1/preflight: a signed bundle (.json) or source files",
    )
    parser.add_argument("--catalog", metavar="NAME", help="the catalog to use when --safety holds several")
    parser.add_argument(
        "--approvals",
        metavar="FILE",
        help="book preflight tickets in this approval store (else preflights are simulated)",
    )
    parser.add_argument(
        "--reports", metavar="DIR", help="list the newest shadow/replay/diff reports of DIR on the dashboard"
    )
    parser.add_argument("--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8181, metavar="PORT", help="the port to listen on (default 8181)")
    parser.add_argument(
        "--admin-token-file",
        metavar="FILE",
        help="require Authorization: Bearer TOKEN (the file's first line) on PUT /v1/policies",
    )
    parser.add_argument(
        "--max-body",
        type=int,
        default=4 * 1024 * 1024,
        metavar="BYTES",
        help="refuse larger request bodies with 413 (default 4 MiB)",
    )
    parser.add_argument(
        "--queue", type=int, default=64, metavar="N", help="requests in flight before 429 Retry-After (default 64)"
    )
    parser.add_argument(
        "--silent-after",
        default="5m",
        metavar="DURATION",
        help="health is silent after this long without an event (default 5m)",
    )
    parser.add_argument("--tls-cert", metavar="FILE", help="serve HTTPS with this certificate (PEM)")
    parser.add_argument("--tls-key", metavar="FILE", help="the private key of --tls-cert (PEM)")
    parser.add_argument("--tls-client-ca", metavar="FILE", help="require client certificates signed by this CA (mTLS)")
    parser.add_argument(
        "--check", action="store_true", help="load and check everything, print what would be served, exit"
    )


def run(args: Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    """Load the bundle and the options, then serve until interrupted."""
    from ballast.cli.exits import EXIT_OK
    from ballast.runtime.errors import UsageError

    try:
        from ballast.service import HealthPolicy, ServiceOptions, create_app, open_service, read_token
    except ImportError as exc:
        raise UsageError(
            f"ballast serve needs the service extras ({exc.name} is missing): pip install 'ballast[serve]'"
        ) from None
    tls = _tls_options(args)
    options = ServiceOptions(
        max_body=args.max_body,
        queue=args.queue,
        admin_token=read_token(args.admin_token_file) if args.admin_token_file else None,
        reports=_reports_folder(args.reports),
        health=HealthPolicy(silent_after=_duration(args.silent_after)),
    )
    from ballast.cli.trust import read_trust

    keyring = read_trust(args.trust)
    service = open_service(
        args.bundle,
        keyring,
        ledger=args.ledger,
        ledger_signer=_signer(args.ledger_key),
        safety=_catalog(args, err) if args.safety else None,
        approvals=args.approvals,
        options=options,
    )
    try:
        active = service.store.current
        assert active is not None
        scheme = "https" if tls else "http"
        out.write(
            f"ballast serve: {active.bundle.label} on {scheme}://{args.host}:{args.port} "
            f"(dashboard /, API /v1, metrics /metrics, contract /openapi.json)\n"
        )
        if args.check:
            return EXIT_OK
        out.flush()
        import uvicorn

        uvicorn.run(create_app(service), host=args.host, port=args.port, log_level="warning", **tls)
    finally:
        service.close()
    return EXIT_OK


def _tls_options(args: Namespace) -> dict[str, Any]:
    from ballast.runtime.errors import UsageError

    if not args.tls_cert and not args.tls_key and not args.tls_client_ca:
        return {}
    if not (args.tls_cert and args.tls_key):
        raise UsageError("HTTPS needs both --tls-cert and --tls-key (--tls-client-ca adds client certificates: mTLS)")
    import ssl

    options: dict[str, Any] = {"ssl_certfile": args.tls_cert, "ssl_keyfile": args.tls_key}
    if args.tls_client_ca:
        options |= {"ssl_ca_certs": args.tls_client_ca, "ssl_cert_reqs": ssl.CERT_REQUIRED}
    return options


def _duration(text: str) -> float:
    from ballast.runtime.errors import UsageError
    from ballast.runtime.values import parse_duration

    seconds = parse_duration(text)
    if seconds is None or seconds <= 0:
        raise UsageError(f"--silent-after {text}: expected a duration above zero such as 30s, 5m or 1h")
    return seconds


def _reports_folder(path: str | None) -> Any:
    from pathlib import Path

    from ballast.runtime.errors import UsageError

    if path is None:
        return None
    folder = Path(path)
    if not folder.is_dir():
        raise UsageError(f"--reports {path}: not a directory (write shadow, replay or diff reports there with -o)")
    return folder


def _signer(path: str | None) -> Any:
    if path is None:
        return None
    from ballast.runtime.keyfiles import read_private_key

    return read_private_key(path)


def _catalog(args: Namespace, err: TextIO) -> Any:
    """The SafetyCatalog of --safety, read as `ballast preflight` reads its CATALOG."""
    from ballast.cli.gate import load_catalog
    from ballast.cli.trust import is_bundle
    from ballast.runtime.errors import CompileError, UsageError

    # a bundle is verified against the service's keyring; sources are compiled here, not verified
    trust = args.trust if is_bundle([args.safety]) else None
    wanted = Namespace(paths=[args.safety], catalog=args.catalog, trust=trust, allow_unsigned=False)
    try:
        return load_catalog(wanted, err)
    except CompileError as exc:
        raise UsageError(f"--safety {args.safety} has problems:\n{exc.render()}") from None


__all__ = ["DESCRIPTION", "add_arguments", "run"]
