"""`ballast verify`: whether a keyring trusts bundles, checked exactly as a loader checks them."""

from __future__ import annotations

import argparse
import json
from argparse import Namespace
from typing import Any, TextIO

from ballast.cli.exits import EXIT_OK, EXIT_PROBLEMS

DESCRIPTION = """Check bundles against a keyring exactly as loading them with --trust (or
ballast.load(path, trust=KEYRING)) does: the format and fingerprint, then the
signatures (enough distinct valid keys that hold the role, none revoked or
outside its validity dates), then that the file is byte for byte what was
signed. Exits 0 when every bundle is trusted, 1 when one is refused (with the
reason), 2 when a bundle or the keyring cannot be read."""


def add_arguments(verify: argparse.ArgumentParser) -> None:
    """Declare the arguments of `ballast verify`."""
    verify.add_argument("bundles", nargs="+", metavar="BUNDLE", help="signed bundles")
    verify.add_argument("--trust", required=True, metavar="KEYRING", help="the keyring to check against (YAML or JSON)")
    verify.add_argument(
        "--role", metavar="ROLE", help="the role the signers must hold (default: the keyring's default_role)"
    )
    verify.add_argument("--at", metavar="TIME", help="judge validity dates at this RFC 3339 time (default: now)")
    verify.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")


def run(args: Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    """Verify every bundle; exit 1 when one is refused."""
    from ballast.cli.trust import read_at, read_trust
    from ballast.runtime.errors import BundleError
    from ballast.runtime.signing import read_trusted_bundle

    now = read_at(args.at)
    keyring = read_trust(args.trust)
    role = keyring.role(args.role).name  # an unknown role is a usage error, before any bundle
    results: list[dict[str, Any]] = []
    for path in args.bundles:
        try:
            bundle, verification = read_trusted_bundle(path, trust=keyring, role=role, now=now)
        except BundleError as exc:
            if exc.reason == "unreadable":
                raise
            results.append({"bundle": path, "trusted": False, "reason": exc.reason, "message": str(exc)})
            continue
        assert verification is not None  # a keyring was given
        results.append(
            {
                "bundle": path,
                "trusted": True,
                "fingerprint": bundle["manifest"]["fingerprint"]["hash"],
                **verification.to_dict(),
            }
        )
    if args.format == "json":
        out.write(json.dumps({"keyring": args.trust, "role": role, "bundles": results}, indent=2) + "\n")
    else:
        for result in results:
            _print(result, out)
    return EXIT_OK if all(r["trusted"] for r in results) else EXIT_PROBLEMS


def _print(result: dict[str, Any], out: TextIO) -> None:
    if not result["trusted"]:
        out.write(f"{result['message']} [{result['reason']}]\n")
        return
    needed = result["threshold"]
    out.write(
        f"{result['bundle']}: trusted for role {result['role']} "
        f"({len(result['signers'])} valid signature{'s' if len(result['signers']) != 1 else ''}, {needed} needed)\n"
    )
    for s in result["signers"]:
        name = f"{s['name']} ({s['key_id']})" if s["name"] else s["key_id"]
        out.write(f"  signed by {name} at {s['signed_at']}\n")
    for i in result["ignored"]:
        out.write(f"  ignored {i['message']}\n")


__all__ = ["DESCRIPTION", "add_arguments", "run"]
