"""The intent router (issue 14 §2): route an intent by autonomy tier, weigh it against the
mission, and hold tiers 3 and 4 for a quorum vote of declared voters.

A governance document (compiled by `ballast.compiler.kinds.governance`) maps intent types to
tiers. What each tier means is fixed here, not in the document:

====  =========================================  ==========================================
tier  meaning                                    approved when
====  =========================================  ==========================================
0     human approval required                    never by the router: routed to a human
1     auto-execute, logged for review            always
2     fully autonomous, low risk                 always
3     high impact                                a quorum of valid votes decides for it
4     emergency override, heavily logged         a quorum of valid votes decides for it
====  =========================================  ==========================================

An intent type no tier lists goes to tier 0. A tier may ask for a minimum mission alignment:
the alignment is the largest weight among the declared priorities whose signal the intent's
`mission_context` sets. An intent that names its own tier (`tier`, `autonomy_tier`) different
from the document's is a bypass attempt: refused and logged.

A ballot is bound to the intent it opened for (`Intent.digest`): the same id routed with another
type, actor, payload or mission context is refused, so votes cannot be carried over to an intent
nobody voted on. A vote counts when its voter is declared, it is the voter's first vote on the intent, it is cast
by the ballot's deadline (counted from the ballot's opening, the intent's first routing) and its
choice is `approve` or `reject`. A vote from a voter not declared is *forged*. When the document's
vote says `signatures "required"`, or the router is given a voter keyring, a vote counts only
with a valid signature by a key of its voter over the vote and its ballot
(`ballast.runtime.vote_signing`): a declared name used by someone else, or a vote replayed onto
another ballot, is forged too. Without signatures the router does not authenticate voters:
whoever can write to the vote store can vote under a declared name (docs/governance.md).
Every vote is recorded; one that does not count is logged with its reason.
With a quorum of counted votes, the majority decides and a tie goes as the document says.

Every routing returns a `Routing` and is written to the ledger (`AuditLog`) with its 5W1H
narrative; tier 4 entries carry the intent's payload and every vote.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ballast.runtime.audit import AuditLog, audit_entry
from ballast.runtime.errors import BallastError, UsageError
from ballast.runtime.keyring import Keyring
from ballast.runtime.values import iso
from ballast.runtime.vote_signing import vote_problem
from ballast.runtime.vote_store import MemoryVoteStore, Vote, VoteStore

GOVERNANCE_FORMAT = 1
TIERS = (0, 1, 2, 3, 4)
VOTING_TIERS = (3, 4)
HUMAN_TIER = 0  # where an intent no tier lists goes
CHOICES = ("approve", "reject")
TIES = CHOICES
MEANING = {
    0: "human approval required",
    1: "auto-execute, logged for review",
    2: "fully autonomous, low risk",
    3: "high impact, requires a quorum vote",
    4: "emergency override, requires a quorum vote, heavily logged",
}
DEFAULT_ROUTES = {0: "human_review", 1: "direct", 2: "direct", 3: "unified_logic_hub", 4: "unified_logic_hub"}
SELF_TIER_FIELDS = ("tier", "autonomy_tier")


@dataclass(frozen=True, slots=True)
class Tier:
    number: int
    intents: tuple[str, ...]
    routed_to: str
    min_alignment: float = 0.0  # a fraction in [0, 1]


@dataclass(frozen=True, slots=True)
class Priority:
    name: str
    weight: float
    signal: str


@dataclass(frozen=True, slots=True)
class Ballot:
    """Who may vote, how many counted votes decide, for how long, which way a tie goes, and whether
    a vote counts only when signed by its voter's key."""

    voters: tuple[str, ...]
    quorum: int
    deadline_seconds: float
    ties: str = "reject"
    signed: bool = False


