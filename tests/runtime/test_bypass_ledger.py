"""Issue 14 §4: every bypass attempt is refused AND written to the audit ledger, read back.

One test per attempt (a replayed approval, a self-approval, a descriptor altered after approval,
an expired approval, a forged vote), each against a real hash-chained SQLite ledger: the attempt
is refused, and the ledger, reopened and verified, holds the refusal with who tried and why. A
low-risk action, for contrast, asks for no approval and writes no refusal.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import ballast
from ballast.compiler.pipeline import compile_paths
from ballast.runtime.approval_store import MemoryApprovalStore
from ballast.runtime.approvals import Gate, Refused
from ballast.runtime.audit import AuditLog
from ballast.runtime.governance import Governance, Router
from ballast.runtime.ledger import Ledger
from ballast.runtime.ledger_read import LedgerReader
from ballast.runtime.safety import SafetyCatalog

REPO = Path(__file__).resolve().parents[2]
T0 = 1_800_000_000.0
DELETE = {
    "actor": "alice",
    "roles": ["sre"],
    "operation": "delete",
    "tenant": "acme",
    "sensitivity": "internal",
    "volume": 5000,
    "scope": "collection",
    "environment": "prod",
}  # mass_delete: dual control, justification, hold 10m


class Clock:
    now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def catalog() -> SafetyCatalog:
    return SafetyCatalog(ballast.compile([str(REPO / "catalog" / "safety" / "workflows.bal")]).safety[0])


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    return tmp_path / "audit.sqlite"


def gate_on(ledger: Ledger, catalog: SafetyCatalog, clock: Clock) -> Gate:
    numbers = itertools.count(1)
    audit = AuditLog(ledger, measure=False)
    return Gate(catalog, MemoryApprovalStore(), ledger=audit, clock=clock, nonce=lambda: f"n{next(numbers):04d}")


def approved(gate: Gate, clock: Clock) -> str:
    token = gate.preflight(DELETE).token
    assert token is not None
    gate.confirm(token, DELETE, "approve", by="bob")
    gate.confirm(token, DELETE, "approve", by="carol")
    gate.confirm(token, DELETE, "justify", by="alice", text="CHG-1: purge the migrated collection")
    clock.now += 600  # the hold is over
    return token


def _replayed(gate: Gate, clock: Clock) -> None:
    token = approved(gate, clock)
    gate.execute(token, DELETE)
    gate.execute(token, DELETE)


def _self_approval(gate: Gate, clock: Clock) -> None:
    token = gate.preflight(DELETE).token
    assert token is not None
    gate.confirm(token, DELETE, "approve", by="alice")


def _altered(gate: Gate, clock: Clock) -> None:
    token = approved(gate, clock)
    gate.execute(token, {**DELETE, "volume": 5_000_000})


def _expired(gate: Gate, clock: Clock) -> None:
    token = approved(gate, clock)
    clock.now += 3600
    gate.execute(token, DELETE)


ATTEMPTS: list[tuple[str, Callable[[Gate, Clock], None], str]] = [
    ("replayed", _replayed, "alice"),
    ("self-approval", _self_approval, "alice"),
    ("altered", _altered, "alice"),
    ("expired", _expired, "alice"),
]


@pytest.mark.parametrize(("reason", "attempt", "who"), ATTEMPTS, ids=[a[0] for a in ATTEMPTS])
def test_a_bypass_of_the_gate_is_refused_and_in_the_ledger(
    catalog: SafetyCatalog, ledger_path: Path, reason: str, attempt: Any, who: str
) -> None:
    clock = Clock()
    with Ledger.open(str(ledger_path)) as ledger, pytest.raises(Refused) as refused:
        attempt(gate_on(ledger, catalog, clock), clock)
    assert refused.value.reason == reason
    with LedgerReader.open(str(ledger_path)) as reader:
        assert reader.verify().ok
        (entry,) = reader.query(kind="SafetyRefused")
    assert (entry["outcome"], entry["actor"], entry["scope"]) == (reason, who, "safety.workflows")
    assert str(refused.value) in entry["narrative"]["why"]


def test_a_forged_vote_is_refused_and_in_the_ledger(ledger_path: Path) -> None:
    ir = compile_paths([str(REPO / "catalog" / "governance" / "router.bal")], stop_after="optimize").ir
    intent = {"id": "i-1", "type": "self_improve", "actor": "grace_architect"}
    with Ledger.open(str(ledger_path)) as ledger:
        router = Router(Governance.from_ir(ir["governance"][0]), ledger=AuditLog(ledger, measure=False), clock=Clock())
        router.route(intent)
        assert router.vote("i-1", "mallory", "approve") == (False, "forged: 'mallory' is not a declared voter")
        assert not router.route(intent).approved
    with LedgerReader.open(str(ledger_path)) as reader:
        assert reader.verify().ok
        (vote,) = reader.query(kind="IntentVote")
        routed = list(reader.query(kind="IntentRouted"))
    assert (vote["outcome"], vote["actor"], vote["reason"]) == (
        "not counted",
        "mallory",
        "forged: 'mallory' is not a declared voter",
    )
    assert routed[-1]["narrative"]["why"][-1] == "waiting: 0 of 2 votes needed (ballot open until 2027-01-15T08:10:00Z)"


def test_a_low_risk_action_asks_for_nothing_and_logs_no_refusal(catalog: SafetyCatalog, ledger_path: Path) -> None:
    read = {**DELETE, "operation": "read", "volume": 10, "scope": "record"}
    with Ledger.open(str(ledger_path)) as ledger:
        gate = gate_on(ledger, catalog, Clock())
        preflight = gate.preflight(read)
        assert (preflight.decision, preflight.token, preflight.required.describe()) == ("allow", None, [])
        gate.execute(None, read)
    with LedgerReader.open(str(ledger_path)) as reader:
        assert [e["kind"] for e in reader.query()] == ["SafetyPreflight", "SafetyExecuted"]
