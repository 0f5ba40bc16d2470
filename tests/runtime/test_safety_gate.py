"""Preflight, confirm and execute through `Gate`: risky and safe actions, every bypass attempt
refused and logged, the store and the ledger taken away mid-flow, and a property test that no
sequence of calls executes an action whose controls are not all met."""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ballast
from ballast.runtime.approval_store import MemoryApprovalStore, SqliteApprovalStore
from ballast.runtime.approvals import OVERRIDE_ROLE, Gate, Refused, sign_override
from ballast.runtime.audit import AuditLog
from ballast.runtime.keyring import Keyring, Role, TrustedKey
from ballast.runtime.safety import SafetyCatalog, action_hash
from ballast.runtime.signing import PrivateKey

CATALOG = "catalog/safety/workflows.bal"
T0 = 1_800_000_000.0
MINUTE = 60.0


@pytest.fixture(scope="module")
def catalog() -> SafetyCatalog:
    return SafetyCatalog(ballast.compile([CATALOG]).safety[0])


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def counter() -> Any:
    numbers = itertools.count(1)
    return lambda: f"n{next(numbers):04d}"


def action(**changes: Any) -> dict[str, Any]:
    base = {
        "actor": "alice",
        "roles": ["sre"],
        "operation": "delete",
        "tenant": "acme",
        "sensitivity": "internal",
        "volume": 5000,
        "scope": "collection",
        "environment": "prod",
    }
    return {**base, **changes}


SAFE = action(operation="read", volume=10, scope="record")
COPY = action(operation="copy", target_tenant="globex", volume=10, scope="record")


class Harness:
    def __init__(self, catalog: SafetyCatalog, store: Any = None, overrides: Keyring | None = None) -> None:
        self.clock = Clock()
        self.entries: list[dict[str, Any]] = []
        self.store = store if store is not None else MemoryApprovalStore()
        self.gate = Gate(
            catalog,
            self.store,
            ledger=AuditLog(self.entries.append),
            overrides=overrides,
            clock=self.clock,
            nonce=counter(),
        )

    def refused(self, reason: str) -> list[dict[str, Any]]:
        return [e for e in self.entries if e["kind"] == "SafetyRefused" and e["outcome"] == reason]


@pytest.fixture
def h(catalog: SafetyCatalog) -> Harness:
    return Harness(catalog)


def approve_fully(h: Harness, token: str, act: dict[str, Any]) -> None:
    h.gate.confirm(token, act, "approve", by="bob", roles=["sre"])
    h.gate.confirm(token, act, "approve", by="carol", roles=["sre"])
    h.gate.confirm(token, act, "justify", by="alice", text="CHG-1234: purge of the migrated test collection")


# ---- risky and safe actions ----


def test_a_safe_action_asks_for_nothing_and_runs_without_a_ticket(h: Harness) -> None:
    result = h.gate.preflight(SAFE)
    assert (result.decision, result.assessment.risk, result.ticket) == ("allow", "none", None)
    assert result.required.describe() == [] and result.blocking == ()
    done = h.gate.execute(None, SAFE)
    assert done.ticket is None
    assert [e["kind"] for e in h.entries] == ["SafetyPreflight", "SafetyExecuted"]
    assert h.store.tickets == {}  # low noise: nothing booked, no approval asked


def test_a_mass_delete_needs_two_approvers_a_justification_and_a_hold(h: Harness) -> None:
    result = h.gate.preflight(action())
    assert result.decision == "needs-controls" and result.assessment.risk == "high"
    assert result.required.describe() == ["dual_control", "justification", "hold 10m"]
    assert result.expires_at == T0 + 3600 and result.hold_until == T0 + 10 * MINUTE
    (fired,) = result.assessment.fired
    assert fired.name == "mass_delete" and fired.reason == "alice deletes 5000 records of acme (collection)"
    assert [c["check"] for c in fired.rationale] == ['operation == "delete"', "volume >= mass_delete_rows"]
    token = result.token
    assert token is not None and token.startswith(action_hash(action()))
    with pytest.raises(Refused) as refused:
        h.gate.execute(token, action())
    assert refused.value.reason == "unmet" and len(refused.value.missing) == 3
    approve_fully(h, token, action())
    with pytest.raises(Refused, match="hold: the action may run from"):
        h.gate.execute(token, action())
    h.clock.now += 10 * MINUTE
    assert h.gate.status(token, action()) == []
    done = h.gate.execute(token, action())
    assert [c.by for c in done.confirmations] == ["bob", "carol", "alice"]
    kinds = [e["kind"] for e in h.entries]
    assert kinds.count("SafetyConfirmed") == 3 and kinds[-1] == "SafetyExecuted"
    assert h.entries[-1]["narrative"]["who"] == "alice" and "approve by bob" in h.entries[-1]["narrative"]["why"]


