"""Detectors for the `profile` kind: each setting's required value against its safety order.

A profile's guards are its settings: a value moved down its safety order (a shorter log
retention, `mfa optional` after `required`) or a setting dropped lets tenants hold weaker
configurations, and is tagged `guard-loosened`; the opposite is `guard-tightened`. Whether a
lowering is acceptable is for the new version's change-log entry to say: `justified` tells
`ballast diff --require-justification` which loosened settings carry a `justification`.
"""

from __future__ import annotations

from typing import Any

from ballast.compiler.diff.findings import GUARD_LOOSENED, GUARD_TIGHTENED, Finding, position
from ballast.runtime.profile import Order, Setting

IR = dict[str, Any]
DOCUMENT = [1, 1]


def _setting(ir: IR) -> Setting:
    order = Order(ir["order"]["form"], tuple(tuple(p) for p in ir["order"]["pairs"]))  # type: ignore[misc]
    return Setting(ir["name"], ir["type"], order, ir["value"], ir["unit"], tuple(ir["after"]))


def diff_profiles(old: IR, new: IR) -> list[Finding]:
    """The findings from one version of a profile's IR entry to another."""
    name = new["name"]
    findings: list[Finding] = []

    def add(
        check: str, subject: str, message: str, old_at: Any, new_at: Any, tags: tuple[str, ...] = (), **details: Any
    ) -> None:
        findings.append(
            Finding(
                check,
                "profile",
                name,
                subject,
                message,
                position(old.get("file", ""), old_at or DOCUMENT) if old_at is not False else None,
                position(new.get("file", ""), new_at or DOCUMENT) if new_at is not False else None,
                tags=tags,
                details=details,
            )
        )

    changed = [k for k in ("version", "owner", "description", "labels", "changes") if old.get(k) != new.get(k)]
    if changed:
        add("profile-metadata-changed", "", f"profile {', '.join(changed)} changed", None, None, changed=changed)
    behaviour = [k for k in ("extends", "windows") if old.get(k) != new.get(k)]
    if behaviour:
        add("profile-changed", "", f"profile {' and '.join(behaviour)} changed", None, None, changed=behaviour)
    before = {s["name"]: s for s in old["settings"]}
    after = {s["name"]: s for s in new["settings"]}
    for key, s in before.items():
        if key not in after:
            add(
                "profile-setting-removed",
                key,
                f"setting '{key}' is no longer required (it was {_setting(s).shown(s['value'])})",
                s.get("at"),
                False,
                (GUARD_LOOSENED,),
            )
    for key, s in after.items():
        if key not in before:
            add(
                "profile-setting-added",
                key,
                f"setting '{key}' is now required: {_setting(s).shown(s['value'])}",
                False,
                s.get("at"),
                (GUARD_TIGHTENED,),
            )
            continue
        a, b = _setting(before[key]), _setting(s)
        where = (before[key].get("at"), s.get("at"))
        if (a.type, a.unit, a.order.form, set(a.order.pairs)) != (b.type, b.unit, b.order.form, set(b.order.pairs)):
            add(
                "profile-setting-changed",
                key,
                f"setting '{key}' changed its type or safety order: {a.type} `{a.order.text()}` → {b.type} `{b.order.text()}`",
                *where,
                (GUARD_LOOSENED,),
            )
            continue
        if b.comparable(b.value) != a.comparable(a.value):
            lowered = not b.order.at_least(b.comparable(b.value), a.comparable(a.value))
            verb = "lowered" if lowered else "raised"
            add(
                f"profile-setting-{verb}",
                key,
                f"setting '{key}' {verb} from {a.shown(a.value)} to {b.shown(b.value)} ({b.order.text()})",
                *where,
                (GUARD_LOOSENED if lowered else GUARD_TIGHTENED,),
                before=a.value,
                after=b.value,
            )
        if a.after != b.after:
            add(
                "profile-changed",
                key,
                f"setting '{key}' now comes after {', '.join(b.after) or 'nothing'} (was {', '.join(a.after) or 'nothing'})",
                *where,
            )
    return findings


def justified(head_ir: IR) -> set[str]:
    """The profiles of the head that may loosen settings: those whose change-log entry for their
    own version carries a `justification`."""
    out: set[str] = set()
    for profile in head_ir.get("profiles", []):
        entry = next((c for c in profile["changes"] if c["version"] == profile["version"]), None)
        if entry is not None and entry.get("justification"):
            out.add(profile["name"])
    return out
