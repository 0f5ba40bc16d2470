"""A diff report: the findings of two sides, after the team's policy on them, and its verdict.

What a team decides about findings lives in two files next to its policies, each entry with a
reason and an expiry date so that no exception outlives its review:

- a severity-override file re-levels a check (`rule-priority-changed` is cosmetic for us);
- an ignore file accepts one finding (by its key `check/document/subject`).

An entry past its expiry no longer applies, and the report says so. `--since REPORT.json`
(diff-on-diff) keeps only the findings that a previous report did not have.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from ballast.compiler.diff.findings import CHECKS, GUARD_LOOSENED, LEVELS, Finding, severity_rank
from ballast.runtime.errors import UsageError

FORMAT = "ballast-diff/1"
FAIL_ON = ("breaking", "behavioral", "cosmetic", "guard-loosened", "never")


@dataclass
class Entry:
    """One line of an override or ignore file."""

    target: str  # a check id (override) or a finding key (ignore)
    reason: str
    expires: dt.date | None
    where: str  # file:line, for messages
    level: str = ""  # overrides only


@dataclass
class Report:
    base: dict[str, Any]  # {"source", "documents"}
    head: dict[str, Any]
    findings: list[Finding]
    ignored: list[dict[str, Any]] = field(default_factory=list)
    unchanged_since: int = 0  # findings dropped because --since had them
    notes: list[str] = field(default_factory=list)  # expired entries and the like
    missing_justification: list[str] = field(default_factory=list)  # finding keys
    evidence: dict[str, Any] = field(default_factory=dict)  # runs of both sides: {"shadow": …, "replay": …}

    def counts(self) -> dict[str, int]:
        out = {level: sum(1 for f in self.findings if f.level == level) for level in LEVELS}
        out[GUARD_LOOSENED] = sum(1 for f in self.findings if GUARD_LOOSENED in f.tags)
        return out

    def failing(self, fail_on: str) -> list[Finding]:
        """The findings at or above the threshold (`--fail-on`)."""
        if fail_on == "never":
            return []
        if fail_on == GUARD_LOOSENED:
            return [f for f in self.findings if GUARD_LOOSENED in f.tags]
        limit = severity_rank(fail_on)
        return [f for f in self.findings if severity_rank(f.level) <= limit]

    def fails(self, fail_on: str) -> bool:
        return bool(self.failing(fail_on)) or bool(self.missing_justification)

    def to_json(self, fail_on: str) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "base": self.base,
            "head": self.head,
            "summary": {
                **self.counts(),
                "findings": len(self.findings),
                "fail_on": fail_on,
                "failed": self.fails(fail_on),
            },
            "findings": [
                {**f.to_json(), **({"justification": "missing"} if f.key in self.missing_justification else {})}
                for f in self.findings
            ],
            "ignored": self.ignored,
            "unchanged_since": self.unchanged_since,
            "notes": self.notes,
            **({"evidence": self.evidence} if self.evidence else {}),
        }


def apply_overrides(findings: list[Finding], entries: list[Entry], today: dt.date, notes: list[str]) -> None:
    active = {}
    for e in entries:
        if e.expires is not None and e.expires < today:
            notes.append(
                f"{e.where}: the override of {e.target} expired on {e.expires.isoformat()} and no longer applies: renew or remove it"
            )
        else:
            active[e.target] = e
    for f in findings:
        e = active.get(f.id)
        if e is not None:
            f.details = {**f.details, "overridden": {"from": f.level, "reason": e.reason}}
            f.level = e.level


def apply_ignores(
    findings: list[Finding], entries: list[Entry], today: dt.date, notes: list[str]
) -> tuple[list[Finding], list[dict[str, Any]]]:
    active = {}
    for e in entries:
        if e.expires is not None and e.expires < today:
            notes.append(
                f"{e.where}: the ignore entry for {e.target} expired on {e.expires.isoformat()} and no longer applies: renew or remove it"
            )
        else:
            active[e.target] = e
    kept, ignored = [], []
    used = set()
    for f in findings:
        e = active.get(f.key)
        if e is None:
            kept.append(f)
        else:
            used.add(f.key)
            ignored.append({"key": f.key, "reason": e.reason, "expires": e.expires.isoformat() if e.expires else None})
    for target, e in active.items():
        if target not in used:
            notes.append(f"{e.where}: the ignore entry for {target} matches no finding: remove it")
    return kept, ignored


def since(findings: list[Finding], previous_path: str) -> tuple[list[Finding], int]:
    """The findings a previous report (its JSON) did not have, and how many it had already."""
    try:
        with open(previous_path, encoding="utf-8") as f:
            previous = json.load(f)
    except OSError as exc:
        raise UsageError(f"{previous_path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{previous_path}:{exc.lineno}:{exc.colno}: not JSON: {exc.msg}") from None
    if not isinstance(previous, dict) or previous.get("format") != FORMAT:
        raise UsageError(f"{previous_path}: not a `ballast diff --format json` report (format {FORMAT})")
    seen = {_previous_key(f) for f in previous.get("findings", []) if isinstance(f, dict)}
    fresh = [f for f in findings if (f.key, f.message) not in seen]
    return fresh, len(findings) - len(fresh)


def _previous_key(f: dict[str, Any]) -> tuple[str, str]:
    key = "/".join(part for part in (f.get("id"), f.get("document"), f.get("subject")) if part)
    return key, f.get("message", "")


def read_entries(path: str, kind: str) -> list[Entry]:
    """An override file (`kind` "overrides") or an ignore file ("ignore"), every problem at its
    line and column (CompileError)."""
    from ballast.dsl.yaml_reader import Node, YamlReader
    from ballast.runtime.reading import read_text

    text = read_text(path, f"the {kind} file")  # UnreadableInput: a UsageError naming the file
    reader = YamlReader(text, path, code="diff-config")
    root = reader.root()
    if reader.loaded and not root.is_mapping:
        root.error(None, f"an {kind} file is a YAML mapping with a top-level `{kind}:` list")
    reader.raise_if_problems()
    root.keys((kind,), f"an {kind} file")

    def entry(items: Node, i: int) -> Entry:
        m = items.mapping(i, "an entry")
        line = f"{path}:{m.line}"
        if kind == "overrides":
            m.keys(("id", "level", "reason", "expires"), "an override")
            check = m.choice("id", tuple(CHECKS))
            level = m.choice("level", LEVELS)
            return Entry(check, m.string("reason"), m.get("expires", _date, None), line, level)
        m.keys(("finding", "reason", "expires"), "an ignore entry")
        key = m.string("finding")
        if key.split("/", 1)[0] not in CHECKS:
            m.error(
                "finding",
                f"'{key}' does not start with a check id",
                "write check/document/subject, as the report's `key` shows it",
            )
        return Entry(key, m.string("reason"), m.get("expires", _date, None), line)

    entries = Node.attempt(lambda: root.sequence(kind, f"'{kind}'").each(lambda n, i: entry(n, i)), [])
    reader.raise_if_problems()
    return entries


def _date(node: Any, step: object) -> dt.date:
    value = node.data[step]
    if isinstance(value, dt.date):
        return value if not isinstance(value, dt.datetime) else value.date()
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        from ballast.dsl.yaml_reader import Skip

        node.error(step, f"expires {value!r} is not a date", "write it as YYYY-MM-DD")
        raise Skip from None
