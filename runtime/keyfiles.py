"""Key files: a private signing key and its public half, each a small JSON document.

`ballast key new --out DIR --name NAME` writes `DIR/NAME.key` (the private key: mode 0600,
created only if absent) and `DIR/NAME.pub`:

    {"alg": "ed25519", "format": "ballast-private-key/1", "key_id": "3f9a2c71d0b4e58a",
     "name": "alice", "private_key": "base64 of the 32-byte seed", "public_key": "base64…"}

The public file is the same without `private_key` and with the format `ballast-public-key/1`.
A private key file that group or others may read is refused, as ssh refuses one: the key would
already be as good as published.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ballast.runtime.errors import UsageError
from ballast.runtime.keyring import decode_public_key, key_id
from ballast.runtime.reading import UnreadableInput, read_text, shown_path
from ballast.runtime.signing import ALG, PrivateKey

__all__ = [
    "PRIVATE_FORMAT",
    "PUBLIC_FORMAT",
    "PublicKey",
    "public_key_document",
    "read_private_key",
    "read_public_key",
    "write_key_pair",
]

PRIVATE_FORMAT = "ballast-private-key/1"
PUBLIC_FORMAT = "ballast-public-key/1"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True, slots=True)
class PublicKey:
    """The public half of a key file: what a keyring lists."""

    key_id: str
    public_key: bytes = field(repr=False)
    name: str = ""

    @property
    def base64(self) -> str:
        return base64.b64encode(self.public_key).decode("ascii")


def public_key_document(key: PublicKey | PrivateKey) -> dict[str, Any]:
    """The `.pub` file's content."""
    doc = {"alg": ALG, "format": PUBLIC_FORMAT, "key_id": key.key_id}
    if key.name:
        doc["name"] = key.name
    doc["public_key"] = base64.b64encode(key.public_key).decode("ascii")
    return doc


def _private_key_document(key: PrivateKey) -> dict[str, Any]:
    return {
        **public_key_document(key),
        "format": PRIVATE_FORMAT,
        "private_key": base64.b64encode(key.seed).decode("ascii"),
    }


def write_key_pair(directory: str | Path, key: PrivateKey) -> tuple[Path, Path]:
    """Write `key` as DIR/NAME.key (mode 0600) and DIR/NAME.pub, NAME being the key's name or id.

    Refuses (UsageError) to overwrite either file, and writes neither then; creates DIR (mode
    0700) when it does not exist.
    """
    name = key.name or key.key_id
    if not _NAME.fullmatch(name):
        raise UsageError(
            f"--name {name!r}: a key name is letters, digits, '.', '_' and '-' (at most 64), starting with a letter or digit"
        )
    folder = Path(directory)
    private, public = folder / f"{name}.key", folder / f"{name}.pub"
    for path in (private, public):
        if path.exists() or path.is_symlink():
            raise UsageError(
                f"{shown_path(str(path))} exists: refusing to overwrite a key; choose another --name or --out"
            )
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        _create(private, _private_key_document(key), 0o600)
    except OSError as exc:
        raise UsageError(f"cannot write {shown_path(str(private))}: {exc.strerror or exc}") from None
    try:
        _create(public, public_key_document(key), 0o644)
    except OSError as exc:
        with contextlib.suppress(OSError):
            private.unlink()  # a pair or nothing
        raise UsageError(f"cannot write {shown_path(str(public))}: {exc.strerror or exc}") from None
    return private, public


def _create(path: Path, document: dict[str, Any], mode: int) -> None:
    """Create `path` with `mode`, failing if it exists (O_EXCL: no race with another writer)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        if hasattr(os, "fchmod"):
            os.fchmod(f.fileno(), mode)  # the umask may have taken bits away; never added any
        f.write(json.dumps(document, indent=2, sort_keys=True) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_private_key(path: str | Path) -> PrivateKey:
    """The signing key of a `.key` file; UsageError when it is unreadable, damaged or readable by others."""
    name = shown_path(str(path))
    doc = _read(path, "private key")
    if doc.get("format") != PRIVATE_FORMAT:
        hint = "; that is a public key file: sign with the .key file" if doc.get("format") == PUBLIC_FORMAT else ""
        raise UsageError(f"{name}: not a Ballast private key (format {str(doc.get('format'))[:40]!r}){hint}")
    if os.name == "posix":
        mode = stat.S_IMODE(os.stat(path).st_mode)
        if mode & 0o077:
            raise UsageError(
                f"{name}: the private key may be read by others (mode {mode:04o}); "
                f"run `chmod 600 {name}` (and consider the key exposed if others could read it)"
            )
    try:
        seed = base64.b64decode(str(doc.get("private_key", "")), validate=True)
    except (binascii.Error, ValueError):
        raise UsageError(f"{name}: the private key is not valid base64: the file is damaged") from None
    key = PrivateKey.from_seed(seed, _name(doc))
    if doc.get("key_id") != key.key_id or doc.get("public_key") != base64.b64encode(key.public_key).decode("ascii"):
        raise UsageError(f"{name}: the key id or public key does not belong to the private key: the file is damaged")
    return key


def read_public_key(path: str | Path) -> PublicKey:
    """The public half of a `.pub` or `.key` file (a private key file's secret is not used)."""
    name = shown_path(str(path))
    doc = _read(path, "key")
    if doc.get("format") not in (PUBLIC_FORMAT, PRIVATE_FORMAT):
        raise UsageError(f"{name}: not a Ballast key file (format {str(doc.get('format'))[:40]!r})")
    try:
        public = decode_public_key(doc.get("public_key"))
    except ValueError as exc:
        raise UsageError(f"{name}: {exc}: the file is damaged") from None
    if doc.get("key_id") != key_id(public):
        raise UsageError(f"{name}: the key id does not belong to the public key: the file is damaged")
    return PublicKey(key_id(public), public, _name(doc))


def _read(path: str | Path, what: str) -> dict[str, Any]:
    try:
        text = read_text(path, what)
    except UnreadableInput as exc:
        raise UsageError(f"cannot read the {what}: {exc}") from None
    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, RecursionError, ValueError):
        doc = None
    if not isinstance(doc, dict):
        raise UsageError(
            f"{shown_path(str(path))}: not a Ballast key file (expected the JSON `ballast key new` writes)"
        )
    return doc


def _name(doc: dict[str, Any]) -> str:
    name = doc.get("name", "")
    return name if isinstance(name, str) and _NAME.fullmatch(name) else ""
