"""The consumer's Engine state between runs (`ballast consume --state FILE`), never a wrong one.

After each committed batch the consumer writes the Engine's snapshot with the ledger's head
(seq and hash) at that commit, atomically (a temporary file, fsynced, renamed over the old). A
restart restores it only if the ledger's head is still that one: then the state is exactly the
one the ledger's decisions were made with. Otherwise (a crash between a commit and the state's
write, another writer appending to the ledger, another bundle) it is not used, and the reason is
reported: the Engine starts empty, as it does without a state file.
"""

from __future__ import annotations

import json
import os

from ballast.runtime.engine import Engine
from ballast.runtime.errors import UsageError
from ballast.runtime.policy import PolicySet

STATE_FORMAT = "ballast-consume-state/1"


def save_state(path: str, engine: Engine, head: tuple[int, str]) -> None:
    """Write `engine`'s snapshot, tagged with the ledger head it matches, atomically."""
    data = {"format": STATE_FORMAT, "head": {"seq": head[0], "hash": head[1]}, "engine": engine.snapshot()}
    temporary = f"{path}.tmp"
    try:
        with open(temporary, "w", encoding="utf-8") as f:
            json.dump(data, f, separators=(",", ":"))
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        raise UsageError(f"--state {path}: cannot write the engine state: {exc.strerror or exc}") from None


def load_state(path: str, policies: PolicySet, head: tuple[int, str]) -> tuple[Engine | None, str]:
    """The Engine saved at `path` if it matches the ledger's `head`, else None; and what happened,
    in words (for a line on standard error)."""
    if not os.path.exists(path):
        return None, f"no engine state at {path} yet: the engine starts empty"
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as exc:
        return None, f"the engine state {path} cannot be read ({exc}): the engine starts empty"
    if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
        return None, f"{path} is not a consumer's engine state ({STATE_FORMAT}): the engine starts empty"
    saved = data.get("head") or {}
    if (saved.get("seq"), saved.get("hash")) != head:
        return None, (
            f"the engine state {path} was saved at ledger entry {saved.get('seq')}, and the ledger now ends at "
            f"entry {head[0]} (a crash after a commit, or another writer): the engine starts empty"
        )
    try:
        engine = Engine.restore(policies, data["engine"])
    except (UsageError, KeyError, TypeError, ValueError) as exc:
        return None, f"the engine state {path} does not fit this bundle ({exc}): the engine starts empty"
    return engine, f"engine state restored from {path} (ledger entry {head[0]})"


__all__ = ["STATE_FORMAT", "load_state", "save_state"]
