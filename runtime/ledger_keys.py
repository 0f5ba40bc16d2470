"""Ed25519 keys for the ledger's checkpoints, with PyNaCl: a `Signer` from a private key file, a verifier from public keys.

The ledger itself takes any `Signer` (`key_id`, `sign(bytes) -> bytes`) and any verifier
(`(key_id, data, signature) -> bool`); this module is the small adapter for ed25519 key files,
until checkpoints are checked against a keyring.

Key files:

* a **private key file** holds the 32-byte ed25519 seed, either raw (a file of exactly 32 bytes)
  or as base64 text (44 characters; surrounding whitespace is ignored). A 64-byte libsodium
  secret key (seed followed by public key), raw or base64, is read too. Keep it mode 0600.
* a **public key file** holds the 32-byte public key, raw or as base64 text.

A key's id is `ed25519:` followed by the first 16 hex digits of the SHA-256 of its 32-byte public
key, unless one is given.

PyNaCl's exceptions are translated here and nowhere else: a bad key file is a LedgerError, a
signature that does not verify is False.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Iterable, Mapping

import nacl.exceptions
import nacl.signing

from ballast.runtime.errors import LedgerError


def key_id_of(public_key: bytes) -> str:
    """The id of an ed25519 public key (32 bytes): `ed25519:` + 16 hex digits of its SHA-256."""
    return "ed25519:" + hashlib.sha256(public_key).hexdigest()[:16]


def read_key_file(path: str | os.PathLike[str], what: str, sizes: tuple[int, ...]) -> bytes:
    """The key bytes of a key file, raw or base64; LedgerError naming the file otherwise."""
    where = os.fspath(path)
    try:
        with open(where, "rb") as f:
            data = f.read(4096)
    except OSError as exc:
        raise LedgerError(f"{where}: cannot read the {what}: {exc.strerror or exc}") from None
    if len(data) in sizes:
        return data
    try:
        decoded = base64.b64decode(data.strip(), validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
    if len(decoded) not in sizes:
        raise LedgerError(
            f"{where}: not an ed25519 {what}: expected {' or '.join(map(str, sizes))} bytes, raw or base64"
        )
    return decoded


class Ed25519Signer:
    """Signs ledger checkpoints with an ed25519 private key."""

    def __init__(self, seed: bytes, key_id: str | None = None) -> None:
        try:
            self._key = nacl.signing.SigningKey(seed[:32])
        except (nacl.exceptions.CryptoError, TypeError, ValueError) as exc:
            raise LedgerError(f"not an ed25519 private key: {exc}") from None
        self.public_key = bytes(self._key.verify_key)
        if len(seed) == 64 and seed[32:] != self.public_key:
            raise LedgerError("not an ed25519 private key: its second half is not the public key of its seed")
        self.key_id = key_id or key_id_of(self.public_key)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], key_id: str | None = None) -> Ed25519Signer:
        """The signer of a private key file (see the module docstring)."""
        seed = read_key_file(path, "private key", (32, 64))
        try:
            return cls(seed, key_id)
        except LedgerError as exc:
            raise LedgerError(f"{os.fspath(path)}: {exc}") from None

    def sign(self, data: bytes) -> bytes:
        """The 64-byte detached signature of `data`."""
        return bytes(self._key.sign(data).signature)


class KeyVerifier:
    """Checks checkpoint signatures against trusted public keys: a verifier for `LedgerReader.verify`.

    `key_id in verifier` says whether a key is trusted, so verification can tell an unknown key
    from a bad signature.
    """

    def __init__(self, keys: Mapping[str, bytes | nacl.signing.VerifyKey]) -> None:
        self._keys: dict[str, nacl.signing.VerifyKey] = {}
        for key_id, key in keys.items():
            try:
                self._keys[key_id] = key if isinstance(key, nacl.signing.VerifyKey) else nacl.signing.VerifyKey(key)
            except (nacl.exceptions.CryptoError, TypeError, ValueError) as exc:
                raise LedgerError(f"key {key_id}: not an ed25519 public key: {exc}") from None

    @classmethod
    def from_files(cls, paths: Iterable[str | os.PathLike[str]]) -> KeyVerifier:
        """Trust the public key in each file, under its derived key id."""
        keys = {}
        for path in paths:
            public = read_key_file(path, "public key", (32,))
            keys[key_id_of(public)] = public
        return cls(keys)

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._keys

    @property
    def key_ids(self) -> list[str]:
        return sorted(self._keys)

    def __call__(self, key_id: str, data: bytes, signature: bytes) -> bool:
        key = self._keys.get(key_id)
        if key is None:
            return False
        try:
            key.verify(data, signature)
        except (nacl.exceptions.BadSignatureError, nacl.exceptions.CryptoError, TypeError, ValueError):
            return False
        return True


__all__ = ["Ed25519Signer", "KeyVerifier", "key_id_of", "read_key_file"]
