"""The audit ledger: the chain verifies, every kind of tampering is found at its sequence number,
checkpoints catch a cut tail and a rewritten chain, writers serialise, queries and exports
answer, and bad files are clear errors (crashes: test_ledger_crash.py; AuditLog: test_ledger_audit.py)."""

from __future__ import annotations

import io
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from ledger_support import OTHER_SEED, SEED, T0, Clock, decision, keyring, make, signer, trusted, verifier, verify

from ballast.runtime.errors import LedgerError, UsageError
from ballast.runtime.keyfiles import read_private_key, write_key_pair
from ballast.runtime.keyring import key_id
from ballast.runtime.ledger import GENESIS, Batch, Ledger, canonical, entry_hash
from ballast.runtime.ledger_keys import CheckpointTrust
from ballast.runtime.ledger_read import LedgerReader, parse_time, verify_export


def sql(path: Path, *statements: str, params: tuple[Any, ...] = ()) -> None:
    conn = sqlite3.connect(path)
    for s in statements:
        conn.execute(s, params if "?" in s else ())
    conn.commit()
    conn.close()


def forge(path: Path, seq: int, prev: str, when: str = "2025-11-15T10:00:00.000000Z") -> None:
    """Insert entry `seq` as a forger who knows the format would: canonical, hashed, chained to `prev`."""
    entry = {**decision(seq), "seq": seq, "time": when, "prev": prev}
    body = canonical(entry)
    sql(
        path,
        "INSERT INTO entries (seq, time, kind, actor, subject, outcome, body, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        params=(seq, when, entry["kind"], entry["actor"], entry["subject"], entry["outcome"], body, entry_hash(body)),
    )


def row(path: Path, seq: int) -> tuple[str, str]:
    conn = sqlite3.connect(path)
    body, digest = conn.execute("SELECT body, hash FROM entries WHERE seq = ?", (seq,)).fetchone()
    conn.close()
    return body, digest


# ---- the chain ----------------------------------------------------------------------------


def test_an_untouched_ledger_verifies_with_every_checkpoint(tmp_path: Path) -> None:
    report = verify(make(tmp_path / "l.sqlite", 25, every=10), verifier())
    assert report.ok and report.first_bad is None
    assert (report.entries, report.head_seq, report.checkpoints, report.verified_checkpoints) == (25, 25, 3, 3)
    assert report.signed_through == 25 and report.unsigned == 0


def test_each_entry_hashes_its_canonical_text_which_holds_seq_time_and_prev(tmp_path: Path) -> None:
    path = make(tmp_path / "l.sqlite", 3)
    prev = GENESIS
    for seq in (1, 2, 3):
        body, digest = row(path, seq)
        doc = json.loads(body)
        assert body == canonical(doc) and body.isascii()
        assert (doc["seq"], doc["prev"], digest) == (seq, prev, entry_hash(body))
        assert doc["time"] == time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(T0 + seq + 1))
        prev = digest


@pytest.mark.parametrize(
    ("tampering", "first_bad", "kind", "says"),
    [
        (
            ["UPDATE entries SET body = replace(body, 'decision 17', 'decision 71') WHERE seq = 17"],
            17,
            "edited",
            "its hash",
        ),
        (["UPDATE entries SET actor = 'someone/else' WHERE seq = 9"], 9, "edited", "actor column"),
        (["DELETE FROM entries WHERE seq = 12"], 12, "deleted", "entry 12 is missing"),
        (
            [
                "UPDATE entries SET seq = -1 WHERE seq = 8",
                "UPDATE entries SET seq = 8 WHERE seq = 20",
                "UPDATE entries SET seq = 20 WHERE seq = -1",
            ],
            8,
            "reordered",
            "the entry at 8 says it is entry 20",
        ),
        (["DELETE FROM entries WHERE seq > 24"], 25, "truncated", "entries 25–30 were removed"),
        (
            ["UPDATE checkpoints SET time = '2030-01-01T00:00:00.000000Z' WHERE seq = 20"],
            20,
            "bad-signature",
            "does not match the content: it was changed after signing",
        ),
    ],
    ids=["edited-field", "edited-column", "deleted", "swapped", "truncated", "edited-checkpoint"],
)
def test_tampering_is_found_at_the_first_bad_entry(
    tmp_path: Path, tampering: list[str], first_bad: int, kind: str, says: str
) -> None:
    path = make(tmp_path / "l.sqlite", 30, every=10)
    assert verify(path, verifier()).ok
    sql(path, *tampering)
    report = verify(path, verifier())
    assert (report.first_bad, report.findings[0].kind) == (first_bad, kind)
    assert says in report.findings[0].message


