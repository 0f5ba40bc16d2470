"""Ballast: rules and configuration as code for the control tower of a service mesh.

Compile policies once, evaluate events many times:

    >>> import ballast
    >>> overloaded = ballast.compile_expression(
    ...     "load > 0.8 && risk > 80", {"load": "float", "risk": "float"})
    >>> overloaded({"load": 0.92, "risk": 83.0})
    True

`ballast.compile(paths)` turns policy files into a `PolicySet`; `ballast.load(bundle)` loads a
compiled bundle with the runtime alone; `ballast.Engine(policy_set)` runs the rules with time
clauses in event time. Compiler modules are imported on first use, so
`import ballast.runtime` stays free of the compiler's dependencies.

Every name is imported on first use, the runtime's too: `import ballast` is the first thing the
`ballast` command runs, and `ballast --version` must not pay for loading the runtime
(docs/performance.md, "CLI start-up").
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ballast.keyring import read_keyring
    from ballast.runtime import Directive, Engine, PolicySet, Problem, Result
    from ballast.runtime.errors import (
        BallastError,
        BundleError,
        CompileError,
        Diagnostic,
        EvaluationError,
        InternalError,
        UsageError,
    )
    from ballast.runtime.keyring import Keyring
    from ballast.runtime.ledger_verify import Verification as LedgerVerification
    from ballast.runtime.signing import verify

__version__ = "0.1.0"

# The re-exported names and the module that defines each; `__getattr__` imports it on first use.
_LAZY = {
    "Directive": "ballast.runtime",
    "Engine": "ballast.runtime",
    "PolicySet": "ballast.runtime",
    "Problem": "ballast.runtime",
    "Result": "ballast.runtime",
    "BallastError": "ballast.runtime.errors",
    "BundleError": "ballast.runtime.errors",
    "CompileError": "ballast.runtime.errors",
    "Diagnostic": "ballast.runtime.errors",
    "EvaluationError": "ballast.runtime.errors",
    "InternalError": "ballast.runtime.errors",
    "UsageError": "ballast.runtime.errors",
    "Keyring": "ballast.runtime.keyring",
    "read_keyring": "ballast.keyring",
    "verify": "ballast.runtime.signing",
}


def __getattr__(name: str) -> Any:
    """Import a re-exported name, or the `runtime` subpackage, the first time it is read."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    elif name == "runtime":  # `import ballast; ballast.runtime.X` worked when it was imported eagerly
        value = importlib.import_module("ballast.runtime")
    else:
        raise AttributeError(f"module 'ballast' has no attribute {name!r}")
    globals()[name] = value  # later reads are plain global lookups
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


def compile_expression(
    source: str, schema: Mapping[str, str], *, validate: bool = False
) -> Callable[[Mapping[str, Any]], Any]:
    """Compile one expression against a schema into a function of an event.

    `schema` maps field names to types written as in the DSL (`"float"`, `"int"`,
    `"list<string>"`, `"float in [0, 1]"`, `"enum(\\"a\\", \\"b\\")"`; a trailing `?` marks a field
    optional). Raises CompileError (with `.line` and `.column`) for a malformed or ill-typed
    expression; the returned function raises EvaluationError when evaluation faults.

    By default the function trusts the event's types, as hand-written code does, and costs the
    same; with `validate=True` it first checks the event against the schema (missing, unknown,
    wrongly typed or out-of-range fields raise EvaluationError) at the price of that check.
    """
    from ballast.compiler.expression import compile_expression as _compile

    return _compile(source, schema, validate=validate)


def compile(paths: Sequence[str | Path], *, sources: Mapping[str, str] | None = None) -> PolicySet:
    """Compile policy files (`.bal` or `.yaml`) into a policy set; raises CompileError."""
    from ballast.compiler.pipeline import compile_paths

    compilation = compile_paths([str(p) for p in paths], sources=dict(sources) if sources else None)
    return compilation.program


def load(
    path: str | Path,
    *,
    trust: Keyring | str | Path | None = None,
    allow_unsigned: bool = False,
    role: str | None = None,
    now: float | None = None,
) -> PolicySet:
    """Load a compiled bundle that the caller's keyring trusts; raises BundleError if it is
    unreadable, was modified, or is not trusted (`reason` names what failed).

    `trust` is a Keyring or the path of a keyring (YAML, or JSON: a `.json` keyring is read with
    the standard library only, as the runtime reads it). The bundle's signatures must satisfy it
    for `role` (the keyring's `default_role` when None), with validity dates checked at `now`
    (the clock when None). Without `trust`, only `allow_unsigned=True` loads the bundle, unverified,
    with a warning on the `ballast.runtime.signing` logger: for development. docs/security.md
    describes what each check stops.
    """
    from ballast.runtime import load_bundle

    return load_bundle(path, trust=_keyring(trust), allow_unsigned=allow_unsigned, role=role, now=now)


def verify_ledger(
    path: str | Path,
    *,
    trust: Keyring | str | Path | None = None,
    role: str | None = None,
    now: float | None = None,
) -> LedgerVerification:
    """Verify an audit ledger: its hash chain, and with `trust` that every checkpoint is signed
    by a key the keyring trusts for `role` (`LedgerWriter` when None) at `now` (the clock when
    None). Tampering is reported in the result (`ok`, `first_bad`, `findings`, `signers`), never
    raised; LedgerError when the file is not a readable ledger, UsageError for a keyring without
    the role. `trust` is read as `load` reads it. docs/ledger.md describes what is checked.
    """
    from ballast.runtime.ledger_read import verify_ledger as verify_ledger_file

    return verify_ledger_file(path, trust=_keyring(trust), role=role, now=now)


def _keyring(trust: Keyring | str | Path | None) -> Keyring | str | Path | None:
    """A keyring path read here unless it is JSON, which the runtime reads with the standard library."""
    if isinstance(trust, str | Path) and Path(trust).suffix.lower() != ".json":
        from ballast.keyring import read_keyring

        return read_keyring(trust)
    return trust


__all__ = [
    "BallastError",
    "BundleError",
    "CompileError",
    "Diagnostic",
    "Directive",
    "Engine",
    "EvaluationError",
    "InternalError",
    "Keyring",
    "PolicySet",
    "Problem",
    "Result",
    "UsageError",
    "__version__",
    "compile",
    "compile_expression",
    "load",
    "read_keyring",
    "verify",
    "verify_ledger",
]
