"""Keyring documents: one set of checks, problems at file:line:col in YAML and by path in JSON."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from ballast.keyring import parse_keyring, read_keyring
from ballast.runtime.errors import CompileError, UsageError
from ballast.runtime.keyring import KeyringError, key_id, read_keyring_json, resolve_keyring
from ballast.runtime.signing import PrivateKey
from ballast.runtime.values import parse_timestamp

ALICE = PrivateKey.from_seed(hashlib.sha256(b"alice").digest(), "alice")
BOB = PrivateKey.from_seed(hashlib.sha256(b"bob").digest(), "bob")


def b64(k: PrivateKey) -> str:
    return base64.b64encode(k.public_key).decode()


GOOD = f"""\
keyring: production
roles:
  MetaAdmin: {{threshold: 2}}
  Operator: {{}}
default_role: MetaAdmin
keys:
  - id: "{ALICE.key_id}"
    name: alice
    public_key: {b64(ALICE)}
    roles: [MetaAdmin, Operator]
    not_before: 2026-01-01T00:00:00Z
    not_after: 2027-01-01T00:00:00Z
  - id: "{BOB.key_id}"
    name: bob
    public_key: {b64(BOB)}
    roles: MetaAdmin
    revoked: false
"""


def problems(text: str) -> list[str]:
    """`line:col: message (hint)` of every problem of a keyring text."""
    with pytest.raises(CompileError) as caught:
        parse_keyring(text, "k.yaml")
    assert all(d.span.file == "k.yaml" for d in caught.value.diagnostics)
    return [
        f"{d.span.line}:{d.span.column}: {d.message}" + (f" ({d.hint})" if d.hint else "")
        for d in caught.value.diagnostics
    ]


def test_a_good_keyring_reads_into_keys_roles_and_dates() -> None:
    ring = parse_keyring(GOOD, "k.yaml")
    assert ring.name == "production" and ring.default_role == "MetaAdmin" and ring.source == "k.yaml"
    assert {n: r.threshold for n, r in ring.roles.items()} == {"MetaAdmin": 2, "Operator": 1}
    alice, bob = ring.keys
    assert (alice.key_id, alice.name, alice.public_key) == (ALICE.key_id, "alice", ALICE.public_key)
    assert alice.roles == {"MetaAdmin", "Operator"} and bob.roles == {"MetaAdmin"}
    assert alice.not_before == parse_timestamp("2026-01-01T00:00:00Z") and bob.not_after is None
    assert bob.revoked is None
    assert [k.name for k in ring.holders("Operator")] == ["alice"]


def test_the_json_form_reads_back_the_same_keyring_with_the_standard_library(tmp_path: Path) -> None:
    ring = parse_keyring(GOOD, "k.yaml")
    path = tmp_path / "k.json"
    path.write_text(json.dumps(ring.to_dict()), encoding="utf-8")
    again = read_keyring_json(path)
    assert again.to_dict() == ring.to_dict()
    assert read_keyring(path).to_dict() == ring.to_dict()  # JSON is YAML: the CLI reads both
    assert resolve_keyring(str(path)).to_dict() == ring.to_dict()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("    name: alice\n", "    name: alice\n    valid_until: 2027-01-01\n"),
         "9:5: unknown key 'valid_until' in a key (the keys of a key are: id, name, public_key, roles, not_before, not_after, revoked)"),
        (("    roles: MetaAdmin\n", "    roles: MetaAdmin\n    revokd: true\n"),
         "17:5: unknown key 'revokd' in a key (did you mean 'revoked'?)"),
        ((f"public_key: {b64(ALICE)}", "public_key: not*base64"),
         "9:17: the public key is not valid base64 (copy the public key `ballast key new` or `ballast key show` printed)"),
        ((f"public_key: {b64(ALICE)}", f"public_key: {b64(ALICE)[:-4]}"),
         "9:17: an Ed25519 public key has 32 bytes, this one has 30 (copy the public key `ballast key new` or `ballast key show` printed)"),
        (("not_after: 2027-01-01T00:00:00Z", "not_after: next year"),
         "12:16: expected an RFC 3339 time such as 2026-01-01T00:00:00Z, got the string 'next year'"),
        (("not_after: 2027-01-01T00:00:00Z", "not_after: 2025-01-01T00:00:00Z"),
         "12:16: not_after is not later than not_before (a key is valid from not_before to not_after)"),
        ((f'id: "{BOB.key_id}"', f'id: "{ALICE.key_id}"'),
         f"13:9: the id '{ALICE.key_id}' is not the id of this public key (the id of this public key is {BOB.key_id} (the first 16 hex digits of its SHA-256))"),
        ((f'id: "{BOB.key_id}"\n    name: bob\n    public_key: {b64(BOB)}', f'id: "{ALICE.key_id}"\n    name: bob\n    public_key: {b64(ALICE)}'),
         f"13:9: key id {ALICE.key_id} is listed twice (list each key once; first given at line 7)"),
        (("roles: [MetaAdmin, Operator]", "roles: [MetaAdmin, Operater]"),
         "10:24: unknown role 'Operater' (did you mean 'Operator'?)"),
        (("  MetaAdmin: {threshold: 2}", "  MetaAdmin: {threshold: 0}"),
         "3:26: a threshold is a whole number of signers, 1 or more, got the number 0"),
        (("  MetaAdmin: {threshold: 2}", "  MetaAdmin: {threshold: 3}"),
         "3:26: role 'MetaAdmin' needs 3 signers, but 2 unrevoked keys hold it (add keys with this role, or lower the threshold)"),
        (("revoked: false", "revoked: lost"), "3:26: role 'MetaAdmin' needs 2 signers, but 1 unrevoked key holds it (add keys with this role, or lower the threshold)"),
        (("default_role: MetaAdmin\n", ""),
         "1:1: missing required key 'default_role': the keyring declares several roles (add `default_role:` naming the role a bundle is checked for when the caller names none (MetaAdmin, Operator))"),
        (("default_role: MetaAdmin", "default_role: Admin"), "5:15: unknown role 'Admin' (did you mean 'MetaAdmin'?)"),
        (("keyring: production\n", ""), "1:1: missing required key 'keyring' (add `keyring:`)"),
        (("revoked: false", "revoked: 3"), 'revoked: 3'),
    ],
    ids=["unknown-key", "unknown-key-suggested", "bad-base64", "short-key", "bad-date", "dates-reversed", "wrong-id",
         "duplicate-id", "unknown-role", "zero-threshold", "unreachable-threshold", "revoked-below-threshold",
         "no-default-role", "unknown-default-role", "no-name", "bad-revoked"],
)  # fmt: skip
def test_each_problem_is_reported_at_its_line_and_column(change: tuple[str, str], expected: str) -> None:
    text = GOOD.replace(*change, 1)
    assert text != GOOD
    found = problems(text)
    if expected == "revoked: 3":
        assert found == [
            '17:14: revoked is true or the reason, got the number 3 (e.g. revoked: "laptop lost on 2025-06-02")'
        ]
        return
    assert found == [expected]


def test_an_unquoted_key_id_that_yaml_reads_as_a_number_gets_the_quoted_spelling() -> None:
    key = PrivateKey.from_seed(hashlib.sha256(b"68").digest())
    assert key.key_id == "46600e1000516853"  # a float to YAML: 46600 × 10^1000516853, so inf
    text = f"keyring: k\nroles: {{R: {{}}}}\nkeys:\n  - id: {key.key_id}\n    public_key: {b64(key)}\n    roles: [R]\n"
    assert problems(text) == [f'4:9: the key id was read as a number: quote it (write id: "{key.key_id}")']


def test_every_problem_of_a_file_is_reported_at_once() -> None:
    text = GOOD.replace("not_after: 2027-01-01T00:00:00Z", "not_after: soon").replace("name: bob", "nam: bob")
    assert [p.split(":")[0] for p in problems(text)] == ["12", "14"]


def test_a_file_that_is_not_yaml_or_repeats_a_key_is_reported_as_yaml() -> None:
    with pytest.raises(CompileError) as caught:
        parse_keyring("keyring: a\nkeyring: b\nroles: {R: {}}\nkeys: []\n", "k.yaml")
    assert [(d.code, d.span.line, d.message) for d in caught.value.diagnostics] == [
        ("yaml", 2, "duplicate key 'keyring'")
    ]
    with pytest.raises(CompileError) as caught:
        parse_keyring("keys: [\n", "k.yaml")
    assert caught.value.diagnostics[0].code == "yaml"
    assert problems("- a list\n") == ["1:1: a keyring is a mapping with `keyring:`, `roles:` and `keys:` (got a list)"]


def test_the_json_reader_names_problems_by_their_path(tmp_path: Path) -> None:
    doc = json.loads(json.dumps(parse_keyring(GOOD, "k.yaml").to_dict()))
    doc["keys"][1]["public_key"] = "AAAA"
    doc["keys"][0]["roles"] = ["Nobody"]
    path = tmp_path / "k.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(KeyringError) as caught:
        read_keyring_json(path)
    assert str(caught.value).splitlines() == [
        f"{path}: the keyring has 2 problems:",
        "  keys[0].roles[0]: unknown role 'Nobody' (declare it under `roles:` (MetaAdmin, Operator))",
        "  keys[1].public_key: an Ed25519 public key has 32 bytes, this one has 3 (copy the public key `ballast key new` or `ballast key show` printed)",
    ]
    path.write_text('{"keyring": "a", "keyring": "b"}', encoding="utf-8")
    with pytest.raises(KeyringError, match="the key 'keyring' is given twice"):
        read_keyring_json(path)
    path.write_text("{", encoding="utf-8")
    with pytest.raises(UsageError, match="not JSON"):
        read_keyring_json(path)
    with pytest.raises(UsageError, match="cannot read the keyring"):
        read_keyring_json(tmp_path / "absent.json")


def test_key_ids_are_a_short_hash_of_the_public_key() -> None:
    assert ALICE.key_id == key_id(ALICE.public_key) == hashlib.sha256(ALICE.public_key).hexdigest()[:16]
