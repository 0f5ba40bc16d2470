"""`ballast profile`: a live configuration against a profile, and raising tenants to it.

PROFILE is a profile file (`.bal`, `.yaml`) or the name of a catalog profile (`baseline`,
`sandbox`, `regulated`: `ballast.profiles`). The profiles it extends are read from beside it
(`NAME.bal`, `NAME.yaml`), else from the catalog, and compiled with it, so the monotonicity proof
runs on every use. Tenants are read and written through the file adapter
(`ballast.runtime.config_adapter`) over `--config-dir`; `ballast.runtime.provision` runs
`apply` and `remediate`.
"""

from __future__ import annotations

import argparse
import json
import os
from argparse import Namespace
from importlib import resources
from typing import Any, TextIO

from ballast.cli.audit_file import opened_audit
from ballast.cli.exits import EXIT_OK, EXIT_PROBLEMS
from ballast.cli.gate import clock, compiled

DESCRIPTION = """Compare a tenant's live configuration with a profile (`diff`), raise a
tenant's settings to it (`remediate`), or create a tenant from it (`apply`).
PROFILE is a profile file (.bal or .yaml) or a catalog profile: baseline,
sandbox, regulated. docs/profiles.md has the semantics."""

DIFF = """Each delta between the live configuration (a JSON object of setting names to
values) and PROFILE, with its risk: unsafe (weaker than required, or not a
valid value), missing, drift (different but at least as safe), extra (a key the
profile does not declare). Exit 0: nothing is unsafe or missing; 1: something
is; 2: the command could not run."""
REMEDIATE = """Raise tenant T's unsafe and missing settings to PROFILE's values, in
dependency order; drift and extra keys are left alone, so nothing is ever
lowered. Outside the change window of the tenant's class the plan is shown,
not applied; --advise-only shows it and writes nothing. Running it twice
changes nothing the second time. Exit 0: the tenant satisfies the profile; 1:
changes remain (planned or advised); 2: the command could not run (unknown
tenant, unreadable configuration)."""
APPLY = """Create tenant T from PROFILE (every required value, class --class) when it
does not exist yet; an existing tenant is remediated (change windows apply to
it). Exit codes as remediate's."""

CATALOG_PROFILES = ("baseline", "sandbox", "regulated")
SUFFIXES = (".bal", ".yaml", ".yml")


def add_arguments(profile: argparse.ArgumentParser) -> None:
    """Declare `ballast profile diff|remediate|apply`."""
    sub = profile.add_subparsers(
        dest="profile_command", metavar="SUBCOMMAND", required=True, parser_class=type(profile)
    )
    common = {"epilog": profile.epilog, "formatter_class": profile.formatter_class}

    def named(p: argparse.ArgumentParser) -> None:
        p.add_argument("profile", metavar="PROFILE", help="a profile file, or baseline, sandbox, regulated")

    def fmt(p: argparse.ArgumentParser) -> None:
        p.add_argument("--format", choices=("text", "json"), default="text", help="text (default) or JSON")

    diff = sub.add_parser("diff", help="a live configuration against a profile", description=DIFF, **common)
    named(diff)
    diff.add_argument("--live", required=True, metavar="CONFIG.json", help="the live settings: a JSON object")
    fmt(diff)

    for name, text, help_ in (
        ("remediate", REMEDIATE, "raise a tenant's unsafe settings to a profile"),
        ("apply", APPLY, "create a tenant from a profile (or remediate it)"),
    ):
        p = sub.add_parser(name, help=help_, description=text, **common)
        named(p)
        p.add_argument("--tenant", required=True, metavar="T", help="the tenant: DIR/T.json")
        p.add_argument("--config-dir", required=True, metavar="DIR", help="the tenants' configurations, T.json each")
        if name == "apply":
            p.add_argument(
                "--class", dest="tenant_class", metavar="CLASS", help="a new tenant's class (default: standard)"
            )
        p.add_argument("--advise-only", action="store_true", help="show the plan; write nothing")
        p.add_argument(
            "--now", metavar="TIME", help="the time of the run (RFC 3339 or epoch seconds); default: the clock"
        )
        p.add_argument(
            "--audit",
            "--ledger",
            dest="audit",
            metavar="FILE",
            help="append the run to FILE: an audit ledger when FILE ends in .sqlite or .db, else JSON lines",
        )
        fmt(p)


