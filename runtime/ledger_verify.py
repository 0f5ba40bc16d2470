"""Verifying an audit ledger: the hash chain, the query columns and the signed checkpoints, streaming.

`verify_rows` reads the entries and the checkpoints once each, both in order, side by side,
keeping only the last two hashes, so a ledger of any length verifies in constant memory. What each kind of tampering looks like, and the sequence number it is reported at:

| finding | what was seen | reported at |
|---|---|---|
| `edited` | an entry's body no longer hashes to its stored hash; or an entry chains to a hash its predecessor does not have (the predecessor was edited and its hash recomputed); or its time is before its predecessor's; or a query column (time, kind, actor, subject, outcome) disagrees with the body | the edited entry |
| `deleted` | a gap in the sequence numbers; or an entry numbered one more than its row (deleted, later ones renumbered) | the first missing entry |
| `inserted` | the entry at N + 1 is the original N (it says so and chains to N − 1): N was inserted and later ones renumbered | the inserted entry |
| `reordered` | an entry sits at a row of another number | the row |
| `truncated` | a checkpoint signs an entry past the last one | the first missing entry |
| `rewritten` | the chain is consistent but a checkpoint signed another hash for its entry: the entries since the previous good checkpoint were rewritten, hashes and all | the first entry after the previous good checkpoint |
| `unknown-key`, `bad-signature`, `revoked-key`, `expired-key`, `key-not-yet-valid`, `missing-role`, `old-key-id` | a checkpoint does not count (the verifier's `refusal`: with a keyring, the rules of signed bundles, runtime/ledger_keys.py) | the checkpoint's entry |
| `malformed` | a body that is not a JSON object | the entry |
| `unsigned` | a verifier was given, but the ledger has no checkpoint at all | the first entry |

Only one finding is kept per sequence number (the first), and at most `MAX_FINDINGS`.
A checkpoint that does not count is not relied on: it proves neither its entry nor a cut tail.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from ballast.runtime.ledger import GENESIS, checkpoint_message, entry_hash

MAX_FINDINGS = 100
# Findings that say a checkpoint's key is not trusted (for the role, at this time), not that
# anything was changed: a signature that does not match (`bad-signature`) is a change.
UNTRUSTED = frozenset(
    {"unknown-key", "revoked-key", "expired-key", "key-not-yet-valid", "missing-role", "old-key-id", "unsigned"}
)
COLUMNS = ("time", "kind", "actor", "subject", "outcome")


class Verifier(Protocol):
    """Judges checkpoint signatures (runtime/ledger_keys.py `CheckpointTrust` with a keyring)."""

    def refusal(self, key_id: str, message: bytes, signature: bytes) -> tuple[str, str] | None:
        """Why the signature does not count: a finding kind and the words; None when it counts."""
        ...

    def name(self, key_id: str) -> str:
        """A name for the key, for people ('' for none)."""
        ...


class Row(NamedTuple):
    """One stored entry: its row number, the stored body and hash, and its query columns (None: none stored)."""

    seq: int
    body: str
    hash: str
    columns: tuple[Any, ...] | None = None  # COLUMNS, in order


class Checkpoint(NamedTuple):
    """A signed head: the entry it signs, that entry's hash, when, by which key, the signature (base64)."""

    seq: int
    hash: str
    time: str
    key_id: str
    signature: str


class CheckpointSigner(NamedTuple):
    """A key whose checkpoints matched their entries: how many, and the newest entry it signed."""

    key_id: str
    name: str
    checkpoints: int
    last_seq: int

    def to_dict(self) -> dict[str, Any]:
        return self._asdict()


class Finding(NamedTuple):
    """Something verification found wrong: where, what kind (see the module docstring), and a sentence."""

    seq: int
    kind: str
    message: str


