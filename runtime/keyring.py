"""Keyrings: the public keys a deployment trusts, the roles each may sign for, and how many
signers each role needs.

A keyring belongs to whoever loads bundles, never to a bundle: whether a signature is needed,
whose, and how many, is read from the keyring the caller passes (`ballast.load(path,
trust=KEYRING)`), so a bundle cannot declare itself exempt (OPA's GHSA-g2pf-6v5v-qcc8 accepted a
stripped signature because a field of the bundle said none was needed).

The document (YAML, or JSON, which is YAML too; docs/security.md has the reference)::

    keyring: production
    roles:
      MetaAdmin: {threshold: 2}      # 2 distinct keys holding the role must sign
    default_role: MetaAdmin          # needed when there are several roles
    keys:
      - id: 3f9a2c71d0b4e58a         # key_id(public_key): the first 16 hex digits of its SHA-256
        name: alice                  # optional, for people
        public_key: "base64 of the 32-byte Ed25519 public key"
        roles: [MetaAdmin]
        not_before: 2025-01-01T00:00:00Z   # optional validity dates, checked against the clock
        not_after: 2026-01-01T00:00:00Z
        revoked: "laptop lost"       # optional: true, or the reason
    document_roles:                  # optional: the role a change to each kind of document needs
      policy: MetaAdmin              # (default: MetaAdmin when declared, else default_role)
      threat: MetaAdmin

`check_keyring` checks a loaded document (plain dicts and lists, as `json` or ruamel give them)
and returns every problem with its path in the document (`keys[1].public_key`). This module
renders those paths for a JSON file (`read_keyring_json`, standard library only, for a service
that embeds the runtime); `ballast.keyring` reads YAML and puts the same problems at their line
and column. The checks exist once, here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from ballast.runtime.errors import UsageError
from ballast.runtime.reading import UnreadableInput, read_text
from ballast.runtime.suggest import did_you_mean
from ballast.runtime.values import describe, iso, parse_timestamp

__all__ = [
    "DEFAULT_DOCUMENT_ROLE",
    "DOCUMENT_KINDS",
    "KEY_ID_DIGITS",
    "PUBLIC_KEY_BYTES",
    "Keyring",
    "KeyringError",
    "KeyringProblem",
    "Role",
    "TrustedKey",
    "check_keyring",
    "decode_public_key",
    "key_id",
    "keyring_from_data",
    "read_keyring_json",
    "render_path",
    "resolve_keyring",
]

KEY_ID_DIGITS = 16  # hex digits of SHA-256(public key): a name to look a key up by, not a secret
PUBLIC_KEY_BYTES = 32  # an Ed25519 public key
TOP_KEYS = ("keyring", "roles", "default_role", "keys", "document_roles")
# The kinds of document a bundle holds, by the IR key their entries are under. The runtime
# imports no compiler: tests/runtime/test_store.py checks this against the compiler's registry.
DOCUMENT_KINDS = {
    "policies": "policy",
    "threats": "threat",
    "safety": "safety",
    "fleets": "fleet",
    "rollouts": "rollout",
    "governance": "governance",
    "scoring": "scoring",
    "profiles": "profile",
    "supervisors": "supervisor",
}
# The role a change to these kinds needs when the keyring names none and declares it: the MOTB
# administration model gives changes to orchestration and threat policies to MetaAdmin.
DEFAULT_DOCUMENT_ROLE = "MetaAdmin"
ROLE_KEYS = ("threshold",)
KEY_KEYS = ("id", "name", "public_key", "roles", "not_before", "not_after", "revoked")
_ROLE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")

Path_ = tuple[str | int, ...]  # a place in the document: ("keys", 1, "public_key")


def key_id(public_key: bytes) -> str:
    """The id of a public key: the first 16 hex digits of its SHA-256.

    >>> key_id(bytes(32))
    '66687aadf862bd77'
    """
    return hashlib.sha256(public_key).hexdigest()[:KEY_ID_DIGITS]


def decode_public_key(text: object) -> bytes:
    """The 32 bytes of an Ed25519 public key written in base64; raises ValueError saying why not."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"a public key is written in base64, got {describe(text)}")
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the public key is not valid base64") from None
    if len(raw) != PUBLIC_KEY_BYTES:
        raise ValueError(f"an Ed25519 public key has {PUBLIC_KEY_BYTES} bytes, this one has {len(raw)}")
    if base64.b64encode(raw).decode("ascii") != text.strip():  # unused bits set before '='
        raise ValueError("the public key is not in canonical base64 (it was changed)")
    return raw