def test_a_hard_block_books_nothing(h: Harness) -> None:
    result = h.gate.preflight(action(scope="fleet"))
    assert result.decision == "blocked" and result.assessment.risk == "critical" and result.ticket is None
    assert result.blocking == ("class fleet_delete blocks this action (enforce hard: no override)",)
    with pytest.raises(Refused) as refused:
        h.gate.execute(None, action(scope="fleet"))
    assert refused.value.reason == "needs-preflight"


def test_simulation_predicts_without_booking(h: Harness) -> None:
    result = h.gate.preflight(action(), simulate=True)
    assert result.simulated and result.decision == "needs-controls" and result.ticket is None
    assert result.required.describe() == ["dual_control", "justification", "hold 10m"]
    assert h.store.tickets == {}
    assert h.entries[-1]["outcome"] == "simulated"


def test_warn_and_dryrun_classes_report_and_count_without_requiring(h: Harness) -> None:
    warned = h.gate.preflight(action(operation="update", scope="tenant", volume=10))
    assert warned.decision == "allow" and warned.required.empty
    assert warned.assessment.warnings == [
        "unprivileged_update (warn): alice updates a whole tenant without an admin role; would require justification"
    ]
    assert warned.assessment.counts()["warn"] == 1
    trial = h.gate.preflight(action(operation="update", volume=20000, scope="record"))
    assert trial.decision == "allow" and trial.assessment.risk == "none"
    assert trial.assessment.dry_run == ["prod_bulk_update (dryrun): would require hold 5m"]
    assert trial.assessment.counts()["dryrun"] == 1
    h.gate.execute(None, trial.assessment.action)


# ---- bypass attempts: each refused and logged ----


def test_the_requester_cannot_approve_their_own_action(h: Harness) -> None:
    token = h.gate.preflight(action()).token
    with pytest.raises(Refused) as refused:
        h.gate.confirm(token, action(), "approve", by="alice", roles=["sre"])
    assert refused.value.reason == "self-approval" and h.refused("self-approval")


def test_two_approvals_by_one_person_never_make_dual_control(h: Harness) -> None:
    token = h.gate.preflight(action()).token
    h.gate.confirm(token, action(), "approve", by="bob")
    with pytest.raises(Refused) as refused:
        h.gate.confirm(token, action(), "approve", by="bob")
    assert refused.value.reason == "duplicate" and h.refused("duplicate")
    h.gate.confirm(token, action(), "justify", by="alice", text="needed")
    h.clock.now += 10 * MINUTE
    with pytest.raises(Refused, match="dual_control: 1 of 2 distinct approvers"):
        h.gate.execute(token, action())


def test_an_altered_descriptor_is_refused_at_confirm_and_execute(h: Harness) -> None:
    token = h.gate.preflight(action()).token
    approve_fully(h, token, action())
    h.clock.now += 10 * MINUTE
    bigger = action(volume=5_000_000)
    for step in (
        lambda: h.gate.confirm(token, bigger, "approve", by="dave"),
        lambda: h.gate.execute(token, bigger),
    ):
        with pytest.raises(Refused) as refused:
            step()
        assert refused.value.reason == "altered"
    assert len(h.refused("altered")) == 2
    h.gate.execute(token, action())  # the descriptor that was approved still goes through


def test_a_ticket_cannot_be_used_for_another_action(h: Harness) -> None:
    token = h.gate.preflight(action()).token
    other = h.gate.preflight(action(tenant="globex")).token
    approve_fully(h, token, action())
    h.clock.now += 10 * MINUTE
    with pytest.raises(Refused) as refused:
        h.gate.execute(token, action(tenant="globex"))
    assert refused.value.reason == "altered"
    with pytest.raises(Refused) as refused:  # the other ticket's own approvals are its own
        h.gate.execute(other, action(tenant="globex"))
    assert refused.value.reason == "unmet"


