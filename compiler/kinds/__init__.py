"""Document kinds: what each kind of document (`policy`, `threat`, …) brings to every stage.

The passes in `ballast.compiler.pipeline.PASSES` are the same for every kind; none names one.
Each pass walks the kinds of its compilation (`Compilation.kinds`, the registry below) and calls
the kind's hook for its stage:

========================  =================  =============================================
hook                      called by          does
========================  =================  =============================================
``resolve``               pass ``resolve``   builds one document's symbol table, checks
                                             names and structure
``check_across``          pass ``resolve``   checks across the kind's documents (unique
                                             names), after every document is resolved
``lower``                 pass ``check-types`` types and lowers the resolved documents to IR
                                             (with `ballast.compiler.checker.Checker`)
``optimize``              pass ``optimize``  folds and plans the kind's IR entries
``manifest``              pass ``bundle``    one entry's line in the bundle manifest
``load``                  tools, tests       the runtime object that runs one IR entry
``format``                ``ballast fmt``    the canonical text of a document
``diff``                  ``ballast diff``   the findings between two versions of an entry
``explain``               ``ballast explain`` the names `explain` can take in an entry
========================  =================  =============================================

A hook a kind does not support yet raises `NotSupportedYet`, a `UsageError` that says so, never
an empty answer. docs/compiler.md ("Adding a document kind") is the checklist.

Kinds are registered by module name and imported when a compilation first asks for them, so
importing the pipeline stays cheap.
"""

from __future__ import annotations

import functools
import importlib
from typing import TYPE_CHECKING, Any, Protocol

from ballast.runtime.errors import ErrorList, UsageError

if TYPE_CHECKING:
    from ballast.compiler.pipeline import Compilation
    from ballast.dsl import ast

IR = dict[str, Any]

# The registered kinds, by module in this package. Their order is the order of their entries
# in the IR and in bundle manifests (policies first, as bundles have always had them).
MODULES = ("policy", "threat", "safety", "fleet", "rollout", "governance", "scoring", "profile", "supervisor")


class NotSupportedYet(UsageError):
    """A stage the document kind does not have yet (it says which)."""


def without_positions(ir: Any) -> Any:
    """An IR entry without what only says where it was written (`at`, `file`)."""
    if isinstance(ir, dict):
        return {k: without_positions(v) for k, v in ir.items() if k not in ("at", "file")}
    if isinstance(ir, list):
        return [without_positions(v) for v in ir]
    return ir


def unchanged_or_unsupported(old: IR, new: IR, message: str) -> list[Any]:
    """The diff of a kind that has no change detectors yet: no finding when only the layout
    changed (a definite answer), NotSupportedYet with `message` for any other change."""
    if without_positions(old) == without_positions(new):
        return []
    raise NotSupportedYet(message)


class DocumentKind(Protocol):
    """What one kind of document brings to each stage; see the table in the module docstring."""

    name: str  # the kind's name: "policy"
    keywords: tuple[str, ...]  # the documents' first words it reads: ("policy", "module")
    ir_key: str  # where its entries go in the IR and the manifest: "policies"
    ir_required: bool  # the key is written even when no document has the kind (the runtime reads it)

    def resolve(self, compilation: Compilation, document: ast.Document, errors: ErrorList) -> None:
        """Resolve one document (its imports included); keep what later hooks need in
        `compilation.resolved[self.name]`."""
        ...

    def check_across(self, compilation: Compilation, errors: ErrorList) -> None:
        """Checks that need every document of the kind resolved (unique names)."""
        ...

    def lower(self, compilation: Compilation, errors: ErrorList) -> list[IR]:
        """The IR entries of the resolved documents, type errors reported to `errors`."""
        ...

    def optimize(self, entries: list[IR], errors: ErrorList) -> None:
        """Fold, warn about and plan the IR entries, in place."""
        ...

    def manifest(self, entry: IR) -> IR:
        """One IR entry as listed in the bundle manifest."""
        ...

    def load(self, entry: IR) -> Any:
        """The runtime object that runs one IR entry (the runtime imports no compiler)."""
        ...

    def format(self, document: ast.Document) -> str:
        """The canonical text of a document of this kind."""
        ...

    def diff(self, old: IR, new: IR, *, timeout_ms: int, solver_seconds: list[float] | None = None) -> list[Any]:
        """The findings (`ballast.compiler.diff.findings.Finding`) from one version of an IR entry
        to another; `timeout_ms` bounds each solver query. A kind that compares conditions with
        the solver appends each comparison's time to `solver_seconds` when it is given."""
        ...

    def explain(self, entry: IR) -> list[str]:
        """The names `ballast explain` accepts in an IR entry."""
        ...


HOOKS = ("resolve", "check_across", "lower", "optimize", "manifest", "load", "format", "diff", "explain")
ATTRIBUTES = ("name", "keywords", "ir_key", "ir_required")


@functools.cache
def registry() -> tuple[DocumentKind, ...]:
    """Every registered kind, in `MODULES` order."""
    return tuple(importlib.import_module(f"{__name__}.{module}").KIND for module in MODULES)


def kind_of(keyword: str, kinds: tuple[DocumentKind, ...] | None = None) -> DocumentKind:
    """The kind that reads documents starting with `keyword` (`policy`, `module`, `threat`)."""
    for kind in kinds if kinds is not None else registry():
        if keyword in kind.keywords:
            return kind
    raise KeyError(f"no document kind reads {keyword!r} documents")
