"""Signed votes: an Ed25519 signature binds a vote to its voter's key and to one ballot.

A governance document whose `vote` says `signatures "required"`, or a router given a voter
keyring, counts a vote only when it carries a valid signature by a key of its declared voter:
a key of the keyring whose `name` is the voter, or that holds a role named after the voter (a
board that votes as one). The signature covers the canonical vote, in a message that starts
with its own context string (`ballast-governance-vote/1`), so a bundle's or an override's
signature never passes for a vote::

    {"intent": "i-1", "ballot": "<the ballot's digest>", "voter": "architect",
     "choice": "approve", "at": 1800000120.0}

The ballot's digest is the SHA-256 of the intent it opened for (`Intent.digest`), so a vote
copied onto another ballot, or onto the same id reopened for another intent, no longer matches;
`at` is signed so a vote cannot be moved before the deadline. Keys are judged with the
verifier's clock, as bundle signatures are: a revoked key's votes stop counting.

`vote_problem` says why a vote is *forged* (unsigned, unknown key, a signature that does not
match, a key that cannot sign now, the key of another voter), or None when it counts.
"""

from __future__ import annotations

import base64
import math
from typing import TYPE_CHECKING, Any

from ballast.runtime.keyring import Keyring
from ballast.runtime.signing import PrivateKey, decode_signature, signed_message, valid_signature

if TYPE_CHECKING:
    from ballast.runtime.vote_store import Vote

__all__ = ["VOTE_CONTEXT", "sign_vote", "vote_payload", "vote_problem"]

VOTE_CONTEXT = "ballast-governance-vote/1"


def vote_payload(intent: str, ballot: str, voter: str, choice: str, at: float) -> dict[str, Any]:
    """What a vote's signature covers: the ballot (intent id and digest), the voter, the choice, when."""
    return {"intent": intent, "ballot": ballot, "voter": voter, "choice": choice, "at": float(at)}


def sign_vote(intent: str, ballot: str, voter: str, choice: str, at: float, key: PrivateKey) -> dict[str, str]:
    """`{"key_id", "sig"}`: `key`'s signature of the vote, to pass to `Router.vote(..., signature=…)`.

    `ballot` is the digest of the intent's ballot (`VoteStore.ballot(intent)[1]`)."""
    message = signed_message(VOTE_CONTEXT, vote_payload(intent, ballot, voter, choice, at))
    return {"key_id": key.key_id, "sig": base64.b64encode(key.sign(message)).decode("ascii")}


def vote_problem(vote: Vote, ballot: str, keys: Keyring | None, now: float) -> str | None:
    """Why `vote` on the ballot of digest `ballot` is forged, judged with `keys` at `now`; None if
    its signature is its voter's. Without a keyring no signature can be checked: every vote is refused."""
    if keys is None:
        return "unverified: this ballot needs signed votes and no voter keyring was given to check them"
    if not vote.key_id or not vote.sig:
        return f"forged: unsigned (this ballot needs votes signed by {vote.voter}'s key)"
    key = keys.key(vote.key_id)
    if key is None:
        return f"forged: key {vote.key_id[:40]} is not in {keys.source}"
    sig = decode_signature(vote.sig)
    if sig is None or not math.isfinite(vote.at):
        return f"forged: the signature by key {key.label} is malformed"
    message = signed_message(VOTE_CONTEXT, vote_payload(vote.intent, ballot, vote.voter, vote.choice, vote.at))
    if not valid_signature(key, message, sig):
        return (
            f"forged: the signature by key {key.label} does not match this vote on this ballot "
            "(changed after signing, or made for another ballot)"
        )
    refusal = key.refusal(now)
    if refusal is not None:
        return f"forged: {refusal[1]}"
    if key.name != vote.voter and vote.voter not in key.roles:
        return f"forged: key {key.label} is not {vote.voter}'s (neither its name nor one of its roles is {vote.voter})"
    return None