def test_an_edit_with_its_hash_recomputed_is_found_at_the_edited_entry(tmp_path: Path) -> None:
    path = make(tmp_path / "l.sqlite")
    body, _ = row(path, 17)
    forged = body.replace("decision 17", "decision 71")
    sql(path, "UPDATE entries SET body = ?, hash = ? WHERE seq = 17", params=(forged, entry_hash(forged)))
    report = verify(path)
    assert report.first_bad == 17 and report.findings[0].kind == "edited"
    assert "hash recomputed" in report.findings[0].message


def test_a_deleted_entry_with_the_later_ones_renumbered_is_found(tmp_path: Path) -> None:
    path = make(tmp_path / "l.sqlite", seed=None)
    sql(path, "DELETE FROM entries WHERE seq = 12")
    for seq in range(13, 31):
        sql(path, f"UPDATE entries SET seq = {seq - 1} WHERE seq = {seq}")
    report = verify(path)
    assert report.first_bad == 12 and [f.kind for f in report.findings] == ["deleted"]


def test_an_inserted_entry_is_found_even_when_forged_with_a_good_hash(tmp_path: Path) -> None:
    path = make(tmp_path / "l.sqlite", seed=None)
    for seq in range(30, 14, -1):  # make room at 15
        sql(path, f"UPDATE entries SET seq = {seq + 1} WHERE seq = {seq}")
    forge(path, 15, row(path, 14)[1])
    report = verify(path)
    assert report.first_bad == 15 and [f.kind for f in report.findings] == ["inserted"]


def test_an_appended_forgery_with_a_bad_link_is_found(tmp_path: Path) -> None:
    path = make(tmp_path / "l.sqlite", 5, seed=None)
    forge(path, 6, GENESIS)
    assert verify(path).first_bad == 5  # entry 6 does not chain to entry 5's hash


def test_two_swapped_entries_are_found_at_the_first(tmp_path: Path) -> None:
    path = make(tmp_path / "l.sqlite")
    sql(
        path,
        "UPDATE entries SET seq = -1 WHERE seq = 8",
        "UPDATE entries SET seq = 8 WHERE seq = 20",
        "UPDATE entries SET seq = 20 WHERE seq = -1",
    )
    report = verify(path)
    assert report.first_bad == 8 and report.findings[0].kind == "reordered"
    assert {f.seq for f in report.findings} == {8, 20}


def test_a_rewritten_chain_is_found_through_the_checkpoints(tmp_path: Path) -> None:
    path = make(tmp_path / "l.sqlite", 30, every=10)
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT seq, body FROM entries ORDER BY seq").fetchall()
    prev = GENESIS
    for seq, body in rows:  # change entry 14, then recompute every hash after it: a consistent chain
        doc = json.loads(body)
        if seq == 14:
            doc["reason"] = "nothing happened"
        doc["prev"] = prev
        text = canonical(doc)
        prev = entry_hash(text)
        conn.execute("UPDATE entries SET body = ?, hash = ? WHERE seq = ?", (text, prev, seq))
    conn.commit()
    conn.close()
    report = verify(path, verifier())
    assert report.first_bad == 11 and report.findings[0].kind == "rewritten"
    assert "entries 11–20 were rewritten" in report.findings[0].message


def test_a_checkpoint_signed_by_another_key_is_found(tmp_path: Path) -> None:
    path = make(tmp_path / "l.sqlite", 20, every=10, seed=OTHER_SEED)
    report = verify(path, verifier(SEED))
    assert report.first_bad == 10 and [f.kind for f in report.findings] == ["unknown-key", "unknown-key"]
    assert report.signed_through == 0


def test_a_checkpoint_with_a_forged_signature_is_found(tmp_path: Path) -> None:
    path = make(tmp_path / "l.sqlite", 20, every=10, seed=OTHER_SEED)
    # claim the trusted key's id on a checkpoint signed with another key
    sql(path, "UPDATE checkpoints SET key_id = ? WHERE seq = 20", params=(signer(SEED).key_id,))
    trust = CheckpointTrust(keyring(trusted(SEED), trusted(OTHER_SEED)))
    report = verify(path, trust)
    assert [(f.seq, f.kind) for f in report.findings] == [(20, "bad-signature")]


