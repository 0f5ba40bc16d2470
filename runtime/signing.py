"""Signed bundles: Ed25519 signatures over a bundle's content, checked against the caller's keyring.

What is signed. A signature covers the SHA-256 of the canonical JSON of `{"manifest", "ir"}`
(`content_digest`), together with the signer's key id and the time it claims to have signed, in
a message that starts with a context string (`ballast-bundle-signature/1`), so a signature made
for something else (a ledger checkpoint, say) can never pass for a bundle's. The signatures are
stored next to what they sign, in the bundle's `signatures` list, and are not part of it:

    {"alg": "ed25519", "key_id": "3f9a2c71d0b4e58a", "signed_at": "2025-11-15T10:00:00Z", "sig": "base64…"}

How a signature is judged, in this order (the first that fails names the reason; from the
second on, `signature_refusal`, which judges ledger checkpoints too): the entry is
well formed (`bad-signature`), its key is in the keyring (`unknown-key`), the signature matches
the content (`bad-signature`), the key is not revoked (`revoked-key`) and the verifier's clock is
within its validity dates (`expired-key`, `key-not-yet-valid`), and the key holds the role asked
for (`missing-role`). `signed_at` is recorded, shown and audited, never believed: whoever holds
a revoked or expired key can write any time into it. A role is satisfied by its threshold of
distinct keys; signatures that fail are ignored once it is (and reported). Too few valid
signatures raise BundleError: `too-few-signers` when some were valid, else the first failure's
reason; the message lists every signature's fate.

Whether a signature is needed at all is the caller's decision (`check_trust`): a keyring means
yes, always; `allow_unsigned=True` (development) admits unsigned bundles with a warning on the
`ballast.runtime.signing` logger. Nothing in a bundle can change that.

PyNaCl (`pip install 'ballast[sign]'`) is imported only when a signature is made or checked, so a
service that loads unsigned bundles in development needs the standard library alone.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from ballast.runtime.bundle import canonical_bytes, dump_bundle, read_bundle_bytes
from ballast.runtime.errors import BundleError, UsageError
from ballast.runtime.keyring import Keyring, TrustedKey, key_id, resolve_keyring
from ballast.runtime.values import iso, parse_timestamp

__all__ = [
    "ALG",
    "BUNDLE_CONTEXT",
    "REASONS",
    "Ignored",
    "PrivateKey",
    "Signer",
    "Verification",
    "check_trust",
    "content_digest",
    "decode_signature",
    "read_trusted_bundle",
    "sign_bundle",
    "signature_refusal",
    "signed_message",
    "valid_signature",
    "verify",
    "verify_signatures",
]

logger = logging.getLogger(__name__)

ALG = "ed25519"
BUNDLE_CONTEXT = "ballast-bundle-signature/1"
SEED_BYTES = 32
SIGNATURE_BYTES = 64
SIGNATURE_KEYS = ("alg", "key_id", "sig", "signed_at")
# The reasons a signature is ignored, as BundleError.reason, and how a message says them.
REASONS = {
    "bad-signature": "bad signature",
    "unknown-key": "unknown key",
    "revoked-key": "revoked key",
    "expired-key": "expired key",
    "key-not-yet-valid": "key not yet valid",
    "missing-role": "missing role",
    "too-few-signers": "too few signers",
}


def _nacl() -> tuple[ModuleType, type[Exception]]:
    """`nacl.signing` and the root of PyNaCl's errors, or UsageError saying how to install it.

    The one place PyNaCl is imported, when a signature is first made or checked.
    """
    try:
        import nacl.exceptions
        import nacl.signing
    except ImportError:
        raise UsageError("signatures need PyNaCl: pip install 'ballast[sign]' (or pip install pynacl)") from None
    return nacl.signing, nacl.exceptions.CryptoError


# ---- signing ----


@dataclass(frozen=True, slots=True)
class PrivateKey:
    """An Ed25519 signing key: its 32-byte seed (never shown by repr), public key and id."""

    seed: bytes = field(repr=False)
    public_key: bytes
    key_id: str
    name: str = ""

    @classmethod
    def generate(cls, name: str = "") -> PrivateKey:
        """A new random key (from the operating system's randomness, through libsodium)."""
        return cls.from_seed(bytes(_nacl()[0].SigningKey.generate()), name)

    @classmethod
    def from_seed(cls, seed: bytes, name: str = "") -> PrivateKey:
        """The key of a 32-byte seed; raises UsageError for another length."""
        if len(seed) != SEED_BYTES:
            raise UsageError(f"an Ed25519 private key has {SEED_BYTES} bytes, this one has {len(seed)}")
        public = bytes(_nacl()[0].SigningKey(seed).verify_key)
        return cls(seed, public, key_id(public), name)

    @property
    def label(self) -> str:
        return f"{self.name} ({self.key_id})" if self.name else self.key_id

    def sign(self, message: bytes) -> bytes:
        """The 64-byte signature of `message`."""
        return bytes(_nacl()[0].SigningKey(self.seed).sign(message).signature)


def signed_message(context: str, payload: Mapping[str, Any]) -> bytes:
    """The bytes a signature covers: the context string, a newline, the payload's canonical JSON."""
    return context.encode("utf-8") + b"\n" + canonical_bytes(dict(payload))


def content_digest(bundle: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of the bundle's manifest and IR: what its signatures cover."""
    return hashlib.sha256(canonical_bytes({"manifest": bundle["manifest"], "ir": bundle["ir"]})).hexdigest()


def sign_bundle(bundle: Mapping[str, Any], key: PrivateKey, *, now: float | None = None) -> dict[str, Any]:
    """A copy of `bundle` with `key`'s signature added, replacing an earlier one by the same key.

    Other signatures are kept: they stay valid while the manifest and IR do not change, which is
    how several key holders sign one bundle in turn (a threshold of 2 or more).
    """
    signed_at = iso(float(int(time.time() if now is None else now)))
    payload = {"content_sha256": content_digest(bundle), "key_id": key.key_id, "signed_at": signed_at}
    sig = key.sign(signed_message(BUNDLE_CONTEXT, payload))
    entry = {"alg": ALG, "key_id": key.key_id, "signed_at": signed_at, "sig": base64.b64encode(sig).decode("ascii")}
    kept = [s for s in bundle.get("signatures") or () if not (isinstance(s, Mapping) and s.get("key_id") == key.key_id)]
    return {**bundle, "signatures": [*kept, entry]}


# ---- verifying ----


@dataclass(frozen=True, slots=True)
class Signer:
    """A signature that counted: its key and the time the signer claims."""

    key_id: str
    name: str
    signed_at: float

    @property
    def label(self) -> str:
        return f"{self.name} ({self.key_id})" if self.name else self.key_id

    def to_dict(self) -> dict[str, Any]:
        return {"key_id": self.key_id, "name": self.name, "signed_at": iso(self.signed_at)}


@dataclass(frozen=True, slots=True)
class Ignored:
    """A signature that did not count: its 1-based position, key id, reason code and the words."""

    index: int
    key_id: str
    reason: str
    detail: str

    @property
    def text(self) -> str:
        return f"signature {self.index}: {REASONS[self.reason]}: {self.detail}"

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "key_id": self.key_id, "reason": self.reason, "message": self.text}


@dataclass(frozen=True, slots=True)
class Verification:
    """What a successful check found: the role, its threshold, who signed, what was ignored."""

    role: str
    threshold: int
    signers: tuple[Signer, ...]
    ignored: tuple[Ignored, ...]
    keyring: str
    content_sha256: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "threshold": self.threshold,
            "keyring": self.keyring,
            "content_sha256": self.content_sha256,
            "signers": [s.to_dict() for s in self.signers],
            "ignored": [i.to_dict() for i in self.ignored],
        }