@dataclass(frozen=True, slots=True)
class Role:
    """A role bundles are signed for, and how many distinct keys holding it must sign."""

    name: str
    threshold: int = 1


@dataclass(frozen=True, slots=True)
class TrustedKey:
    """One public key of a keyring: who may use it for what, and when.

    `not_before` and `not_after` are epoch seconds (None: no bound); `revoked` is the reason the
    key was revoked, or None. A revoked key is refused whatever the time a bundle claims.
    """

    key_id: str
    public_key: bytes = field(repr=False)
    roles: frozenset[str]
    name: str = ""
    not_before: float | None = None
    not_after: float | None = None
    revoked: str | None = None

    @property
    def label(self) -> str:
        """How a message names the key: `alice (3f9a2c71d0b4e58a)`, or the id alone."""
        return f"{self.name} ({self.key_id})" if self.name else self.key_id

    def refusal(self, now: float) -> tuple[str, str] | None:
        """Why the key cannot sign at `now` (a BundleError reason and the words), or None."""
        if self.revoked is not None:
            return "revoked-key", f"key {self.label} is revoked ({self.revoked})"
        if self.not_after is not None and now > self.not_after:
            return "expired-key", f"key {self.label} expired at {iso(self.not_after)}"
        if self.not_before is not None and now < self.not_before:
            return "key-not-yet-valid", f"key {self.label} is not valid before {iso(self.not_before)}"
        return None


@dataclass(frozen=True, slots=True)
class Keyring:
    """The keys a caller trusts and the roles they sign for (see the module docstring).

    `source` names where it was read from, for messages.
    """

    name: str
    roles: Mapping[str, Role]
    keys: tuple[TrustedKey, ...]
    default_role: str
    source: str = "keyring"
    # kind of document → the role a change to it needs (`document_roles:`); see `document_role`
    document_roles: Mapping[str, str] = field(default_factory=dict)

    def document_role(self, kind: str) -> str:
        """The role that signers of a bundle holding documents of `kind` (`policy`, `threat`) must
        hold: the keyring's `document_roles` entry, else MetaAdmin when the keyring declares it,
        else the default role. Never read from a bundle."""
        if kind in self.document_roles:
            return self.document_roles[kind]
        return DEFAULT_DOCUMENT_ROLE if DEFAULT_DOCUMENT_ROLE in self.roles else self.default_role

    def key(self, key_id: str) -> TrustedKey | None:
        """The key with this id, or None."""
        for k in self.keys:
            if k.key_id == key_id:
                return k
        return None

    def holders(self, role: str) -> list[TrustedKey]:
        """The keys that may sign for `role`."""
        return [k for k in self.keys if role in k.roles]

    def role(self, name: str | None) -> Role:
        """The role named (the default role for None); raises UsageError for an unknown one."""
        wanted = self.default_role if name is None else name
        if wanted not in self.roles:
            hint = did_you_mean(wanted, self.roles) or f"its roles are: {', '.join(self.roles)}"
            raise UsageError(f"{self.source}: the keyring has no role {wanted!r}; {hint}")
        return self.roles[wanted]

    def to_dict(self) -> dict[str, Any]:
        """The keyring as its JSON document (what `read_keyring_json` reads back)."""
        keys = []
        for k in self.keys:
            entry: dict[str, Any] = {"id": k.key_id}
            if k.name:
                entry["name"] = k.name
            entry["public_key"] = base64.b64encode(k.public_key).decode("ascii")
            entry["roles"] = sorted(k.roles)
            if k.not_before is not None:
                entry["not_before"] = iso(k.not_before)
            if k.not_after is not None:
                entry["not_after"] = iso(k.not_after)
            if k.revoked is not None:
                entry["revoked"] = k.revoked
            keys.append(entry)
        return {
            "keyring": self.name,
            "roles": {name: {"threshold": r.threshold} for name, r in self.roles.items()},
            "default_role": self.default_role,
            "keys": keys,
            **({"document_roles": dict(self.document_roles)} if self.document_roles else {}),
        }


