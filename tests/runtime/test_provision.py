"""The file adapter (atomic writes, compare-and-swap) and provisioning runs on it: apply and
remediate, windows, advise-only, the audit entries, and two runs on one tenant at once."""

from __future__ import annotations

import multiprocessing
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from profile_support import CATALOG, live_configs

from ballast.runtime.config_adapter import (
    FileConfigAdapter,
    TenantConfig,
    UnknownTenant,
    VersionConflict,
)
from ballast.runtime.errors import UsageError
from ballast.runtime.profile import Profile
from ballast.runtime.provision import provision
from ballast.runtime.values import parse_timestamp

SATURDAY = parse_timestamp("2026-12-05T03:00:00Z") or 0.0  # in the standard window
THURSDAY = parse_timestamp("2026-12-03T12:00:00Z") or 0.0  # outside it
BASELINE, SANDBOX, REGULATED = CATALOG["baseline"], CATALOG["sandbox"], CATALOG["regulated"]


class Recorder:
    """An audit sink that keeps the entries."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def write(self, entry: dict[str, Any]) -> None:
        self.entries.append(entry)


# ---- the file adapter ----


def test_write_read_and_compare_and_swap(tmp_path: Path) -> None:
    adapter = FileConfigAdapter(tmp_path)
    with pytest.raises(UnknownTenant, match="no tenant 'acme'"):
        adapter.read("acme")
    assert adapter.write("acme", TenantConfig("acme", "standard", {"mfa": "off"}), None) == 1
    with pytest.raises(VersionConflict):  # None: create only
        adapter.write("acme", TenantConfig("acme", "standard", {}), None)
    config, version = adapter.read("acme")
    assert (config.settings, config.tenant_class, version) == ({"mfa": "off"}, "standard", 1)
    assert adapter.write("acme", TenantConfig("acme", "standard", {"mfa": "required"}), 1) == 2
    with pytest.raises(VersionConflict, match="at version 2, this run read 1"):
        adapter.write("acme", TenantConfig("acme", "standard", {"mfa": "off"}), 1)
    assert adapter.read("acme")[0].settings == {"mfa": "required"}
    assert sorted(os.listdir(tmp_path)) == ["acme.json", "acme.json.lock"]  # no temporary file left


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "not JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[1, 2]", "a tenant document is a JSON object"),
        (b'{"version": "3", "settings": {}}', "'version' must be a whole number"),
        (b'{"version": 1, "settings": []}', "'settings' must be a JSON object"),
        (b'{"version": 1, "class": 7, "settings": {}}', "'class' must be a string"),
    ],
)
def test_a_bad_tenant_document_is_a_clear_error(tmp_path: Path, content: bytes, message: str) -> None:
    (tmp_path / "acme.json").write_bytes(content)
    with pytest.raises(UsageError, match=message) as caught:
        FileConfigAdapter(tmp_path).read("acme")
    assert "acme.json" in str(caught.value)


@pytest.mark.parametrize("tenant", ["../etc/passwd", "", ".hidden", "a/b", "x" * 200])
def test_a_tenant_name_cannot_escape_the_directory(tmp_path: Path, tenant: str) -> None:
    with pytest.raises(UsageError, match="is not a tenant name"):
        FileConfigAdapter(tmp_path).read(tenant)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only directory")
def test_a_directory_that_cannot_be_written_is_a_clear_error(tmp_path: Path) -> None:
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(UsageError, match=r"acme\.json: cannot write it"):
            FileConfigAdapter(tmp_path).write("acme", TenantConfig("acme", "standard", {}), None)
    finally:
        tmp_path.chmod(0o700)


def test_a_tenant_path_that_is_a_directory_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "acme.json").mkdir()
    with pytest.raises(UsageError, match=r"acme\.json: cannot read it"):
        FileConfigAdapter(tmp_path).read("acme")
    with pytest.raises(UsageError, match=r"acme\.json: cannot"):
        FileConfigAdapter(tmp_path).write("acme", TenantConfig("acme", "standard", {}), None)


def test_the_directory_must_exist(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a directory"):
        FileConfigAdapter(tmp_path / "missing")


# ---- provisioning ----


def test_apply_creates_then_changes_nothing(tmp_path: Path) -> None:
    adapter = FileConfigAdapter(tmp_path)
    ledger = Recorder()
    first = provision(BASELINE, adapter, "acme", mode="apply", now=THURSDAY, ledger=ledger)
    assert (first.status, first.config_version, first.tenant_class) == ("created", 1, "standard")
    assert adapter.read("acme")[0].settings == BASELINE.defaults()
    data = (tmp_path / "acme.json").read_bytes()
    second = provision(BASELINE, adapter, "acme", mode="apply", now=THURSDAY, ledger=ledger)
    assert (second.status, second.changes) == ("unchanged", [])
    assert (tmp_path / "acme.json").read_bytes() == data  # apply twice == apply once
    assert [e["kind"] for e in ledger.entries] == ["ProfileApplied", "ProfileApplied"]
    assert [e["outcome"] for e in ledger.entries] == ["created", "unchanged"]


def test_remediate_waits_for_the_window_and_advise_only_writes_nothing(tmp_path: Path) -> None:
    adapter = FileConfigAdapter(tmp_path)
    provision(BASELINE, adapter, "acme", mode="apply", now=THURSDAY)
    before = (tmp_path / "acme.json").read_bytes()
    ledger = Recorder()
    planned = provision(REGULATED, adapter, "acme", mode="remediate", now=THURSDAY, ledger=ledger)
    assert planned.status == "planned" and planned.changes and planned.window.startswith("standard: sat, sun")
    advised = provision(REGULATED, adapter, "acme", mode="remediate", now=SATURDAY, advise_only=True, ledger=ledger)
    assert advised.status == "advised" and advised.changes == planned.changes
    assert (tmp_path / "acme.json").read_bytes() == before
    applied = provision(REGULATED, adapter, "acme", mode="remediate", now=SATURDAY, ledger=ledger)
    assert applied.status == "applied" and applied.changes == planned.changes and applied.config_version == 2
    assert REGULATED.plan(adapter.read("acme")[0].settings) == []
    again = provision(REGULATED, adapter, "acme", mode="remediate", now=SATURDAY, ledger=ledger)
    assert again.status == "unchanged" and again.config_version == 2
    assert [e["kind"] for e in ledger.entries] == [
        "ProfilePlanned",
        "ProfilePlanned",
        "ProfileRemediated",
        "ProfileRemediated",
    ]
    why = ledger.entries[2]["narrative"]["why"]
    assert (
        why[1] == 'tls_min_version: "tls1_2" → "tls1_3" (unsafe)' and 'dlp_scanning: absent → "block" (missing)' in why
    )
    assert len(why) == 1 + len(applied.changes)


def test_remediate_refuses_an_unknown_tenant(tmp_path: Path) -> None:
    with pytest.raises(UnknownTenant, match="`ballast profile apply` creates it"):
        provision(BASELINE, FileConfigAdapter(tmp_path), "ghost", mode="remediate", now=SATURDAY)


def test_a_tenant_class_without_a_window_takes_changes_at_any_time(tmp_path: Path) -> None:
    adapter = FileConfigAdapter(tmp_path)
    provision(BASELINE, adapter, "lab", mode="apply", now=THURSDAY, tenant_class="internal")
    assert provision(SANDBOX, adapter, "lab", mode="remediate", now=THURSDAY).status == "applied"


@settings(max_examples=40, deadline=None)
@given(data=st.data(), name=st.sampled_from(sorted(CATALOG)), mode=st.sampled_from(["apply", "remediate"]))
def test_a_second_run_changes_nothing(data: st.DataObject, name: str, mode: str) -> None:
    """apply twice == apply once, remediate twice == remediate once, over random tenants."""
    profile = CATALOG[name]
    live = data.draw(live_configs(profile))
    with tempfile.TemporaryDirectory() as directory:
        adapter = FileConfigAdapter(directory)
        adapter.write("t", TenantConfig("t", "internal", live), None)
        first = provision(profile, adapter, "t", mode=mode, now=THURSDAY)
        document = (Path(directory) / "t.json").read_bytes()
        second = provision(profile, adapter, "t", mode=mode, now=THURSDAY)
        assert (second.status, second.changes, second.config_version) == ("unchanged", [], first.config_version)
        assert (Path(directory) / "t.json").read_bytes() == document
        assert first.status == ("applied" if profile.plan(live) else "unchanged")


# ---- two provisioning runs on one tenant at once ----


class RaceAdapter(FileConfigAdapter):
    """A file adapter whose first read in each thread waits for the other thread's first read,
    so both runs plan from the same version before either writes: the interleaving that loses
    an update unless the write is a compare-and-swap."""

    def __init__(self, directory: Path, barrier: threading.Barrier) -> None:
        super().__init__(directory)
        self.barrier = barrier
        self.waited: set[int] = set()

    def read(self, tenant: str) -> tuple[TenantConfig, int]:
        result = super().read(tenant)
        me = threading.get_ident()
        if me not in self.waited:
            self.waited.add(me)
            self.barrier.wait(timeout=10)
        return result


def test_two_runs_on_one_tenant_cannot_interleave(tmp_path: Path) -> None:
    start = {"mfa": "off", "log_retention": 7, "export_limit": 10**6, "theme": "dark"}
    FileConfigAdapter(tmp_path).write("acme", TenantConfig("acme", "internal", start), None)
    adapter = RaceAdapter(tmp_path, threading.Barrier(2))
    outcomes: dict[str, Any] = {}

    def run(profile: Profile) -> None:
        outcomes[profile.name] = provision(profile, adapter, "acme", mode="remediate", now=THURSDAY)

    threads = [threading.Thread(target=run, args=(p,)) for p in (SANDBOX, REGULATED)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    final, version = FileConfigAdapter(tmp_path).read("acme")
    serial = [REGULATED.applied(SANDBOX.applied(start)), SANDBOX.applied(REGULATED.applied(start))]
    assert final.settings in serial  # a state one of the two orders produces
    assert version == 3  # both wrote, one after the other
    assert sorted(o.attempts for o in outcomes.values()) == [1, 2]  # the loser planned again
    # what a lost update would have left: one run's changes over the start only
    assert final.settings not in (SANDBOX.applied(start), REGULATED.applied(start))


def _bump(directory: str, times: int) -> None:
    adapter = FileConfigAdapter(directory)
    for _ in range(times):
        while True:
            config, version = adapter.read("acme")
            config.settings["counter"] += 1
            try:
                adapter.write("acme", config, version)
                break
            except VersionConflict:
                continue


def test_writers_in_separate_processes_lose_no_update(tmp_path: Path) -> None:
    FileConfigAdapter(tmp_path).write("acme", TenantConfig("acme", "standard", {"counter": 0}), None)
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_bump, args=(str(tmp_path), 25)) for _ in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=60)
    assert [w.exitcode for w in workers] == [0, 0, 0]
    config, version = FileConfigAdapter(tmp_path).read("acme")
    assert config.settings["counter"] == 75 and version == 76
