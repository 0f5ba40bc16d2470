"""What the commands that load bundles share: `--trust` and `--allow-unsigned`, and reading the
keyring.

A bundle is loaded only if the keyring named by `--trust` trusts it, or, without one, only with
`--allow-unsigned` (development; a warning says so). Policy sources are compiled, not verified,
so these options are refused with them rather than silently meaning nothing.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from ballast.runtime.errors import CompileError, UsageError

__all__ = ["add_trust_arguments", "is_bundle", "load_trusted", "read_at", "read_trust", "require_bundle"]


def add_trust_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare `--trust KEYRING` and `--allow-unsigned`."""
    parser.add_argument(
        "--trust",
        metavar="KEYRING",
        help="load a bundle only if its signatures satisfy this keyring (YAML or JSON; docs/security.md)",
    )
    parser.add_argument(
        "--allow-unsigned",
        action="store_true",
        help="load a bundle without checking signatures when no keyring is given, or an unsigned one "
        "despite it (development only; prints a warning)",
    )


def is_bundle(paths: Sequence[str]) -> bool:
    """Whether PATH arguments name one compiled bundle (a single `.json` file)."""
    return len(paths) == 1 and paths[0].endswith(".json")


def require_bundle(args: argparse.Namespace, sides: Sequence[Sequence[str]], named: str) -> None:
    """Refuse --trust / --allow-unsigned when no side is a bundle: policy sources are compiled,
    never verified. `named` says what named them, with its verb: "the paths name"."""
    if (args.trust or args.allow_unsigned) and not any(is_bundle(paths) for paths in sides):
        given = "--trust" if args.trust else "--allow-unsigned"
        raise UsageError(
            f"{given} applies to a compiled bundle, and {named} policy sources: they are compiled, not verified"
        )


def read_trust(path: str | None) -> Any:
    """The keyring of `--trust` (None without one); its problems as one UsageError with positions."""
    if path is None:
        return None
    from ballast.keyring import read_keyring

    try:
        return read_keyring(path)
    except CompileError as exc:
        raise UsageError(f"the keyring {path} has problems:\n{exc.render()}") from None


def read_at(text: str | None) -> float | None:
    """The epoch seconds of `--at TIME` (None without it): when validity dates are judged."""
    if text is None:
        return None
    from ballast.runtime.values import parse_timestamp

    moment = parse_timestamp(text)
    if moment is None:
        raise UsageError(f"--at {text!r}: expected an RFC 3339 time such as 2026-01-01T00:00:00Z")
    return moment


def load_trusted(path: str, args: argparse.Namespace, keyring: Any = None) -> tuple[Any, dict[str, Any]]:
    """The policy set of a bundle the options trust, and the bundle; BundleError when refused."""
    from ballast.runtime import from_checked_bundle
    from ballast.runtime.signing import read_trusted_bundle

    keyring = keyring if keyring is not None else read_trust(args.trust)
    bundle, _ = read_trusted_bundle(path, trust=keyring, allow_unsigned=args.allow_unsigned)
    return from_checked_bundle(bundle, path), bundle