@dataclass
class Verification:
    """What verifying a ledger (or an exported one) found."""

    source: str
    entries: int = 0
    first_seq: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    checkpoints: int = 0
    signatures_checked: bool = False
    signed_through: int = 0  # the newest checkpoint that matches its entry (and verifies, when checked)
    verified_checkpoints: int = 0
    findings: list[Finding] = field(default_factory=list)
    more_findings: int = 0  # found beyond MAX_FINDINGS
    # Whether a finding (kept or beyond MAX_FINDINGS) shows a change, not only checkpoints whose
    # keys are not trusted.
    tampered: bool = False
    # The keys of the checkpoints that matched their entries, by key id, in the order first seen;
    # their signatures were checked only when `signatures_checked`.
    signers: dict[str, CheckpointSigner] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def first_bad(self) -> int | None:
        """The first sequence number that is not what was written, or None."""
        return self.findings[0].seq if self.findings else None

    @property
    def unsigned(self) -> int:
        """Entries after the newest good checkpoint: chained, but not covered by a signature."""
        return max(0, self.head_seq - self.signed_through)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (`ballast audit verify --format json`)."""
        return {
            "source": self.source,
            "ok": self.ok,
            "tampered": self.tampered,
            "first_bad_seq": self.first_bad,
            "entries": self.entries,
            "first_seq": self.first_seq,
            "head": {"seq": self.head_seq, "hash": self.head_hash},
            "checkpoints": {
                "stored": self.checkpoints,
                "signatures_checked": self.signatures_checked,
                "verified": self.verified_checkpoints,
                "signed_through": self.signed_through,
                "unsigned_entries": self.unsigned,
                "signers": [s.to_dict() for s in self.signers.values()],
            },
            "findings": [f._asdict() for f in self.findings],
            "more_findings": self.more_findings,
        }


class _Findings:
    def __init__(self, into: Verification) -> None:
        self.into = into
        self.seen: set[int] = set()
        self.added = 0

    def add(self, seq: int, kind: str, message: str) -> None:
        if seq in self.seen:
            return
        self.seen.add(seq)
        self.added += 1
        self.into.tampered = self.into.tampered or kind not in UNTRUSTED
        if len(self.into.findings) < MAX_FINDINGS:
            self.into.findings.append(Finding(seq, kind, message))
        else:
            self.into.more_findings += 1

    def forget_before(self, seq: int) -> None:
        """Findings come in seq order but for a step back of one: older seqs need not be remembered."""
        if len(self.seen) > 8:
            self.seen = {s for s in self.seen if s >= seq - 1}


def verify_rows(
    source: str,
    rows: Iterable[Row],
    checkpoints: Iterable[Checkpoint] = (),
    *,
    ledger: str = "",
    verifier: Verifier | None = None,
    start_prev: str | None = GENESIS,
) -> Verification:
    """Verify entries and checkpoints, each read in seq order; see the module docstring.

    `start_prev` is the `prev` the first entry must have: GENESIS for a whole ledger, None to take
    the first entry's own (an export that starts after entry 1).
    """
    v = Verification(source, signatures_checked=verifier is not None)
    found = _Findings(v)
    signed = _Signed(iter(checkpoints), ledger, verifier, found, v)
    expected: int | None = None
    prev, before_prev = start_prev, None
    shift = 0  # rows renumbered by an insertion (+1) or a deletion (-1) found earlier
    last_good = 0
    last_time = ""  # times never go back: the writer keeps them in seq order
    for row in rows:
        seq = row.seq
        v.entries += 1
        clean = found.added
        if expected is None:
            expected = v.first_seq = seq
        gap = seq != expected
        if seq > expected:
            missing = f"entry {expected} is" if seq == expected + 1 else f"entries {expected}–{seq - 1} are"
            found.add(expected, "deleted", f"{missing} missing: deleted")
        elif seq < expected:
            found.add(seq, "reordered", f"entry {seq} comes after entry {expected - 1}: entries were moved")
        doc = _parse(row.body)
        if entry_hash_of(row.body) != row.hash:
            found.add(seq, "edited", "the entry does not match its hash: it was changed after it was written")
        elif doc is None:
            found.add(seq, "malformed", "the stored entry is not a JSON object")
        else:
            want = seq - shift
            if doc.get("seq") != want:
                if doc.get("seq") == want - 1 and prev is not None and doc.get("prev") == before_prev:
                    found.add(
                        seq - 1,
                        "inserted",
                        f"entry {seq - 1} was inserted: the entry now at {seq} is the original {seq - 1}, and the later ones were renumbered",
                    )
                    shift += 1
                elif doc.get("seq") == want + 1 and doc.get("prev") != prev:
                    found.add(
                        seq,
                        "deleted",
                        f"entry {seq} was deleted and the later entries renumbered (the entry now at {seq} says it is {want + 1})",
                    )
                    shift -= 1
                else:
                    found.add(
                        seq, "reordered", f"the entry at {seq} says it is entry {doc.get('seq')}: entries were moved"
                    )
            elif not gap and prev is not None and doc.get("prev") != prev:
                found.add(
                    seq - 1,
                    "edited",
                    f"entry {seq} chains to a hash entry {seq - 1} does not have: entry {seq - 1} was changed and its hash recomputed",
                )
            elif not isinstance(doc.get("time"), str) or doc["time"] < last_time:
                found.add(
                    seq,
                    "edited",
                    f"its time {doc.get('time')!r} is before that of the entry before it ({last_time}): it was forged",
                )
            elif row.columns is not None:
                for name, stored in zip(COLUMNS, row.columns, strict=True):
                    said = doc.get(name)
                    if stored != (said if isinstance(said, str) or name == "time" else None):
                        found.add(
                            seq,
                            "edited",
                            f"its {name} column says {stored!r}, the entry says {said!r}: the column was changed",
                        )
                        break

        checkpoint = signed.at(seq)
        if checkpoint is not None and seq not in found.seen:
            if checkpoint.hash != row.hash:
                found.add(
                    last_good + 1,
                    "rewritten",
                    f"a checkpoint signed another hash for entry {seq}: entries {last_good + 1}–{seq} were rewritten after they were signed",
                )
            else:
                last_good = seq
                v.verified_checkpoints += verifier is not None
                signed.vouched(checkpoint)
        # The time check compares neighbours only, and only clean ones: one forged time is one finding.
        last_time = doc["time"] if found.added == clean and doc is not None and isinstance(doc.get("time"), str) else ""
        before_prev, prev = prev, row.hash
        expected = max(expected, seq + 1)
        v.head_seq, v.head_hash = seq, row.hash
        found.forget_before(seq)
    v.signed_through = last_good
    if verifier is not None and v.entries and not v.checkpoints:
        # Asked to check signatures, and there are none: as a keyring refuses an unsigned bundle.
        found.add(
            v.first_seq,
            "unsigned",
            "the ledger has no checkpoints, so no key vouches for any entry: it was written without a key "
            "(--audit-key), or its checkpoints were deleted",
        )
    last = signed.last_beyond(v.head_seq)
    if last is not None:
        first = v.head_seq + 1
        removed = f"entry {last} was" if first == last else f"entries {first}–{last} were"
        found.add(
            first,
            "truncated",
            f"the ledger ends at entry {v.head_seq}, but a checkpoint signed entry {last}: {removed} removed",
        )
    v.findings.sort(key=lambda f: f.seq)
    return v


def entry_hash_of(body: str) -> str:
    """The hash of a stored body; a body that is not ASCII (it was edited) hashes to nothing valid."""
    try:
        return entry_hash(body)
    except UnicodeEncodeError:
        return ""


def _parse(body: str) -> dict[str, Any] | None:
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


class _Signed:
    """The checkpoints, read in seq order beside the entries; each one's signature checked once."""

    def __init__(
        self,
        checkpoints: Iterator[Checkpoint],
        ledger: str,
        verifier: Verifier | None,
        found: _Findings,
        into: Verification,
    ) -> None:
        self.checkpoints = checkpoints
        self.ledger = ledger
        self.verifier = verifier
        self.found = found
        self.into = into
        self.next: Checkpoint | None = self._read()

    def at(self, seq: int) -> Checkpoint | None:
        """The trusted checkpoint of entry `seq`, if there is one (those before it are checked and passed)."""
        while self.next is not None and self.next.seq <= seq:
            checkpoint, self.next = self.next, self._read()
            if self._trusted(checkpoint) and checkpoint.seq == seq:
                return checkpoint
        return None

    def last_beyond(self, head: int) -> int | None:
        """The newest trusted checkpoint after entry `head` (a cut tail), reading all that remain."""
        last = None
        while self.next is not None:
            checkpoint, self.next = self.next, self._read()
            if checkpoint.seq > head and self._trusted(checkpoint):
                last = checkpoint.seq
        return last

    def _read(self) -> Checkpoint | None:
        checkpoint = next(self.checkpoints, None)
        if checkpoint is not None:
            self.into.checkpoints += 1
        return checkpoint

    def vouched(self, c: Checkpoint) -> None:
        """Count a checkpoint that matched its entry for its key."""
        known = self.into.signers.get(c.key_id)
        count = known.checkpoints if known is not None else 0
        name = self.verifier.name(c.key_id) if self.verifier is not None else ""
        self.into.signers[c.key_id] = CheckpointSigner(c.key_id, name, count + 1, c.seq)

    def _trusted(self, c: Checkpoint) -> bool:
        """Whether to rely on a checkpoint: always without a verifier, else when the verifier has
        no objection to its signature."""
        if self.verifier is None:
            return True
        try:
            signature = base64.b64decode(c.signature, validate=True)
        except (binascii.Error, ValueError):
            signature = b""
        message = checkpoint_message(self.ledger, c.seq, c.hash, c.time, c.key_id)
        refusal = self.verifier.refusal(c.key_id, message, signature)
        if refusal is None:
            return True
        self.found.add(c.seq, refusal[0], f"the checkpoint at entry {c.seq} does not count: {refusal[1]}")
        return False


__all__ = [
    "COLUMNS",
    "MAX_FINDINGS",
    "UNTRUSTED",
    "Checkpoint",
    "CheckpointSigner",
    "Finding",
    "Row",
    "Verification",
    "Verifier",
    "verify_rows",
]
