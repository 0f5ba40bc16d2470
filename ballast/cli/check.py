"""`ballast check`: parse and type-check policy files, print every error and warning."""

from __future__ import annotations

import argparse
from argparse import Namespace
from typing import Any, TextIO

from ballast.cli.exits import EXIT_OK, EXIT_PROBLEMS
from ballast.cli.output import count, print_diagnostics
from ballast.paths import expand_policies
from ballast.runtime.errors import CompileError, Diagnostic, sort_diagnostics

DESCRIPTION = "Parse and type-check policy files (.bal, .yaml); print every error and warning GCC style (file:line:col: error[code]: message)."


def add_arguments(check: argparse.ArgumentParser) -> None:
    """Declare the arguments of `ballast check`."""
    check.add_argument("paths", nargs="+", metavar="PATH", help="policy files or directories to check")
    check.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    check.add_argument("--werror", action="store_true", help="treat warnings as errors (exit 1)")


def run(args: Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    """Check the policies; exit 1 on an error (or, with --werror, a warning)."""
    # The compiler is imported to run, never to declare the arguments (docs/performance.md).
    from ballast.compiler.pipeline import PassFailed, attach_source_lines, compile_paths
    from ballast.compiler.prove import prove

    paths = expand_policies(args.paths)
    try:
        compilation = compile_paths(paths, stop_after="optimize")
    except PassFailed as exc:
        diagnostics = sort_diagnostics(exc.diagnostics + _warnings_of(exc))
        print_diagnostics(diagnostics, args.format, out, check_summary(diagnostics, exc.compilation.documents))
        return EXIT_PROBLEMS
    # The solver's proofs (never, shadowed, conflict) on policies that compiled: docs/cli.md.
    compilation.diagnostics = attach_source_lines(compilation.diagnostics + prove(compilation), compilation.sources)
    summary = check_summary(compilation.diagnostics, compilation.documents)
    print_diagnostics(compilation.diagnostics, args.format, out, summary)
    if args.format == "text" and not compilation.diagnostics:
        modules = f", {count(summary['modules'], 'module')}" if summary["modules"] else ""
        modules += f", {count(summary['threats'], 'threat')}" if summary["threats"] else ""
        modules += f", {count(summary['fleets'], 'fleet')}" if summary["fleets"] else ""
        modules += f", {count(summary['rollouts'], 'rollout')}" if summary["rollouts"] else ""
        modules += f", {count(summary['governance'], 'governance document')}" if summary["governance"] else ""
        modules += f", {count(summary['scoring'], 'scoring document')}" if summary["scoring"] else ""
        modules += f", {count(summary['profiles'], 'profile')}" if summary["profiles"] else ""
        modules += f", {count(summary['supervisors'], 'supervisor')}" if summary["supervisors"] else ""
        out.write(
            f"ok: {count(summary['policies'], 'policy', 'policies')}, {count(summary['rules'], 'rule')}{modules}\n"
        )
    if args.werror and compilation.warnings:
        return EXIT_PROBLEMS
    return EXIT_OK


def check_summary(diagnostics: list[Diagnostic], documents: list[Any]) -> dict[str, int]:
    """The counts `check` reports: findings, and the documents named on the command line that parsed.

    Imported modules are not counted: they are part of the policies that import them.
    """
    from ballast.dsl import ast

    errors = sum(1 for d in diagnostics if d.severity == "error")
    policies = [d for d in documents if d.kind == "policy"]
    return {
        "errors": errors,
        "warnings": len(diagnostics) - errors,
        "policies": len(policies),
        "rules": sum(len(p.of(ast.Rule)) for p in policies),
        "modules": sum(1 for d in documents if d.kind == "module"),
        "threats": sum(1 for d in documents if d.kind == "threat"),
        "fleets": sum(1 for d in documents if d.kind == "fleet"),
        "rollouts": sum(1 for d in documents if d.kind == "rollout"),
        "governance": sum(1 for d in documents if d.kind == "governance"),
        "scoring": sum(1 for d in documents if d.kind == "scoring"),
        "profiles": sum(1 for d in documents if d.kind == "profile"),
        "supervisors": sum(1 for d in documents if d.kind == "supervisor"),
    }


def _warnings_of(exc: CompileError) -> list[Diagnostic]:
    return exc.warnings


__all__ = ["DESCRIPTION", "add_arguments", "check_summary", "run"]