@dataclass(frozen=True, slots=True)
class Governance:
    """A compiled governance document."""

    name: str
    tiers: tuple[Tier, ...]
    priorities: tuple[Priority, ...]
    ballot: Ballot | None

    @classmethod
    def from_ir(cls, ir: Mapping[str, Any]) -> Governance:
        if ir.get("format") != GOVERNANCE_FORMAT:
            raise UsageError(f"governance IR format {ir.get('format')!r} is not {GOVERNANCE_FORMAT}: recompile it")
        vote = ir.get("vote")
        return cls(
            name=ir["name"],
            tiers=tuple(Tier(t["tier"], tuple(t["intents"]), t["routed_to"], t["min_alignment"]) for t in ir["tiers"]),
            priorities=tuple(Priority(p["name"], p["weight"], p["signal"]) for p in ir["priorities"]),
            ballot=Ballot(
                tuple(vote["voters"]), vote["quorum"], vote["deadline_seconds"], vote["ties"], vote.get("signed", False)
            )
            if vote
            else None,
        )

    def tier_of(self, intent_type: str) -> Tier:
        """The tier that lists `intent_type`, else tier 0 as the document declares it (or its default)."""
        for tier in self.tiers:
            if intent_type in tier.intents:
                return tier
        for tier in self.tiers:
            if tier.number == HUMAN_TIER:
                return tier
        return Tier(HUMAN_TIER, (), DEFAULT_ROUTES[HUMAN_TIER])

    def alignment(self, mission_context: Mapping[str, Any]) -> tuple[float, list[str]]:
        """The mission alignment (largest weight of a signalled priority) and the priorities signalled."""
        hit = [p for p in self.priorities if mission_context.get(p.signal) is True]
        return (max((p.weight for p in hit), default=0.0), [p.name for p in hit])


