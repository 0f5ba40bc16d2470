"""Bundles: the compiled IR of a policy set plus a manifest that fingerprints it.

A bundle is one JSON file, `{"manifest": …, "ir": …}`, and a `signatures` list once signed
(`ballast.runtime.signing`). The manifest's fingerprint is the SHA-256 of the IR's canonical
JSON; loading recomputes it and refuses a bundle whose IR does not match, so an edited bundle
never runs. A fingerprint proves integrity, not origin (whoever can write the file can recompute
it): signatures and the caller's keyring prove origin. Code objects are rebuilt from the IR on
load: a bundle holds no bytecode, so it is portable across Python versions and auditable as text.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ballast.runtime.errors import BundleError
from ballast.runtime.ir import FORMAT as IR_FORMAT
from ballast.runtime.reading import FILE_LIMIT_VARIABLE, UnreadableInput, file_limit, read_bytes

BUNDLE_FORMAT = "ballast-bundle/1"
BUNDLE_KEYS = ("manifest", "ir", "signatures")


def fingerprint(ir: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(ir)).hexdigest()


def canonical_bytes(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def dump_bundle(bundle: dict[str, Any]) -> bytes:
    """The bundle's bytes: sorted keys, two-space indent, a final newline (diffable in review)."""
    return (json.dumps(bundle, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")


def looks_like_bundle(text: str) -> bool:
    """Whether a text given as policy source is a bundle's JSON (for a message saying so)."""
    head = text[:4096].lstrip()
    return head.startswith("{") and '"manifest"' in text and '"ir"' in text


def read_bundle(path: str | Path) -> dict[str, Any]:
    """Read and verify a bundle file; raises BundleError saying what is wrong and what to do.

    Only the format and the fingerprint are checked: whether the bundle may be loaded (its
    signatures, the caller's keyring) is `ballast.runtime.signing.check_trust`'s decision.
    """
    return read_bundle_bytes(path)[0]


def read_bundle_bytes(path: str | Path) -> tuple[dict[str, Any], bytes]:
    """`read_bundle`, and the file's bytes (a signed bundle must be exactly what was signed)."""
    path = Path(path)
    try:
        raw = read_bytes(path, "bundle")
    except UnreadableInput as exc:
        reason = exc.reason[:1].upper() + exc.reason[1:]  # as the OS says it: "No such file or directory"
        hint = f"; {exc.hint}" if exc.hint and exc.hint != "check the path" else ""
        raise BundleError(f"{path}: cannot read bundle: {reason}{hint}", reason="unreadable") from None
    return parse_bundle(raw, str(path)), raw


def parse_bundle(raw: bytes, where: str = "bundle") -> dict[str, Any]:
    """A bundle from its bytes (a file's, or a request body's), format and fingerprint checked;
    raises BundleError saying what is wrong and what to do."""
    if not isinstance(raw, bytes | bytearray):
        raise BundleError(f"{where}: a bundle is given as bytes, got {type(raw).__name__}", reason="not-a-bundle")
    if len(raw) > file_limit():  # a file is held to it when read; a request body is held to it here
        raise BundleError(
            f"{where}: cannot read bundle: larger than the limit of {file_limit()} bytes; raise "
            f"{FILE_LIMIT_VARIABLE} if the bundle is meant to be this big",
            reason="unreadable",
        )
    try:
        bundle = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(
            f"{where}: not a bundle (invalid JSON: {exc}); the file is truncated or damaged: recompile it with `ballast compile`",
            reason="not-json",
        ) from None
    except (RecursionError, ValueError):  # nested too deep, or a number int() refuses
        raise BundleError(
            f"{where}: not a bundle this runtime can read; recompile it with `ballast compile`", reason="not-json"
        ) from None
    return verify_bundle(bundle, where)


def verify_bundle(bundle: Any, where: str = "bundle") -> dict[str, Any]:
    """Check a parsed bundle's shape, formats and fingerprint; returns it, or raises BundleError."""
    if not isinstance(bundle, dict) or "manifest" not in bundle or "ir" not in bundle:
        raise BundleError(
            f"{where}: not a Ballast bundle (expected 'manifest' and 'ir'); recompile it with `ballast compile`",
            reason="not-a-bundle",
        )
    unknown = sorted(str(k) for k in bundle if k not in BUNDLE_KEYS)
    if unknown:
        raise BundleError(
            f"{where}: not a Ballast bundle: unknown top-level key {_shown(unknown[0])} (a bundle holds "
            f"{', '.join(BUNDLE_KEYS)}); recompile it with `ballast compile`",
            reason="not-a-bundle",
        )
    manifest = bundle["manifest"]
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise BundleError(
            f"{where}: unsupported bundle format {_shown(found)}; this runtime reads {BUNDLE_FORMAT}; recompile with `ballast compile`",
            reason="format",
        )
    ir = bundle["ir"]
    if not isinstance(ir, dict) or ir.get("format") != IR_FORMAT:
        raise BundleError(f"{where}: unsupported IR format; recompile with `ballast compile`", reason="format")
    expected = manifest.get("fingerprint")
    if not isinstance(expected, dict):
        raise BundleError(
            f"{where}: the manifest has no fingerprint; recompile with `ballast compile`", reason="format"
        )
    if expected.get("algo") != "sha256":
        raise BundleError(
            f"{where}: unknown fingerprint algorithm {_shown(expected.get('algo'))}; recompile with `ballast compile`",
            reason="format",
        )
    try:
        actual = fingerprint(ir)
    except (TypeError, ValueError) as exc:  # NaN or Infinity edited into the IR
        raise BundleError(
            f"{where}: the IR is not plain JSON ({exc}); recompile with `ballast compile`",
            reason="fingerprint-mismatch",
        ) from None
    except RecursionError:  # only a parsed dict handed to from_bundle can be this deep
        raise BundleError(
            f"{where}: the IR is nested too deeply; recompile with `ballast compile`", reason="format"
        ) from None
    if actual != expected.get("hash"):
        raise BundleError(
            f"{where}: fingerprint mismatch: the IR hashes to {actual[:16]}…, the manifest says {str(expected.get('hash'))[:16]}…; "
            "the bundle was modified after compiling. Recompile it from the policy sources",
            reason="fingerprint-mismatch",
        )
    return bundle


def _shown(value: object) -> str:
    """A value from a bundle as a message quotes it: its repr, cut short (it may be huge)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"
