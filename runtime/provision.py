"""Applying a profile to a tenant: create it, or raise what is below the profile, never lower.

`provision` is one run of `ballast profile apply` or `ballast profile remediate`:

1. read the tenant's configuration through the adapter (`ballast.runtime.config_adapter`);
   `apply` on a tenant that does not exist creates it with every required value of the profile
   (a new tenant has no traffic to disturb: no change window applies), `remediate` refuses;
2. plan: the required value of each `unsafe` or `missing` setting, in the profile's dependency
   order (`Profile.plan`); drift (different but at least as safe) and extra keys are left alone,
   so a run never lowers a setting;
3. nothing to change: `unchanged`; `advise_only`: `advised` (the plan, nothing written); outside
   the change window of the tenant's class: `planned` (nothing written); else write the new
   configuration with compare-and-swap on the version read in step 1: `applied`. When another run
   wrote first (`VersionConflict`), start again from step 1 with what it wrote.

A run is idempotent: its result satisfies the profile, so a second run plans nothing. With a
ledger, every run is written to it (`ProfileApplied`, `ProfileRemediated`, or `ProfilePlanned`
for a plan that was not applied).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from ballast.runtime.audit import audit_entry
from ballast.runtime.config_adapter import ConfigAdapter, TenantConfig, UnknownTenant, VersionConflict
from ballast.runtime.profile import Change, Profile
from ballast.runtime.values import iso

MODES = ("apply", "remediate")
STATUSES = ("created", "applied", "unchanged", "planned", "advised")
DEFAULT_CLASS = "standard"
MAX_ATTEMPTS = 20  # compare-and-swap retries before giving up: only a storm of writers gets there


@dataclass
class Outcome:
    """What one provisioning run did to one tenant."""

    tenant: str
    profile: str
    profile_version: str
    mode: str
    status: str  # one of STATUSES
    tenant_class: str
    changes: list[Change] = field(default_factory=list)
    config_version: int | None = None  # the tenant's version after the run (None: not created)
    window: str = ""  # the change window of the tenant's class, when it has one
    attempts: int = 1

    @property
    def written(self) -> bool:
        return self.status in ("created", "applied")

    def to_json(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "profile": self.profile,
            "profile_version": self.profile_version,
            "mode": self.mode,
            "status": self.status,
            "class": self.tenant_class,
            "window": self.window or None,
            "config_version": self.config_version,
            "changes": [c.to_json() for c in self.changes],
        }


def provision(
    profile: Profile,
    adapter: ConfigAdapter,
    tenant: str,
    *,
    mode: str,
    now: float,
    advise_only: bool = False,
    tenant_class: str | None = None,
    ledger: Any = None,
) -> Outcome:
    """Run `mode` ("apply" or "remediate") of `profile` on `tenant` at time `now` (epoch
    seconds); see the module docstring. Raises UnknownTenant (remediate of a missing tenant),
    VersionConflict (after MAX_ATTEMPTS lost races) and UsageError for unreadable documents."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            outcome = _attempt(profile, adapter, tenant, mode, now, advise_only, tenant_class)
        except VersionConflict:
            continue
        outcome.attempts = attempt
        if ledger is not None:
            ledger.write(ledger_entry(outcome, now))
        return outcome
    raise VersionConflict(
        f"tenant {tenant!r}: {MAX_ATTEMPTS} other writers changed it while this run planned; try again"
    )


def _attempt(
    profile: Profile,
    adapter: ConfigAdapter,
    tenant: str,
    mode: str,
    now: float,
    advise_only: bool,
    tenant_class: str | None,
) -> Outcome:
    def outcome(status: str, config: TenantConfig, changes: list[Change], version: int | None) -> Outcome:
        window = profile.window(config.tenant_class)
        return Outcome(
            tenant,
            profile.name,
            profile.version,
            mode,
            status,
            config.tenant_class,
            changes,
            version,
            window.text() if window else "",
        )

    try:
        config, version = adapter.read(tenant)
    except UnknownTenant:
        if mode != "apply":
            raise
        config = TenantConfig(tenant, tenant_class or DEFAULT_CLASS, {})
        changes = profile.plan({})
        if advise_only:
            return outcome("advised", config, changes, None)
        created = TenantConfig(tenant, config.tenant_class, profile.applied({}))
        return outcome("created", created, changes, adapter.write(tenant, created, None))
    changes = profile.plan(config.settings)
    if not changes:
        return outcome("unchanged", config, [], version)
    if advise_only:
        return outcome("advised", config, changes, version)
    window = profile.window(config.tenant_class)
    if window is not None and not window.open_at(dt.datetime.fromtimestamp(now, dt.UTC)):
        return outcome("planned", config, changes, version)
    updated = TenantConfig(tenant, config.tenant_class, profile.applied(config.settings))
    return outcome("applied", updated, changes, adapter.write(tenant, updated, version))


def ledger_entry(outcome: Outcome, now: float) -> dict[str, Any]:
    """The audit entry of a run: `ProfileApplied` / `ProfileRemediated` for what was checked or
    written, `ProfilePlanned` for a plan left unapplied (advise-only, outside the window)."""
    if outcome.status in ("planned", "advised"):
        kind = "ProfilePlanned"
    else:
        kind = "ProfileApplied" if outcome.mode == "apply" else "ProfileRemediated"
    reason = {
        "created": "new tenant: every setting of the profile written",
        "applied": f"{len(outcome.changes)} setting(s) raised to the profile",
        "unchanged": "the tenant already satisfies the profile",
        "planned": f"outside the change window ({outcome.window}): nothing written",
        "advised": "advise-only: nothing written",
    }[outcome.status]
    event = {
        "tenant": outcome.tenant,
        "profile": outcome.profile,
        "profile_version": outcome.profile_version,
        "status": outcome.status,
        "config_version": outcome.config_version,
        "changes": [c.to_json() for c in outcome.changes],
        "at": now,
    }
    return audit_entry(
        kind,
        event,
        subject=outcome.tenant,
        actor="ballast profile",
        scope=f"profile {outcome.profile} {outcome.profile_version}",
        outcome=outcome.status,
        reason=reason,
        when=iso(now),
        how=f"ballast profile {outcome.mode}",
        why=[change_text(c) for c in outcome.changes],
    )


def change_text(change: Change) -> str:
    """`mfa: "optional" → "required" (unsafe)`; a missing setting's value before is `absent`."""
    before = "absent" if change.risk == "missing" else json.dumps(change.before, ensure_ascii=False)
    return f"{change.setting}: {before} → {json.dumps(change.after, ensure_ascii=False)} ({change.risk})"
