"""`ballast key`: create a signing key pair, show a key's id and public key, check a keyring."""

from __future__ import annotations

import argparse
import json
from argparse import Namespace
from typing import Any, TextIO

from ballast.cli.exits import EXIT_OK, EXIT_PROBLEMS
from ballast.runtime.errors import CompileError

DESCRIPTION = """Manage the keys that sign bundles and audit ledger checkpoints
(docs/security.md): `key new` writes a key pair, `key show` prints a key file's
id and public key, `key check` checks a keyring and shows each key's state."""

NEW = """Create an Ed25519 key pair: DIR/NAME.key, the private key (mode 0600: keep it
secret, never commit it), and DIR/NAME.pub, the public key. Existing files are
never overwritten. Prints the key id, the public key and a keyring entry."""
SHOW = """Print the id and public key of a key file (.key or .pub) and a keyring entry.
Never prints a private key."""
CHECK = """Check a keyring (YAML or JSON): every problem at its line and column (exit 1).
Then list its roles and its keys with each key's state at --at (default: now);
exit 1 when a role cannot be satisfied then. --format json prints the keyring as
the JSON document the runtime reads without a YAML library."""


def add_arguments(key: argparse.ArgumentParser) -> None:
    """Declare `ballast key new|show|check` and their arguments."""
    sub = key.add_subparsers(dest="key_command", metavar="SUBCOMMAND", required=True, parser_class=type(key))
    common = {"epilog": key.epilog, "formatter_class": key.formatter_class}
    new = sub.add_parser("new", help="create a key pair (private key mode 0600)", description=NEW, **common)
    new.add_argument("--out", required=True, metavar="DIR", help="the directory to write the key files in")
    new.add_argument("--name", metavar="NAME", help="file name and keyring name of the key (default: its id)")
    new.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    show = sub.add_parser("show", help="print a key file's id and public key", description=SHOW, **common)
    show.add_argument("file", metavar="KEYFILE", help="a .key or .pub file")
    show.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    check = sub.add_parser("check", help="check a keyring and show each key's state", description=CHECK, **common)
    check.add_argument("keyring", metavar="KEYRING", help="a keyring file (YAML or JSON)")
    check.add_argument("--at", metavar="TIME", help="judge validity dates at this RFC 3339 time (default: now)")
    check.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")


def run(args: Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    """Run the subcommand."""
    if args.key_command == "new":
        return _new(args, out, err)
    if args.key_command == "show":
        return _show(args, out)
    return _check(args, out, err)


def _new(args: Namespace, out: TextIO, err: TextIO) -> int:
    from ballast.runtime.keyfiles import PublicKey, write_key_pair
    from ballast.runtime.signing import PrivateKey

    key = PrivateKey.generate(args.name or "")
    private, public = write_key_pair(args.out, key)
    err.write(f"wrote {private} (the private key, mode 0600: keep it secret) and {public}\n")
    _print_key(
        PublicKey(key.key_id, key.public_key, key.name),
        args.format,
        out,
        {"private_key_file": str(private), "public_key_file": str(public)},
    )
    return EXIT_OK


def _show(args: Namespace, out: TextIO) -> int:
    from ballast.runtime.keyfiles import read_public_key

    _print_key(read_public_key(args.file), args.format, out, {})
    return EXIT_OK


def _print_key(key: Any, fmt: str, out: TextIO, extra: dict[str, str]) -> None:
    if fmt == "json":
        doc = {"key_id": key.key_id, "name": key.name, "public_key": key.base64, **extra}
        out.write(json.dumps(doc, indent=2, sort_keys=True) + "\n")
        return
    out.write(f"key id:     {key.key_id}\npublic key: {key.base64}\n")
    out.write("keyring entry (list the roles it may sign for):\n")
    out.write(f'  - id: "{key.key_id}"\n')
    if key.name:
        out.write(f"    name: {key.name}\n")
    out.write(f"    public_key: {key.base64}\n    roles: [ROLE]\n")


def _check(args: Namespace, out: TextIO, err: TextIO) -> int:
    import time

    from ballast.cli.trust import read_at
    from ballast.keyring import read_keyring
    from ballast.runtime.keyring import DOCUMENT_KINDS
    from ballast.runtime.values import iso

    at = read_at(args.at)
    now = time.time() if at is None else at
    try:
        keyring = read_keyring(args.keyring)
    except CompileError as exc:
        from ballast.cli.output import print_diagnostics

        print_diagnostics(exc.diagnostics, "text", err)
        return EXIT_PROBLEMS
    if args.format == "json":
        out.write(json.dumps(keyring.to_dict(), indent=2) + "\n")
        return EXIT_OK
    roles = ", ".join(
        f"{r.name} ({r.threshold} signer{'s' if r.threshold != 1 else ''}{', default' if r.name == keyring.default_role else ''})"
        for r in keyring.roles.values()
    )
    out.write(
        f"{args.keyring}: keyring {keyring.name}: {len(keyring.keys)} key{'s' if len(keyring.keys) != 1 else ''}; roles: {roles}\n"
    )
    rows = [(k.name or "-", k.key_id, ", ".join(sorted(k.roles)), _state(k, now)) for k in keyring.keys]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        out.write("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + f"  {row[3]}\n")
    if keyring.document_roles:  # shown when declared; without it every kind needs the default (security.md)
        needed = ", ".join(f"{kind}: {keyring.document_role(kind)}" for kind in DOCUMENT_KINDS.values())
        out.write(f"  changes need: {needed}\n")
    short = 0
    for role in keyring.roles.values():
        usable = sum(1 for k in keyring.holders(role.name) if k.refusal(now) is None)
        if usable < role.threshold:
            short += 1
            out.write(
                f"warning: role {role.name} needs {role.threshold} signer{'s' if role.threshold != 1 else ''}, "
                f"but {usable} of its keys {'is' if usable == 1 else 'are'} valid at {iso(now)}: no bundle verifies for it\n"
            )
    return EXIT_PROBLEMS if short else EXIT_OK


def _state(key: Any, now: float) -> str:
    """A key's state at `now`, in a few words."""
    from ballast.runtime.values import iso

    refusal = key.refusal(now)
    if refusal is None:
        return f"valid until {iso(key.not_after)}" if key.not_after is not None else "valid"
    if refusal[0] == "revoked-key":
        return f"revoked: {key.revoked}"
    if refusal[0] == "expired-key":
        return f"expired at {iso(key.not_after)}"
    return f"not valid before {iso(key.not_before)}"


__all__ = ["DESCRIPTION", "add_arguments", "run"]