def verify(
    bundle: Mapping[str, Any],
    keyring: Keyring,
    *,
    role: str | None = None,
    now: float | None = None,
    where: str = "bundle",
) -> Verification:
    """Check a bundle's signatures against `keyring` for `role` (the keyring's default role when
    None) at time `now` (the clock when None).

    The bundle's format and fingerprint are not checked here (`bundle.verify_bundle` does that).
    Raises BundleError with `reason` set (see the module docstring); UsageError for a role the
    keyring does not declare.
    """
    digest = content_digest(bundle)
    return verify_signatures(
        bundle.get("signatures"),
        keyring,
        context=BUNDLE_CONTEXT,
        payload={"content_sha256": digest},
        role=role,
        now=now,
        where=where,
        content=digest,
    )


def verify_signatures(
    signatures: Any,
    keyring: Keyring,
    *,
    context: str,
    payload: Mapping[str, Any],
    role: str | None = None,
    now: float | None = None,
    where: str = "bundle",
    content: str = "",
) -> Verification:
    """Check a list of signature entries over `payload` (each signs `payload` plus its own
    `key_id` and `signed_at`, under `context`); what `verify` does for any signed document.

    Raises BundleError when fewer than the role's threshold of distinct keys signed validly.
    """
    wanted = keyring.role(role)
    moment = time.time() if now is None else now
    if not isinstance(signatures, list):
        raise BundleError(
            f"{where}: bad signature: 'signatures' must be a list, got {type(signatures).__name__}",
            reason="bad-signature",
        )
    if not signatures:
        raise BundleError(
            f"{where}: refused: it has no signatures, and {keyring.source} requires "
            f"{_signers(wanted.threshold)} for role {wanted.name}; sign it with `ballast sign`",
            reason="unsigned",
        )
    signers: list[Signer] = []
    ignored: list[Ignored] = []
    for index, entry in enumerate(signatures, start=1):
        outcome = _judge(entry, index, keyring, wanted.name, context, payload, moment, {s.key_id for s in signers})
        if isinstance(outcome, Signer):
            signers.append(outcome)
        else:
            ignored.append(outcome)
    if len(signers) >= wanted.threshold:
        return Verification(wanted.name, wanted.threshold, tuple(signers), tuple(ignored), keyring.source, content)
    reason = ignored[0].reason if not signers and ignored else "too-few-signers"
    if not signers and len(ignored) == 1 and wanted.threshold == 1:
        message = f"{where}: refused: {ignored[0].text.removeprefix('signature 1: ')}"
    else:
        valid = f" ({', '.join(s.label for s in signers)})" if signers else ""
        message = (
            f"{where}: refused: too few signers for role {wanted.name} in {keyring.source}: "
            f"{len(signers)} valid of the {wanted.threshold} needed{valid}"
        )
        message += "".join(f"; {i.text}" for i in ignored)
    raise BundleError(message, reason=reason)