def test_an_expired_ticket_is_refused(h: Harness) -> None:
    token = h.gate.preflight(action()).token
    approve_fully(h, token, action())
    h.clock.now += 3600
    with pytest.raises(Refused) as refused:
        h.gate.execute(token, action())
    assert refused.value.reason == "expired" and h.refused("expired")


def test_a_replayed_ticket_is_refused(h: Harness) -> None:
    token = h.gate.preflight(action()).token
    approve_fully(h, token, action())
    h.clock.now += 10 * MINUTE
    h.gate.execute(token, action())
    for step in (
        lambda: h.gate.execute(token, action()),
        lambda: h.gate.confirm(token, action(), "approve", by="dave"),
    ):
        with pytest.raises(Refused) as refused:
            step()
        assert refused.value.reason == "replayed"
    assert len(h.refused("replayed")) == 2


@pytest.mark.parametrize(
    ("token", "reason"),
    [("not-a-token", "malformed-token"), (action_hash(action()) + ".forged", "unknown-ticket")],
)
def test_forged_and_malformed_tokens_are_refused(h: Harness, token: str, reason: str) -> None:
    h.gate.preflight(action())
    with pytest.raises(Refused) as refused:
        h.gate.execute(token, action())
    assert refused.value.reason == reason and h.refused(reason)


def test_only_the_requester_justifies(h: Harness) -> None:
    token = h.gate.preflight(action()).token
    with pytest.raises(Refused, match="the justification is the requester's"):
        h.gate.confirm(token, action(), "justify", by="bob", text="trust me")
    with pytest.raises(ballast.UsageError, match="needs text"):
        h.gate.confirm(token, action(), "justify", by="alice", text="  ")


def test_approvers_must_hold_the_role(h: Harness) -> None:
    export = action(operation="export", sensitivity="restricted", volume=2000)
    token = h.gate.preflight(export).token
    h.gate.confirm(token, export, "justify", by="alice", text="regulator request R-7")
    h.gate.confirm(token, export, "approve", by="bob", roles=["sre"])
    with pytest.raises(Refused, match='approvers role "data-steward": 0 of 1'):
        h.gate.execute(token, export)
    h.gate.confirm(token, export, "approve", by="erin", roles=["data-steward"])
    h.gate.execute(token, export)


# ---- soft enforcement: signed, justified, audited overrides ----

OFFICER = PrivateKey.from_seed(hashlib.sha256(b"officer").digest(), "officer")
INTRUDER = PrivateKey.from_seed(hashlib.sha256(b"intruder").digest(), "intruder")


def overrides() -> Keyring:
    keys = tuple(
        TrustedKey(k.key_id, k.public_key, frozenset(roles), name=k.name)
        for k, roles in ((OFFICER, {OVERRIDE_ROLE}), (INTRUDER, {"Operator"}))
    )
    roles = {OVERRIDE_ROLE: Role(OVERRIDE_ROLE), "Operator": Role("Operator")}
    return Keyring("overrides", roles, keys, OVERRIDE_ROLE)


def test_a_signed_override_waives_a_soft_class(catalog: SafetyCatalog) -> None:
    h = Harness(catalog, overrides=overrides())
    result = h.gate.preflight(COPY)
    assert [f.enforce for f in result.assessment.enforced] == ["soft"]
    token = result.token
    why = "INC-88: restore globex from acme's backup"
    signature = sign_override(token, ["cross_tenant_copy"], why, OFFICER)
    h.gate.confirm(token, COPY, "override", classes=["cross_tenant_copy"], text=why, signature=signature)
    done = h.gate.execute(token, COPY)
    assert [(c.kind, c.by, c.classes) for c in done.confirmations] == [("override", "officer", ("cross_tenant_copy",))]
    assert "waives cross_tenant_copy" in h.entries[-2]["narrative"]["why"]


def test_bad_overrides_are_refused(catalog: SafetyCatalog) -> None:
    h = Harness(catalog, overrides=overrides())
    token = h.gate.preflight(COPY).token
    why = "INC-88"
    cases = [
        sign_override(token, ["cross_tenant_copy"], "another reason", OFFICER),  # tampered justification
        sign_override(token, ["cross_tenant_copy"], why, INTRUDER),  # a key without the role
        {"key_id": OFFICER.key_id, "sig": "AAAA"},  # garbage
        None,
    ]
    for signature in cases:
        with pytest.raises(Refused) as refused:
            h.gate.confirm(token, COPY, "override", classes=["cross_tenant_copy"], text=why, signature=signature)
        assert refused.value.reason == "bad-override"
    hard = h.gate.preflight(action()).token  # mass_delete is enforce hard
    with pytest.raises(Refused, match="enforce hard: it cannot be overridden"):
        h.gate.confirm(
            hard,
            action(),
            "override",
            classes=["mass_delete"],
            text=why,
            signature=sign_override(hard, ["mass_delete"], why, OFFICER),
        )
    assert len(h.refused("bad-override")) == 5