# ---- checking a document ----


@dataclass(frozen=True, slots=True)
class KeyringProblem:
    """One problem of a keyring document, at a path in it.

    `at_key`: the problem is the key at the end of `path` itself (an unknown key), not its value.
    `first`: for a repeated key id, where it was first given.
    """

    path: Path_
    message: str
    hint: str = ""
    at_key: bool = False
    first: Path_ | None = None


class KeyringError(UsageError):
    """A keyring that cannot be used; `problems` holds every problem found."""

    def __init__(self, source: str, problems: list[KeyringProblem]) -> None:
        self.source = source
        self.problems = problems
        lines = [f"{render_path(p.path) or 'the document'}: {_with_hint(p)}" for p in problems]
        if len(lines) == 1:
            super().__init__(f"{source}: {lines[0]}")
        else:
            super().__init__(f"{source}: the keyring has {len(lines)} problems:\n  " + "\n  ".join(lines))


def _with_hint(p: KeyringProblem) -> str:
    hint = p.hint
    if p.first is not None:
        hint = f"{hint}; " if hint else ""
        hint += f"first given at {render_path(p.first)}"
    return f"{p.message} ({hint})" if hint else p.message


def render_path(path: Path_) -> str:
    """A path as JSON-style text: ("keys", 1, "id") → `keys[1].id`."""
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out


def check_keyring(data: Any, source: str = "keyring") -> tuple[Keyring | None, list[KeyringProblem]]:
    """The keyring a loaded document describes, and every problem found (the keyring is None
    when there is one)."""
    checker = _Checker()
    keyring = checker.read(data, source)
    return (keyring if not checker.problems else None), checker.problems


def keyring_from_data(data: Any, source: str = "keyring") -> Keyring:
    """The keyring a loaded document describes; raises KeyringError listing every problem."""
    keyring, problems = check_keyring(data, source)
    if keyring is None:
        raise KeyringError(source, problems)
    return keyring


def read_keyring_json(path: str | Path) -> Keyring:
    """A keyring from a JSON file, with the standard library only; raises KeyringError (problems
    named by their path in the document) or UsageError when the file cannot be read."""
    name = str(path)
    try:
        text = read_text(path, "keyring")
    except UnreadableInput as exc:
        raise UsageError(f"cannot read the keyring: {exc}") from None
    try:
        data = json.loads(text, object_pairs_hook=_refuse_duplicates)
    except _Duplicate as exc:
        raise KeyringError(
            name, [KeyringProblem((), f"the key {exc.args[0]!r} is given twice in one object")]
        ) from None
    except (json.JSONDecodeError, RecursionError, ValueError) as exc:
        raise UsageError(f"{name}: the keyring is not JSON ({exc}); ballast.load reads YAML keyrings too") from None
    return keyring_from_data(data, name)


def resolve_keyring(trust: Keyring | str | Path | None) -> Keyring | None:
    """A keyring given as itself or as the path of a JSON keyring; None stays None.

    The runtime reads JSON only (standard library); `ballast.load` reads YAML keyrings too.
    """
    if trust is None or isinstance(trust, Keyring):
        return trust
    if isinstance(trust, str | Path):
        if Path(trust).suffix.lower() in (".yaml", ".yml"):
            raise UsageError(
                f"{trust}: the runtime reads keyrings as JSON (standard library only): load the bundle with "
                "ballast.load, which reads YAML keyrings too, or write the keyring as JSON "
                "(`ballast key check KEYRING --format json`)"
            )
        return read_keyring_json(trust)
    raise UsageError(f"trust must be a Keyring or the path of a keyring file, got {type(trust).__name__}")


