"""Graded enforcement, shared by policy rules and safety classes.

Two settings, after HashiCorp Sentinel and OPA Gatekeeper:

* `mode` — whether a rule acts: `deny` (the default) issues its directives; `warn` and `dryrun`
  hold them back. A held directive is computed exactly as an issued one (id, reason,
  rationale) and reported apart (`Result.held`, `held` in `ballast eval`'s output,
  `DirectiveHeld` in the audit trail), so a trial rule shows what it would have done before it
  is switched to `deny`. `warn` is meant to be shown to people, `dryrun` only counted.
* `enforce` — how strictly an issued directive binds: `hard` (the default), `soft` (a host may
  let a signed, justified override waive it; safety classes do, see `ballast.runtime.approvals`)
  or `advisory` (a recommendation). A directive carries it when it is not `hard`.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

ENFORCE_LEVELS = ("advisory", "soft", "hard")
MODES = ("dryrun", "warn", "deny")
DEFAULT_ENFORCE, DEFAULT_MODE = "hard", "deny"


def hold_back(result: Any) -> None:
    """Move the directives of `warn` and `dryrun` rules from `result.directives` to `result.held`."""
    if not any(d.mode != DEFAULT_MODE for d in result.directives):
        return
    result.held.extend(d for d in result.directives if d.mode != DEFAULT_MODE)
    result.directives[:] = [d for d in result.directives if d.mode == DEFAULT_MODE]


def held_counts(held: list[Any]) -> Counter[tuple[str, str, str]]:
    """How many directives each (mode, policy, rule) held back."""
    return Counter((d.mode, d.policy, d.rule) for d in held)
