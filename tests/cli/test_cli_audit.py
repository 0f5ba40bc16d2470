"""`ballast eval --audit`: a trail that holds every decision printed, survives re-runs, and fails loudly."""

from __future__ import annotations

import io
import json
from pathlib import Path

from support import run_cli

REPO = Path(__file__).resolve().parents[2]
WATCHDOG = REPO / "catalog" / "watchdog.bal"
WATCHDOG_EVENTS = REPO / "catalog" / "watchdog-events.jsonl"


run = run_cli  # the CLI in-process: (exit code, stdout, stderr)


class _CheckingStdout(io.StringIO):
    """Stdout that, whenever a directive is printed, checks that the audit file holds it already."""

    def __init__(self, audit: Path) -> None:
        super().__init__()
        self.audit = audit
        self.checked = 0

    def write(self, text: str) -> int:
        for line in text.splitlines():
            for directive in json.loads(line)["directives"]:
                on_disk = self.audit.read_text(encoding="utf-8")
                assert directive["directive_id"] in on_disk, f"printed before audited: {directive['directive_id']}"
                self.checked += 1
        return super().write(text)


def test_each_directive_is_in_the_audit_file_before_it_is_printed(tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    stdout = _CheckingStdout(audit)
    run("eval", WATCHDOG, "--events", WATCHDOG_EVENTS, "--audit", audit, "--audit-sync", stdout=stdout)
    issued = [e for e in map(json.loads, audit.read_text(encoding="utf-8").splitlines()) if e["kind"] == "DirectiveIssued"]
    assert stdout.checked == len(issued) > 0


def test_re_running_appends_to_the_trail_with_unique_action_ids(tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    run("eval", WATCHDOG, "--events", WATCHDOG_EVENTS, "--audit", audit)
    first = audit.read_text(encoding="utf-8")
    run("eval", WATCHDOG, "--events", WATCHDOG_EVENTS, "--audit", audit)
    both = audit.read_text(encoding="utf-8")
    assert both.startswith(first) and len(both.splitlines()) == 2 * len(first.splitlines())
    entries = [json.loads(line) for line in both.splitlines()]
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
    assert len({e["action_id"] for e in entries}) == len(entries)


def test_an_unwritable_audit_file_exits_2_with_one_line_and_prints_nothing_unaudited() -> None:
    code, out, err = run("eval", WATCHDOG, "--events", WATCHDOG_EVENTS, "--audit", "/dev/full")
    assert code == 2
    assert err == (
        "ballast: cannot write the audit trail to /dev/full: No space left on device; "
        f"stopped at line 45 of {WATCHDOG_EVENTS}, which was not reported\n"
    )
    printed = [json.loads(line) for line in out.splitlines()]
    assert printed[-1]["line"] == 44 and not any(r["directives"] for r in printed)


def test_audit_sync_without_audit_is_a_usage_error() -> None:
    code, _, err = run("eval", WATCHDOG, "--events", WATCHDOG_EVENTS, "--audit-sync")
    assert code == 2 and err == "ballast: --audit-sync needs --audit FILE\n"
