"""AuditLog(ledger): the Engine and the simulator write their decisions to an audit ledger."""

from __future__ import annotations

from pathlib import Path

import pytest
from ledger_support import decision, make, signer, verifier, verify

import ballast
from ballast.runtime.audit import AuditLog
from ballast.runtime.engine import Engine
from ballast.runtime.errors import UsageError
from ballast.runtime.ledger import Batch, Ledger
from ballast.runtime.ledger_read import LedgerReader

POLICY = """policy q.p version "1.0.0" {
  input ev { ts: timestamp, pool: string, load: float, seq: int }
  stream { time ts  sequence seq by pool }
  rule hot { when load > 0.9 then scale(targets: pool, by: 1) priority 5 }
}
"""


def test_the_engine_writes_to_a_ledger_through_audit_log(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    policies = ballast.compile(["q.bal"], sources={"q.bal": POLICY})
    with Ledger.open(path, signer=signer(), checkpoint_every=2) as ledger:
        log = AuditLog(ledger, measure=False)
        engine = Engine(policies, audit=log)
        engine.process({"ts": 0, "pool": "A", "load": 0.95, "seq": 1})
        engine.process({"ts": 1, "pool": "A", "load": 0.5, "seq": 2})
        engine.process({"ts": 2, "pool": "B", "load": 0.97, "seq": 1})
        engine.process({"ts": 3, "pool": "A", "load": 0.99, "seq": 5})  # a gap: TelemetryGap
        log.close()
        assert log.sequence == log.written == 4
    with LedgerReader.open(path) as reader:
        entries = list(reader.entries())
        assert reader.verify(verifier()).ok
    assert [(e["seq"], e["kind"], e["subject"]) for e in entries] == [
        (1, "DirectiveIssued", "A"),
        (2, "DirectiveIssued", "B"),
        (3, "DirectiveIssued", "A"),
        (4, "TelemetryGap", "A"),
    ]
    assert all(e["action_id"].endswith(f"-{e['seq']}") for e in entries)
    assert entries[0]["narrative"]["when"] == "1970-01-01T00:00:00Z" and entries[0]["latency_ms"] is None


def test_audit_log_numbers_on_from_the_ledger_not_from_start(tmp_path: Path) -> None:
    path = make(tmp_path / "l.sqlite", 3, seed=None)
    with Ledger.open(path) as ledger:
        log = AuditLog(ledger, start=100)
        log.write(decision(4))
    assert log.sequence == 4
    with pytest.raises(UsageError, match="sync=True is for file sinks"):
        AuditLog(Ledger.open(tmp_path / "m.sqlite"), sync=True)


def test_a_simulation_writes_its_decisions_to_a_ledger(tmp_path: Path) -> None:
    pytest.importorskip("simpy")
    from ballast.simulator.run import Simulation
    from ballast.simulator.scenario import load_scenario

    repo = Path(__file__).resolve().parents[2]
    scenario = load_scenario(
        repo / "catalog" / "scenarios" / "batch-surge.scenario.yaml", overrides={"duration": 2700.0}
    )
    policies = ballast.compile(list(scenario.policies))
    path = tmp_path / "sim.sqlite"
    with Ledger.open(path, batch=Batch(entries=500, ms=1000)) as ledger:
        result = Simulation(scenario, policies, audit=AuditLog(ledger, measure=False)).run()
    assert verify(path).ok
    with LedgerReader.open(path) as reader:
        issued = list(reader.query(kind="DirectiveIssued"))
    assert len(issued) == len(result.directives) > 0
