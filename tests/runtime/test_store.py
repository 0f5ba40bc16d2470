"""PolicyStore: a running set is replaced only by a bundle that the keyring trusts for the roles
of its documents and that moves forward; every decision is in the ledger.

Bundles and keys come from store_support (fixed seeds); the store's clock is fixed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from store_support import ALICE, BOB, CAROL, MALLORY, NOW, compiled, keyring, release, signed

from ballast.compiler.kinds import registry
from ballast.compiler.pipeline import compile_paths
from ballast.keyring import parse_keyring
from ballast.runtime.audit import AuditLog
from ballast.runtime.bundle import dump_bundle
from ballast.runtime.changes import version_key
from ballast.runtime.errors import BundleError, CompileError, UsageError
from ballast.runtime.keyring import DOCUMENT_KINDS
from ballast.runtime.ledger import Ledger
from ballast.runtime.ledger_read import LedgerReader
from ballast.runtime.store import COMMITTED, NO_OP, REJECTED, PolicyStore

EVENT = {"pool": "p1", "load": 0.7, "ts": 0}


def store(**options: Any) -> PolicyStore:
    return PolicyStore(keyring(options.pop("document_roles", None)), clock=lambda: NOW, **options)


@pytest.fixture
def ledger(tmp_path: Path) -> Any:
    with Ledger.open(tmp_path / "audit.sqlite") as opened:
        yield opened


def entries(ledger: Ledger) -> list[dict[str, Any]]:
    ledger.flush()
    with LedgerReader.open(ledger.path) as reader:
        assert reader.verify().ok  # what `ballast audit verify` checks: the chain is intact
        return list(reader.query())


def fingerprint(raw: bytes) -> str:
    return json.loads(raw)["manifest"]["fingerprint"]["hash"]


# ---- accepted ----


def test_a_newer_bundle_signed_for_its_role_replaces_the_running_one_and_is_recorded(ledger: Ledger) -> None:
    s = store(audit=AuditLog(ledger))
    first = s.propose(release("1.0.0")).check()
    assert (first.status, first.old, first.rollback) == (COMMITTED, None, False)
    assert s.evaluate(EVENT).bundle == first.new
    outcome = s.propose(release("1.1.0", threshold=0.6), actor="ci-deploy").check()
    assert outcome.status == COMMITTED and outcome.roles == ("MetaAdmin",)
    assert [c.text for c in outcome.versions] == ["policy demo: 1.0.0 → 1.1.0 (raised)"]
    assert s.current is not None and s.current.bundle.fingerprint == fingerprint(release("1.1.0", threshold=0.6))
    assert [signer.name for signer in s.current.bundle.signers] == ["alice", "bob"]
    result = s.evaluate(EVENT)  # 0.7 > 0.6 still; the result names the version that decided
    assert result.bundle is s.current.bundle and [d.rule for d in result.directives] == ["warm"]
    assert s.evaluate({**EVENT, "load": 0.55}).directives == []  # the new threshold decides
    committed = entries(ledger)[-1]
    assert (committed["kind"], committed["outcome"], committed["seq"]) == ("PolicyChangeCommitted", "committed", 2)
    assert outcome.ledger_seq == 2
    assert committed["actor"] == f"alice ({ALICE.key_id}), bob ({BOB.key_id})"
    change = committed["change"]
    assert change["old"]["fingerprint"] == fingerprint(release("1.0.0"))
    assert change["new"]["fingerprint"] == fingerprint(release("1.1.0", threshold=0.6))
    assert [v["version"] for v in change["old"]["versions"]] == ["1.0.0"]
    assert [v["version"] for v in change["new"]["versions"]] == ["1.1.0"]
    assert change["proposed_by"] == "ci-deploy" and change["rollback"] is False and change["reason"] is None


def test_the_same_fingerprint_is_a_recorded_no_op(ledger: Ledger) -> None:
    s = store(audit=AuditLog(ledger))
    first = s.propose(release("1.0.0")).check()
    again = s.propose(signed(compiled("1.0.0"), BOB, ALICE))  # other bytes, same content
    assert again.status == NO_OP and again.accepted and "no change" in again.message
    assert s.current is not None and s.current.bundle.serial == first.new.serial  # type: ignore[union-attr]
    assert [(e["kind"], e["outcome"]) for e in entries(ledger)][-1] == ("PolicyChangeCommitted", "no-op")


# ---- refused ----


def tampered(raw: bytes) -> bytes:
    bundle = json.loads(raw)
    bundle["manifest"]["compiler"] = "ballast 9.9.9"
    return dump_bundle(bundle)


def _reformatted(raw: bytes) -> bytes:
    return json.dumps(json.loads(raw)).encode()


REFUSALS = {
    "unsigned": (lambda: signed(compiled("1.1.0")), "it has no signatures"),
    "bad-signature": (lambda: tampered(release("1.1.0")), "does not match the content"),
    "unknown-key": (lambda: signed(compiled("1.1.0"), MALLORY), "is not in test-keyring"),
    "missing-role": (lambda: signed(compiled("1.1.0"), CAROL), "may not sign for role MetaAdmin"),
    "too-few-signers": (lambda: signed(compiled("1.1.0"), ALICE, CAROL), "1 valid of the 2 needed"),
    "not-canonical": (lambda: _reformatted(release("1.1.0")), "not byte for byte"),
    "rollback": (lambda: release("0.9.0"), "it lowers policy demo from 1.0.0 to 0.9.0"),
    "not-json": (lambda: b'{"manifest": ', "not a bundle (invalid JSON"),
    "not-a-bundle": (lambda: b"[1, 2]", "not a Ballast bundle"),
}


@pytest.mark.parametrize("reason", sorted(REFUSALS))
def test_each_refusal_names_its_reason_changes_nothing_and_is_recorded(reason: str, ledger: Ledger) -> None:
    make, words = REFUSALS[reason]
    s = store(audit=AuditLog(ledger))
    running = s.propose(release("1.0.0")).check().new
    outcome = s.propose(make(), where="proposed.json")
    assert (outcome.status, outcome.reason, outcome.accepted) == (REJECTED, reason, False)
    assert words in outcome.message and outcome.message.startswith("proposed.json: ")
    with pytest.raises(BundleError) as raised:
        outcome.check()
    assert raised.value.reason == reason
    assert s.current is not None and s.current.bundle == running  # still the old set
    assert s.evaluate(EVENT).bundle == running
    last = entries(ledger)[-1]
    assert (last["kind"], last["outcome"], last["reason"]) == ("PolicyChangeRejected", reason, outcome.message)
    assert last["change"]["old"]["fingerprint"] == running.fingerprint  # type: ignore[union-attr]


def test_a_role_refusal_says_which_documents_need_the_role() -> None:
    outcome = store().propose(signed(compiled("1.0.0"), CAROL))
    assert outcome.reason == "missing-role"
    assert outcome.message.endswith("(changing policy documents needs role MetaAdmin in test-keyring)")


def test_a_rollback_allowed_is_committed_and_recorded_as_one(ledger: Ledger) -> None:
    s = store(audit=AuditLog(ledger))
    s.propose(release("1.0.0")).check()
    s.propose(release("1.1.0", threshold=0.6)).check()
    back = s.propose(release("1.0.0"), allow_rollback=True).check()
    assert back.status == COMMITTED and back.rollback and "rolled back" in back.message
    assert s.current is not None and s.current.bundle.fingerprint == fingerprint(release("1.0.0"))
    last = entries(ledger)[-1]
    assert (last["kind"], last["outcome"], last["change"]["rollback"]) == ("PolicyChangeCommitted", "rollback", True)


def test_the_same_version_with_other_content_is_a_rollback() -> None:
    s = store()
    s.propose(release("1.0.0")).check()
    outcome = s.propose(release("1.0.0", threshold=0.6))
    assert outcome.reason == "rollback"
    assert "its content differs at the same version for policy demo 1.0.0" in outcome.message


def test_a_version_that_cannot_be_ordered_is_refused_with_the_fix() -> None:
    s = store()
    s.propose(release("1.0.0")).check()
    outcome = s.propose(release("next"))
    assert outcome.reason == "bad-version"
    assert "version 'next' cannot be ordered against '1.0.0'; write versions as dotted numbers" in outcome.message


def test_a_path_is_read_as_the_file_and_held_to_its_bytes(tmp_path: Path) -> None:
    path = tmp_path / "demo.bundle.json"
    path.write_bytes(release("1.0.0"))
    s = store()
    assert s.propose(path).check().where == str(path)
    missing = s.propose(tmp_path / "missing.json")
    assert missing.reason == "unreadable" and "No such file or directory" in missing.message


# ---- roles come from the keyring, per kind of document ----


def test_document_roles_in_the_keyring_decide_the_role_a_change_needs() -> None:
    by_operator = signed(compiled("1.0.0"), CAROL)
    assert store(document_roles={"policy": "Operator"}).propose(by_operator).check().roles == ("Operator",)
    assert store().propose(by_operator).reason == "missing-role"  # default: MetaAdmin, which carol lacks


GTBE = Path(__file__).resolve().parents[2] / "catalog" / "gtbe.bal"


def test_a_bundle_that_drops_the_threat_documents_needs_the_threat_role() -> None:
    both_source = GTBE.read_text(encoding="utf-8")
    with_threat = compile_paths(["gtbe.bal"], sources={"gtbe.bal": both_source}, source_date_epoch=0).bundle
    s = store(document_roles={"policy": "Operator", "threat": "MetaAdmin"})
    s.propose(signed(with_threat, ALICE, BOB)).check()
    policy_only = signed(compiled("1.0.0"), CAROL)  # Operator may change policies, not remove threats
    outcome = s.propose(policy_only)
    assert outcome.roles == ("Operator", "MetaAdmin") and outcome.reason == "missing-role"
    assert outcome.message.endswith("(changing threat documents needs role MetaAdmin in test-keyring)")


def test_threat_documents_need_meta_admin_by_default() -> None:
    source = GTBE.read_text(encoding="utf-8")
    threat = compile_paths(["gtbe.bal"], sources={"gtbe.bal": source}, source_date_epoch=0).bundle
    outcome = store().propose(signed(threat, CAROL))  # an Operator key alone
    assert (outcome.roles, outcome.reason) == (("MetaAdmin",), "missing-role")
    assert outcome.message.endswith("(changing threat documents needs role MetaAdmin in test-keyring)")
    assert store().propose(signed(threat, ALICE, BOB)).check().roles == ("MetaAdmin",)


def test_the_runtime_knows_every_kind_of_document_the_compiler_writes() -> None:
    assert {kind.ir_key: kind.name for kind in registry()} == DOCUMENT_KINDS


def test_document_roles_are_checked_with_positions() -> None:
    text = (
        "keyring: t\nroles:\n  Operator: {}\n  MetaAdmin: {}\ndefault_role: Operator\n"
        'keys:\n  - id: "66687aadf862bd77"\n    public_key: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n'
        "    roles: [Operator, MetaAdmin]\n"
        "document_roles:\n  polcy: Operator\n  threat: MetaAdmn\n"
    )
    with pytest.raises(CompileError) as raised:
        parse_keyring(text, "ring.yaml")
    found = [(d.span.line, d.span.column, d.message, d.hint) for d in raised.value.diagnostics]
    assert found == [
        (11, 3, "unknown kind of document 'polcy'", "did you mean 'policy'?"),
        (12, 11, "'MetaAdmn' is not a declared role", "did you mean 'MetaAdmin'?"),
    ]
    ok = parse_keyring(text.replace("polcy", "policy").replace("MetaAdmn", "MetaAdmin"), "ring.yaml")
    assert ok.document_roles == {"policy": "Operator", "threat": "MetaAdmin"}
    assert ok.to_dict()["document_roles"] == {"policy": "Operator", "threat": "MetaAdmin"}


# ---- the ledger comes first ----


class FullDisk:
    def write(self, text: str) -> None:
        raise OSError(28, "No space left on device")


def test_a_change_the_ledger_cannot_record_does_not_happen() -> None:
    s = store()
    running = s.propose(release("1.0.0")).check().new
    s.audit = AuditLog(FullDisk())
    with pytest.raises(UsageError, match="No space left on device"):
        s.propose(release("1.1.0"))
    assert s.current is not None and s.current.bundle == running
    stateful = store(stateful=True)
    stateful.propose(release("1.0.0")).check()
    stateful.audit = AuditLog(FullDisk())
    with pytest.raises(UsageError):
        stateful.propose(release("1.1.0"))
    assert stateful.current is not None and stateful.current.bundle.versions[0][2] == "1.0.0"
    assert stateful.process(EVENT).bundle.versions[0][2] == "1.0.0"  # type: ignore[union-attr]


# ---- bad arguments ----


def test_bad_arguments_are_usage_errors_that_say_what_to_do() -> None:
    with pytest.raises(UsageError, match="needs a keyring"):
        PolicyStore(None)  # type: ignore[arg-type]
    s = store()
    with pytest.raises(UsageError, match="propose a signed bundle first"):
        s.evaluate(EVENT)
    with pytest.raises(UsageError, match="bundle's bytes or the path of its file"):
        s.propose(42)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="allow_rollback is True or False"):
        s.propose(release("1.0.0"), allow_rollback="yes")  # type: ignore[arg-type]
    s.propose(release("1.0.0")).check()
    with pytest.raises(UsageError, match="stateful=True"):
        s.process(EVENT)
    with pytest.raises(UsageError, match="audit must be an AuditLog"):
        store(audit="audit.sqlite")


# ---- versions only move forward ----

VERSIONS = ["0.9.0", "1.0.0", "1.0.1", "1.1.0-rc.1", "1.1.0", "1.10.0", "2.0.0"]
# one bundle per version, and a second build of 1.1.0 with other content
POOL = [(v, 0.5) for v in VERSIONS] + [("1.1.0", 0.6)]


def test_versions_are_ordered_as_semantic_versions() -> None:
    keys = [version_key(v) for v in VERSIONS]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)  # type: ignore[type-var]
    assert version_key("1.2") == version_key("1.2.0") == version_key("v1.2.0")
    assert version_key("2025.11.15") > version_key("2025.2.1")  # type: ignore[operator]
    assert version_key("latest") is None


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(range(len(POOL))), min_size=1, max_size=12))
def test_without_allow_rollback_the_accepted_versions_only_increase(proposals: list[int]) -> None:
    s = store()
    model: tuple[str, float] | None = None  # the reference: the version and content running
    for index in proposals:
        version, threshold = POOL[index]
        outcome = s.propose(release(version, threshold=threshold))
        if model is None or version_key(version) > version_key(model[0]):  # type: ignore[operator]
            expected = COMMITTED
        elif (version, threshold) == model:
            expected = NO_OP
        else:
            expected = REJECTED
        assert outcome.status == expected, (model, version, threshold, outcome.message)
        if expected == COMMITTED:
            model = (version, threshold)
        assert expected != REJECTED or outcome.reason == "rollback"
    assert s.current is not None and s.current.bundle.fingerprint == fingerprint(
        release(*model[:1], threshold=model[1])
    )  # type: ignore[index]


# ---- untrusted bytes never crash the store ----


def refingerprinted(bundle: dict[str, Any]) -> bytes:
    """An edited bundle with its fingerprint recomputed: what anyone can make without a key."""
    from ballast.runtime.bundle import fingerprint as ir_fingerprint

    bundle["manifest"]["fingerprint"]["hash"] = ir_fingerprint(bundle["ir"])
    return dump_bundle(bundle)


IR_EDITS = {
    "policies-not-a-list": lambda ir: ir.update(policies={"a": 1}),
    "entry-not-a-mapping": lambda ir: ir.update(policies=[1, "x", None]),
    "name-not-text": lambda ir: ir["policies"][0].update(name=["demo"], version=7),
    "threats-junk": lambda ir: ir.update(threats=[{"name": "t"}]),
    "no-rules": lambda ir: ir["policies"][0].pop("rules"),
}


@pytest.mark.parametrize("edit", sorted(IR_EDITS))
@pytest.mark.parametrize("signers", [(), (ALICE, BOB)])
def test_an_edited_ir_is_a_refusal_never_a_crash(edit: str, signers: tuple[Any, ...], ledger: Ledger) -> None:
    s = store(audit=AuditLog(ledger))
    s.propose(release("1.0.0")).check()
    bundle = json.loads(json.dumps(compiled("1.1.0")))
    IR_EDITS[edit](bundle["ir"])
    outcome = s.propose(signed(json.loads(refingerprinted(bundle)), *signers))
    assert outcome.status == REJECTED
    assert outcome.reason == ("unsigned" if not signers else "malformed-ir")
    assert entries(ledger)[-1]["kind"] == "PolicyChangeRejected"


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), min_size=1, max_size=4))
def test_any_changed_byte_of_a_signed_bundle_is_refused_with_a_reason(flips: list[tuple[int, int]]) -> None:
    raw = bytearray(release("1.1.0"))
    for at, value in flips:
        raw[at % len(raw)] = value
    s = store()
    s.propose(release("1.0.0")).check()
    outcome = s.propose(bytes(raw))  # never raises: a refusal names its reason
    if bytes(raw) != release("1.1.0"):
        assert outcome.status == REJECTED and outcome.reason and outcome.message


DEMO = """\
policy demo version "{v}" {{
  input ev {{ pool: string  load: float }}
  rule warm {{ when load > {t} then scale(targets: pool, by: 1) }}
}}
"""
EXTRA = DEMO.replace("policy demo", "policy extra").replace("rule warm", "rule cool")


def two(a: str, b: str | None, t: float = 0.5) -> bytes:
    """demo at version `a` and, unless `b` is None, extra at version `b`; signed by alice and bob."""
    sources = {"demo.bal": DEMO.format(v=a, t=0.5)}
    if b is not None:
        sources["extra.bal"] = EXTRA.format(v=b, t=t)
    bundle = compile_paths(sorted(sources), sources=sources, source_date_epoch=0).bundle
    return signed(bundle, ALICE, BOB)


def test_a_removal_alone_is_refused_and_a_document_may_not_come_back_older() -> None:
    s = store()
    s.propose(two("1.0.0", "2.0.0")).check()
    alone = s.propose(two("1.0.0", None))
    assert alone.reason == "rollback" and "it only removes policy extra" in alone.message
    s.propose(two("1.1.0", None)).check()  # removed, with another document raised
    back = s.propose(two("1.2.0", "1.0.0"))  # extra returns below the 2.0.0 that ran
    assert back.reason == "rollback"
    assert "it brings back policy extra at 1.0.0, not above 2.0.0, which ran before" in back.message
    assert s.propose(two("1.2.0", "2.0.0", t=0.6)).reason == "rollback"  # 2.0.0 again, other content
    assert s.propose(two("1.2.0", "2.0.0")).check().status == COMMITTED  # the same 2.0.0 may return
    assert s.propose(two("1.3.0", None)).check().status == COMMITTED
    assert s.propose(two("1.4.0", "2.1.0")).check().status == COMMITTED