def test_without_a_verifier_the_checkpoints_still_catch_a_cut_tail_but_are_not_counted_verified(tmp_path: Path) -> None:
    path = make(tmp_path / "l.sqlite", 20, every=10)
    report = verify(path)
    assert report.ok and report.verified_checkpoints == 0 and report.signed_through == 20
    sql(path, "DELETE FROM entries WHERE seq > 15")
    assert verify(path).first_bad == 16


def test_an_unsigned_ledger_verifies_its_chain_and_says_it_is_unsigned(tmp_path: Path) -> None:
    report = verify(make(tmp_path / "l.sqlite", 5, seed=None))
    assert report.ok and report.checkpoints == 0 and report.unsigned == 5


def test_checkpoints_are_written_every_n_entries_and_on_close(tmp_path: Path) -> None:
    path = make(tmp_path / "l.sqlite", 25, every=10)
    with LedgerReader.open(path) as reader:
        assert [c.seq for c in reader.checkpoints()] == [10, 20, 25]
    with Ledger.open(path, signer=signer(), checkpoint_every=10) as ledger:
        ledger.append(decision(26))
    with Ledger.open(path, signer=signer(), checkpoint_every=10):
        pass  # nothing new: no checkpoint
    with LedgerReader.open(path) as reader:
        assert [c.seq for c in reader.checkpoints()] == [10, 20, 25, 26]


# ---- writing --------------------------------------------------------------------------------


def test_append_many_is_one_transaction_and_all_or_nothing(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "l.sqlite", clock=Clock()) as ledger:
        assert [a.seq for a in ledger.append_many([decision(1), decision(2)])] == [1, 2]
        with pytest.raises(UsageError, match="plain JSON"):
            ledger.append_many([decision(3), {"kind": "x", "value": float("nan")}])
        with pytest.raises(UsageError, match="may not set time"):
            ledger.append({"kind": "x", "time": "now"})
        assert ledger.append(decision(3)).seq == 3
    assert verify(tmp_path / "l.sqlite").entries == 3


