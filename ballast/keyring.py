"""Reading a keyring document (YAML, or JSON) with every problem at its line and column.

The checks are the runtime's (`ballast.runtime.keyring.check_keyring`, which names a problem by
its path in the document, `keys[1].public_key`); this module loads the file with the positioned
YAML reader and puts each problem at the key or value its path leads to, as `file:line:col`
diagnostics with code `keyring`, like every other YAML document of Ballast. It lives above the
runtime because the runtime must not need a YAML library: a service that embeds the runtime
reads JSON keyrings with `ballast.runtime.keyring.read_keyring_json` instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ballast.dsl.yaml_reader import YamlReader
from ballast.runtime.errors import UsageError
from ballast.runtime.keyring import Keyring, KeyringProblem, check_keyring
from ballast.runtime.reading import UnreadableInput, read_text

__all__ = ["parse_keyring", "read_keyring"]


def read_keyring(path: str | Path) -> Keyring:
    """The keyring in a YAML or JSON file; raises CompileError with every problem at its
    position, or UsageError when the file cannot be read."""
    try:
        text = read_text(path, "keyring")
    except UnreadableInput as exc:
        raise UsageError(f"cannot read the keyring: {exc}") from None
    return parse_keyring(text, str(path))


def parse_keyring(text: str, file: str) -> Keyring:
    """The keyring a document's text describes; raises CompileError (code `keyring`, and `yaml`
    for text that is not YAML or repeats a key) with every problem found."""
    reader = YamlReader(text, file, code="keyring")
    reader.raise_if_problems()  # not YAML, or a key given twice: the checks below would mislead
    keyring, problems = check_keyring(reader.data, file)
    for problem in problems:
        _report(reader, problem)
    reader.raise_if_problems()
    assert keyring is not None
    return keyring


def _report(reader: YamlReader, problem: KeyringProblem) -> None:
    """Record a problem at the node its path leads to (as far as the document goes)."""
    parent: Any = reader.data
    path = list(problem.path)
    while len(path) > 1 and _has(parent, path[0]):
        parent = parent[path.pop(0)]
    step = path[0] if path and _has(parent, path[0]) else None
    hint = problem.hint
    if problem.first is not None:
        first = _line_of(reader, problem.first)
        hint = (f"{hint}; " if hint else "") + f"first given at line {first}"
    reader.error(parent, step, problem.message, hint, key=problem.at_key)


def _has(parent: Any, step: object) -> bool:
    if isinstance(parent, dict):
        return step in parent
    return isinstance(parent, list) and isinstance(step, int) and 0 <= step < len(parent)


def _line_of(reader: YamlReader, path: tuple[str | int, ...]) -> int:
    parent: Any = reader.data
    for step in path[:-1]:
        parent = parent[step]
    return reader.span(parent, path[-1]).line
