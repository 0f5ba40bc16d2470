"""What the detectors of every compiled kind but policies share: the findings of one document.

A kind's detectors (`threat`, `safety`, `governance`, `fleet`, `rollout`) subclass
`DocumentDiff`: it holds the two versions of one document and the findings so far, places each
finding at its position on either side (the document's first line when the IR keeps none), and
reports the metadata that changed.
"""

from __future__ import annotations

from typing import Any

from ballast.compiler.diff.findings import GUARD_LOOSENED, GUARD_TIGHTENED, Finding, position

IR = dict[str, Any]
DOCUMENT = [1, 1]  # a finding about the whole document points at its first line
METADATA = ("version", "owner", "description", "labels")


class DocumentDiff:
    """The findings between two versions (`old`, `new`) of one document of `kind`."""

    kind = ""
    label = ""  # how the metadata finding names the document: "threat document"

    def __init__(self, old: IR, new: IR) -> None:
        self.old, self.new = old, new
        self.name = new["name"]
        self.findings: list[Finding] = []

    def add(
        self, check: str, subject: str, message: str, old_at: Any = DOCUMENT, new_at: Any = DOCUMENT, **extra: Any
    ) -> None:
        """A finding; `old_at`/`new_at` None when the subject is on one side only; `confidence`
        and `tags` among `extra`, the rest its details."""
        self.findings.append(
            Finding(
                check,
                self.kind,
                self.name,
                subject,
                message,
                position(self.old.get("file", f"<{self.kind}>"), old_at) if old_at is not None else None,
                position(self.new.get("file", f"<{self.kind}>"), new_at) if new_at is not None else None,
                confidence=extra.pop("confidence", "structural"),
                tags=tuple(extra.pop("tags", ())),
                details=extra,
            )
        )

    def guard(
        self,
        stem: str,
        looser: bool,
        subject: str,
        message: str,
        old_at: Any = DOCUMENT,
        new_at: Any = DOCUMENT,
        **extra: Any,
    ) -> None:
        """`<stem>-loosened`, tagged guard-loosened, or `<stem>-tightened`, tagged guard-tightened."""
        self.add(
            f"{stem}-loosened" if looser else f"{stem}-tightened",
            subject,
            message,
            old_at,
            new_at,
            tags=(GUARD_LOOSENED,) if looser else (GUARD_TIGHTENED,),
            **extra,
        )

    def metadata(self, fields: tuple[str, ...] = METADATA) -> None:
        """`<kind>-metadata-changed` when any of `fields` changed."""
        changed = [k for k in fields if self.old.get(k) != self.new.get(k)]
        if changed:
            self.add(
                f"{self.kind}-metadata-changed",
                "",
                f"{self.label} {', '.join(changed)} changed",
                changes={k: {"before": self.old.get(k), "after": self.new.get(k)} for k in changed},
            )


__all__ = ["DOCUMENT", "DocumentDiff"]
