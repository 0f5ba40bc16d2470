"""NATS JetStream specifics: sequence gaps, pending redeliveries that are no gap, a SIGKILL mid-stream."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from bus_support import create_stream, decided_ids, delete, entries, payloads, publish
from support import run_cli

import ballast
from ballast.bus import Consumer
from ballast.bus.jetstream import JetStream


def consumer(bundle: Path, ledger: Path, url: str, stream: str, alerts: list[str]) -> Consumer:
    source = JetStream(url, stream, f"{stream}.events", "ballast", ack_wait=1.0)
    policies = ballast.load(str(bundle), allow_unsigned=True)
    return Consumer(policies, str(ledger), source, id_field="id", on_alert=alerts.append)


def test_messages_deleted_from_the_stream_before_they_were_decided_raise_a_gap_alert(
    nats_url: str, stream_name: str, hot_bundle: Path, tmp_path: Path
) -> None:
    create_stream(nats_url, stream_name, f"{stream_name}.events")
    assert publish(nats_url, f"{stream_name}.events", payloads(range(1, 7))) == [1, 2, 3, 4, 5, 6]
    delete(nats_url, stream_name, [3, 4])  # an operator's purge, or the stream's limits
    alerts: list[str] = []
    c = consumer(hot_bundle, tmp_path / "l.sqlite", nats_url, stream_name, alerts)
    try:
        tally = c.run(idle_exit=0.7)
    finally:
        c.close()
    assert (tally.decided, tally.gaps) == (4, 1)
    assert decided_ids(tmp_path / "l.sqlite") == ["e1", "e2", "e5", "e6"]
    [gap] = entries(tmp_path / "l.sqlite", "BusGap")
    assert gap["bus"] == {"partition": stream_name, "sequence": 5, "after": 2, "missing": [[3, 4]]}
    assert alerts == [
        f"{nats_url}/{stream_name}: partition {stream_name} jumped from sequence 2 to 5; "
        "2 message(s) (3–4) are no longer in the bus and were never decided"
    ]


def test_deliveries_a_crashed_consumer_left_unacknowledged_are_no_gap(
    nats_url: str, stream_name: str, hot_bundle: Path, tmp_path: Path
) -> None:
    create_stream(nats_url, stream_name, f"{stream_name}.events")
    publish(nats_url, f"{stream_name}.events", payloads(range(1, 9)))
    ledger, alerts = tmp_path / "l.sqlite", []
    first = consumer(hot_bundle, ledger, nats_url, stream_name, alerts)
    first.run(batch=2, max_events=2)  # e1, e2 decided and acknowledged
    assert len(first.source.fetch(3, 5.0)) == 3  # e3–e5 delivered; the consumer dies before deciding them
    first.close()
    second = consumer(hot_bundle, ledger, nats_url, stream_name, alerts)
    try:
        tally = second.run(idle_exit=1.6)  # e6 comes first (sequence 6 after 2), then e3–e5 again
    finally:
        second.close()
    assert tally.gaps == 0 and alerts == [] and entries(ledger, "BusGap") == []
    assert sorted(decided_ids(ledger)) == [f"e{i}" for i in range(1, 9)]


def test_sigkill_mid_stream_then_restart_decides_every_event_exactly_once(
    nats_url: str, stream_name: str, hot_bundle: Path, tmp_path: Path
) -> None:
    n, subject, ledger = 400, f"{stream_name}.events", tmp_path / "kill.sqlite"
    create_stream(nats_url, stream_name, subject)
    publish(nats_url, subject, payloads(range(1, n + 1)))
    argv = [sys.executable, "-m", "ballast.cli", "consume", "--bundle", str(hot_bundle), "--allow-unsigned"]
    argv += ["--ledger", str(ledger), "--source", nats_url, "--stream", stream_name, "--subject", subject]
    argv += ["--durable", "killed", "--batch", "5", "--ack-wait", "1"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    victim = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 20
    while len(decided_ids(ledger)) < 25 and time.monotonic() < deadline and victim.poll() is None:
        time.sleep(0.01)
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    at_kill = len(decided_ids(ledger))
    assert victim.returncode == -signal.SIGKILL
    assert 25 <= at_kill < n, f"killed after {at_kill} of {n} events: not mid-stream"
    restarted = subprocess.run([*argv, "--idle-exit", "1.5"], capture_output=True, text=True, env=env, timeout=60)
    assert restarted.returncode == 0, restarted.stderr
    counts = collections.Counter(decided_ids(ledger))
    assert set(counts) == {f"e{i}" for i in range(1, n + 1)}, "an event was lost"
    assert max(counts.values()) == 1, f"decided twice: {[k for k, v in counts.items() if v > 1]}"
    # one directive per hot event (every third), each named by its EventDecided entry
    assert len(entries(ledger, "DirectiveIssued")) == n // 3
    code, out, err = run_cli("audit", "verify", ledger)
    assert code == 0 and "the hash chain is intact" in out, out + err


def test_messages_the_streams_limits_dropped_before_a_restart_are_a_gap(
    nats_url: str, stream_name: str, hot_bundle: Path, tmp_path: Path
) -> None:
    from bus_support import nats_admin

    subject, ledger, alerts = f"{stream_name}.events", tmp_path / "l.sqlite", []

    async def limited(js: object, jsm: object) -> None:
        await jsm.add_stream(name=stream_name, subjects=[subject], max_msgs=3)  # type: ignore[attr-defined]

    nats_admin(nats_url, limited)
    publish(nats_url, subject, payloads([1, 2]))
    first = consumer(hot_bundle, ledger, nats_url, stream_name, alerts)
    first.run(idle_exit=0.3)
    first.close()
    publish(nats_url, subject, payloads(range(3, 9)))  # the stream keeps the newest three: 6, 7, 8
    second = consumer(hot_bundle, ledger, nats_url, stream_name, alerts)  # highest seen: 2, from the ledger
    try:
        tally = second.run(idle_exit=0.5)
    finally:
        second.close()
    assert tally.gaps == 1 and decided_ids(ledger) == ["e1", "e2", "e6", "e7", "e8"]
    assert entries(ledger, "BusGap")[0]["bus"]["missing"] == [[3, 5]]
    assert alerts[0].endswith(
        "jumped from sequence 2 to 6; 3 message(s) (3–5) are no longer in the bus and were never decided"
    )


def test_sigterm_finishes_the_batch_in_hand_and_exits_cleanly(
    nats_url: str, stream_name: str, hot_bundle: Path, tmp_path: Path
) -> None:
    subject, ledger = f"{stream_name}.events", tmp_path / "term.sqlite"
    create_stream(nats_url, stream_name, subject)
    publish(nats_url, subject, payloads(range(1, 4)))
    argv = [sys.executable, "-m", "ballast.cli", "consume", "--bundle", str(hot_bundle), "--allow-unsigned"]
    argv += ["--ledger", str(ledger), "--source", nats_url, "--stream", stream_name, "--subject", subject]
    child = subprocess.Popen([*argv, "--durable", "term"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while len(decided_ids(ledger)) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    child.send_signal(signal.SIGTERM)
    out, err = child.communicate(timeout=20)
    assert child.returncode == 0, err
    assert len(out.splitlines()) == 3 and "3 fetched, 3 decided" in err


class _Stalled:
    """A pull subscription whose fetch raises `error`, as nats-py's does."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    async def fetch(self, batch: int, timeout: float) -> list[object]:
        raise self.error


def _source_fetching_with(error: BaseException) -> JetStream:
    import asyncio

    source = object.__new__(JetStream)  # no server: only fetch's handling of nats-py's errors is tested
    source.name, source.url, source.stream, source.subject = "nats://x/s", "nats://x", "s", "s.events"
    source._loop, source._nc, source._problems = asyncio.new_event_loop(), None, []
    source._sub = _Stalled(error)
    return source


def test_a_fetch_that_times_out_is_an_empty_poll_whichever_timeout_nats_raises() -> None:
    import nats.errors

    from ballast.bus.port import BusError

    # asyncio's TimeoutError came out of nats-py's pull request on a busy host and used to stop
    # `ballast consume` with "cannot fetch from the server: TimeoutError"
    for timeout in (TimeoutError(), nats.errors.TimeoutError()):
        source = _source_fetching_with(timeout)
        try:
            assert source.fetch(10, 0.1) == []
        finally:
            source.close()
    source = _source_fetching_with(nats.errors.ConnectionClosedError())
    try:
        with pytest.raises(BusError, match="cannot fetch from the server"):
            source.fetch(10, 0.1)
    finally:
        source.close()
