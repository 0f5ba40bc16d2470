"""The one document of a kind that a command runs (`ballast route --governance NAME`,
`ballast supervise --supervisor NAME`): compiled from the paths, named, or the only one."""

from __future__ import annotations

from typing import Any


def chosen_document(paths: list[str], ir_key: str, keyword: str, name: str | None) -> dict[str, Any]:
    """The IR entry of the `keyword` document called `name` among those the paths compile to, or
    the only one; raises CompileError, or UsageError naming the choice to make."""
    from ballast.compiler.pipeline import compile_paths
    from ballast.paths import expand_policies
    from ballast.runtime.errors import UsageError

    entries = compile_paths(expand_policies(paths)).ir.get(ir_key) or []
    documents = {entry["name"]: entry for entry in entries}
    if not documents:
        raise UsageError(f'{", ".join(paths)}: no {keyword} document (a `{keyword} NAME version "…" {{ … }}`)')
    if name is not None:
        if name not in documents:
            raise UsageError(f"--{keyword} {name}: no such document; there are {', '.join(sorted(documents))}")
        return documents[name]
    if len(documents) > 1:
        raise UsageError(
            f"the files hold several {keyword} documents ({', '.join(sorted(documents))}): "
            f"choose one with --{keyword} NAME"
        )
    return next(iter(documents.values()))


__all__ = ["chosen_document"]
