"""`ballast compile`: compile policy files into a bundle, or show what a pass produced."""

from __future__ import annotations

import argparse
import json
from argparse import Namespace
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO, overload

from ballast.cli.exits import EXIT_OK, EXIT_PROBLEMS
from ballast.cli.output import count, print_diagnostics
from ballast.paths import expand_policies
from ballast.runtime.errors import CompileError, UsageError, sort_diagnostics

DESCRIPTION = "Compile policy files into a bundle: the IR as JSON plus a manifest with a content fingerprint. Same inputs give byte-identical bundles when SOURCE_DATE_EPOCH is set."


class _PassNames(Sequence[str]):
    """The compiler's pass names, read from `ballast.compiler.pipeline` only when first needed.

    Building the parser must not import the compiler (docs/performance.md, "CLI start-up"); argparse
    reads a choice list only to check a value or to print help, where `%(choices)s` lists it.
    """

    def _names(self) -> list[str]:
        from ballast.compiler.pipeline import PASS_NAMES

        return PASS_NAMES

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        return self._names()[index]

    def __len__(self) -> int:
        return len(self._names())

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __contains__(self, name: object) -> bool:
        return name in self._names()


def add_arguments(comp: argparse.ArgumentParser) -> None:
    """Declare the arguments of `ballast compile`."""
    comp.add_argument("paths", nargs="+", metavar="PATH", help="policy files or directories")
    comp.add_argument("-o", "--output", metavar="BUNDLE", help="where to write the bundle (default: print nothing)")
    comp.add_argument(
        "--dump-after",
        choices=_PassNames(),
        metavar="PASS",
        help="print the IR after a pass and stop (%(choices)s)",
    )
    comp.add_argument("--emit", choices=("python", "ir"), help="print the generated Python code or the optimized IR")
    comp.add_argument("--format", choices=("text", "json"), default="text", help="diagnostics format (default: text)")


def run(args: Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    """Compile; write the bundle to --output, or print what --dump-after / --emit ask for."""
    from ballast.compiler.pipeline import compile_paths
    from ballast.runtime.bundle import dump_bundle

    paths = expand_policies(args.paths)
    try:
        compilation = compile_paths(paths, stop_after=args.dump_after)
    except CompileError as exc:
        print_diagnostics(sort_diagnostics(exc.diagnostics + exc.warnings), args.format, err)
        return EXIT_PROBLEMS
    if compilation.diagnostics:
        print_diagnostics(compilation.diagnostics, args.format, err)
    if args.dump_after:
        out.write(dump_state(compilation, args.dump_after) + "\n")
        return EXIT_OK
    if args.emit == "python":
        out.write(compilation.program.python_source() + "\n")
    elif args.emit == "ir":
        out.write(json.dumps(compilation.ir, indent=2, sort_keys=True) + "\n")
    if args.output:
        try:
            Path(args.output).write_bytes(dump_bundle(compilation.bundle))
        except OSError as exc:
            raise UsageError(f"cannot write {args.output}: {exc.strerror or exc}") from None
        manifest = compilation.bundle["manifest"]
        what = count(sum(p["rules"] for p in manifest["policies"]), "rule")
        if manifest.get("safety"):  # a bundle with safety catalogs counts their classes too
            what += ", " + count(sum(c["classes"] for c in manifest["safety"]), "safety class", "safety classes")
        err.write(f"wrote {args.output}: {what}, sha256 {manifest['fingerprint']['hash'][:16]}…\n")
    return EXIT_OK


def dump_state(compilation: Any, after: str) -> str:
    """What a pass produced, as text: the AST after parse/resolve, the IR after the rest."""
    if after in ("parse", "resolve"):
        from dataclasses import asdict, is_dataclass

        def plain(value: Any) -> Any:
            if is_dataclass(value) and not isinstance(value, type):
                return {
                    "node": type(value).__name__,
                    **{k: plain(v) for k, v in asdict(value).items() if k != "comments"},
                }
            if isinstance(value, list | tuple):
                return [plain(v) for v in value]
            return value

        if after == "parse":
            return json.dumps([plain(d) for d in compilation.documents], indent=2, default=str)
        models = [
            {
                "policy": m.document.name,
                "input": str(m.input),
                "constants": sorted(m.consts),
                "conditions": sorted(m.lets),
                "actions": {
                    name: [
                        f"{p.name}{'?' if p.optional else ''}: {p.type}" + (" = …" if p.default is not None else "")
                        for p in a.params
                    ]
                    for name, a in sorted(m.actions.items())
                },
                "rules": [r.name for r in m.rules],
            }
            for m in compilation.models
        ]
        return json.dumps(models, indent=2)
    if after == "codegen":
        return compilation.program.python_source()
    if after == "bundle":
        return json.dumps(compilation.bundle["manifest"], indent=2, sort_keys=True)
    return json.dumps(compilation.ir, indent=2, sort_keys=True)


__all__ = ["DESCRIPTION", "add_arguments", "dump_state", "run"]
