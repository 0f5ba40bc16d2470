"""Documents that are not compiled: the registry of their types, and the driver that diffs them.

Policies and threat documents are compiled, and `diff_ir` compares their checked IR through the
`diff` hook of their kind (`ballast.compiler.kinds`). Other files a change may touch are read,
not compiled: simulator scenarios, configuration files checked by a JSON Schema, and the kinds
to come. Each is a `DocumentType`, which says

- which files of a side are its own (`claims`, on the path relative to the side's root);
- how to read one into a `Document`, every problem at its line and column (`load`, raising
  CompileError: `ballast diff` then exits 2);
- what changed between two versions (`diff`), and what a removed or added one means.

Documents of a type are matched across the two sides by their `key` (a scenario's name, a
configuration file's path under the side's root); one only on one side is `<type>-removed` or
`<type>-added`.

The registry maps a type's name to a factory that makes the type for one run from the command's
options (`Options`), or returns None when the run does not use it: `config` needs `--schema`.
Types register themselves through `register`, so a type may live in a layer above the compiler:
the `scenario` type is the simulator's (`ballast.simulator.scenario_diff`), since only the
simulator knows what a scenario means, and the compiler may not import it (the layering test);
`ballast diff` calls its `register()` before reading the sides. The `config` type is the
compiler's own (`ballast.compiler.diff.config`, imported when first used). Registration order
is the order in which types are asked to claim a file: the first that claims it reads it, and a
file no type claims is a policy file as before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ballast.compiler.diff.findings import Finding, Position


@dataclass(frozen=True)
class Options:
    """What a run of `ballast diff` says about the documents that are not compiled."""

    schema: str | None = None  # --schema FILE: the JSON Schema of the configuration files
    configs: tuple[str, ...] = ()  # --config GLOB: which files of a folder side are configuration


@dataclass
class Document:
    """One document of a side, read and checked by its type."""

    type: str  # the type's name: "scenario", "config"
    key: str  # what matches it across the sides: a scenario's name, a config file's relative path
    file: str  # as positions show it: a path, or REF:path on a git side
    at: tuple[int, int]  # 1-based (line, column) of what names the document
    data: Any = None  # the type's own reading of the document
    path: str = ""  # relative to the side's root (a file side: the file's name)

    @property
    def position(self) -> Position:
        return Position(self.file, *self.at)


class DocumentType(Protocol):
    """One type of document that `ballast diff` reads without compiling it."""

    name: str  # "scenario": the findings' kind, and the prefix of its check ids
    what: str  # what its files are, for messages: "scenarios (*.scenario.yaml)"
    keyed_by_path: bool  # documents match by their path (so two file sides match whatever their names)

    def claims(self, path: str, *, single: bool) -> bool:
        """Whether a file is of this type: `path` is relative to the side's root (posix);
        `single` when the side is this one file."""
        ...

    def in_folder(self) -> str | None:
        """None when the type can pick its files out of a folder side; else why it cannot (a
        usage error for a folder side: `config` without `--config GLOB`)."""
        ...

    def load(self, text: str, file: str, path: str) -> Document:
        """Read one file (`file` as positions show it, `path` relative to the side's root);
        raises CompileError with every problem at its position."""
        ...

    def removed(self, old: Document) -> Finding: ...

    def added(self, new: Document) -> Finding: ...

    def diff(self, old: Document, new: Document) -> list[Finding]: ...


Factory = Callable[[Options], "DocumentType | None"]


def _config(options: Options) -> DocumentType | None:
    from ballast.compiler.diff.config import config_type

    return config_type(options)


_REGISTRY: dict[str, Factory] = {"config": _config}


def register(name: str, factory: Factory) -> None:
    """Register (or replace) the document type `name`; a new name goes last."""
    _REGISTRY[name] = factory


def registered() -> tuple[str, ...]:
    """The registered types' names, in the order they claim files."""
    return tuple(_REGISTRY)


def active(options: Options) -> tuple[DocumentType, ...]:
    """The types a run uses, in registration order."""
    made = (factory(options) for factory in _REGISTRY.values())
    return tuple(t for t in made if t is not None)


def claimant(types: Sequence[DocumentType], path: str, *, single: bool) -> DocumentType | None:
    """The first type that claims the file, if one does."""
    return next((t for t in types if t.claims(path, single=single)), None)


@dataclass
class Pairing:
    """The documents of one type on both sides, matched by key."""

    removed: list[Document] = field(default_factory=list)
    added: list[Document] = field(default_factory=list)
    common: list[tuple[Document, Document]] = field(default_factory=list)


def pair(old: Sequence[Document], new: Sequence[Document], *, by_position: bool = False) -> Pairing:
    """Match documents by key; `by_position` pairs one with one whatever their keys (both sides
    a single file: `ballast diff --schema s.json a.yaml b.yaml` compares a.yaml with b.yaml)."""
    out = Pairing()
    if by_position and len(old) == 1 and len(new) == 1:
        out.common.append((old[0], new[0]))
        return out
    before = {d.key: d for d in old}
    after = {d.key: d for d in new}
    out.removed = [d for k, d in sorted(before.items()) if k not in after]
    out.added = [d for k, d in sorted(after.items()) if k not in before]
    out.common = [(before[k], after[k]) for k in sorted(before) if k in after]
    return out


def diff_documents(
    old: Sequence[Document], new: Sequence[Document], types: Sequence[DocumentType], *, single: bool = False
) -> list[Finding]:
    """Every finding between the documents of two sides (unsorted: `sort_findings` orders them).

    `single`: both sides are one file each: documents matched by path are compared whatever
    their names (`a.yaml` with `b.yaml`); those matched by name (scenarios) still need one name.
    """
    findings: list[Finding] = []
    for t in types:
        pairing = pair(
            [d for d in old if d.type == t.name],
            [d for d in new if d.type == t.name],
            by_position=single and t.keyed_by_path,
        )
        findings.extend(t.removed(d) for d in pairing.removed)
        findings.extend(t.added(d) for d in pairing.added)
        for a, b in pairing.common:
            findings.extend(t.diff(a, b))
    return findings


# ---- positions in YAML (and JSON) files read with ruamel.yaml's round-trip loader ----


def locate(file: str, tree: Any, steps: Sequence[Any]) -> Position:
    """Where `tree[steps[0]][steps[1]]…` is written (1-based): a mapping entry at its key, a list
    item at its start; as deep as the steps lead when one is missing (the tree's start at worst)."""
    node, where = tree, _start(tree)
    for step in steps:
        found = _step(node, step)
        if found is None:
            break
        node, where = found
    return Position(file, where[0] + 1, where[1] + 1)


def _start(node: Any) -> tuple[int, int]:
    lc = getattr(node, "lc", None)
    if lc is None or lc.line is None:
        return 0, 0
    return lc.line, lc.col


def _step(node: Any, step: Any) -> tuple[Any, tuple[int, int]] | None:
    try:
        if isinstance(node, dict):
            key = step if step in node else next((k for k in node if str(k) == str(step)), None)
            if key is None:
                return None
            return node[key], tuple(node.lc.key(key))  # type: ignore[return-value]
        if isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
            return node[step], tuple(node.lc.item(step))  # type: ignore[return-value]
    except (AttributeError, KeyError, IndexError, TypeError):
        return None
    return None
