"""Ledger checkpoints judged against a keyring: the keys of signed bundles, a ledger role, and the
rules of signed bundles (unknown, revoked, expired, not yet valid, missing role), each failure
named at its checkpoint's sequence number; a reference model of those rules as a property test."""

from __future__ import annotations

import json
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_support import OTHER_SEED, SEED, T0, Clock, decision, keyring, make, signer, trusted, verify

import ballast
from ballast.runtime.errors import UsageError
from ballast.runtime.keyring import Keyring, Role
from ballast.runtime.ledger import Ledger
from ballast.runtime.ledger_keys import LEDGER_ROLE, CheckpointTrust, checkpoint_trust
from ballast.runtime.ledger_read import LedgerReader, verify_ledger
from ballast.runtime.ledger_verify import MAX_FINDINGS

DAY = 86_400.0
AFTER = T0 + 30 * DAY  # when the tests verify: a month after the checkpoints were signed


def trust(*keys: Any, now: float = AFTER, **kw: Any) -> CheckpointTrust:
    return checkpoint_trust(keyring(*keys), now=now, **kw)


def test_a_ledger_signed_by_a_trusted_key_verifies_and_names_its_signer(tmp_path: Path) -> None:
    path = make(tmp_path / "l.sqlite", 25, every=10)
    report = verify(path, trust(trusted(SEED, name="writer")))
    assert report.ok and not report.tampered and report.verified_checkpoints == 3
    assert [tuple(s) for s in report.signers.values()] == [(signer().key_id, "writer", 3, 25)]
    assert report.to_dict()["checkpoints"]["signers"][0]["key_id"] == signer().key_id


@pytest.mark.parametrize(
    ("keys", "kind", "words"),
    [
        ((trusted(OTHER_SEED),), "unknown-key", f"key {signer().key_id} is not in test-keyring"),
        ((trusted(SEED, revoked="laptop lost"),), "revoked-key", "is revoked (laptop lost)"),
        # not_after lies after every checkpoint's own time: the time a checkpoint claims is the
        # writer's word and is never believed; the verifier's clock is what counts
        ((trusted(SEED, not_after=T0 + DAY),), "expired-key", "expired at 2025-11-16T09:46:40Z"),
        ((trusted(SEED, not_before=AFTER + DAY),), "key-not-yet-valid", "is not valid before 2025-12-16T09:46:40Z"),
        (
            (trusted(SEED, roles=("Operator",)),),
            "missing-role",
            "may not sign for role LedgerWriter (its roles: Operator)",
        ),
    ],
    ids=["lacking", "revoked", "expired", "not-yet-valid", "missing-role"],
)
def test_a_checkpoint_the_keyring_does_not_trust_is_found_at_its_seq_with_the_reason(
    tmp_path: Path, keys: tuple[Any, ...], kind: str, words: str
) -> None:
    path = make(tmp_path / "l.sqlite", 25, every=10)
    report = verify(path, trust(*keys))
    assert report.first_bad == 10 and not report.ok and not report.tampered
    assert [(f.seq, f.kind) for f in report.findings] == [(10, kind), (20, kind), (25, kind)]
    assert report.findings[0].message.startswith("the checkpoint at entry 10 does not count: ")
    assert words in report.findings[0].message
    assert report.signed_through == 0 and report.signers == {}


def test_validity_dates_are_judged_at_the_verifiers_time(tmp_path: Path) -> None:
    path = make(tmp_path / "l.sqlite", 10, every=10)
    expiring = trusted(SEED, not_after=T0 + DAY)
    assert verify(path, trust(expiring, now=T0 + DAY / 2)).ok
    assert verify(path, trust(expiring, now=T0 + 2 * DAY)).findings[0].kind == "expired-key"


def test_a_changed_checkpoint_is_tampering_not_distrust(tmp_path: Path) -> None:
    path = make(tmp_path / "l.sqlite", 10, every=10)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE checkpoints SET time = '2030-01-01T00:00:00.000000Z'")
    conn.commit()
    conn.close()
    report = verify(path, trust(trusted(SEED)))
    assert [f.kind for f in report.findings] == ["bad-signature"] and report.tampered


def test_untrusted_checkpoints_beyond_the_findings_cap_are_not_called_tampering(tmp_path: Path) -> None:
    path = make(tmp_path / "l.sqlite", MAX_FINDINGS + 20, every=1)
    report = verify(path, trust(trusted(SEED, revoked="retired")))
    assert len(report.findings) == MAX_FINDINGS and report.more_findings == 20 and not report.tampered
    sql = sqlite3.connect(path)
    sql.execute("DELETE FROM entries WHERE seq = ?", (MAX_FINDINGS + 10,))
    sql.commit()
    sql.close()
    assert verify(path, trust(trusted(SEED, revoked="retired"))).tampered  # a change past the cap counts


def test_a_ledger_without_checkpoints_fails_when_a_keyring_is_given(tmp_path: Path) -> None:
    path = make(tmp_path / "l.sqlite", 5, seed=None)
    assert verify(path).ok  # the chain alone: nothing claims to be signed
    report = verify(path, trust(trusted(SEED)))
    assert [(f.seq, f.kind) for f in report.findings] == [(1, "unsigned")] and not report.tampered
    assert "no key vouches for any entry" in report.findings[0].message


