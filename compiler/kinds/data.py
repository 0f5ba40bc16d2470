"""What the kinds whose documents are data (safety, fleet, rollout, governance, scoring, profile,
supervisor) share: the head of every entry's IR, and the hooks that are the same for all of them.

A data kind resolves each document on its own (`resolve_document`, which also checks its name
against those before it, so `check_across` has nothing left to do), formats it with the one
formatter, and leaves `optimize` alone unless it has conditions to fold.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ballast.dsl import ast
from ballast.dsl.format import format_document
from ballast.runtime.errors import ErrorList

if TYPE_CHECKING:
    from ballast.compiler.pipeline import Compilation

IR = dict[str, Any]


def document_header(document: ast.Document, format_version: int, kind: str) -> IR:
    """The fields every data entry's IR starts with, in this order (bundles are byte-stable)."""
    return {
        "format": format_version,
        "kind": kind,
        "name": document.name,
        "version": document.version.value if document.version else "",
        "file": document.file,
        "owner": document.owner,
        "description": document.description,
        "labels": {label.key: label.value for label in document.labels},
    }


class DataKind:
    """The hooks a data kind does not need to write itself; `resolve_document(compilation,
    document, errors)` is the kind's own resolver, kept in `compilation.resolved[name]`."""

    name: str
    ir_required = False  # bundles without documents of the kind stay as they were
    resolve_document: Callable[[Compilation, ast.Document, ErrorList], Any]

    def resolve(self, compilation: Compilation, document: ast.Document, errors: ErrorList) -> None:
        compilation.resolved.setdefault(self.name, []).append(type(self).resolve_document(compilation, document, errors))

    def check_across(self, compilation: Compilation, errors: ErrorList) -> None:
        pass  # names are unique: `resolve_document` checks each against those before it

    def optimize(self, entries: list[IR], errors: ErrorList) -> None:
        pass  # data: nothing to fold (kinds with conditions fold them as they lower)

    def format(self, document: ast.Document) -> str:
        return format_document(document)


__all__ = ["DataKind", "document_header"]