# ---- fail safe ----


def test_taking_the_store_away_mid_flow_blocks_high_risk_actions(h: Harness) -> None:
    token = h.gate.preflight(action()).token
    h.gate.confirm(token, action(), "approve", by="bob")
    h.store.available = False
    with pytest.raises(Refused) as refused:
        h.gate.confirm(token, action(), "approve", by="carol")
    assert refused.value.reason == "store-unavailable"
    h.clock.now += 10 * MINUTE
    with pytest.raises(Refused) as refused:
        h.gate.execute(token, action())
    assert refused.value.reason == "store-unavailable"
    again = h.gate.preflight(action(tenant="globex"))
    assert again.decision == "blocked" and again.ticket is None
    assert "approval store is unavailable" in again.blocking[-1]
    assert h.gate.preflight(SAFE).decision == "allow"  # low risk does not need the store
    assert h.gate.execute(None, SAFE).ticket is None
    h.store.available = True  # back: the flow resumes where it was, nothing was lost or faked
    assert h.gate.status(token, action()) == [
        "dual_control: 1 of 2 distinct approvers",
        "justification: the requester has not justified the action",
    ]


class FailingLedger:
    def __init__(self) -> None:
        self.up = True
        self.entries: list[dict[str, Any]] = []

    def __call__(self, entry: dict[str, Any]) -> None:
        if not self.up:
            raise ballast.UsageError("cannot write the audit trail to ledger.db: disk I/O error")
        self.entries.append(entry)


def test_an_unwritable_ledger_blocks_high_risk_actions(catalog: SafetyCatalog) -> None:
    sink = FailingLedger()
    clock = Clock()
    store = MemoryApprovalStore()
    gate = Gate(catalog, store, ledger=AuditLog(sink), clock=clock, nonce=counter())
    token = gate.preflight(action()).token
    for by in ("bob", "carol"):
        gate.confirm(token, action(), "approve", by=by)
    gate.confirm(token, action(), "justify", by="alice", text="needed")
    clock.now += 10 * MINUTE
    sink.up = False
    blocked = gate.preflight(action(tenant="globex"))
    assert blocked.decision == "blocked" and blocked.ticket is None
    with pytest.raises(Refused) as refused:
        gate.execute(token, action())
    assert refused.value.reason == "ledger-unavailable"
    safe = gate.preflight(SAFE)
    assert safe.decision == "allow" and safe.notes == (
        "the audit ledger is unavailable: this preflight was not recorded",
    )
    sink.up = True
    with pytest.raises(Refused) as refused:  # the ticket was spent when the action was refused
        gate.execute(token, action())
    assert refused.value.reason == "replayed"


# ---- the SQLite store ----


def test_the_sqlite_store_keeps_the_rules_across_connections(catalog: SafetyCatalog, tmp_path: Any) -> None:
    path = str(tmp_path / "approvals.db")
    h = Harness(catalog, store=SqliteApprovalStore(path))
    token = h.gate.preflight(action()).token
    approve_fully(h, token, action())
    with pytest.raises(Refused) as refused:
        h.gate.confirm(token, action(), "approve", by="bob")
    assert refused.value.reason == "duplicate"
    h.clock.now += 10 * MINUTE
    second = Gate(catalog, SqliteApprovalStore(path), clock=h.clock)
    second.execute(token, action())
    with pytest.raises(Refused) as refused:
        h.gate.execute(token, action())
    assert refused.value.reason == "replayed"


def test_an_unreadable_sqlite_store_is_unavailable(tmp_path: Any) -> None:
    bad = tmp_path / "approvals.db"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ballast.UsageError, match=r"approval store .* is unavailable"):
        SqliteApprovalStore(str(bad))


# ---- the property: nothing executes unless every control is met ----