@compiled
def run(args: Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    """Run the subcommand."""
    profile = load_profile(args.profile)
    if args.profile_command == "diff":
        return _diff(profile, args, out)
    return _provision(profile, args, out)


# ---- the profile and the files it extends ----


def profile_files(spec: str) -> list[str]:
    """The files to compile for PROFILE: its own, then each profile it extends (beside it, else
    in the catalog), nearest first. A profile it extends that is found nowhere is left for the
    compiler to report at the `extends`."""
    from ballast.compiler.pipeline import compile_paths
    from ballast.dsl import ast
    from ballast.runtime.errors import UsageError

    path = _existing(spec)
    if path is None:
        raise UsageError(f"PROFILE {spec}: no such file, and not a catalog profile ({', '.join(CATALOG_PROFILES)})")
    files = [path]
    while True:
        documents = compile_paths([files[-1]], stop_after="parse").documents
        parents = [i.name for d in documents for i in d.items if isinstance(i, ast.Extends)]
        if not parents:
            return files
        found = _beside(files[-1], parents[0]) or _existing(parents[0], catalog_only=True)
        if found is None or found in files:
            return files
        files.append(found)


def _existing(spec: str, *, catalog_only: bool = False) -> str | None:
    if not catalog_only and os.path.isfile(spec):
        return spec
    if spec in CATALOG_PROFILES:
        return str(resources.files("ballast.profiles").joinpath(f"{spec}.bal"))
    return None


def _beside(path: str, name: str) -> str | None:
    folder = os.path.dirname(path)
    return next(
        (os.path.join(folder, name + s) for s in SUFFIXES if os.path.isfile(os.path.join(folder, name + s))), None
    )


def load_profile(spec: str) -> Any:
    """The compiled `ballast.runtime.profile.Profile` PROFILE names; raises CompileError or UsageError."""
    from ballast.compiler.pipeline import compile_paths
    from ballast.runtime.errors import UsageError
    from ballast.runtime.profile import Profile

    files = profile_files(spec)
    compilation = compile_paths(files)
    mine = [d.name for d in compilation.documents if d.file == files[0] and d.kind == "profile"]
    if not mine:
        raise UsageError(f'{files[0]}: not a profile document (a `profile NAME version "…" {{ … }}`)')
    entry = next(e for e in compilation.ir.get("profiles", []) if e["name"] == mine[0])
    return Profile.from_ir(entry)


# ---- diff ----


def read_live(path: str) -> dict[str, Any]:
    """The live settings of --live: a JSON object; raises UsageError naming the problem."""
    from ballast.runtime.errors import UsageError
    from ballast.runtime.reading import loads, read_text

    text = read_text(path, "live configuration")
    try:
        live = loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--live {path}:{exc.lineno}:{exc.colno}: not JSON: {exc.msg}") from None
    if not isinstance(live, dict):
        raise UsageError(
            f'--live {path}: the live configuration is a JSON object of setting names to values ({{"mfa": "required"}}), '
            f"not {type(live).__name__ if live is not None else 'null'}"
        )
    return live


def _diff(profile: Any, args: Namespace, out: TextIO) -> int:
    deltas = profile.diff(read_live(args.live))
    counts = {risk: sum(1 for d in deltas if d.risk == risk) for risk in ("unsafe", "missing", "drift", "extra")}
    failing = counts["unsafe"] + counts["missing"]
    if args.format == "json":
        report = {
            "profile": profile.name,
            "version": profile.version,
            "live": args.live,
            "deltas": [d.to_json() for d in deltas],
            "summary": counts,
        }
        out.write(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    else:
        for d in deltas:
            out.write(f"{d.risk:<8} {d.message}\n")
            if d.remediation and d.risk in ("unsafe", "missing"):
                out.write(f"         remediation: {d.remediation}\n")
        summary = ", ".join(f"{n} {risk}" for risk, n in counts.items())
        verdict = "below the profile" if failing else "at least as safe as the profile"
        out.write(f"profile {profile.name} {profile.version}: {summary}: {verdict}\n")
    return EXIT_PROBLEMS if failing else EXIT_OK


# ---- remediate and apply ----


def _provision(profile: Any, args: Namespace, out: TextIO) -> int:
    from ballast.runtime.config_adapter import FileConfigAdapter, check_tenant_name
    from ballast.runtime.provision import change_text, provision

    check_tenant_name(args.tenant)
    adapter = FileConfigAdapter(args.config_dir)
    now = clock(args.now)()
    with opened_audit(args.audit) as ledger:
        outcome = provision(
            profile,
            adapter,
            args.tenant,
            mode=args.profile_command,
            now=now,
            advise_only=args.advise_only,
            tenant_class=getattr(args, "tenant_class", None),
            ledger=ledger,
        )
    if args.format == "json":
        out.write(json.dumps(outcome.to_json(), indent=2, ensure_ascii=False) + "\n")
    else:
        where = f", window {outcome.window}" if outcome.window else ""
        version = f" (config version {outcome.config_version})" if outcome.config_version is not None else ""
        out.write(
            f"tenant {outcome.tenant} (class {outcome.tenant_class}{where}): {outcome.status}{version}, "
            f"profile {outcome.profile} {outcome.profile_version}\n"
        )
        for i, change in enumerate(outcome.changes, 1):
            out.write(f"  {i}. {change_text(change)}\n")
    return EXIT_OK if outcome.status in ("created", "applied", "unchanged") else EXIT_PROBLEMS


__all__ = ["DESCRIPTION", "add_arguments", "run"]
