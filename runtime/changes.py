"""What a proposed bundle changes against the running one: its documents and their versions,
the roles its signers must hold, and whether it moves forward or rolls back.

**Documents.** Every entry of a bundle's IR under a kind's key (`policies`, `threats`) is a
document, known by its kind and name, with the version its source declares and the SHA-256 of its
IR entry (its content).

**Roles.** A bundle carries the whole policy set, so its signers vouch for all of it: they must
satisfy, for every kind of document the new bundle holds or the running one held (a bundle that
drops every threat changes the threats too), the role the caller's keyring gives that kind
(`Keyring.document_role`: its `document_roles:`, else MetaAdmin when declared, else the default
role). Nothing in the bundle can change which role that is.

**Versions** are ordered as semantic versions: dotted numbers compared number by number (a
missing number is 0, so `1.2` = `1.2.0`; a leading `v` is ignored), and a pre-release after `-`
(`1.3.0-rc.1`) comes before its release, its parts compared as numbers when both are, else as
text. A version that is not of this form can only be equal to itself.

**Forward.** A bundle N with another fingerprint moves forward from the running bundle C when

1. no document of both has a lower version in N (a downgrade),
2. no document of both has the same version in N and another content (a different build passing
   for the same version: an old or a forked one), and
3. some document is new in N or has a higher version in N, and
4. a document absent from C that a store ran before comes back at the highest version it ran
   (with that content) or above (`returning_reason`).

Anything else is a rollback, refused unless the caller allows it (and the ledger records that it
did). Removing a document alone is therefore refused too: from the bundles alone it cannot be
told from replaying an older bundle that lacked it. Raise another document's version with it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ballast.runtime.bundle import canonical_bytes
from ballast.runtime.errors import BundleError
from ballast.runtime.keyring import DOCUMENT_KINDS, Keyring
from ballast.runtime.signing import Signer

__all__ = [
    "BundleRef",
    "Document",
    "VersionChange",
    "check_documents",
    "compare_documents",
    "documents",
    "kinds_of",
    "required_roles",
    "returning_reason",
    "rollback_reason",
    "version_key",
]

ADDED, REMOVED, RAISED, LOWERED, REBUILT, UNCHANGED = "added", "removed", "raised", "lowered", "rebuilt", "unchanged"
_VERSION = re.compile(r"v?(\d+(?:\.\d+)*)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?")


@dataclass(frozen=True, slots=True)
class Document:
    """One document of a bundle: its kind, name, declared version and content digest."""

    kind: str
    name: str
    version: str
    digest: str


@dataclass(frozen=True, slots=True)
class BundleRef:
    """Which bundle: its fingerprint, its documents' versions and who signed it.

    `serial` counts the sets a PolicyStore has run (1 for the first), so two reloads of the same
    bundle are told apart.
    """

    fingerprint: str
    versions: tuple[tuple[str, str, str], ...]  # (kind, name, version), in bundle order
    signers: tuple[Signer, ...] = ()
    serial: int = 0

    @property
    def label(self) -> str:
        """`motb.orchestration 1.2.0, gtbe 1.0.0 (0891d34214d71a96)`."""
        names = ", ".join(f"{name} {version}" for _, name, version in self.versions) or "no documents"
        return f"{names} ({self.fingerprint[:16]})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "serial": self.serial,
            "versions": [{"kind": k, "name": n, "version": v} for k, n, v in self.versions],
            "signers": [s.to_dict() for s in self.signers],
        }


@dataclass(frozen=True, slots=True)
class VersionChange:
    """How one document changes: `added`, `removed`, `raised`, `lowered`, `rebuilt` (same version,
    other content) or `unchanged`."""

    kind: str
    name: str
    old: str | None
    new: str | None
    change: str

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "old": self.old, "new": self.new, "change": self.change}

    @property
    def text(self) -> str:
        return f"{self.kind} {self.name}: {self.old or '-'} → {self.new or '-'} ({self.change})"


def documents(bundle: Mapping[str, Any]) -> list[Document]:
    """The documents of a bundle whose format and fingerprint were checked, in IR order.

    Read before its signatures are (to name it in a refusal), so nothing here trusts the IR's
    shape: an entry that is not a mapping, or a name or version that is not text, is shown as
    `?`, and building the evaluators refuses the bundle later.
    """
    entries = bundle["ir"]
    out = []
    for key, kind in DOCUMENT_KINDS.items():
        listed = entries.get(key)
        for entry in listed if isinstance(listed, list) else ():
            digest = hashlib.sha256(canonical_bytes(entry)).hexdigest()
            fields = entry if isinstance(entry, Mapping) else {}
            name, version = fields.get("name"), fields.get("version", "")
            out.append(Document(kind, _text(name), _text(version), digest))
    return out


def returning_reason(
    new: Sequence[Document], running: Sequence[Document], highest: Mapping[tuple[str, str], Document]
) -> str:
    """Why documents absent from the running bundle come back older than before, or "".

    `highest` holds, per document, the highest version a store has run: a document removed and
    added back must come back at that version (the same content) or a higher one, or it would
    replay what was replaced.
    """
    present = {(d.kind, d.name) for d in running}
    back = []
    for d in new:
        before = highest.get((d.kind, d.name))
        if before is None or (d.kind, d.name) in present:
            continue
        if d.version == before.version:
            older = d.digest != before.digest
        else:
            a, b = version_key(before.version), version_key(d.version)
            older = a is not None and b is not None and (b < a or (b == a and d.digest != before.digest))
        if older:
            back.append(f"{d.kind} {d.name} at {d.version}, not above {before.version}, which ran before")
    return ("it brings back " + ", ".join(back)) if back else ""


def check_documents(docs: Sequence[Document], where: str = "bundle") -> None:
    """Raise BundleError (`malformed-ir`) unless every document has a name and a version as text
    and no two of a kind share a name: what versions are compared by."""
    seen: set[tuple[str, str]] = set()
    for d in docs:
        if d.name == "?" or d.version == "?" or (d.kind, d.name) in seen:
            problem = "is listed twice" if (d.kind, d.name) in seen else "has no name or version as text"
            raise BundleError(
                f"{where}: the IR is malformed ({d.kind} {d.name!r} {problem}); recompile with `ballast compile`",
                reason="malformed-ir",
            )
        seen.add((d.kind, d.name))


def _text(value: Any) -> str:
    return value[:200] if isinstance(value, str) else "?"


def kinds_of(bundle: Mapping[str, Any]) -> list[str]:
    """The kinds of document a bundle holds (at least one entry), in registry order."""
    ir = bundle.get("ir")
    if not isinstance(ir, Mapping):
        return []
    return [kind for key, kind in DOCUMENT_KINDS.items() if ir.get(key)]


def required_roles(
    keyring: Keyring, new: Mapping[str, Any], old: Mapping[str, Any] | None = None
) -> dict[str, list[str]]:
    """The roles a change from `old` (None: nothing runs yet) to `new` must be signed for, each
    with the kinds of document that need it; the keyring's default role for a bundle of no
    documents replacing none."""
    kinds = kinds_of(new)
    for kind in kinds_of(old) if old is not None else ():
        if kind not in kinds:
            kinds.append(kind)
    if not kinds:
        return {keyring.role(None).name: []}
    roles: dict[str, list[str]] = {}
    for kind in kinds:
        roles.setdefault(keyring.document_role(kind), []).append(kind)
    return roles


def version_key(version: str) -> tuple[Any, ...] | None:
    """A sort key for a semantic version (see the module docstring), or None when it is not one."""
    found = _VERSION.fullmatch(version.strip())
    if found is None:
        return None
    numbers = [int(n) for n in found[1].split(".")]
    while len(numbers) > 1 and numbers[-1] == 0:  # 1.2 = 1.2.0
        numbers.pop()
    pre = found[2]
    if pre is None:
        return (tuple(numbers), 1, ())
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (tuple(numbers), 0, parts)


def compare_documents(old: Sequence[Document], new: Sequence[Document], where: str = "bundle") -> list[VersionChange]:
    """How each document changes from `old` to `new`, in `new`'s order then the removed ones.

    Raises BundleError (`bad-version`) for a document whose two versions differ and cannot be
    ordered.
    """
    before = {(d.kind, d.name): d for d in old}
    after = {(d.kind, d.name) for d in new}
    out = []
    for d in new:
        prior = before.get((d.kind, d.name))
        if prior is None:
            out.append(VersionChange(d.kind, d.name, None, d.version, ADDED))
            continue
        out.append(VersionChange(d.kind, d.name, prior.version, d.version, _change(prior, d, where)))
    out.extend(VersionChange(d.kind, d.name, d.version, None, REMOVED) for d in old if (d.kind, d.name) not in after)
    return out


def _change(old: Document, new: Document, where: str) -> str:
    if old.version == new.version:
        return UNCHANGED if old.digest == new.digest else REBUILT
    a, b = version_key(old.version), version_key(new.version)
    if a is None or b is None:
        bad = old.version if a is None else new.version
        raise BundleError(
            f"{where}: {new.kind} {new.name}: version {bad!r} cannot be ordered against "
            f"{(new.version if a is None else old.version)!r}; write versions as dotted numbers such as 1.2.0 "
            '(docs/security.md, "Signed policy changes and hot reload")',
            reason="bad-version",
        )
    if a == b:  # 1.2 and 1.2.0: one version written two ways
        return UNCHANGED if old.digest == new.digest else REBUILT
    return RAISED if b > a else LOWERED


def rollback_reason(changes: Sequence[VersionChange]) -> str:
    """Why a change is a rollback (see "Forward" in the module docstring), or "" when it moves forward."""
    lowered = [c for c in changes if c.change == LOWERED]
    if lowered:
        return "it lowers " + ", ".join(f"{c.kind} {c.name} from {c.old} to {c.new}" for c in lowered)
    rebuilt = [c for c in changes if c.change == REBUILT]
    if rebuilt:
        return "its content differs at the same version for " + ", ".join(f"{c.kind} {c.name} {c.new}" for c in rebuilt)
    if not any(c.change in (ADDED, RAISED) for c in changes):
        removed = [c for c in changes if c.change == REMOVED]
        gone = f" (it only removes {', '.join(f'{c.kind} {c.name}' for c in removed)})" if removed else ""
        return f"no document in it is newer than the running one{gone}"
    return ""
