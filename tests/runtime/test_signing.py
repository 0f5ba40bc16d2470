"""Signed bundles: a keyring decides what loads, every failure is a BundleError naming its reason.

Keys are made from fixed seeds so that a failure reproduces; validity dates are judged at an
injected `now`, never the test machine's clock.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import random
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import ballast
from ballast.compiler.pipeline import compile_paths
from ballast.runtime import from_bundle, load_bundle
from ballast.runtime.bundle import dump_bundle
from ballast.runtime.errors import BundleError, UsageError
from ballast.runtime.keyring import Keyring, Role, TrustedKey
from ballast.runtime.signing import (
    BUNDLE_CONTEXT,
    PrivateKey,
    content_digest,
    sign_bundle,
    signed_message,
    verify,
)

DEMO = """\
policy demo version "1" {
  input ev {
    pool: string
    load: float in [0, 1]
  }
  rule hot {
    when load > 0.9
    then scale(targets: pool, by: 2)
    reason "{pool} at {load:.0%}"
  }
}
"""
EVENT = {"pool": "p1", "load": 0.95}
DAY = 86400.0
NOW = 1_780_000_000.0  # 2026-05-28: every validity date below is relative to it


def key(name: str) -> PrivateKey:
    return PrivateKey.from_seed(hashlib.sha256(name.encode()).digest(), name)


ALICE, BOB, CAROL, MALLORY = key("alice"), key("bob"), key("carol"), key("mallory")


def trusted(k: PrivateKey, *roles: str, **changes: Any) -> TrustedKey:
    return replace(TrustedKey(k.key_id, k.public_key, frozenset(roles or ("MetaAdmin",)), k.name), **changes)


def keyring(*keys: TrustedKey, threshold: int = 1, roles: dict[str, int] | None = None) -> Keyring:
    declared = roles or {"MetaAdmin": threshold}
    return Keyring("test", {n: Role(n, t) for n, t in declared.items()}, keys, next(iter(declared)), "test-keyring")


@pytest.fixture(scope="module")
def bundle() -> dict[str, Any]:
    return compile_paths(["demo.bal"], sources={"demo.bal": DEMO}, source_date_epoch=0).bundle


def signed(bundle: dict[str, Any], *keys: PrivateKey) -> dict[str, Any]:
    for k in keys:
        bundle = sign_bundle(bundle, k, now=NOW - DAY)
    return bundle


def write(tmp_path: Path, bundle: dict[str, Any], name: str = "b.json") -> Path:
    path = tmp_path / name
    path.write_bytes(dump_bundle(bundle))
    return path


def refused(path: Path, trust: Any, **kw: Any) -> BundleError:
    with pytest.raises(BundleError) as caught:
        load_bundle(path, trust=trust, now=kw.pop("now", NOW), **kw)
    return caught.value


# ---- the round trip ----


def test_a_signed_bundle_loads_and_decides_as_the_unsigned_one(bundle: dict[str, Any], tmp_path: Path) -> None:
    path = write(tmp_path, signed(bundle, ALICE))
    policies = load_bundle(path, trust=keyring(trusted(ALICE)), now=NOW)
    plain = load_bundle(write(tmp_path, bundle, "plain.json"), allow_unsigned=True)
    assert policies.evaluate(EVENT).to_dict() == plain.evaluate(EVENT).to_dict()
    assert [d.action for d in policies.evaluate(EVENT).directives] == ["scale"]


def test_the_signature_entry_records_the_key_id_and_the_signing_time(bundle: dict[str, Any]) -> None:
    entry = signed(bundle, ALICE)["signatures"][0]
    assert sorted(entry) == ["alg", "key_id", "sig", "signed_at"]
    assert (
        entry["alg"] == "ed25519"
        and entry["key_id"] == ALICE.key_id == hashlib.sha256(ALICE.public_key).hexdigest()[:16]
    )
    assert entry["signed_at"] == "2026-05-27T20:26:40Z"
    assert len(base64.b64decode(entry["sig"])) == 64


def test_the_signature_covers_the_canonical_manifest_and_ir_under_a_context(bundle: dict[str, Any]) -> None:
    entry = signed(bundle, ALICE)["signatures"][0]
    payload = {"content_sha256": content_digest(bundle), "key_id": ALICE.key_id, "signed_at": entry["signed_at"]}
    import nacl.signing

    nacl.signing.VerifyKey(ALICE.public_key).verify(
        signed_message(BUNDLE_CONTEXT, payload), base64.b64decode(entry["sig"])
    )
    # the same payload signed for another purpose (a ledger checkpoint, say) is not a bundle signature
    forged = ALICE.sign(signed_message("ballast-ledger-checkpoint/1", payload))
    other = {**bundle, "signatures": [{**entry, "sig": base64.b64encode(forged).decode()}]}
    with pytest.raises(BundleError) as caught:
        verify(other, keyring(trusted(ALICE)), now=NOW)
    assert caught.value.reason == "bad-signature"


def test_signing_again_replaces_the_keys_signature_and_keeps_the_others(bundle: dict[str, Any]) -> None:
    twice = sign_bundle(signed(bundle, ALICE, BOB), ALICE, now=NOW)
    assert [s["key_id"] for s in twice["signatures"]] == [BOB.key_id, ALICE.key_id]


def test_trust_is_a_keyring_a_yaml_path_or_a_json_path(bundle: dict[str, Any], tmp_path: Path) -> None:
    ring = keyring(trusted(ALICE))
    path = write(tmp_path, signed(bundle, ALICE))
    (tmp_path / "k.json").write_text(json.dumps(ring.to_dict()), encoding="utf-8")
    (tmp_path / "k.yaml").write_text(json.dumps(ring.to_dict(), indent=2), encoding="utf-8")
    for trust in (ring, tmp_path / "k.json", str(tmp_path / "k.yaml")):
        assert ballast.load(path, trust=trust).rule_count == 1
    with pytest.raises(UsageError, match="reads keyrings as JSON"):
        load_bundle(path, trust=tmp_path / "k.yaml")  # the runtime alone has no YAML reader


def test_from_bundle_checks_a_parsed_bundle_the_same_way(bundle: dict[str, Any]) -> None:
    ring = keyring(trusted(ALICE))
    assert from_bundle(signed(bundle, ALICE), trust=ring, now=NOW).rule_count == 1
    with pytest.raises(BundleError) as caught:
        from_bundle(bundle, trust=ring, now=NOW)
    assert caught.value.reason == "unsigned"


def test_verify_reports_who_signed(bundle: dict[str, Any]) -> None:
    result = verify(signed(bundle, ALICE, BOB), keyring(trusted(ALICE), trusted(BOB), threshold=2), now=NOW)
    assert [s.name for s in result.signers] == ["alice", "bob"] and result.ignored == ()
    assert result.role == "MetaAdmin" and result.threshold == 2
    assert result.content_sha256 == content_digest(bundle)


# ---- every failure names its reason ----


def test_a_changed_manifest_is_a_bad_signature(bundle: dict[str, Any], tmp_path: Path) -> None:
    changed = signed(bundle, ALICE)
    changed["manifest"] = {**changed["manifest"], "compiler": "ballast 9.9"}  # not in the fingerprint
    error = refused(write(tmp_path, changed), keyring(trusted(ALICE)))
    assert error.reason == "bad-signature"
    assert "bad signature" in str(error) and "changed after signing" in str(error)


def test_a_changed_ir_is_caught_by_the_fingerprint_first(bundle: dict[str, Any], tmp_path: Path) -> None:
    changed = json.loads(json.dumps(signed(bundle, ALICE)))
    changed["ir"]["policies"][0]["rules"][0]["priority"] = 99
    assert refused(write(tmp_path, changed), keyring(trusted(ALICE))).reason == "fingerprint-mismatch"


@pytest.mark.parametrize(
    ("ring", "reason", "words"),
    [
        (keyring(trusted(BOB)), "unknown-key", "unknown key"),
        (keyring(trusted(ALICE, revoked="laptop lost")), "revoked-key", "revoked (laptop lost)"),
        (keyring(trusted(ALICE, not_after=NOW - 1)), "expired-key", "expired at 2026-05-28T20:26:39Z"),
        (keyring(trusted(ALICE, not_before=NOW + DAY)), "key-not-yet-valid", "not valid before"),
        (
            keyring(trusted(ALICE, "Operator"), roles={"MetaAdmin": 1, "Operator": 1}),
            "missing-role",
            "may not sign for role MetaAdmin (its roles: Operator)",
        ),
        (keyring(trusted(ALICE), trusted(BOB), threshold=2), "too-few-signers", "1 valid of the 2 needed"),
    ],
    ids=["unknown-key", "revoked-key", "expired-key", "key-not-yet-valid", "missing-role", "too-few-signers"],
)
def test_each_failure_is_a_bundle_error_naming_it(
    bundle: dict[str, Any], tmp_path: Path, ring: Keyring, reason: str, words: str
) -> None:
    error = refused(write(tmp_path, signed(bundle, ALICE)), ring)
    assert error.reason == reason
    assert words in str(error)
    assert str(error).startswith(f"{tmp_path / 'b.json'}: refused: ")


def test_a_revoked_key_is_refused_whatever_time_the_bundle_claims(bundle: dict[str, Any], tmp_path: Path) -> None:
    backdated = sign_bundle(bundle, ALICE, now=0)  # "signed in 1970, long before the revocation"
    error = refused(write(tmp_path, backdated), keyring(trusted(ALICE, revoked="stolen")))
    assert error.reason == "revoked-key"


def test_an_expired_key_is_judged_by_the_clock_not_by_signed_at(bundle: dict[str, Any], tmp_path: Path) -> None:
    ring = keyring(trusted(ALICE, not_after=NOW))
    path = write(tmp_path, sign_bundle(bundle, ALICE, now=NOW - 10 * DAY))
    assert load_bundle(path, trust=ring, now=NOW - 1).rule_count == 1
    assert refused(path, ring, now=NOW + 1).reason == "expired-key"


def test_a_role_names_which_signers_count(bundle: dict[str, Any], tmp_path: Path) -> None:
    ring = keyring(trusted(ALICE, "Operator"), trusted(BOB), roles={"MetaAdmin": 1, "Operator": 1})
    path = write(tmp_path, signed(bundle, ALICE))
    assert load_bundle(path, trust=ring, role="Operator", now=NOW).rule_count == 1
    assert refused(path, ring).reason == "missing-role"  # the default role: MetaAdmin
    with pytest.raises(UsageError, match="no role 'Admin'; did you mean 'MetaAdmin'"):
        load_bundle(path, trust=ring, role="Admin", now=NOW)
    with pytest.raises(UsageError, match="give the keyring too"):
        load_bundle(path, role="Operator", allow_unsigned=True)


def test_malformed_signature_entries_are_bad_signatures(bundle: dict[str, Any]) -> None:
    good = signed(bundle, ALICE)["signatures"][0]
    ring = keyring(trusted(ALICE))
    sig = base64.b64decode(good["sig"])
    padding_bits = base64.b64encode(sig).decode()[:-3] + chr(ord(base64.b64encode(sig).decode()[-3]) + 1) + "=="
    for entry in (
        "not a mapping",
        {**good, "extra": 1},
        {k: v for k, v in good.items() if k != "signed_at"},
        {**good, "alg": "rsa"},
        {**good, "sig": good["sig"][:-4]},
        {**good, "sig": padding_bits},  # decodes to the same bytes: only the canonical spelling counts
        {**good, "signed_at": "yesterday"},
        {**good, "key_id": 7},
    ):
        with pytest.raises(BundleError) as caught:
            verify({**bundle, "signatures": [entry]}, ring, now=NOW)
        assert caught.value.reason == "bad-signature", entry
    with pytest.raises(BundleError) as caught:
        verify({**bundle, "signatures": {"0": good}}, ring, now=NOW)
    assert caught.value.reason == "bad-signature"


# ---- stripping, and what the caller allows ----


@pytest.mark.parametrize(
    "strip",
    [
        lambda b: {k: v for k, v in b.items() if k != "signatures"},
        lambda b: {**b, "signatures": []},
    ],
    ids=["key-removed", "list-emptied"],
)
def test_a_stripped_bundle_is_refused_when_the_keyring_requires_signatures(
    bundle: dict[str, Any], tmp_path: Path, strip: Any
) -> None:
    error = refused(write(tmp_path, strip(signed(bundle, ALICE))), keyring(trusted(ALICE)))
    assert error.reason == "unsigned"
    assert "has no signatures, and test-keyring requires 1 signature for role MetaAdmin" in str(error)


def test_no_field_of_the_bundle_can_waive_the_signature(bundle: dict[str, Any], tmp_path: Path) -> None:
    ring = keyring(trusted(ALICE))
    for extra in ({"unsigned": True}, {"signature_required": False}, {"trust": None}):
        assert refused(write(tmp_path, {**bundle, **extra}), ring).reason == "not-a-bundle"
        waived = {**bundle, "manifest": {**bundle["manifest"], **extra}}
        assert refused(write(tmp_path, waived), ring).reason == "unsigned"


def test_without_a_keyring_a_bundle_loads_only_with_allow_unsigned(bundle: dict[str, Any], tmp_path: Path) -> None:
    plain, sig = write(tmp_path, bundle, "plain.json"), write(tmp_path, signed(bundle, ALICE), "signed.json")
    with pytest.raises(BundleError) as caught:
        ballast.load(plain)
    assert caught.value.reason == "unsigned" and "allow_unsigned=True" in str(caught.value)
    with pytest.raises(BundleError) as caught:
        ballast.load(sig)
    assert caught.value.reason == "no-keyring"
    assert ballast.load(plain, allow_unsigned=True).rule_count == 1
    assert ballast.load(sig, allow_unsigned=True).rule_count == 1


def test_allow_unsigned_logs_a_warning(
    bundle: dict[str, Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    plain = write(tmp_path, bundle)
    with caplog.at_level(logging.WARNING, logger="ballast"):
        ballast.load(plain, allow_unsigned=True)
        ballast.load(plain, trust=keyring(trusted(ALICE)), allow_unsigned=True)
    warnings = [r for r in caplog.records if r.name == "ballast.runtime.signing"]
    assert [r.levelno for r in warnings] == [logging.WARNING, logging.WARNING]
    assert all(
        f"{plain}: the bundle is not signed; loaded because unsigned bundles are allowed" in r.getMessage()
        for r in warnings
    )
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="ballast"):
        ballast.load(write(tmp_path, signed(bundle, ALICE), "s.json"), trust=keyring(trusted(ALICE)))
    assert not caplog.records  # a verified load says nothing


def test_allow_unsigned_never_excuses_a_failing_signature(bundle: dict[str, Any], tmp_path: Path) -> None:
    path = write(tmp_path, signed(bundle, MALLORY))
    assert refused(path, keyring(trusted(ALICE)), allow_unsigned=True).reason == "unknown-key"


# ---- thresholds, rotation, revocation ----


def test_two_of_three(bundle: dict[str, Any], tmp_path: Path) -> None:
    ring = keyring(trusted(ALICE), trusted(BOB), trusted(CAROL), threshold=2)
    for pair in ((ALICE, BOB), (BOB, CAROL), (CAROL, ALICE)):
        assert load_bundle(write(tmp_path, signed(bundle, *pair)), trust=ring, now=NOW).rule_count == 1
    for one in (ALICE, BOB, CAROL):
        assert refused(write(tmp_path, signed(bundle, one)), ring).reason == "too-few-signers"
    # one key's signature copied twice counts once
    twice = signed(bundle, ALICE)
    twice["signatures"] = twice["signatures"] * 2
    error = refused(write(tmp_path, twice), ring)
    assert error.reason == "too-few-signers" and "signed twice; a key counts once" in str(error)
    # an outsider's signature does not make up the number
    error = refused(write(tmp_path, signed(bundle, ALICE, MALLORY)), ring)
    assert error.reason == "too-few-signers" and f"signature 2: unknown key: key {MALLORY.key_id}" in str(error)


def test_rotation_keeps_bundles_loading_while_both_keys_are_valid(bundle: dict[str, Any], tmp_path: Path) -> None:
    old, new = trusted(ALICE, not_after=NOW + 30 * DAY), trusted(BOB, not_before=NOW - DAY)
    ring = keyring(old, new)
    by_old, by_new = (
        write(tmp_path, signed(bundle, ALICE), "old.json"),
        write(tmp_path, signed(bundle, BOB), "new.json"),
    )
    for path in (by_old, by_new):
        assert load_bundle(path, trust=ring, now=NOW).rule_count == 1
    later = NOW + 31 * DAY
    assert refused(by_old, ring, now=later).reason == "expired-key"
    assert load_bundle(by_new, trust=ring, now=later).rule_count == 1
    # re-signed by both during the overlap, the bundle outlives the old key
    both = write(tmp_path, signed(bundle, ALICE, BOB), "both.json")
    assert verify(json.loads(both.read_text()), ring, now=later).signers[0].name == "bob"


def test_a_revoked_signer_is_ignored_once_the_threshold_is_met(bundle: dict[str, Any]) -> None:
    ring = keyring(trusted(ALICE), trusted(BOB), trusted(CAROL, revoked="left the team"), threshold=2)
    result = verify(signed(bundle, ALICE, CAROL, BOB), ring, now=NOW)
    assert [s.name for s in result.signers] == ["alice", "bob"]
    assert [(i.index, i.reason) for i in result.ignored] == [(2, "revoked-key")]
    with pytest.raises(BundleError) as caught:
        verify(signed(bundle, ALICE, CAROL), ring, now=NOW)
    assert caught.value.reason == "too-few-signers"
    assert "signature 2: revoked key: key carol" in str(caught.value)


def test_with_every_signature_failing_the_first_failure_names_the_reason(bundle: dict[str, Any]) -> None:
    ring = keyring(trusted(ALICE, revoked="lost"), trusted(BOB, not_after=NOW - DAY), threshold=2)
    with pytest.raises(BundleError) as caught:
        verify(signed(bundle, ALICE, BOB), ring, now=NOW)
    assert caught.value.reason == "revoked-key"
    assert "signature 1: revoked key" in str(caught.value) and "signature 2: expired key" in str(caught.value)


# ---- every byte ----


def test_changing_adding_or_removing_any_byte_of_a_signed_bundle_is_refused(
    bundle: dict[str, Any], tmp_path: Path
) -> None:
    ring = keyring(trusted(ALICE))
    good = dump_bundle(signed(bundle, ALICE))
    path = tmp_path / "b.json"
    rng = random.Random(11)
    positions = sorted(set(rng.sample(range(len(good)), 250)) | {0, len(good) - 1})
    reasons: dict[str, int] = {}
    for i in positions:
        flipped = bytes([good[i] ^ (1 << rng.randrange(8))])
        for mutated in (good[:i] + good[i + 1 :], good[:i] + flipped + good[i + 1 :], good[:i] + b" " + good[i:]):
            path.write_bytes(mutated)
            with pytest.raises(BundleError) as caught:
                load_bundle(path, trust=ring, now=NOW)
            reasons[caught.value.reason] = reasons.get(caught.value.reason, 0) + 1
    path.write_bytes(good + b"\n")
    with pytest.raises(BundleError) as caught:
        load_bundle(path, trust=ring, now=NOW)
    assert caught.value.reason == "not-canonical"
    # whitespace and key order do not change the JSON: only the byte comparison catches them
    assert reasons["not-canonical"] > 0 and reasons["not-json"] > 0
    assert set(reasons) <= {"not-json", "not-canonical", "bad-signature", "fingerprint-mismatch", "not-a-bundle",
                            "format", "unknown-key", "unsigned"}  # fmt: skip


# ---- the runtime's dependencies ----


def _imported_by(code: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys\nprint(sorted({m.split('.')[0] for m in sys.modules}))"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONUTF8": "1"},
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1].replace("'", '"'))


def test_an_unsigned_development_load_needs_no_pynacl(bundle: dict[str, Any], tmp_path: Path) -> None:
    path = write(tmp_path, bundle)
    modules = _imported_by(f"from ballast.runtime import load_bundle\nload_bundle({str(path)!r}, allow_unsigned=True)")
    assert "nacl" not in modules and "ruamel" not in modules


def test_an_embedded_host_verifies_with_a_json_keyring_and_no_yaml_library(
    bundle: dict[str, Any], tmp_path: Path
) -> None:
    path = write(tmp_path, signed(bundle, ALICE))
    ring = tmp_path / "keyring.json"
    ring.write_text(json.dumps(keyring(trusted(ALICE)).to_dict()), encoding="utf-8")
    modules = _imported_by(f"import ballast\nassert ballast.load({str(path)!r}, trust={str(ring)!r}).rule_count == 1")
    assert "nacl" in modules
    assert not {"ruamel", "lark", "jsonschema", "yaml"} & set(modules)
