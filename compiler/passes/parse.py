"""Pass `parse`: read every given file and turn it into a document AST.

`.bal` files go through the Lark grammar, `.yaml`/`.yml` files through the YAML front-end; both
produce the same `ballast.dsl.ast.Document`. Imports are parsed later, by `resolve`, through
`load_document`, so that each file is read once however often it is imported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ballast.dsl import document_cache
from ballast.dsl.problems import SyntaxProblem
from ballast.runtime.bundle import looks_like_bundle
from ballast.runtime.errors import Diagnostic, Span
from ballast.runtime.reading import UnreadableInput, read_text

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
    # Only files are cached: texts given in memory are one-offs (tools, tests).
    from_disk = path not in compilation.in_memory
    if text is None:
        try:
            text = read_text(path, "policy file")
        except UnreadableInput as exc:
            where = at if at is not None and (exc.line, exc.column) == (1, 1) else None
            where = where or Span(path, exc.line, exc.column, exc.line, exc.column + 1)
            compilation.diagnostics.append(Diagnostic("error", "io", _io_message(exc), where, exc.hint))
            return None
        compilation.sources[path] = text
    bundle = bundle_diagnostic(path, text)
    if bundle is not None:
        compilation.diagnostics.append(bundle)
        return None
    try:
        return _parse(text, path, cached=from_disk)
    except SyntaxProblem as problem:
        compilation.diagnostics.extend(problem.diagnostics)
        return None


def _parse(text: str, path: str, *, cached: bool):
    # An unchanged file is loaded as parsed by an earlier run: no lark import, no parsing.
    document = document_cache.load(path, text) if cached else None
    if document is None:
        if path.endswith(YAML_SUFFIXES):
            from ballast.dsl.yaml_front import parse_yaml_document

            document = parse_yaml_document(text, path)
        else:
            from ballast.dsl.parser import parse_document

            document = parse_document(text, path)
        if cached:
            document_cache.save(path, text, document)
    return document


def _io_message(exc: UnreadableInput) -> str:
    # "file not found" is the wording docs and tests know for a missing policy or import.
    reason = "file not found" if exc.reason == "no such file or directory" else exc.reason
    return f"{exc.path}: {reason}" if len(exc.path) <= 80 else reason


def bundle_diagnostic(path: str, text: str) -> Diagnostic | None:
    """An error for a compiled bundle given where policy source is expected, else None."""
    if not looks_like_bundle(text):
        return None
    return Diagnostic(
        "error",
        "bundle",
        f"{path} is a compiled bundle, not a policy source",
        Span(path, 1, 1, 1, 2),
        f"evaluate it alone: `ballast eval {path} --events FILE`; check, format or explain the .bal or .yaml files it was compiled from",
    )
