"""The ledger under crashes and concurrent writers, with real processes.

A child process appends in a loop and prints the seq and hash of every append that returned
(flushed); the parent kills it with SIGKILL at a random moment, then checks that every printed
append is in the ledger, with its hash, and that the chain and the checkpoints verify. Two
children appending to one ledger at once must leave one intact chain holding all of both.
"""

from __future__ import annotations

import itertools
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ballast.runtime.keyfiles import write_key_pair
from ballast.runtime.keyring import Keyring, Role, TrustedKey
from ballast.runtime.ledger_keys import LEDGER_ROLE, CheckpointTrust
from ballast.runtime.ledger_read import LedgerReader
from ballast.runtime.signing import PrivateKey

SEED = bytes(range(32))
KILLS = 50
BATCHED_KILLS = 10
BATCH_ENTRIES = 8

# argv: ledger, key file, writer name, count (0: forever, at once; else after a line on stdin), batch entries (0: durable)
CHILD = """
import sys
from ballast.runtime.ledger import Batch, Ledger
from ballast.runtime.keyfiles import read_private_key

path, key, name, count, batch = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
ledger = Ledger.open(
    path,
    signer=read_private_key(key),
    checkpoint_every=7,
    batch=Batch(entries=batch, ms=60_000) if batch else None,
    timeout=30,
)
print("ready", flush=True)
if count:
    sys.stdin.readline()
i = 0
while not count or i < count:
    i += 1
    done = ledger.append({"kind": "Test", "actor": name, "subject": f"n{i}", "outcome": "ok", "i": i})
    print(done.seq, done.hash, i, flush=True)
ledger.close()
"""


@pytest.fixture
def key(tmp_path: Path) -> Path:
    return write_key_pair(tmp_path, PrivateKey.from_seed(SEED, "ledger"))[0]


def trust() -> CheckpointTrust:
    key = PrivateKey.from_seed(SEED)
    entry = TrustedKey(key.key_id, key.public_key, frozenset({LEDGER_ROLE}))
    return CheckpointTrust(Keyring("crash", {LEDGER_ROLE: Role(LEDGER_ROLE)}, (entry,), LEDGER_ROLE))


def start(ledger: Path, key: Path, name: str, count: int = 0, batch: int = 0) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(ledger), str(key), name, str(count), str(batch)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill_at_random(child: subprocess.Popen[str], rng: random.Random) -> list[tuple[int, str, int]]:
    """Wait until the child is appending, kill it after a random delay, and return what it printed."""
    assert child.stdout is not None
    ready = child.stdout.readline()
    assert ready == "ready\n", (ready, child.stderr.read() if child.stderr else "")
    time.sleep(rng.uniform(0.0, 0.03))
    os.kill(child.pid, signal.SIGKILL)
    rest, _ = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL
    printed = []
    for line in rest.splitlines():
        parts = line.split()
        if len(parts) == 3:  # a line cut short by the kill is not an acknowledged append
            printed.append((int(parts[0]), parts[1], int(parts[2])))
    return printed


def stored(path: Path) -> dict[int, str]:
    with LedgerReader.open(path) as reader:
        return {e["seq"]: e["hash"] for e in reader.entries()}


def test_every_acknowledged_append_survives_sigkill_and_the_chain_verifies(tmp_path: Path, key: Path) -> None:
    rng = random.Random(11)
    path = tmp_path / "crash.sqlite"
    acknowledged: dict[int, str] = {}
    appended_after_kill = 0
    for _ in range(KILLS):
        printed = kill_at_random(start(path, key, "child"), rng)
        acknowledged.update((seq, digest) for seq, digest, _ in printed)
        on_disk = stored(path)
        missing = {seq for seq in acknowledged if on_disk.get(seq) != acknowledged[seq]}
        assert not missing, f"acknowledged appends lost or changed after SIGKILL: {sorted(missing)}"
        with LedgerReader.open(path) as reader:
            report = reader.verify(trust())
        if len(on_disk) < 7:
            # killed before the first checkpoint was due (a slow start): the chain is intact and
            # the one finding is that no key vouches for its entries yet
            assert not report.tampered and [f.kind for f in report.findings] == ["unsigned"], report.findings
        else:
            assert report.ok, report.findings
            assert report.unsigned < 7  # at most the entries since the last checkpoint
        appended_after_kill += bool(printed)
    assert len(acknowledged) > KILLS and appended_after_kill > KILLS // 2  # the kills hit running appends


def test_a_batched_writer_loses_at_most_its_open_batch_to_sigkill(tmp_path: Path, key: Path) -> None:
    rng = random.Random(12)
    path = tmp_path / "batched.sqlite"
    for _ in range(BATCHED_KILLS):
        printed = kill_at_random(start(path, key, "child", batch=BATCH_ENTRIES), rng)
        on_disk = stored(path)
        lost = [seq for seq, digest, _ in printed if on_disk.get(seq) != digest]
        assert len(lost) <= BATCH_ENTRIES - 1  # the batch committed when it reached N entries
        assert lost == [seq for seq, _, _ in printed[len(printed) - len(lost) :]]  # only the newest
        with LedgerReader.open(path) as reader:
            assert reader.verify(trust()).ok


def test_two_processes_appending_at_once_leave_one_intact_chain(tmp_path: Path, key: Path) -> None:
    path = tmp_path / "shared.sqlite"
    count = 60
    children = [start(path, key, name, count=count) for name in ("left", "right")]
    for child in children:  # both open the ledger, then both start appending at once
        assert child.stdout is not None and child.stdout.readline() == "ready\n"
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    outputs = [child.communicate(timeout=60) for child in children]
    for child, (_, err) in zip(children, outputs, strict=True):
        assert child.returncode == 0, err
    with LedgerReader.open(path) as reader:
        report = reader.verify(trust())
        entries = list(reader.entries())
    assert report.ok and report.entries == 2 * count and report.unsigned == 0
    for name, (out, _) in zip(("left", "right"), outputs, strict=True):
        mine = [e for e in entries if e["actor"] == name]
        assert [e["i"] for e in mine] == list(range(1, count + 1))  # all there, in its own order
        printed = {int(line.split()[0]) for line in out.splitlines()}
        assert printed == {e["seq"] for e in mine}
    actors = [e["actor"] for e in entries]
    assert any(a != b for a, b in itertools.pairwise(actors)), "the writers never interleaved"
