"""Detectors for the `governance` kind: what a change to the intent router does to human control.

A governance document decides how much a human controls each intent type (docs/governance.md).
From most to least control, the tiers rank: 0 (a human approves), 4 (a quorum vote, heavily
logged), 3 (a quorum vote), 1 (auto-execute, logged for review), 2 (fully autonomous); an intent
type no tier lists goes to tier 0. A change that gives humans less control is `guard-loosened`
and breaking: an intent moved to a tier of less control, a lower `min_alignment`, a vote with a
lower quorum, fewer voters, a longer deadline, ties that now approve, or signatures no longer
required. The reverse is `guard-tightened` and behavioral.
"""

from __future__ import annotations

from typing import Any

from ballast.compiler.diff.document import DocumentDiff
from ballast.compiler.diff.findings import Finding
from ballast.runtime.governance import HUMAN_TIER
from ballast.runtime.values import format_duration

IR = dict[str, Any]
# How much a human controls an intent of each tier: higher is more (see the module docstring).
HUMAN_CONTROL = {0: 4, 4: 3, 3: 2, 1: 1, 2: 0}


class GovernanceDiff(DocumentDiff):
    """The findings between two versions (`old`, `new`) of one governance document."""

    kind = "governance"
    label = "governance document"

    def run(self) -> list[Finding]:
        self.metadata()
        self.intents()
        self.tiers()
        self.priorities()
        self.vote()
        return self.findings

    def intents(self) -> None:
        old, new = _tier_of(self.old), _tier_of(self.new)
        for intent in sorted(set(old) | set(new)):
            (a, a_at), (b, b_at) = old.get(intent, (HUMAN_TIER, None)), new.get(intent, (HUMAN_TIER, None))
            if a == b:
                continue
            looser = HUMAN_CONTROL[b] < HUMAN_CONTROL[a]
            self.guard(
                "governance-intent",
                looser,
                intent,
                f"intent '{intent}' tier {_tier(a, intent in old)} → {_tier(b, intent in new)}",
                a_at,
                b_at,
                before=a,
                after=b,
            )

    def tiers(self) -> None:
        old = {t["tier"]: t for t in self.old["tiers"]}
        new = {t["tier"]: t for t in self.new["tiers"]}
        for number in sorted(set(old) & set(new)):
            a, b = old[number], new[number]
            subject = f"tier {number}"
            if a["routed_to"] != b["routed_to"]:
                self.add(
                    "governance-tier-routed-changed",
                    subject,
                    f"tier {number} routed to {a['routed_to']} → {b['routed_to']}",
                    a["at"],
                    b["at"],
                    before=a["routed_to"],
                    after=b["routed_to"],
                )
            x, y = a["min_alignment"], b["min_alignment"]
            if x != y:
                looser = y < x
                self.guard(
                    "governance-tier",
                    looser,
                    subject,
                    f"tier {number} min_alignment {x:.0%} → {y:.0%}",
                    a["at"],
                    b["at"],
                    before=x,
                    after=y,
                )

    def priorities(self) -> None:
        old = {p["name"]: p for p in self.old["priorities"]}
        new = {p["name"]: p for p in self.new["priorities"]}
        for name in sorted(set(old) | set(new)):
            a, b = old.get(name), new.get(name)
            if a is not None and b is not None and (a["weight"], a["signal"]) == (b["weight"], b["signal"]):
                continue
            self.add(
                "governance-priority-changed",
                name,
                f"priority '{name}' {_priority(a)} → {_priority(b)}",
                a["at"] if a else None,
                b["at"] if b else None,
                before=_priority(a),
                after=_priority(b),
            )

    def vote(self) -> None:
        a, b = self.old.get("vote"), self.new.get("vote")
        if a is None and b is None:
            return
        if a is None or b is None:
            removed = b is None
            self.guard(
                "governance-vote",
                removed,
                "vote",
                "the vote was removed" if removed else f"a vote was added ({_vote(b)})",
                a["at"] if a else None,
                b["at"] if b else None,
            )
            return
        for setting, text, looser in _vote_changes(a, b):
            self.guard(
                "governance-vote",
                looser,
                f"vote {setting}",
                f"vote {text}",
                a["at"],
                b["at"],
            )


def _vote_changes(a: IR, b: IR) -> list[tuple[str, str, bool]]:
    """Each change of the vote: the setting, what changed, and whether it gives humans less control."""
    out: list[tuple[str, str, bool]] = []
    if a["quorum"] != b["quorum"]:
        out.append(("quorum", f"quorum {a['quorum']} → {b['quorum']}", b["quorum"] < a["quorum"]))
    gone = [v for v in a["voters"] if v not in b["voters"]]
    came = [v for v in b["voters"] if v not in a["voters"]]
    if gone:
        out.append(("voters", f"voters removed: {', '.join(gone)}", True))
    if came:
        out.append(("voters", f"voters added: {', '.join(came)}", False))
    if a["deadline_seconds"] != b["deadline_seconds"]:
        before, after = format_duration(a["deadline_seconds"]), format_duration(b["deadline_seconds"])
        out.append(("deadline", f"deadline {before} → {after}", b["deadline_seconds"] > a["deadline_seconds"]))
    if a["ties"] != b["ties"]:
        out.append(("ties", f"ties {a['ties']} → {b['ties']}", b["ties"] == "approve"))
    signed_a, signed_b = a.get("signed", False), b.get("signed", False)
    if signed_a != signed_b:
        out.append(("signatures", f"signatures {_signed(signed_a)} → {_signed(signed_b)}", not signed_b))
    return out


def _tier_of(ir: IR) -> dict[str, tuple[int, Any]]:
    return {intent: (t["tier"], t["at"]) for t in ir["tiers"] for intent in t["intents"]}


def _tier(number: int, listed: bool) -> str:
    return str(number) if listed else f"{number} (unlisted)"


def _priority(p: IR | None) -> str:
    return "(none)" if p is None else f"weight {p['weight']:g} signal {p['signal']}"


def _vote(v: IR) -> str:
    return f"quorum {v['quorum']} of {', '.join(v['voters'])}, deadline {format_duration(v['deadline_seconds'])}"


def _signed(signed: bool) -> str:
    return "required" if signed else "none"
