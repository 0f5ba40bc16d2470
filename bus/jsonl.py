"""The JSONL source: one event per line of a file or of standard input (`--source -`).

A file has no memory of what was acknowledged, so every run reads it from its start
(`remembers_acks` is False); the consumer's dedup by event id, restored from the ledger, is what
keeps a second run from deciding an event twice. Blank lines are skipped; lines have no sequence
numbers the producer promised, so no gap is ever reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from ballast.bus.port import Delivery, End, Position


class JsonLines:
    """Deliveries from the lines of `stream` (a text stream); `name` names it in messages."""

    remembers_acks = False

    def __init__(self, stream: TextIO, name: str) -> None:
        self._stream, self.name, self._line = stream, name, 0

    def fetch(self, limit: int, timeout: float) -> Sequence[Delivery]:
        """The next `limit` non-blank lines; raises End once the stream is exhausted and none are left."""
        out: list[Delivery] = []
        while len(out) < limit:
            line = self._stream.readline()
            if not line:
                if not out:
                    raise End(self.name)
                break
            self._line += 1
            if line.strip():
                where = f"{self.name} line {self._line}"
                out.append(Delivery(line.encode("utf-8", "surrogatepass"), Position(self.name, None), where))
        return out

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        """Nothing to tell a file."""

    def nak(self, deliveries: Sequence[Delivery]) -> None:
        """A stream cannot give lines back: the next run reads them again."""

    def lost(self, partition: str, first: int, last: int) -> list[int]:
        return []  # no sequence numbers, so no gaps to explain

    def close(self) -> None:
        self._stream.close()


__all__ = ["JsonLines"]