PEOPLE = ("alice", "bob", "carol", "dave")
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("approve"), st.sampled_from(PEOPLE), st.sampled_from([(), ("data-steward",), ("sre",)])),
        st.tuples(st.just("justify"), st.sampled_from(PEOPLE), st.just(())),
        st.tuples(st.just("wait"), st.sampled_from([60.0, 600.0, 1800.0, 3600.0]), st.just(())),
        st.tuples(st.just("execute"), st.just(""), st.just(())),
        st.tuples(st.just("execute-altered"), st.just(""), st.just(())),
    ),
    max_size=14,
)
DESCRIPTORS = st.sampled_from(
    [action(), action(operation="export", sensitivity="restricted", volume=60000), action(operation="policy_override")]
)


ALL_ROLES = ("data-steward", "security-officer", "sre")
# Half the runs start with every control given, so that executions (and the checks made when
# one succeeds: hold, expiry, replay) are common, not a rare find.
PREPARED = [("approve", "bob", ALL_ROLES), ("approve", "carol", ALL_ROLES), ("justify", "alice", ())]


@settings(max_examples=200, deadline=None)
@given(descriptor=DESCRIPTORS, prepared=st.booleans(), steps=STEPS)
def test_no_sequence_executes_an_action_whose_controls_are_not_met(
    catalog: SafetyCatalog, descriptor: dict[str, Any], prepared: bool, steps: list[tuple[str, Any, Any]]
) -> None:
    steps = (PREPARED if prepared else []) + steps
    h = Harness(catalog)
    result = h.gate.preflight(descriptor)
    token, required = result.token, result.required
    # The reference model: who approved (with roles), whether alice justified, the time, executed?
    approvers: dict[str, set[str]] = {}
    justified = executed = False
    for kind, who, roles in steps:
        if kind == "wait":
            h.clock.now += who
            continue
        try:
            if kind == "approve":
                h.gate.confirm(token, descriptor, "approve", by=who, roles=list(roles))
                approvers.setdefault(who, set(roles))
            elif kind == "justify":
                h.gate.confirm(token, descriptor, "justify", by=who, text="because")
                justified = True
            elif kind == "execute-altered":
                h.gate.execute(token, {**descriptor, "tenant": "other"})
                raise AssertionError("an altered descriptor executed")
            else:
                h.gate.execute(token, descriptor)
                elapsed = h.clock.now - T0
                assert not executed, "a ticket executed twice"
                assert elapsed < result.assessment.approval_seconds, "an expired ticket executed"
                assert elapsed >= required.hold_seconds, "an action ran during its hold"
                others = {p: r for p, r in approvers.items() if p != "alice"}
                assert not required.dual_control or len(others) >= 2
                assert not required.justification or justified
                for role, count in required.approvers.items():
                    assert sum(role in r for r in others.values()) >= count
                executed = True
        except Refused as refused:
            assert h.refused(refused.reason), "a refusal was not logged"
    assert len([e for e in h.entries if e["kind"] == "SafetyExecuted"]) == int(executed)


@pytest.mark.parametrize(
    "damage",
    [
        lambda ir: ir.pop("classes"),
        lambda ir: ir["classes"][0].update(when={"k": "nonsense"}),
        lambda ir: ir["classes"][0].update(risk="apocalyptic"),
        lambda ir: ir["classes"][0]["controls"].append({"kind": "pray"}),
        lambda ir: ir["input"].update(fields="actor"),
    ],
)
def test_malformed_catalog_ir_is_a_usage_error(catalog: SafetyCatalog, damage: Any) -> None:
    import copy

    ir = copy.deepcopy(ballast.compile([CATALOG]).safety[0])
    damage(ir)
    with pytest.raises(ballast.UsageError, match="safety"):
        SafetyCatalog(ir)


# ---- the scenario fixtures shipped with the catalog ----

SCENARIOS = sorted(Path(CATALOG).parent.joinpath("scenarios").glob("*.json"))


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_catalog_scenarios_get_the_controls_they_say(h: Harness, path: Path) -> None:
    scenario = json.loads(path.read_text(encoding="utf-8"))
    result = h.gate.preflight(scenario["action"], simulate=True)
    got = {
        "decision": result.decision,
        "risk": result.assessment.risk,
        "required": result.required.describe(),
        "classes": [f.name for f in result.assessment.fired],
    }
    assert got == scenario["want"], scenario["note"]


def test_there_are_risky_and_safe_scenarios() -> None:
    decisions = {json.loads(p.read_text(encoding="utf-8"))["want"]["decision"] for p in SCENARIOS}
    assert decisions == {"allow", "needs-controls", "blocked"}