@dataclass(frozen=True, slots=True)
class Intent:
    """What asks to be routed: `{"id", "type", "actor", "payload"?, "mission_context"?}`."""

    id: str
    type: str
    actor: str
    payload: Mapping[str, Any] = field(default_factory=dict)
    mission_context: Mapping[str, Any] = field(default_factory=dict)
    claimed_tier: Any = None

    def digest(self) -> str:
        """The SHA-256 of what the intent asks (type, actor, payload, mission context): a ballot's votes
        hold for this exact intent."""
        material = [self.type, self.actor, self.payload, self.mission_context]
        text = json.dumps(material, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    @classmethod
    def from_json(cls, data: Any) -> Intent:
        """Read an intent; `UsageError` naming the field and the fix when it is malformed."""
        if not isinstance(data, Mapping):
            raise UsageError('an intent is a JSON object: {"id": "i-1", "type": "deploy_model", "actor": "ops"}')
        for name in ("id", "type", "actor"):
            if not isinstance(data.get(name), str) or not data[name]:
                raise UsageError(f"the intent's '{name}' must be a non-empty string")
        for name in ("payload", "mission_context"):
            if not isinstance(data.get(name, {}), Mapping):
                raise UsageError(f"the intent's '{name}' must be an object")
        claimed = next((data[f] for f in SELF_TIER_FIELDS if f in data), None)
        return cls(
            data["id"], data["type"], data["actor"], data.get("payload", {}), data.get("mission_context", {}), claimed
        )


@dataclass(frozen=True, slots=True)
class Routing:
    """One routing decision."""

    approved: bool
    tier: int
    requires_vote: bool
    reasoning: tuple[str, ...]
    routed_to: str
    alignment: float

    def to_json(self) -> dict[str, Any]:
        return {
            "approved": self.approved,
            "tier": self.tier,
            "requires_vote": self.requires_vote,
            "reasoning": list(self.reasoning),
            "routed_to": self.routed_to,
            "alignment": self.alignment,
        }


@dataclass(frozen=True, slots=True)
class Tally:
    """The votes of one ballot: those that count and those that do not, each with its reason."""

    counted: tuple[Vote, ...]
    discarded: tuple[tuple[Vote, str], ...]

    def count(self, choice: str) -> int:
        return sum(1 for v in self.counted if v.choice == choice)


Verify = Callable[[Vote], "str | None"]  # why a vote's signature does not hold, or None


def discard_reason(
    vote: Vote, ballot: Ballot, opened_at: float | None, earlier: Sequence[Vote], verify: Verify | None = None
) -> str | None:
    """Why `vote` does not count (None when it does); `earlier` are the votes counted before it,
    `verify` checks its signature when votes must be signed."""
    if vote.voter not in ballot.voters:
        return f"forged: '{vote.voter}' is not a declared voter"
    if opened_at is None:
        return "no ballot is open for this intent: route it first"
    # Before the duplicate check: a forged vote under a declared name must not use up the voter's turn.
    problem = verify(vote) if verify is not None else None
    if problem is not None:
        return problem
    if vote.at > opened_at + ballot.deadline_seconds:
        return f"cast after the deadline ({iso(opened_at + ballot.deadline_seconds)})"
    if any(v.voter == vote.voter for v in earlier):
        return f"duplicate: '{vote.voter}' has voted on this intent already"
    if vote.choice not in CHOICES:
        return f"choice '{vote.choice}' is not one of {', '.join(CHOICES)}"
    return None


def tally(votes: Sequence[Vote], ballot: Ballot, opened_at: float | None, verify: Verify | None = None) -> Tally:
    """Which of `votes` (in the order cast) count."""
    counted: list[Vote] = []
    discarded: list[tuple[Vote, str]] = []
    for vote in votes:
        reason = discard_reason(vote, ballot, opened_at, counted, verify)
        if reason is None:
            counted.append(vote)
        else:
            discarded.append((vote, reason))
    return Tally(tuple(counted), tuple(discarded))


class Router:
    """Routes intents through a `Governance`, with votes in `store` and decisions in `ledger`.

    `clock` gives the time (seconds since the epoch); tests inject it. A ledger that cannot be
    written makes the router refuse: no decision goes unrecorded. `voter_keys` is the keyring
    votes are checked against: given, every vote must be signed (as when the document asks for
    signed votes; a document that asks, with no keyring, counts no vote).
    """

    def __init__(
        self,
        governance: Governance,
        *,
        store: VoteStore | None = None,
        ledger: AuditLog | None = None,
        clock: Callable[[], float] = time.time,
        voter_keys: Keyring | None = None,
    ) -> None:
        self.governance = governance
        self.store: VoteStore = store if store is not None else MemoryVoteStore()
        self.ledger = ledger
        self.clock = clock
        self.voter_keys = voter_keys

    @property
    def signed_votes(self) -> bool:
        """Whether a vote counts only with its voter's signature (the document asks, or a keyring was given)."""
        ballot = self.governance.ballot
        return self.voter_keys is not None or (ballot is not None and ballot.signed)

    def _verify(self, digest: str | None, now: float) -> Verify | None:
        if not self.signed_votes:
            return None
        keys = self.voter_keys
        return lambda vote: vote_problem(vote, digest or "", keys, now)

    def route(self, intent: Intent | Mapping[str, Any]) -> Routing:
        """Route one intent (an `Intent` or its JSON form); `UsageError` if it is malformed."""
        if not isinstance(intent, Intent):
            intent = Intent.from_json(intent)
        now = self.clock()
        g = self.governance
        tier = g.tier_of(intent.type)
        listed = any(intent.type in t.intents for t in g.tiers)
        reasoning = [f"Tier {tier.number}: {MEANING[tier.number]}"]
        if not listed:
            reasoning.append(f"intent type '{intent.type}' is in no tier: a human decides")
        alignment, signalled = g.alignment(intent.mission_context)
        reasoning.append(f"Mission alignment: {alignment:.0%}" + (f" ({', '.join(signalled)})" if signalled else ""))
        requires_vote = tier.number in VOTING_TIERS
        approved = tier.number in (1, 2)
        votes: Tally | None = None
        if intent.claimed_tier is not None and intent.claimed_tier != tier.number:
            approved = False
            reasoning.append(
                f"refused: the intent claims tier {intent.claimed_tier!r}, the governance document says "
                f"{tier.number} (an intent cannot choose its tier)"
            )
        elif alignment < tier.min_alignment:
            approved = False
            reasoning.append(
                f"refused: alignment {alignment:.0%} is below this tier's minimum {tier.min_alignment:.0%}"
            )
        elif requires_vote:
            approved, votes = self._decide(intent, now, reasoning)
        routing = Routing(approved, tier.number, requires_vote, tuple(reasoning), tier.routed_to, alignment)
        if not self._record(lambda: self._entry(intent, routing, votes, now)):
            routing = Routing(
                False,
                routing.tier,
                requires_vote,
                (*reasoning, "refused: the ledger cannot be written"),
                routing.routed_to,
                alignment,
            )
        return routing

    def _decide(self, intent: Intent, now: float, reasoning: list[str]) -> tuple[bool, Tally | None]:
        ballot = self.governance.ballot
        if ballot is None:  # the compiler requires a vote block when a voting tier lists intents
            reasoning.append("refused: the governance document declares no vote")
            return False, None
        try:
            opened, digest = self.store.open_ballot(intent.id, now, intent.digest())
            if digest != intent.digest():
                reasoning.append(
                    f"refused: intent '{intent.id}' differs from the one its ballot opened for "
                    "(its votes do not carry over: give a changed intent a new id)"
                )
                return False, None
            result = tally(self.store.votes(intent.id), ballot, opened, self._verify(digest, now))
        except BallastError as exc:
            reasoning.append(f"refused: {exc}")
            return False, None
        yes, no = result.count("approve"), result.count("reject")
        reasoning.append(f"votes: {yes} approve, {no} reject, {len(result.discarded)} not counted")
        if len(result.counted) < ballot.quorum:
            closes = opened + ballot.deadline_seconds
            state = "closed" if now > closes else f"open until {iso(closes)}"
            reasoning.append(f"waiting: {len(result.counted)} of {ballot.quorum} votes needed (ballot {state})")
            return False, result
        if yes == no:
            reasoning.append(f"tie: decided '{ballot.ties}' as declared")
            return ballot.ties == "approve", result
        reasoning.append("the majority approves" if yes > no else "the majority rejects")
        return yes > no, result

    def ballot(self, intent_id: str) -> tuple[float, str] | None:
        """When the intent's ballot opened and the digest of the intent it is bound to (what a signed
        vote signs), or None when no ballot is open."""
        return self.store.ballot(intent_id)

    def vote(
        self,
        intent_id: str,
        voter: str,
        choice: str,
        at: float | None = None,
        *,
        signature: Mapping[str, str] | None = None,
    ) -> tuple[bool, str]:
        """Record a vote; (whether it counts, why not). Every vote is recorded and logged.

        `signature` is `{"key_id", "sig"}` from `ballast.runtime.vote_signing.sign_vote`, over this
        vote at `at` on the intent's ballot; needed when votes must be signed."""
        ballot = self.governance.ballot
        if ballot is None:
            raise UsageError(f"governance '{self.governance.name}' declares no vote: add `vote {{ voters [...] … }}`")
        now = self.clock()
        sig = signature or {}
        vote = Vote(
            intent_id, voter, choice, now if at is None else at, str(sig.get("key_id", "")), str(sig.get("sig", ""))
        )
        opened = self.store.ballot(intent_id)
        opened_at, digest = opened if opened is not None else (None, None)
        verify = self._verify(digest, now)
        earlier = tally(self.store.votes(intent_id), ballot, opened_at, verify).counted
        reason = discard_reason(vote, ballot, opened_at, earlier, verify)
        self.store.cast(vote)
        self._record(lambda: self._vote_entry(vote, reason))
        return reason is None, reason or "counted"

    def _entry(self, intent: Intent, routing: Routing, votes: Tally | None, now: float) -> dict[str, Any]:
        last = routing.reasoning[-1]
        pending = last.startswith("waiting:") and "(ballot open" in last
        outcome = "approved" if routing.approved else ("pending" if pending else "refused")
        event: dict[str, Any] = {"intent": intent.id, "type": intent.type, "tier": routing.tier, "at": now}
        why = list(routing.reasoning)
        if routing.tier == 4:  # heavy logging: the payload and every vote, counted or not
            event["payload"] = dict(intent.payload)
            why.append("payload: " + json.dumps(intent.payload, sort_keys=True, default=str))
            for vote in votes.counted if votes else ():
                why.append(f"vote counted: {vote.voter} {vote.choice} at {iso(vote.at)}")
            for vote, reason in votes.discarded if votes else ():
                why.append(f"vote not counted: {vote.voter} {vote.choice} at {iso(vote.at)}: {reason}")
        return audit_entry(
            "IntentRouted",
            event,
            subject=intent.id,
            actor=intent.actor,
            scope=self.governance.name,
            outcome=outcome,
            reason=f"{intent.type}: tier {routing.tier}",
            when=iso(now),
            how=f"routed to {routing.routed_to} by governance {self.governance.name}",
            why=why,
        )

    def _vote_entry(self, vote: Vote, reason: str | None) -> dict[str, Any]:
        return audit_entry(
            "IntentVote",
            {
                "intent": vote.intent,
                "voter": vote.voter,
                "choice": vote.choice,
                "at": vote.at,
                **({"key_id": vote.key_id} if vote.key_id else {}),  # unsigned votes keep their action ids
            },
            subject=vote.intent,
            actor=vote.voter,
            scope=self.governance.name,
            outcome="counted" if reason is None else "not counted",
            reason=reason
            or f"{vote.choice} by a declared voter, in time"
            + (f", signed by key {vote.key_id}" if vote.key_id else ""),
            when=iso(vote.at),
            how=f"vote on the ballot of intent {vote.intent}",
        )

    def _record(self, entry: Callable[[], dict[str, Any]]) -> bool:
        if self.ledger is None:
            return True
        try:
            self.ledger.write(entry())
        except (BallastError, OSError):
            return False
        return True