def test_the_role_is_ledgerwriter_unless_named_and_must_be_declared_with_threshold_1(tmp_path: Path) -> None:
    path = make(tmp_path / "l.sqlite", 10, every=10)
    operators = keyring(trusted(SEED, roles=("Operator",)), roles=("Operator",))
    with pytest.raises(
        UsageError, match=r"test-keyring: the keyring has no role 'LedgerWriter' for the keys that sign"
    ):
        checkpoint_trust(operators)
    assert verify(path, checkpoint_trust(operators, role="Operator", now=AFTER)).ok
    with pytest.raises(UsageError, match="did you mean 'Operator'"):
        checkpoint_trust(operators, role="Operater")
    pair = Keyring("t", {LEDGER_ROLE: Role(LEDGER_ROLE, 2)}, (trusted(SEED), trusted(OTHER_SEED)), LEDGER_ROLE)
    with pytest.raises(UsageError, match="needs 2 signers, but a ledger checkpoint carries one signature"):
        checkpoint_trust(pair)


def test_role_or_now_without_a_keyring_is_a_usage_error(tmp_path: Path) -> None:
    path = make(tmp_path / "l.sqlite", 3)
    with LedgerReader.open(path) as reader, pytest.raises(UsageError, match="give the keyring too"):
        reader.verify(role="Operator")


class _OldSigner:
    """Signs as the first ledgers did: the same key, named `ed25519:` + its 16 hex digits."""

    def __init__(self) -> None:
        self.key = signer()
        self.key_id = "ed25519:" + self.key.key_id

    def sign(self, data: bytes) -> bytes:
        return self.key.sign(data)


def test_checkpoints_with_the_old_key_ids_say_what_was_found_and_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with Ledger.open(path, signer=_OldSigner(), checkpoint_every=5, clock=Clock()) as ledger:
        ledger.append_many([decision(i) for i in range(1, 8)])
    assert verify(path).ok  # the chain and the checkpoints' hashes still check without a keyring
    report = verify(path, trust(trusted(SEED)))
    assert [(f.seq, f.kind) for f in report.findings] == [(5, "old-key-id"), (7, "old-key-id")]
    message = report.findings[0].message
    assert f"its key id ed25519:{signer().key_id} is of the format of the first ledgers" in message
    assert "verify the chain alone (without --trust)" in message and "`ballast key new`" in message
    assert f"(its keyring id is {signer().key_id})" in message


def test_verify_ledger_reads_a_json_keyring_in_the_runtime_and_a_yaml_one_in_ballast(tmp_path: Path) -> None:
    path = make(tmp_path / "l.sqlite", 10, every=10)
    ring = keyring(trusted(SEED), trusted(OTHER_SEED, roles=("Operator",)))
    (tmp_path / "k.json").write_text(json.dumps(ring.to_dict()), encoding="utf-8")
    assert verify_ledger(path, trust=tmp_path / "k.json").ok
    with pytest.raises(UsageError, match="the runtime reads keyrings as JSON"):
        verify_ledger(path, trust=tmp_path / "k.yaml")
    (tmp_path / "k.yaml").write_text(json.dumps(ring.to_dict()), encoding="utf-8")  # JSON is YAML
    report = ballast.verify_ledger(path, trust=tmp_path / "k.yaml")
    assert report.ok and list(report.signers) == [signer().key_id]
    assert ballast.verify_ledger(path, trust=str(tmp_path / "k.yaml"), role="Operator").findings[0].kind == (
        "missing-role"
    )


# ---- the rules, against a reference model ---------------------------------------------------

SEEDS = [bytes([i]) * 32 for i in range(1, 4)]
STATES = ("valid", "absent", "revoked", "expired", "not-yet-valid", "other-role")


def entry_for(seed: bytes, state: str) -> Any:
    """The keyring entry of a key in `state`, or None for a key the keyring lacks."""
    return {
        "valid": lambda: trusted(seed),
        "absent": lambda: None,
        "revoked": lambda: trusted(seed, revoked="retired"),
        "expired": lambda: trusted(seed, not_after=AFTER - DAY),
        "not-yet-valid": lambda: trusted(seed, not_before=AFTER + DAY),
        "other-role": lambda: trusted(seed, roles=("Operator",)),
    }[state]()


# What a keyring says of a checkpoint by a key in each state (signing.signature_refusal's order).
MODEL = {
    "valid": None,
    "absent": "unknown-key",
    "revoked": "revoked-key",
    "expired": "expired-key",
    "not-yet-valid": "key-not-yet-valid",
    "other-role": "missing-role",
}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    states=st.lists(st.sampled_from(STATES), min_size=3, max_size=3),
    segments=st.lists(st.tuples(st.integers(0, 2), st.integers(1, 3)), min_size=1, max_size=5),
)
def test_each_checkpoint_counts_exactly_when_the_model_says_its_key_may_sign(
    states: list[str], segments: list[tuple[int, int]]
) -> None:
    """Each segment is a writer (one of three keys) appending some entries and closing, which
    signs a checkpoint; each key is in one state in the keyring."""
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "l.sqlite"
        clock = Clock()
        expected: list[tuple[int, str]] = []
        counted: dict[str, int] = {}
        seq = 0
        for writer, count in segments:
            with Ledger.open(path, signer=signer(SEEDS[writer]), checkpoint_every=1000, clock=clock) as ledger:
                ledger.append_many([decision(seq + i) for i in range(1, count + 1)])
            seq += count
            kind = MODEL[states[writer]]
            if kind is None:
                counted[signer(SEEDS[writer]).key_id] = counted.get(signer(SEEDS[writer]).key_id, 0) + 1
            else:
                expected.append((seq, kind))
        entries = [e for s, state in zip(SEEDS, states, strict=True) if (e := entry_for(s, state)) is not None]
        ring = keyring(*entries) if entries else None
        if ring is None:  # a keyring lists at least one key: an unrelated one
            ring = keyring(trusted(OTHER_SEED))
        report = verify(path, checkpoint_trust(ring, now=AFTER))
    assert [(f.seq, f.kind) for f in report.findings] == expected
    assert report.ok == (not expected) and not report.tampered
    assert {k: s.checkpoints for k, s in report.signers.items()} == counted