def _judge(
    entry: Any,
    index: int,
    keyring: Keyring,
    role: str,
    context: str,
    payload: Mapping[str, Any],
    now: float,
    counted: set[str],
) -> Signer | Ignored:
    """Whether one signature entry counts for `role` (a Signer) or not (an Ignored saying why)."""
    if not isinstance(entry, Mapping) or set(entry) != set(SIGNATURE_KEYS):
        found = sorted(str(k)[:40] for k in entry)[:8] if isinstance(entry, Mapping) else type(entry).__name__
        return Ignored(
            index, "", "bad-signature", f"malformed entry (expected the keys {', '.join(SIGNATURE_KEYS)}, got {found})"
        )
    kid = entry["key_id"] if isinstance(entry["key_id"], str) else ""
    if entry["alg"] != ALG:
        return Ignored(
            index,
            kid,
            "bad-signature",
            f"unsupported algorithm {str(entry['alg'])[:40]!r} (this runtime verifies {ALG})",
        )
    signed_at = parse_timestamp(entry["signed_at"]) if isinstance(entry["signed_at"], str) else None
    sig = decode_signature(entry["sig"])
    if not kid or signed_at is None or sig is None:
        return Ignored(
            index, kid, "bad-signature", "malformed entry (key_id, signed_at or sig is not what `ballast sign` writes)"
        )
    message = signed_message(context, {**payload, "key_id": kid, "signed_at": entry["signed_at"]})
    refusal = signature_refusal(keyring, kid, message, sig, role=role, now=now)
    if refusal is not None:
        return Ignored(index, kid, *refusal)
    key = keyring.key(kid)
    assert key is not None  # signature_refusal found it
    if kid in counted:
        return Ignored(index, kid, "bad-signature", f"key {key.label} signed twice; a key counts once")
    return Signer(kid, key.name, signed_at)


def signature_refusal(
    keyring: Keyring, key_id: str, message: bytes, sig: bytes, *, role: str, now: float
) -> tuple[str, str] | None:
    """Why one signature by `key_id` over `message` does not count for `role` at time `now`: a
    reason of REASONS and the words, or None when it counts.

    The rules every signed thing shares (bundles, ledger checkpoints), in this order: the key is
    in the keyring, the signature matches, the key is not revoked and `now` is within its
    validity dates, the key holds the role.
    """
    key = keyring.key(key_id)
    if key is None:
        return "unknown-key", f"key {key_id[:40]} is not in {keyring.source}"
    if not valid_signature(key, message, sig):
        return (
            "bad-signature",
            f"the signature by key {key.label} does not match the content: it was changed after signing",
        )
    refusal = key.refusal(now)
    if refusal is not None:
        return refusal
    if role not in key.roles:
        held = ", ".join(sorted(key.roles)) or "none"
        return "missing-role", f"key {key.label} may not sign for role {role} (its roles: {held})"
    return None


