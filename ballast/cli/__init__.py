"""The `ballast` command line: argument parsing only; each command is a function in its module.

Exit codes (the same for every command):

| code | meaning                                                                  |
|------|--------------------------------------------------------------------------|
| 0    | success                                                                  |
| 1    | the inputs have problems: compile errors, events with errors, fmt diffs |
| 2    | the command could not run: bad arguments, unreadable files, bad bundle   |
| 3    | an internal error in Ballast (a bug: please report it)                   |
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys
from collections.abc import Callable, Iterator, Sequence
from types import ModuleType
from typing import TextIO, overload

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3

EPILOG = """exit codes: 0 success; 1 the inputs have problems (compile errors, events with
errors, files fmt would change); 2 the command could not run (bad arguments,
unreadable files, tampered bundle); 3 internal error."""


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors exit 2 with one clear line and no traceback."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


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


def build_parser(*, command_modules: bool = True) -> argparse.ArgumentParser:
    """The `ballast` argument parser; imports no command's implementation (each is imported to run it).

    `command_modules=False` leaves out the commands declared by COMMAND_MODULES, without importing
    them: enough for `--version` and for the commands declared here (see `_needs_command_modules`).
    """
    parser = _Parser(
        prog="ballast",
        description="Compile, check, evaluate and format Ballast policies.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version="ballast 0.1.0")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def command(name: str, help_text: str, description: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            help=help_text,
            description=description,
            epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    check = command(
        "check",
        "type-check policy files and report every error",
        "Parse and type-check policy files (.bal, .yaml); print every error and warning GCC style (file:line:col: error[code]: message).",
    )
    check.add_argument("paths", nargs="+", metavar="PATH", help="policy files or directories to check")
    check.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    check.add_argument("--werror", action="store_true", help="treat warnings as errors (exit 1)")

    comp = command(
        "compile",
        "compile policies into a bundle",
        "Compile policy files into a bundle: the IR as JSON plus a manifest with a content fingerprint. Same inputs give byte-identical bundles when SOURCE_DATE_EPOCH is set.",
    )
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

    ev = command(
        "eval",
        "evaluate events against policies or a bundle",
        "Evaluate a JSONL stream of events; print one JSON line of decisions per event.",
    )
    ev.add_argument("paths", nargs="+", metavar="PATH|BUNDLE", help="policy files, or one compiled bundle (.json)")
    ev.add_argument(
        "--events", required=True, metavar="FILE", help="JSONL events, one object per line; '-' reads standard input"
    )
    ev.add_argument(
        "--audit",
        metavar="FILE",
        help="also append the audit trail (DirectiveIssued, TelemetryGap, … with a 5W1H narrative) as JSONL to FILE; "
        "each event's entries are flushed before its line is printed",
    )
    ev.add_argument(
        "--audit-sync",
        action="store_true",
        help="fsync the audit file after each event's entries (survives a power loss; slower)",
    )
    ev.add_argument(
        "--input",
        metavar="NAME",
        help="evaluate only the policies whose input has this name (for sets that read several streams)",
    )
    ev.add_argument(
        "--format",
        choices=("json", "text"),
        default="json",
        help="json: one line per event (default); text: one line per directive",
    )

    fmt = command(
        "fmt",
        "format .bal files canonically",
        "Rewrite .bal files in their canonical form (idempotent; comments are kept).",
    )
    fmt.add_argument("paths", nargs="+", metavar="PATH", help=".bal files or directories")
    fmt.add_argument("--check", action="store_true", help="write nothing; exit 1 if any file is not formatted")
    fmt.add_argument("--diff", action="store_true", help="write nothing; print a unified diff of the changes")
    fmt.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="json: one report of every file, its diagnostics and whether it was formatted (default: text)",
    )
    fmt.add_argument("--with-text", action="store_true", help="with --format json: add each file's canonical text")

    ex = command(
        "explain",
        "show why a rule fires or not for an event",
        "Evaluate one rule for one event and print the value of every sub-condition.\n"
        "A rule with windows or time clauses is explained over a history instead:\n"
        "--events replays it through the Engine up to --at, then each key's state,\n"
        "timers, windows, cooldowns and rate limit are shown.",
    )
    ex.add_argument("paths", nargs="+", metavar="PATH", help="policy files")
    ex.add_argument("--rule", required=True, help="the rule's name (policy/rule when names repeat)")
    source = ex.add_mutually_exclusive_group(required=True)
    source.add_argument("--event", metavar="JSON", help="the event as JSON, or @FILE to read it from a file")
    source.add_argument(
        "--events", metavar="FILE", help="a stateful rule: the JSONL history to replay; '-' reads standard input"
    )
    ex.add_argument(
        "--at", metavar="TIME", help="with --events: explain the state at this event time (default: the newest event)"
    )
    ex.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")

    if command_modules:
        for module in _command_modules():
            module.add_parser(command)
    return parser


# The commands `build_parser` declares itself; every other one comes from COMMAND_MODULES.
BUILTIN_COMMANDS = ("check", "compile", "eval", "fmt", "explain")


def _needs_command_modules(argv: Sequence[str]) -> bool:
    """Whether parsing `argv` may involve a command of COMMAND_MODULES, so they must be imported.

    The top level takes only flags (-h, --help, --version, or abbreviations), so the first other
    argument is the command. Without the modules a parser still reads `--version` and the built-in
    commands exactly as the full one does; help (which lists every command), no arguments, an
    unknown command or flag, and the modules' own commands need them all.
    """
    for arg in argv:
        if not arg.startswith("-"):
            return arg not in BUILTIN_COMMANDS
        if not (len(arg) > 2 and "--version".startswith(arg)):
            return True
    return not argv


# Commands with a module of their own: each declares `add_parser(command)` and `run_<name>`.
COMMAND_MODULES = ("ballast.cli.testing", "ballast.cli.simulate", "ballast.cli.replay")


def _command_modules() -> list[ModuleType]:
    return [importlib.import_module(name) for name in COMMAND_MODULES]


def _handler(command: str) -> Callable[[argparse.Namespace, TextIO, TextIO, TextIO], int]:
    from ballast.cli import commands
    from ballast.runtime.errors import InternalError

    name = "run_" + command.replace("-", "_")
    if command in BUILTIN_COMMANDS:
        modules: list[ModuleType] = [commands]
    else:
        modules = _command_modules()  # only a command of theirs needs them imported
    for module in modules:
        if hasattr(module, name):
            return getattr(module, name)  # type: ignore[no-any-return]
    raise InternalError(f"no handler for the command {command!r}")


def main(
    argv: Sequence[str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    stdin: TextIO | None = None,
) -> int:
    """Run one command; returns its exit code (the console script exits with it)."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(command_modules=_needs_command_modules(argv))
    # argparse prints to sys.stdout/sys.stderr and raises SystemExit (--help, bad arguments):
    # send its text to the given streams and return its exit code like every other outcome.
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_OK if exc.code is None else EXIT_USAGE
    if args.command is None:
        parser.print_help(out)
        return EXIT_USAGE
    # Imported once the arguments are parsed, so that --help and --version never need it.
    from ballast.runtime.errors import BallastError, InternalError

    try:
        handler = _handler(args.command)
        return handler(args, out, err, stdin or sys.stdin)
    except InternalError as exc:
        err.write(f"ballast: internal error: {exc}\nplease report this with the input that caused it\n")
        return EXIT_INTERNAL
    except BallastError as exc:
        err.write(f"ballast: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
