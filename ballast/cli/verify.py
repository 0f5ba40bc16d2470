"""`ballast verify`: whether a keyring trusts bundles, checked exactly as a loader checks them."""

from __future__ import annotations

import argparse
import json
from argparse import Namespace
from typing import Any, TextIO

from ballast.cli.exits import EXIT_OK, EXIT_PROBLEMS
from ballast.runtime.errors import UsageError

DESCRIPTION = """Check bundles against a keyring exactly as loading them with --trust (or
ballast.load(path, trust=KEYRING)) does: the format and fingerprint, then the
signatures (enough distinct valid keys that hold the role, none revoked or
outside its validity dates), then that the file is byte for byte what was
signed. Exits 0 when every bundle is trusted, 1 when one is refused (with the
reason), 2 when a bundle or the keyring cannot be read.

With --against CURRENT, say whether a service running CURRENT would accept
BUNDLE in its place (ballast.runtime.store.PolicyStore): signed for the roles
its documents need (document_roles in the keyring), newer than CURRENT, and
what becomes of each stateful rule's state."""


def add_arguments(verify: argparse.ArgumentParser) -> None:
    """Declare the arguments of `ballast verify`."""
    verify.add_argument("bundles", nargs="+", metavar="BUNDLE", help="signed bundles")
    verify.add_argument("--trust", required=True, metavar="KEYRING", help="the keyring to check against (YAML or JSON)")
    verify.add_argument(
        "--role", metavar="ROLE", help="the role the signers must hold (default: the keyring's default_role)"
    )
    verify.add_argument("--at", metavar="TIME", help="judge validity dates at this RFC 3339 time (default: now)")
    verify.add_argument(
        "--against",
        metavar="CURRENT",
        help="judge BUNDLE as a change from the running bundle CURRENT: roles, versions, state",
    )
    verify.add_argument(
        "--allow-rollback",
        action="store_true",
        help="with --against: accept a bundle that is not newer (recorded as a rollback)",
    )
    verify.add_argument(
        "--ledger", metavar="LEDGER", help="with --against: record the decision in this audit ledger (.sqlite)"
    )
    verify.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")


def run(args: Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    """Verify every bundle; exit 1 when one is refused."""
    from ballast.cli.trust import read_at, read_trust
    from ballast.runtime.errors import BundleError
    from ballast.runtime.signing import read_trusted_bundle

    now = read_at(args.at)
    keyring = read_trust(args.trust)
    if args.against is not None:
        return _against(args, keyring, now, out)
    if args.allow_rollback or args.ledger:
        raise UsageError(
            f"{'--allow-rollback' if args.allow_rollback else '--ledger'} applies to a change: add --against CURRENT"
        )
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


def _against(args: Namespace, keyring: Any, now: float | None, out: TextIO) -> int:
    """`verify BUNDLE --against CURRENT`: what a PolicyStore running CURRENT does with BUNDLE."""
    import time

    from ballast.runtime.audit import AuditLog
    from ballast.runtime.ledger import Ledger
    from ballast.runtime.store import PolicyStore

    if len(args.bundles) != 1:
        raise UsageError(f"--against judges one bundle as a change, got {len(args.bundles)}")
    if args.role is not None:
        raise UsageError(
            "--role does not apply with --against: the keyring's document_roles say which roles a change needs"
        )
    store = PolicyStore(keyring, clock=(lambda: now) if now is not None else time.time, name="ballast verify")
    running = store.propose(args.against)
    if not running.accepted:
        if running.reason == "unreadable":
            raise running.error  # type: ignore[misc]
        raise UsageError(f"--against {args.against}: the keyring does not trust the running bundle: {running.message}")
    path = args.bundles[0]
    ledger = Ledger.open(args.ledger) if args.ledger else None
    try:
        if ledger is not None:
            store.audit = AuditLog(ledger)
        outcome = store.propose(path, allow_rollback=args.allow_rollback)
    finally:
        if ledger is not None:
            ledger.close()
    if outcome.reason == "unreadable":
        raise outcome.error  # type: ignore[misc]
    if args.format == "json":
        out.write(json.dumps({"keyring": args.trust, "against": args.against, **outcome.to_dict()}, indent=2) + "\n")
    else:
        _print_change(outcome, args.against, out)
    return EXIT_OK if outcome.accepted else EXIT_PROBLEMS


def _print_change(outcome: Any, against: str, out: TextIO) -> None:
    if not outcome.accepted:
        out.write(f"{outcome.message} [{outcome.reason}]\n")
        return
    verdict = {"committed": "accepted", "no-op": "no change"}[outcome.status]
    if outcome.rollback:
        verdict = "accepted as a rollback"
    out.write(f"{outcome.where}: {verdict} in place of {against} ({outcome.old.label} → {outcome.new.label})\n")
    signers = ", ".join(s.label for s in outcome.new.signers)
    out.write(f"  signed for {', '.join(outcome.roles)} by {signers}\n")
    for change in outcome.versions:
        out.write(f"  {change.text}\n")
    for carry in outcome.state:
        out.write(f"  {carry.text}\n")
    if outcome.ledger_seq is not None:
        out.write(f"  recorded as ledger entry {outcome.ledger_seq}\n")


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