def test_a_batched_ledger_commits_every_n_entries(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    ledger = Ledger.open(path, batch=Batch(entries=5, ms=60_000))
    for i in range(1, 8):
        ledger.append(decision(i))
    with LedgerReader.open(path) as reader:
        assert len(reader) == 5  # 6 and 7 wait in the open batch
    ledger.flush()
    with LedgerReader.open(path) as reader:
        assert len(reader) == 7
    ledger.close()


def test_discard_rolls_back_the_open_batch_and_the_chain_continues_from_the_last_commit(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    with Ledger.open(path, batch=Batch(entries=1000, ms=60_000)) as ledger:
        ledger.append(decision(1))
        ledger.flush()
        ledger.append(decision(2))
        ledger.append(decision(3))
        assert ledger.discard() == [2, 3]
        assert ledger.discard() == []  # nothing open
        assert ledger.append(decision(4)).seq == 2
    with LedgerReader.open(path) as reader:
        assert [e["reason"] for e in reader.entries()] == ["decision 1", "decision 4"]
        assert reader.verify().findings == []
    with Ledger.open(path) as durable:
        assert durable.discard() == []


def test_a_batched_ledger_commits_an_idle_batch_after_t_ms(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    with Ledger.open(path, batch=Batch(entries=1000, ms=50)) as ledger:
        ledger.append(decision(1))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with LedgerReader.open(path) as reader:
                if len(reader):
                    break
            time.sleep(0.01)
        with LedgerReader.open(path) as reader:
            assert len(reader) == 1


def test_a_second_writer_waits_for_the_lock_then_gets_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    holder = Ledger.open(path, batch=Batch(entries=1000, ms=60_000))
    holder.append(decision(1))  # the open batch holds the write lock
    other = Ledger.open(path, timeout=0.1)
    with pytest.raises(LedgerError, match=r"locked by another writer \(waited 0.1 s\)"):
        other.append(decision(2))
    holder.close()
    assert other.append(decision(2)).seq == 2
    other.close()
    assert verify(path).ok


def test_two_writers_in_one_process_extend_one_chain(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    with Ledger.open(path) as a, Ledger.open(path) as b:
        seqs = [(a if i % 2 else b).append(decision(i)).seq for i in range(10)]
    assert seqs == list(range(1, 11)) and verify(path).ok


def test_a_closed_ledger_refuses_appends(tmp_path: Path) -> None:
    ledger = Ledger.open(tmp_path / "l.sqlite")
    ledger.close()
    ledger.close()  # idempotent
    with pytest.raises(UsageError, match="is closed"):
        ledger.append(decision(1))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"checkpoint_every": 0}, "checkpoint_every"),
        ({"batch": Batch(entries=0)}, "batch must be"),
        ({"signer": object()}, "signer needs key_id"),
        ({"timeout": -1}, "timeout"),
    ],
)
def test_bad_arguments_are_usage_errors(tmp_path: Path, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        Ledger.open(tmp_path / "l.sqlite", **kwargs)


# ---- bad files ------------------------------------------------------------------------------


def test_a_file_that_is_not_sqlite_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "trail.jsonl"
    path.write_text('{"kind": "DirectiveIssued"}\n')
    with pytest.raises(LedgerError, match="not a SQLite database"):
        Ledger.open(path)
    with pytest.raises(LedgerError, match="not a SQLite database"):
        LedgerReader.open(path)
    assert path.read_text() == '{"kind": "DirectiveIssued"}\n'


def test_a_sqlite_database_that_is_not_a_ledger_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    sql(path, "CREATE TABLE users (name TEXT)")
    before = path.read_bytes()
    for opener in (Ledger.open, LedgerReader.open):
        with pytest.raises(LedgerError, match=r"not a Ballast ledger \(its tables: users\)"):
            opener(path)
    assert path.read_bytes() == before


def test_a_missing_file_is_created_for_writing_and_refused_for_reading(tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match="no such file"):
        LedgerReader.open(tmp_path / "missing.sqlite")
    assert not (tmp_path / "missing.sqlite").exists()
    with pytest.raises(LedgerError, match="is a directory"):
        LedgerReader.open(tmp_path)


# ---- reading --------------------------------------------------------------------------------


def test_query_filters_by_actor_kind_subject_outcome_and_time(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    with Ledger.open(path, clock=Clock()) as ledger:  # entry i is appended at T0 + i + 1
        for i in range(1, 13):
            actor = "motb.orchestration/batch_shed_on_load" if i % 2 else "motb.watchdog/workers_lost"
            ledger.append(decision(i, actor, "pause" if i % 2 else "scale"))
        ledger.append({**decision(13), "kind": "ModeChanged", "actor": "gtbe", "outcome": "lockdown"})
    with LedgerReader.open(path) as reader:

        def seqs(**kw: Any) -> list[int]:
            return [e["seq"] for e in reader.query(**kw)]

        assert seqs(actor="motb.watchdog/workers_lost") == [2, 4, 6, 8, 10, 12]
        assert seqs(actor="motb.orchestration/*", subject="pool-0") == [3, 9]
        assert seqs(kind="ModeChanged") == [13]
        assert seqs(outcome="scale", limit=2) == [10, 12]
        assert seqs(since=T0 + 5, until=T0 + 8) == [4, 5, 6]
        assert seqs(since="2025-11-15T09:46:46Z", until="2025-11-15T09:46:48Z") == [5, 6]
        assert seqs(since="2025-11-15", actor="gtbe") == [13]
        assert seqs(since="today", now=lambda: T0 + 100) == list(range(1, 14))
        assert seqs(since="1m", now=lambda: T0 + 10) == list(range(1, 14))
        assert seqs(since="5s", now=lambda: T0 + 10) == [4, 5, 6, 7, 8, 9, 10, 11, 12, 13]
        first = next(reader.query(kind="DirectiveIssued"))
        assert first["narrative"]["who"] == "motb.orchestration/batch_shed_on_load" and len(first["hash"]) == 64


@pytest.mark.parametrize("bad", ["last tuesday", "2025-11-15T10:00:00", "", "5y"])
def test_an_unreadable_time_is_a_usage_error(bad: str) -> None:
    with pytest.raises(UsageError, match="since"):
        parse_time(bad, T0, "since")


def test_export_round_trip_each_line_rehashes_and_chains(tmp_path: Path) -> None:
    path = make(tmp_path / "l.sqlite", 12)
    out = io.StringIO()
    with LedgerReader.open(path) as reader:
        assert reader.export(out) == 12
        stored = list(reader.entries())
    lines = out.getvalue().splitlines()
    prev = GENESIS
    for line, entry in zip(lines, stored, strict=True):
        parsed = json.loads(line)
        assert parsed == entry
        assert line.endswith(f',"hash":"{parsed["hash"]}"}}')
        assert entry_hash(line[:-75] + "}") == parsed["hash"] and parsed["prev"] == prev
        prev = parsed["hash"]
    assert verify_export(lines, "export").ok
    tampered = [*lines[:5], lines[5].replace("decision 6", "decision 9"), *lines[6:]]
    assert verify_export(tampered, "export").first_bad == 6
    assert verify_export(lines[:4] + lines[5:], "export").first_bad == 5
    out = io.StringIO()
    with LedgerReader.open(path) as reader:
        reader.export(out, from_seq=7)
    assert verify_export(out.getvalue().splitlines(), "export").first_seq == 7


def test_a_reader_sees_only_committed_entries_while_a_writer_appends(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    with Ledger.open(path, batch=Batch(entries=100, ms=60_000)) as ledger:
        ledger.append_many([decision(i) for i in range(5)])
        with LedgerReader.open(path) as reader:
            assert len(reader) == 0 and reader.verify().entries == 0
    assert verify(path).entries == 5


# ---- keys -----------------------------------------------------------------------------------


def test_a_ballast_key_new_key_file_signs_checkpoints_under_its_keyring_id(tmp_path: Path) -> None:
    private, _ = write_key_pair(tmp_path / "keys", signer(SEED, "writer"))
    key = read_private_key(private)
    path = tmp_path / "l.sqlite"
    with Ledger.open(path, signer=key, clock=Clock()) as ledger:
        ledger.append(decision(1))
    with LedgerReader.open(path) as reader:
        assert [c.key_id for c in reader.checkpoints()] == [key_id(key.public_key)] == [key.key_id]
    report = verify(path, verifier(SEED))
    assert report.ok and report.verified_checkpoints == 1


def test_a_raw_seed_key_file_of_the_first_ledgers_is_refused_with_what_to_do(tmp_path: Path) -> None:
    import base64

    old = tmp_path / "ledger.key"
    old.write_text(base64.b64encode(SEED).decode() + "\n")
    old.chmod(0o600)
    with pytest.raises(UsageError, match=r"ledger.key: not a Ballast key file \(expected the JSON `ballast key new`"):
        read_private_key(old)


def test_a_writer_refuses_a_ledger_whose_tail_was_cut_off(tmp_path: Path) -> None:
    path = make(tmp_path / "l.sqlite", 20, every=10)
    sql(path, "DELETE FROM entries WHERE seq > 15")
    with pytest.raises(LedgerError, match="a checkpoint signs entry 20, but the ledger ends at entry 15"):
        Ledger.open(path)


class _FailingSigner:
    key_id = "broken"

    def sign(self, data: bytes) -> bytes:
        raise RuntimeError("the signing service is down")


def test_a_failing_signer_writes_nothing_and_keeps_the_open_batch(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    ledger = Ledger.open(path, signer=_FailingSigner(), checkpoint_every=3, batch=Batch(entries=100, ms=60_000))
    ledger.append_many([decision(1), decision(2)])
    with pytest.raises(RuntimeError, match="signing service"):
        ledger.append(decision(3))  # would complete a checkpoint
    ledger.signer = None
    ledger.close()
    report = verify(path)
    assert report.ok and report.entries == 2


def test_entry_times_never_go_back_even_when_the_clock_does(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    Ledger.open(path).close()
    readings = iter([T0 + 10, T0 + 5, T0 + 12, T0 + 1])
    with Ledger.open(path, clock=lambda: next(readings)) as ledger:
        times = [ledger.append(decision(i)).time for i in range(4)]
    assert times == sorted(times) and times[1] == times[0] and times[3] == times[2]
    with LedgerReader.open(path) as reader:
        assert [e["seq"] for e in reader.query(since=T0 + 10, until=T0 + 12)] == [1, 2]


def test_a_forged_entry_appended_with_an_earlier_time_is_found(tmp_path: Path) -> None:
    path = make(tmp_path / "l.sqlite", 5, seed=None)
    forge(path, 6, row(path, 5)[1], when="2020-01-01T00:00:00.000000Z")
    report = verify(path)
    assert [(f.seq, f.kind) for f in report.findings] == [(6, "edited")] and "forged" in report.findings[0].message
