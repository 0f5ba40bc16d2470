"""The two sides of `ballast diff`: a file, a folder, or `GIT_REF:PATH`, read and compiled.

A side's files are sorted out by the document types of the run
(`ballast.compiler.diff.documents`): a file that a type claims (a scenario, a configuration file
named by `--config`) is read by that type; the policy files (`.bal`, and `.yaml` that are not
the YAML twin of a `.bal`, tests or scenarios) are compiled to checked IR. A file side is one
document of either sort.

A git side reads the files of `PATH` at `REF` straight from the repository (`git ls-tree`,
`git cat-file --batch`), never checking anything out: the work tree is left alone. Its files
are read under their git names (`origin/main:catalog/motb.bal`), so every position in a
finding or an error names the revision it comes from, and imports resolve within the same
revision.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from ballast.paths import POLICY_SUFFIXES, expand_policies, is_policy_file
from ballast.runtime.errors import CompileError, UsageError

if TYPE_CHECKING:
    from ballast.compiler.diff.documents import Document, DocumentType

GIT_TIMEOUT_S = 60


@dataclass
class Side:
    """One side of a diff: what was given, the files compiled, their checked IR, and the
    documents read by the run's other document types."""

    spec: str
    files: list[str]
    ir: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # a git side's texts, by `REF:path`
    others: list[Document] = field(default_factory=list)  # scenarios, configuration files, …
    single: bool = False  # the side is one file
    declarations: dict[tuple[str, str, str], tuple[str, int, int]] = field(default_factory=dict)

    def locate(self, document: str, what: str, name: str) -> tuple[str, int, int] | None:
        """Where `document` declares `name` (`what`: "field", a dotted input field, or
        "action"): (file, line, column), or None."""
        return self.declarations.get((document, what, name))

    @property
    def documents(self) -> int:
        return sum(len(v) for v in self.ir.values() if isinstance(v, list)) + len(self.others)


@dataclass
class Listing:
    """A side's files (`list_side`), sorted out: policy files to compile, and files a document type claims
    (the type, the path relative to the side's root, the file as positions name it)."""

    policies: list[str]
    claimed: list[tuple[DocumentType, str, str]]
    single: bool
    sources: dict[str, str] = field(default_factory=dict)


class SideFailed(Exception):
    """A side did not compile (or a document of it did not read): its diagnostics, and which side."""

    def __init__(self, label: str, error: CompileError) -> None:
        super().__init__(f"the {label} side has errors")
        self.label = label
        self.error = error


def list_side(spec: str, types: Sequence[DocumentType] = ()) -> Listing:
    """A side's files, each a policy file or claimed by one of the `types`; UsageError for a path
    or revision that is not there, or a folder with nothing to read."""
    return _git_side(spec, types) if _is_git_spec(spec) else _disk_side(spec, types)


def load_side(spec: str, label: str, types: Sequence[DocumentType] = (), listing: Listing | None = None) -> Side:
    """Read one side (`label` is "base" or "head", for errors): its policies compiled through the
    check-types pass, its other documents read by the `types` that claim them (`listing`: the
    side's files, when `list_side` already sorted them out)."""
    from ballast.compiler.pipeline import compile_paths
    from ballast.runtime.reading import read_text

    if listing is None:
        listing = list_side(spec, types)
    problems = []
    others = []
    for doc_type, path, file in listing.claimed:
        text = listing.sources[file] if listing.sources else read_text(file, f"the {doc_type.name} file")
        try:
            others.append(doc_type.load(text, file, path))
        except CompileError as exc:
            problems.extend(exc.diagnostics)
    ir: dict[str, Any] = {}
    declarations: dict[tuple[str, str, str], tuple[str, int, int]] = {}
    if listing.policies:
        try:
            compilation = compile_paths(listing.policies, stop_after="check-types", sources=listing.sources or None)
            ir, declarations = compilation.ir, _declarations(compilation.documents)
        except CompileError as exc:
            problems.extend(exc.diagnostics)
    if problems:
        raise SideFailed(label, CompileError(problems))
    _refuse_duplicates(spec, others)
    return Side(spec, listing.policies, ir, listing.sources, others, listing.single, declarations)


