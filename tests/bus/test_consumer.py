"""The consumer's ordering: acknowledge only what the ledger holds; a failed batch is given back whole."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from bus_support import decided_ids, payloads
from hypothesis import given, settings
from hypothesis import strategies as st

import ballast
import ballast.bus.consumer as consumer_module
from ballast.bus import Consumer, Delivery, End, Position
from ballast.runtime.engine import Engine


class ScriptedSource:
    """Deliveries from a list, in batches; records what was acknowledged and given back, and
    checks at each ack that the ledger already holds every event acknowledged."""

    name, remembers_acks = "scripted", True

    def __init__(self, messages: Sequence[bytes], ledger: Path) -> None:
        self.queue = [Delivery(m, Position("p", seq), f"scripted {seq}") for seq, m in enumerate(messages, 1)]
        self.ledger, self.acked, self.naked = ledger, [], []  # type: ignore[var-annotated]

    def fetch(self, limit: int, timeout: float) -> list[Delivery]:
        if not self.queue:
            raise End(self.name)
        batch, self.queue = self.queue[:limit], self.queue[limit:]
        return batch

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        committed = set(decided_ids(self.ledger))  # read by another connection: only what is committed
        for d in deliveries:
            assert _id(d) in committed, f"acknowledged {d.where} before its commit"
        self.acked.extend(deliveries)

    def nak(self, deliveries: Sequence[Delivery]) -> None:
        self.naked.extend(deliveries)

    def lost(self, partition: str, first: int, last: int) -> list[int]:
        return list(range(first, last + 1))

    def close(self) -> None:
        pass


def _id(d: Delivery) -> str:
    import json

    return str(json.loads(d.payload)["id"])


@pytest.fixture(scope="module")
def policies(hot_bundle: Path) -> ballast.PolicySet:
    return ballast.load(str(hot_bundle), allow_unsigned=True)


@settings(max_examples=15, deadline=None)
@given(ids=st.lists(st.integers(1, 12), min_size=1, max_size=25), batch=st.integers(1, 6))
def test_each_id_is_decided_once_and_acknowledged_only_after_its_commit(
    ids: list[int], batch: int, policies: ballast.PolicySet, tmp_path_factory: pytest.TempPathFactory
) -> None:
    ledger = tmp_path_factory.mktemp("ledger") / "l.sqlite"
    source = ScriptedSource(payloads(ids), ledger)
    consumer = Consumer(policies, str(ledger), source, id_field="id")
    try:
        tally = consumer.run(batch=batch)
    finally:
        consumer.close()
    first_seen = list(dict.fromkeys(f"e{i}" for i in ids))  # the reference: first occurrences, in order
    assert decided_ids(ledger) == first_seen
    assert (tally.decided, tally.duplicates) == (len(first_seen), len(ids) - len(first_seen))
    assert len(source.acked) == len(ids) and source.naked == []


def test_a_batch_that_fails_is_given_back_whole_and_none_of_it_is_in_the_ledger(
    policies: ballast.PolicySet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class FailsOnE5(Engine):
        def process(self, event, input=None):  # type: ignore[no-untyped-def]
            if event.get("id") == "e5":
                raise OSError("disk gone (injected)")
            return super().process(event, input=input)

    monkeypatch.setattr(consumer_module, "Engine", FailsOnE5)
    ledger = tmp_path / "l.sqlite"
    source = ScriptedSource(payloads(range(1, 9)), ledger)
    consumer = Consumer(policies, str(ledger), source, id_field="id")
    with pytest.raises(OSError, match="injected"):
        consumer.run(batch=3)  # e1–e3 commit; e4–e6 fail at e5
    consumer.close()
    assert [_id(d) for d in source.acked] == ["e1", "e2", "e3"]
    assert [_id(d) for d in source.naked] == ["e4", "e5", "e6"]
    assert decided_ids(ledger) == ["e1", "e2", "e3"]  # e4 was decided, and rolled back with its batch
    # Restarted (the fault gone), the given-back batch and the rest are decided, none twice.
    monkeypatch.setattr(consumer_module, "Engine", Engine)
    again = ScriptedSource(payloads(range(1, 9)), ledger)
    consumer = Consumer(policies, str(ledger), again, id_field="id")
    consumer.run(batch=3)
    consumer.close()
    assert sorted(decided_ids(ledger)) == sorted(f"e{i}" for i in range(1, 9))
