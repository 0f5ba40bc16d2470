"""Pass `check-types`: type every expression against the declared schema and lower it to IR.

Each document kind lowers its resolved documents with the type checker
(`ballast.compiler.checker`); the IR gets one list per kind (`ir["policies"]`, `ir["threats"]`).
All type errors of a file are reported in one run: a node with an error gets the type `any`,
which is compatible with everything, so one mistake does not cascade into many.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ballast.runtime.errors import ErrorList

if TYPE_CHECKING:
    from ballast.compiler.pipeline import Compilation


def run(compilation: Compilation) -> None:
    errors = ErrorList()
    compilation.ir = {}
    for kind in compilation.kinds:
        entries = kind.lower(compilation, errors)
        if entries or kind.ir_required:  # a kind without documents leaves no trace in the bundle
            compilation.ir[kind.ir_key] = entries
    compilation.diagnostics.extend(errors.items)
