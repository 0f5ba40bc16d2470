"""The `ballast` command line: the table of commands, argument parsing, and running one command.

Each command is one module of this package (OPA's `cmd/` is the model), named in COMMANDS with
its line of `ballast --help`. A command module declares

- `DESCRIPTION`: the text of `ballast COMMAND --help`;
- `add_arguments(parser)`: its arguments, importing nothing heavy (the parser is built from it);
- `run(args, out, err, stdin) -> int`: the command, which imports what it needs when it runs and
  returns an exit code of `ballast.cli.exits`.

Start-up stays fast (docs/performance.md, "CLI start-up"): `--version` and `--help` import no
command module at all, and a command's declaration module is imported only when the arguments
name that command.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys
from collections.abc import Sequence
from typing import NamedTuple, TextIO

EPILOG = """exit codes: 0 success; 1 the inputs have problems (compile errors, events with
errors, files fmt would change, a bundle verify refuses); 2 the command could
not run (bad arguments, unreadable files, a bundle refused when loading); 3
internal error."""


class Command(NamedTuple):
    """One `ballast` command: its name, the module that declares and runs it, its line in `--help`."""

    name: str
    module: str
    help: str


# Every command, in the order `ballast --help` lists them.
COMMANDS = (
    Command("check", "ballast.cli.check", "type-check policy files and report every error"),
    Command("compile", "ballast.cli.compile", "compile policies into a bundle"),
    Command("sign", "ballast.cli.sign", "sign a bundle with a private key"),
    Command("verify", "ballast.cli.verify", "check a bundle's signatures against a keyring"),
    Command("eval", "ballast.cli.eval", "evaluate events against policies or a bundle"),
    Command("fmt", "ballast.cli.fmt", "format .bal files canonically"),
    Command("diff", "ballast.cli.diff", "what a change to a policy set means: semantic diff with proofs"),
    Command("explain", "ballast.cli.explain", "show why a rule fires or not for an event"),
    Command("test", "ballast.cli.test", "run policy unit tests (*.test.yaml)"),
    Command("simulate", "ballast.cli.simulate", "run a scenario in the simulated mesh and report its KPIs"),
    Command("shadow", "ballast.cli.shadow", "compare two policy sets on the same simulated worlds"),
    Command("replay", "ballast.cli.replay", "compare two policy sets on recorded telemetry"),
    Command("consume", "ballast.cli.consume", "decide events from a telemetry bus (NATS, Kafka, JSONL) into a ledger"),
    Command("audit", "ballast.cli.audit", "verify, query and export an audit ledger"),
    Command("key", "ballast.cli.key", "create signing keys, show them, check a keyring"),
    # Safety catalogs (issue 14): the three steps of a guarded action.
    Command("preflight", "ballast.cli.preflight", "what a safety catalog requires of an action; book its ticket"),
    Command("confirm", "ballast.cli.confirm", "record an approval, justification or override on a ticket"),
    Command("execute", "ballast.cli.execute", "let an action through once its controls are met"),
    # Autonomy tiers (issue 14 §2): route an intent, vote on the high tiers.
    Command("route", "ballast.cli.route", "route an intent through a governance document's autonomy tiers"),
    Command("vote", "ballast.cli.vote", "cast a vote on the ballot of a tier 3 or 4 intent"),
    # Profiles as code (issue 15): live configurations against profiles, tenants raised to them.
    Command("profile", "ballast.cli.profile", "a live configuration against a profile; raise tenants to it"),
    # The meta-loop supervisor (issue 14 §3): snapshot, decide, route, verify.
    Command("supervise", "ballast.cli.supervise", "run a cycle of the meta-loop supervisor over an audit trail"),
    Command("fleet", "ballast.cli.fleet", "plan, apply and steer a staged rollout over a fleet"),
    # The runtime as a service (issue 16): HTTP API, Prometheus metrics, live dashboard.
    Command("serve", "ballast.cli.serve", "serve a signed bundle over HTTP: API, metrics, live dashboard"),
    # Tenant maturity scoring (issue 15 §3).
    Command("score", "ballast.cli.score", "score tenants' maturity: score, badge, factor contributions"),
)
COMMAND_NAMES = tuple(c.name for c in COMMANDS)


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors exit 2 with one clear line and no traceback."""

    def error(self, message: str) -> None:  # type: ignore[override]
        from ballast.cli.exits import EXIT_USAGE  # not at start-up: `--version` imports no submodule

        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser(*, declared: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The `ballast` argument parser; imports no command's implementation (each is imported to run it).

    `declared` names the commands whose arguments are declared (their modules are imported for
    it); None declares them all. A command left out is still listed, by its name and help line,
    so help and errors read the same; only its own arguments are missing (see `_reachable`).
    """
    parser = _Parser(
        prog="ballast",
        description="Compile, check, evaluate and format Ballast policies.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version="ballast 0.1.0")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for command in COMMANDS:
        if declared is not None and command.name not in declared:
            sub.add_parser(command.name, help=command.help)
            continue
        module = importlib.import_module(command.module)
        module.add_arguments(
            sub.add_parser(
                command.name,
                help=command.help,
                description=module.DESCRIPTION,
                epilog=EPILOG,
                formatter_class=argparse.RawDescriptionHelpFormatter,
            )
        )
    return parser


def _reachable(argv: Sequence[str]) -> tuple[str, ...]:
    """The commands whose arguments parsing `argv` may read: every command named in it.

    argparse hands a command everything after its name, so only a command that appears in `argv`
    can have its arguments read; the others need only their name and help line, which COMMANDS
    holds. Naming more than the one that runs (`-h check`, a path called `test`) costs an import,
    never a different result.
    """
    return tuple(name for name in COMMAND_NAMES if name in argv)


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
    parser = build_parser(declared=_reachable(argv))
    # argparse prints to sys.stdout/sys.stderr and raises SystemExit (--help, bad arguments):
    # send its text to the given streams and return its exit code like every other outcome.
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            args = parser.parse_args(argv)
    except SystemExit as exc:
        if isinstance(exc.code, int):
            return exc.code
        from ballast.cli.exits import EXIT_OK, EXIT_USAGE

        return EXIT_OK if exc.code is None else EXIT_USAGE
    # Imported once the arguments are parsed, so that --help and --version never need them.
    from ballast.cli.exits import EXIT_INTERNAL, EXIT_OK, EXIT_USAGE

    if args.command is None:
        parser.print_help(out)
        return EXIT_USAGE
    from ballast.cli.output import warnings_to
    from ballast.runtime.errors import BallastError, InternalError

    try:
        run = importlib.import_module(COMMANDS[COMMAND_NAMES.index(args.command)].module).run
        with warnings_to(err):
            return run(args, out, err, stdin or sys.stdin)  # type: ignore[no-any-return]
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