def _refuse_duplicates(spec: str, others: list[Document]) -> None:
    """Two documents of one type with one key (two scenarios of one name) cannot be matched."""
    seen: dict[tuple[str, str], Document] = {}
    for doc in others:
        first = seen.setdefault((doc.type, doc.key), doc)
        if first is not doc:
            raise UsageError(
                f"{spec}: {doc.type} '{doc.key}' is in {first.file} and in {doc.file}: a side holds each once"
            )


def _nothing_found(types: Sequence[DocumentType]) -> str:
    return " or ".join([f"no policy files ({', '.join(POLICY_SUFFIXES)})", *(t.what for t in types)])


def _refuse_folder(spec: str, types: Sequence[DocumentType]) -> None:
    for t in types:
        why = t.in_folder()
        if why:
            raise UsageError(f"{spec}: {why}")


def _disk_side(spec: str, types: Sequence[DocumentType]) -> Listing:
    from ballast.compiler.diff.documents import claimant

    path = Path(spec)
    try:
        is_dir, is_file = path.is_dir(), path.is_file()
    except OSError:  # a name too long and the like: expand_policies says so
        is_dir = is_file = False
    if is_dir:
        _refuse_folder(spec, types)
        policies, claimed = [], []
        for p in sorted(path.rglob("*"), key=str):
            if not p.is_file():
                continue
            owner = claimant(types, p.relative_to(path).as_posix(), single=False)
            if owner is not None:
                claimed.append((owner, p.relative_to(path).as_posix(), str(p)))
            elif is_policy_file(p, root=path):
                policies.append(str(p))
        if not policies and not claimed:
            raise UsageError(f"{spec}: {_nothing_found(types)} in this directory")
        return Listing(policies, claimed, single=False)
    owner = claimant(types, path.name, single=True) if is_file else None
    if owner is not None:
        return Listing([], [(owner, path.name, spec)], single=True)
    return Listing(expand_policies([spec]), [], single=True)


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


def _git_side(spec: str, types: Sequence[DocumentType]) -> Listing:
    """The files of `REF:PATH` and their texts, keyed `REF:path` (path from the top)."""
    from ballast.compiler.diff.documents import claimant

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
    claimed: list[tuple[DocumentType, str, str]] = []
    if target in every:
        single = True
        owner = claimant(types, PurePosixPath(target).name, single=True)
        if owner is not None:
            claimed.append((owner, PurePosixPath(target).name, target))
        chosen = [] if claimed else [target]
    else:
        single = False
        root = target.rstrip("/") + "/" if target else ""
        inside = sorted(n for n in every if n.startswith(root))
        if not inside:
            raise UsageError(f"{spec}: no such file or directory at {ref}")
        _refuse_folder(spec, types)
        chosen = []
        for n in inside:
            owner = claimant(types, n[len(root) :], single=False)
            if owner is not None:
                claimed.append((owner, n[len(root) :], n))
            elif is_policy_file(PurePosixPath(n), POLICY_SUFFIXES, lambda p: str(p) in every):
                chosen.append(n)
        if not chosen and not claimed:
            raise UsageError(f"{spec}: {_nothing_found(types)} in this directory at {ref}")
    # every file of a policy suffix: imports may reach outside PATH
    wanted = sorted({n for n in every if n.endswith(POLICY_SUFFIXES)} | {n for _, _, n in claimed})
    texts = _cat_files(ref, wanted)
    return Listing(
        [f"{ref}:{n}" for n in chosen],
        [(t, rel, f"{ref}:{n}") for t, rel, n in claimed],
        single,
        {f"{ref}:{n}": t for n, t in texts.items()},
    )


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
