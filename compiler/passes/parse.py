"""Pass `parse`: read every given file and turn it into a document AST.

`.bal` files go through the Lark grammar, `.yaml`/`.yml` files through the YAML front-end; both
produce the same `ballast.dsl.ast.Document`. Imports are parsed later, by `resolve`, through
`load_document`, so that each file is read once however often it is imported.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ballast.dsl.parser import SyntaxProblem, parse_document
from ballast.runtime.errors import Diagnostic, Span

if TYPE_CHECKING:
    from ballast.compiler.pipeline import Compilation

YAML_SUFFIXES = (".yaml", ".yml")


def run(compilation: Compilation) -> None:
    for path in compilation.paths:
        document = load_document(compilation, path, None)
        if document is not None:
            compilation.documents.append(document)


def load_document(compilation: Compilation, path: str, at: Span | None):
    """Read and parse one file; on failure record diagnostics and return None."""
    text = compilation.sources.get(path)
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            _io_error(compilation, path, at, "file not found", "check the path")
            return None
        except IsADirectoryError:
            _io_error(compilation, path, at, "is a directory", "name the policy files in it")
            return None
        except (OSError, UnicodeDecodeError) as exc:
            _io_error(compilation, path, at, f"cannot read: {exc}", "")
            return None
        compilation.sources[path] = text
    try:
        if path.endswith(YAML_SUFFIXES):
            from ballast.dsl.yaml_front import parse_yaml_document

            return parse_yaml_document(text, path)
        return parse_document(text, path)
    except SyntaxProblem as problem:
        compilation.diagnostics.extend(problem.diagnostics)
        return None


def _io_error(compilation: Compilation, path: str, at: Span | None, message: str, hint: str) -> None:
    span = at or Span(path, 1, 1, 1, 1)
    compilation.diagnostics.append(Diagnostic("error", "io", f"{path}: {message}", span, hint))
