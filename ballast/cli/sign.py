"""`ballast sign`: add a key's signature to a bundle (in place, or to another file)."""

from __future__ import annotations

import argparse
import contextlib
import os
import stat
from argparse import Namespace
from pathlib import Path
from typing import TextIO

from ballast.cli.exits import EXIT_OK
from ballast.runtime.errors import UsageError
from ballast.runtime.reading import shown_path

DESCRIPTION = """Sign a bundle with private keys (from `ballast key new`). Each adds a detached
Ed25519 signature over the bundle's canonical manifest and IR to its
`signatures` list, with the key id and the signing time (SOURCE_DATE_EPOCH when
set). Signing again with a key replaces its signature and keeps the others, so
several key holders can sign one bundle in turn. A bundle whose fingerprint does
not match is never signed."""


def add_arguments(sign: argparse.ArgumentParser) -> None:
    """Declare the arguments of `ballast sign`."""
    sign.add_argument("bundle", metavar="BUNDLE", help="a bundle written by `ballast compile -o`")
    sign.add_argument(
        "--key",
        required=True,
        action="append",
        metavar="KEY",
        help="a private key file (.key); repeat to sign with several",
    )
    sign.add_argument("-o", "--output", metavar="FILE", help="write the signed bundle here (default: BUNDLE, in place)")


def run(args: Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    """Sign the bundle with every --key and write it (atomically)."""
    from ballast.runtime.bundle import dump_bundle, read_bundle
    from ballast.runtime.keyfiles import read_private_key
    from ballast.runtime.signing import sign_bundle

    keys = [read_private_key(path) for path in args.key]  # every key readable before anything is signed
    bundle = read_bundle(args.bundle)
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    now = float(epoch) if epoch.isdigit() else None
    for key in keys:
        bundle = sign_bundle(bundle, key, now=now)
    target = args.output or args.bundle
    _write_atomically(target, dump_bundle(bundle))
    ids = ", ".join(s["key_id"] for s in bundle["signatures"] if isinstance(s, dict) and "key_id" in s)
    count = len(bundle["signatures"])
    err.write(
        f"wrote {target}: signed by {', '.join(k.label for k in keys)}; "
        f"{count} signature{'s' if count != 1 else ''} ({ids})\n"
    )
    return EXIT_OK


def _write_atomically(path: str | Path, data: bytes) -> None:
    """Replace `path` with `data` at once: a reader sees the old file or the new, never half of one
    (a bundle cut short must never be what a loader finds). Keeps an existing file's mode."""
    import tempfile  # when signing, not when the arguments are parsed (CLI start-up)

    target = Path(path)
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = 0o644
    except OSError as exc:
        raise UsageError(f"cannot write {shown_path(str(target))}: {exc.strerror or exc}") from None
    tmp = ""
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            if tmp:
                os.unlink(tmp)
        raise UsageError(f"cannot write {shown_path(str(target))}: {exc.strerror or exc}") from None


__all__ = ["DESCRIPTION", "add_arguments", "run"]
