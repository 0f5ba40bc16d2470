"""The two sides of `ballast diff`: a file, a folder, or `GIT_REF:PATH`, compiled to checked IR.

A git side reads the policy files of `PATH` at `REF` straight from the repository (`git ls-tree`,
`git cat-file --batch`), never checking anything out: the work tree is left alone. Its files
are compiled under their git names (`origin/main:catalog/motb.bal`), so every position in a
finding or an error names the revision it comes from, and imports resolve within the same
revision.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ballast.paths import POLICY_SUFFIXES, expand_policies, is_policy_file
from ballast.runtime.errors import CompileError, UsageError

GIT_TIMEOUT_S = 60


@dataclass
class Side:
    """One side of a diff: what was given, the files compiled, and their checked IR."""

    spec: str
    files: list[str]
    ir: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # a git side's texts, by `REF:path`
    declarations: dict[tuple[str, str, str], tuple[str, int, int]] = field(default_factory=dict)

    def locate(self, document: str, what: str, name: str) -> tuple[str, int, int] | None:
        """Where `document` declares `name` (`what`: "field", a dotted input field, or
        "action"): (file, line, column), or None."""
        return self.declarations.get((document, what, name))

    @property
    def documents(self) -> int:
        return sum(len(v) for v in self.ir.values() if isinstance(v, list))


class SideFailed(Exception):
    """A side did not compile: its diagnostics, and which side it was."""

    def __init__(self, label: str, error: CompileError) -> None:
        super().__init__(f"the {label} side does not compile")
        self.label = label
        self.error = error


def load_side(spec: str, label: str) -> Side:
    """Compile one side (`label` is "base" or "head", for errors) through the check-types pass."""
    from ballast.compiler.pipeline import compile_paths

    sources: dict[str, str] = {}
    if _is_git_spec(spec):
        files, sources = _git_files(spec)
    else:
        files = expand_policies([spec])
    try:
        compilation = compile_paths(files, stop_after="check-types", sources=sources or None)
    except CompileError as exc:
        raise SideFailed(label, exc) from None
    return Side(spec, files, compilation.ir, sources, _declarations(compilation.documents))


def _declarations(documents: list[Any]) -> dict[tuple[str, str, str], tuple[str, int, int]]:
    """The positions of input fields and actions of each document, which the IR does not keep:
    findings about them point at their declarations."""
    from ballast.dsl import ast

    out: dict[tuple[str, str, str], tuple[str, int, int]] = {}

    def fields(document: Any, items: Any, prefix: str) -> None:
        for f in items:
            out[(document.name, "field", prefix + f.name)] = (document.file, f.span.line, f.span.column)
            inner = getattr(f.type, "base", f.type)  # a ranged type wraps its base
            if isinstance(inner, ast.RecordType):
                fields(document, inner.fields, prefix + f.name + ".")

    for document in documents:
        for decl in document.of(ast.Input):
            fields(document, decl.fields, "")
        for decl in document.of(ast.ActionDecl):
            out[(document.name, "action", decl.name)] = (document.file, decl.span.line, decl.span.column)
    return out


def on_disk(side: Side, scratch: str) -> list[str]:
    """Paths on disk of the side's files, for tools that read files (the simulator): a git side
    is written under `scratch`, its files at their paths in the repository."""
    if not side.sources:
        return list(side.files)
    root = Path(scratch) / "side"
    for name, text in side.sources.items():
        target = root / name.split(":", 1)[1]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return [str(root / name.split(":", 1)[1]) for name in side.files]


def _is_git_spec(spec: str) -> bool:
    """`REF:PATH` when the text before the first colon is not itself a path on disk."""
    if ":" not in spec or os.path.exists(spec):
        return False
    ref = spec.split(":", 1)[0]
    return bool(ref) and not os.path.exists(ref)


def _git(*args: str, stdin: bytes | None = None) -> bytes:
    try:
        done = subprocess.run(["git", *args], input=stdin, capture_output=True, timeout=GIT_TIMEOUT_S, check=False)
    except FileNotFoundError:
        raise UsageError("git is not installed: a side written REF:PATH needs it") from None
    except subprocess.TimeoutExpired:
        raise UsageError(f"git {' '.join(args[:2])} took more than {GIT_TIMEOUT_S} s") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise _GitError(message[-1] if message else f"git {args[0]} failed")
    return done.stdout


class _GitError(Exception):
    pass


def _git_files(spec: str) -> tuple[list[str], dict[str, str]]:
    """The policy files of `REF:PATH` and their texts, keyed `REF:path` (path from the top)."""
    ref, path = spec.split(":", 1)
    try:
        _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except _GitError:
        raise UsageError(
            f"{spec}: '{ref}' is not a git revision here (a branch, tag or commit; `git fetch` it first?)"
        ) from None
    prefix = _git("rev-parse", "--show-prefix").decode().strip()
    target = str(PurePosixPath(prefix) / path) if path not in ("", ".", "./") else prefix.rstrip("/")
    target = os.path.normpath(target).replace(os.sep, "/") if target else ""
    target = "" if target == "." else target  # `HEAD:..` from a folder: the whole tree
    listing = _git("ls-tree", "-r", "--full-tree", "--name-only", "-z", ref).decode("utf-8", "replace").split("\0")
    every = {name for name in listing if name}
    if target in every:
        chosen = [target]
    else:
        inside = [n for n in every if not target or n.startswith(target.rstrip("/") + "/")]
        if not inside:
            raise UsageError(f"{spec}: no such file or directory at {ref}")
        chosen = sorted(
            n for n in inside if is_policy_file(PurePosixPath(n), POLICY_SUFFIXES, lambda p: str(p) in every)
        )
        if not chosen:
            raise UsageError(f"{spec}: no policy files ({', '.join(POLICY_SUFFIXES)}) in this directory at {ref}")
    # every file of a policy suffix: imports may reach outside PATH
    wanted = sorted(n for n in every if n.endswith(POLICY_SUFFIXES))
    texts = _cat_files(ref, wanted)
    return [f"{ref}:{n}" for n in chosen], {f"{ref}:{n}": t for n, t in texts.items()}


def _cat_files(ref: str, names: list[str]) -> dict[str, str]:
    """The texts of many blobs of one revision in one `git cat-file --batch` run."""
    request = "".join(f"{ref}:{n}\n" for n in names).encode()
    out = _git("cat-file", "--batch", stdin=request)
    texts: dict[str, str] = {}
    position = 0
    for name in names:
        end = out.index(b"\n", position)
        header = out[position:end].split()
        position = end + 1
        if len(header) < 3 or header[1] != b"blob":
            continue
        size = int(header[2])
        texts[name] = out[position : position + size].decode("utf-8", "replace")
        position += size + 1
    return texts
