"""The compiler: a named, ordered list of passes and the driver that runs them.

Each pass is a module in `ballast.compiler.passes` with one job and a `run(compilation)`
function. The driver runs them in order, times each, and stops after the first pass that
reports an error, so later passes may assume the invariants earlier ones establish.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ballast.compiler.kinds import DocumentKind, kind_of, registry
from ballast.runtime.errors import CompileError, Diagnostic, InternalError, UsageError, sort_diagnostics


@dataclass
class Compilation:
    """Everything the passes read and write while compiling one policy set."""

    paths: list[str]
    sources: dict[str, str] = field(default_factory=dict)
    in_memory: set[str] = field(default_factory=set)  # paths whose text was given, not read from disk
    documents: list[Any] = field(default_factory=list)  # ballast.dsl.ast.Document, given paths
    modules: dict[str, Any] = field(default_factory=dict)  # imported documents by path
    # The document kinds the passes walk (ballast.compiler.kinds); each resolves its documents
    # into `resolved[kind.name]` and lowers them into `ir[kind.ir_key]`.
    kinds: tuple[DocumentKind, ...] = field(default_factory=registry)
    resolved: dict[str, list[Any]] = field(default_factory=dict)
    ir: dict[str, Any] = field(default_factory=dict)  # {"policies": [...], ...}: checked, then optimized
    program: Any = None  # ballast.runtime.PolicySet
    bundle: dict[str, Any] | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    source_date_epoch: int | None = None

    @property
    def models(self) -> list[Any]:
        """The resolved policies (`resolve.PolicyModel`), one per policy document."""
        return self.resolved.get("policy", [])

    def kind_of(self, document: Any) -> DocumentKind:
        """The kind that reads `document` (a `ballast.dsl.ast.Document`)."""
        return kind_of(document.kind, self.kinds)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "warning"]


# No pass names a document kind: each walks `compilation.kinds` and calls the kind's hook.
# Order matters: resolve needs every document parsed (imports included), check_types needs
# every name resolved, optimize folds only type-correct IR, codegen builds from optimized IR,
# and the bundle fingerprints the IR that codegen proved compiles.
def _pass(module: str) -> Callable[[Compilation], None]:
    """The `run` of a pass module, imported when the pass first runs: `ballast check` stops after
    optimize and never pays for importing code generation and bundling."""

    def run(compilation: Compilation) -> None:
        importlib.import_module(f"ballast.compiler.passes.{module}").run(compilation)

    run.__qualname__ = f"{module}.run"
    return run


PASSES: list[tuple[str, Callable[[Compilation], None]]] = [
    ("parse", _pass("parse")),
    ("resolve", _pass("resolve")),
    ("check-types", _pass("check_types")),
    ("optimize", _pass("optimize")),
    ("codegen", _pass("codegen")),
    ("bundle", _pass("bundle")),
]
PASS_NAMES = [name for name, _ in PASSES]

# Passes after which the driver goes on despite errors, so one run reports every error of a
# file: check-types reads an unknown name or action as `any`, which stays silent downstream.
CONTINUE_AFTER_ERRORS = {"resolve"}


def compile_paths(
    paths: Sequence[str],
    *,
    stop_after: str | None = None,
    source_date_epoch: int | None = None,
    sources: dict[str, str] | None = None,
) -> Compilation:
    """Run the passes over the files; raises CompileError with every error of the failing pass.

    `sources` may hold the text of files instead of reading them from disk (for tests and tools).
    Warnings are kept on the returned compilation.
    """
    if stop_after is not None and stop_after not in PASS_NAMES:
        raise ValueError(f"unknown pass {stop_after!r}; passes are {', '.join(PASS_NAMES)}")
    compilation = Compilation(paths=list(paths), source_date_epoch=source_date_epoch)
    if sources:
        compilation.sources.update(sources)
        compilation.in_memory.update(sources)
    for name, run in PASSES:
        started = time.perf_counter()
        try:
            run(compilation)
        except (CompileError, UsageError):  # UsageError: a limit set wrongly in the environment
            raise
        except Exception as exc:  # a bug in a pass must not surface as a raw traceback
            raise InternalError(f"compiler pass {name!r} failed: {exc!r}") from exc
        compilation.timings[name] = time.perf_counter() - started
        if compilation.errors and name not in CONTINUE_AFTER_ERRORS:
            raise PassFailed(attach_source_lines(compilation.diagnostics, compilation.sources), compilation)
        if name == stop_after:
            break
    compilation.diagnostics = attach_source_lines(compilation.diagnostics, compilation.sources)
    if compilation.program is not None:
        compilation.program.warnings = compilation.warnings
    return compilation


class PassFailed(CompileError):
    """The CompileError of `compile_paths`: also holds what the passes had read and built.

    `compilation.documents` are the files that parsed, so a report can count what it checked
    even when the check failed.
    """

    def __init__(self, diagnostics: list[Diagnostic], compilation: Compilation) -> None:
        super().__init__(diagnostics)
        self.compilation = compilation


def attach_source_lines(diagnostics: list[Diagnostic], sources: dict[str, str]) -> list[Diagnostic]:
    """Fill in the source line under each diagnostic so it can draw its caret."""
    from dataclasses import replace

    out = []
    for d in sort_diagnostics(diagnostics):
        text = sources.get(d.span.file)
        if text is not None and not d.source_line:
            lines = text.split("\n")
            if 1 <= d.span.line <= len(lines):
                d = replace(d, source_line=lines[d.span.line - 1])
        out.append(d)
    return out