def decode_signature(value: Any) -> bytes | None:
    """The 64 bytes of a signature written in canonical base64, or None for anything else."""
    if not isinstance(value, str):
        return None
    try:
        sig = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    # b64decode ignores the unused low bits before '=': only the canonical spelling is accepted,
    # so that no changed byte of a signed file still verifies
    return sig if len(sig) == SIGNATURE_BYTES and base64.b64encode(sig).decode("ascii") == value else None


def valid_signature(key: TrustedKey, message: bytes, sig: bytes) -> bool:
    """Whether `sig` is `key`'s Ed25519 signature of `message` (PyNaCl is imported here)."""
    signing, crypto_error = _nacl()
    try:
        signing.VerifyKey(key.public_key).verify(message, sig)
    except (crypto_error, ValueError, TypeError):  # BadSignatureError is a CryptoError
        return False
    return True


def _signers(n: int) -> str:
    return "1 signature" if n == 1 else f"{n} signatures"


# ---- the loader's decision ----


def check_trust(
    bundle: Mapping[str, Any],
    where: str,
    *,
    trust: Keyring | None,
    allow_unsigned: bool = False,
    role: str | None = None,
    now: float | None = None,
    raw: bytes | None = None,
) -> Verification | None:
    """Decide whether a (format- and fingerprint-checked) bundle may be loaded.

    With a keyring, the bundle's signatures must satisfy it; with `raw` (the file's bytes), a
    signed bundle must also be byte for byte as `ballast sign` wrote it, so no byte can be
    added, removed or changed. Without a keyring, nothing is verified: the bundle is refused
    unless `allow_unsigned`. `allow_unsigned` admits an unsigned bundle (with or without a
    keyring) and logs a warning; it never excuses a signature that fails. Returns the
    Verification, or None when nothing was verified.
    """
    if trust is None and role is not None:
        raise UsageError(f"role={role!r} names the role signers must hold in a keyring: give the keyring too (trust=…)")
    wanted = trust.role(role) if trust is not None else None
    signed = bool(bundle.get("signatures", []) != [])
    if not signed or trust is None:
        if allow_unsigned:
            what = "the bundle is not signed" if not signed else "its signatures were not checked (no keyring)"
            logger.warning("%s: %s; loaded because unsigned bundles are allowed (development only)", where, what)
            return None
        if not signed and trust is not None and wanted is not None:
            raise BundleError(
                f"{where}: refused: it has no signatures, and {trust.source} requires {_signers(wanted.threshold)} "
                f"for role {wanted.name}; sign it with `ballast sign`",
                reason="unsigned",
            )
        if not signed:
            raise BundleError(
                f"{where}: refused: the bundle is not signed and no keyring was given; pass a keyring "
                "(trust=KEYRING, --trust KEYRING) to load signed bundles, or allow unsigned bundles for development "
                "(allow_unsigned=True, --allow-unsigned)",
                reason="unsigned",
            )
        raise BundleError(
            f"{where}: refused: the bundle is signed but no keyring was given to check it against; "
            "pass one (trust=KEYRING, --trust KEYRING)",
            reason="no-keyring",
        )
    verification = verify(bundle, trust, role=role, now=now, where=where)
    if raw is not None and raw != dump_bundle(dict(bundle)):
        raise BundleError(
            f"{where}: refused: the signatures match, but the file is not byte for byte as `ballast sign` wrote it "
            "(reformatted, or bytes added outside the signed content); sign it again, or restore the signed file",
            reason="not-canonical",
        )
    return verification


def read_trusted_bundle(
    path: str | Path,
    *,
    trust: Keyring | str | Path | None = None,
    allow_unsigned: bool = False,
    role: str | None = None,
    now: float | None = None,
) -> tuple[dict[str, Any], Verification | None]:
    """A bundle file read, its format and fingerprint checked, and admitted by `check_trust`
    (with the file's bytes); returns it and the Verification (None when nothing was verified)."""
    keyring = resolve_keyring(trust)
    bundle, raw = read_bundle_bytes(path)
    verification = check_trust(
        bundle, str(path), trust=keyring, allow_unsigned=allow_unsigned, role=role, now=now, raw=raw
    )
    return bundle, verification
