"""The one exception the front-ends raise, in a module of its own so that code which only catches
it (the parse pass, on a document-cache hit) does not import lark."""

from __future__ import annotations

from ballast.runtime.errors import Diagnostic


class SyntaxProblem(Exception):
    """Carries positioned diagnostics out of a front-end (the only exception they raise)."""

    def __init__(self, diagnostic: Diagnostic, *more: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic
        self.diagnostics = [diagnostic, *more]