class _Duplicate(ValueError):
    pass


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise _Duplicate(k)
        out[k] = v
    return out


class _Skip(Exception):
    """A value whose problem is recorded: stop reading it."""


class _Checker:
    def __init__(self) -> None:
        self.problems: list[KeyringProblem] = []

    def error(self, path: Path_, message: str, hint: str = "", **kw: Any) -> None:
        self.problems.append(KeyringProblem(path, message, hint, **kw))

    def unknown_keys(self, mapping: Mapping[Any, Any], path: Path_, allowed: tuple[str, ...], what: str) -> None:
        for k in mapping:
            if k not in allowed:
                hint = did_you_mean(k, allowed) or f"the keys of {what} are: {', '.join(allowed)}"
                self.error((*path, k), f"unknown key '{k}' in {what}", hint, at_key=True)

    def mapping(self, value: Any, path: Path_, what: str) -> Mapping[Any, Any]:
        if not isinstance(value, Mapping):
            self.error(path, f"{what} must be a mapping, got {describe(value)}")
            raise _Skip
        return value

    def string(self, value: Any, path: Path_) -> str:
        if not isinstance(value, str) or not value.strip():
            self.error(path, f"expected a non-empty string, got {describe(value)}")
            raise _Skip
        return value

    def time(self, value: Any, path: Path_) -> float:
        text = value.isoformat() if isinstance(value, date | datetime) else value  # YAML reads bare dates
        moment = parse_timestamp(text) if isinstance(text, str) else None
        if moment is None:
            self.error(path, f"expected an RFC 3339 time such as 2026-01-01T00:00:00Z, got {describe(value)}")
            raise _Skip
        return moment

    def read(self, data: Any, source: str) -> Keyring | None:
        try:
            root = self.mapping(data, (), "a keyring")
        except _Skip:
            self.problems[-1] = KeyringProblem(
                (), "a keyring is a mapping with `keyring:`, `roles:` and `keys:`", f"got {describe(data)}"
            )
            return None
        self.unknown_keys(root, (), TOP_KEYS, "a keyring")
        name = self.attempt(lambda: self.string(self.required(root, "keyring"), ("keyring",)), "")
        roles = self.attempt(lambda: self.roles(root), {})
        default = self.attempt(lambda: self.default_role(root, roles), "")
        keys = self.attempt(lambda: self.keys(root, roles), [])
        document_roles = self.attempt(lambda: self.document_roles(root, roles), {})
        if not self.problems:  # with a key or role in doubt, counting signers would mislead
            self.reachable(roles, keys)
        if self.problems:
            return None
        return Keyring(name, roles, tuple(k for k, _ in keys), default, source, document_roles)

    @staticmethod
    def attempt(read: Any, fallback: Any) -> Any:
        try:
            return read()
        except _Skip:
            return fallback

    def required(self, mapping: Mapping[Any, Any], key: str, path: Path_ = ()) -> Any:
        if mapping.get(key) is None:
            self.error(path, f"missing required key '{key}'", f"add `{key}:`")
            raise _Skip
        return mapping[key]

    def roles(self, root: Mapping[Any, Any]) -> dict[str, Role]:
        roles = self.mapping(self.required(root, "roles"), ("roles",), "roles")
        if not roles:
            self.error(("roles",), "a keyring declares at least one role", "e.g. roles: {MetaAdmin: {threshold: 1}}")
            raise _Skip
        out = {}
        for name, spec in roles.items():
            path: Path_ = ("roles", name)
            if not isinstance(name, str) or not _ROLE_NAME.fullmatch(name):
                self.error(path, f"a role name is a word such as MetaAdmin, got {describe(name)}", at_key=True)
                continue
            threshold = 1  # kept when the spec has a problem: keys may name the role all the same
            if spec is not None:
                try:
                    body = self.mapping(spec, path, f"role '{name}'")
                    self.unknown_keys(body, path, ROLE_KEYS, f"role '{name}'")
                    threshold = self.threshold(body.get("threshold", 1), (*path, "threshold"))
                except _Skip:
                    pass
            out[name] = Role(name, threshold)
        return out

    def document_roles(self, root: Mapping[Any, Any], roles: Mapping[str, Role]) -> dict[str, str]:
        if root.get("document_roles") is None:
            return {}
        body = self.mapping(root["document_roles"], ("document_roles",), "document_roles")
        kinds = tuple(DOCUMENT_KINDS.values())
        out = {}
        for kind, role in body.items():
            path: Path_ = ("document_roles", kind)
            if kind not in kinds:
                hint = did_you_mean(str(kind), kinds) or f"the kinds of document are: {', '.join(kinds)}"
                shown = repr(kind) if isinstance(kind, str) else describe(kind)
                self.error(path, f"unknown kind of document {shown}", hint, at_key=True)
                continue
            if not isinstance(role, str) or (roles and role not in roles):
                hint = (did_you_mean(role, roles) if isinstance(role, str) else "") or (
                    f"declare it under `roles:` ({', '.join(roles)})"
                )
                shown = repr(role) if isinstance(role, str) else describe(role)
                self.error(path, f"{shown} is not a declared role", hint)
                continue
            out[kind] = role
        return out

    def threshold(self, value: Any, path: Path_) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            self.error(path, f"a threshold is a whole number of signers, 1 or more, got {describe(value)}")
            raise _Skip
        return value

    def default_role(self, root: Mapping[Any, Any], roles: Mapping[str, Role]) -> str:
        if root.get("default_role") is None:
            if len(roles) > 1:
                self.error(
                    (),
                    "missing required key 'default_role': the keyring declares several roles",
                    f"add `default_role:` naming the role a bundle is checked for when the caller names none ({', '.join(roles)})",
                )
                raise _Skip
            return next(iter(roles), "")
        name = self.string(root["default_role"], ("default_role",))
        if roles and name not in roles:
            self.error(
                ("default_role",), f"unknown role {name!r}", did_you_mean(name, roles) or f"roles: {', '.join(roles)}"
            )
            raise _Skip
        return name

    def keys(self, root: Mapping[Any, Any], roles: Mapping[str, Role]) -> list[tuple[TrustedKey, Path_]]:
        items = self.required(root, "keys")
        if not isinstance(items, list):
            self.error(("keys",), f"keys must be a list, got {describe(items)}")
            raise _Skip
        if not items:
            self.error(("keys",), "a keyring lists at least one key", "add the public keys `ballast key new` printed")
            raise _Skip
        out: list[tuple[TrustedKey, Path_]] = []
        seen: dict[str, Path_] = {}
        for i, item in enumerate(items):
            key = self.attempt(lambda i=i, item=item: self.key(item, ("keys", i), roles), None)
            if key is None:
                continue
            if key.key_id in seen:
                self.error(
                    ("keys", i, "id"),
                    f"key id {key.key_id} is listed twice",
                    "list each key once",
                    first=seen[key.key_id],
                )
                continue
            seen[key.key_id] = ("keys", i, "id")
            out.append((key, ("keys", i)))
        return out

    def key(self, item: Any, path: Path_, roles: Mapping[str, Role]) -> TrustedKey:
        entry = self.mapping(item, path, "a key")
        self.unknown_keys(entry, path, KEY_KEYS, "a key")
        before = len(self.problems)
        public = self.attempt(lambda: self.public_key(entry, path), None)
        ident = self.attempt(lambda: self.key_id(entry, path, public), None)
        if public is not None and ident is not None and ident != key_id(public):
            self.error(
                (*path, "id"),
                f"the id {ident!r} is not the id of this public key",
                f"the id of this public key is {key_id(public)} (the first 16 hex digits of its SHA-256)",
            )
        name = self.attempt(lambda: self.string(entry["name"], (*path, "name")) if "name" in entry else "", "")
        held = self.attempt(lambda: self.key_roles(entry, path, roles), frozenset())
        not_before = self.attempt(lambda: self.optional_time(entry, "not_before", path), None)
        not_after = self.attempt(lambda: self.optional_time(entry, "not_after", path), None)
        if not_before is not None and not_after is not None and not_after <= not_before:
            self.error(
                (*path, "not_after"),
                "not_after is not later than not_before",
                "a key is valid from not_before to not_after",
            )
        revoked = self.attempt(lambda: self.revoked(entry, path), None)
        if len(self.problems) > before or public is None:
            raise _Skip
        return TrustedKey(key_id(public), public, held, name, not_before, not_after, revoked)

    def key_id(self, entry: Mapping[Any, Any], path: Path_, public: bytes | None) -> str:
        value = self.required(entry, "id", path)
        if isinstance(value, int | float) and not isinstance(value, bool):
            # 830292005818e692 is a float to YAML (and 1234567890123456 an int): quotes keep it text
            right = f'id: "{key_id(public)}"' if public is not None else "put the id in quotes"
            self.error((*path, "id"), "the key id was read as a number: quote it", f"write {right}")
            raise _Skip
        return self.string(value, (*path, "id"))

    def public_key(self, entry: Mapping[Any, Any], path: Path_) -> bytes:
        value = self.required(entry, "public_key", path)
        try:
            return decode_public_key(value)
        except ValueError as exc:
            self.error(
                (*path, "public_key"), str(exc), "copy the public key `ballast key new` or `ballast key show` printed"
            )
            raise _Skip from None

    def key_roles(self, entry: Mapping[Any, Any], path: Path_, roles: Mapping[str, Role]) -> frozenset[str]:
        value = self.required(entry, "roles", path)
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not names:
            self.error((*path, "roles"), f"roles must be a list of role names, got {describe(value)}")
            raise _Skip
        out = set()
        for j, role in enumerate(names):
            where: Path_ = (*path, "roles", j) if isinstance(value, list) else (*path, "roles")
            if not isinstance(role, str):
                self.error(where, f"a role name is a string, got {describe(role)}")
            elif roles and role not in roles:
                self.error(
                    where,
                    f"unknown role {role!r}",
                    did_you_mean(role, roles) or f"declare it under `roles:` ({', '.join(roles)})",
                )
            else:
                out.add(role)
        return frozenset(out)

    def optional_time(self, entry: Mapping[Any, Any], key: str, path: Path_) -> float | None:
        return None if entry.get(key) is None else self.time(entry[key], (*path, key))

    def revoked(self, entry: Mapping[Any, Any], path: Path_) -> str | None:
        value = entry.get("revoked")
        if value is None or value is False:
            return None
        if value is True:
            return "revoked"
        if isinstance(value, str) and value.strip():
            return value.strip()
        self.error(
            (*path, "revoked"),
            f"revoked is true or the reason, got {describe(value)}",
            'e.g. revoked: "laptop lost on 2025-06-02"',
        )
        raise _Skip

    def reachable(self, roles: Mapping[str, Role], keys: list[tuple[TrustedKey, Path_]]) -> None:
        """A threshold more keys than can sign is a keyring no bundle can satisfy."""
        for name, role in roles.items():
            usable = sum(1 for k, _ in keys if name in k.roles and k.revoked is None)
            if role.threshold > usable:
                self.error(
                    ("roles", name, "threshold"),
                    f"role '{name}' needs {role.threshold} signer{'s' if role.threshold != 1 else ''}, but {usable} unrevoked key{'s' if usable != 1 else ''} hold{'s' if usable == 1 else ''} it",
                    "add keys with this role, or lower the threshold",
                )
