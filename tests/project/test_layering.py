"""The layers import only downward: every module's imports, read with `ast`, against LAYERS.

The pipeline stages are folders (docs/compiler.md, "Layering"): `dsl/` parses, `compiler/` checks
and generates, `runtime/` evaluates, `simulator/` drives the runtime, and the `ballast` package
on top holds the public API, the policy test runner and the command line. Every import counts:
module level, inside a function, under `if TYPE_CHECKING:`, relative, and
`importlib.import_module("…")` with a literal name. An import inside a function still ties two
modules together; it only hides the tie from whoever reads the top of the file.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

REPO = Path(__file__).resolve().parents[2]


class Layer(NamedTuple):
    """The modules under `package` and what they must not import."""

    package: str
    forbidden: tuple[str, ...]  # first-party packages; "*" : anything but the standard library
    allowed: tuple[str, ...] = ()  # with "*": what it may import besides the standard library
    why: str = ""


LAYERS = (
    Layer(
        "ballast.runtime",
        ("*",),
        ("ballast.runtime", "nacl"),
        "the embeddable runtime imports only the standard library (and nacl, to verify signed bundles)",
    ),
    Layer(
        "ballast.dsl",
        ("ballast.compiler", "ballast.simulator", "ballast.cli", "ballast.policytest"),
        why="the front-end is below the compiler",
    ),
    Layer(
        "ballast.compiler",
        ("ballast.simulator", "ballast.cli", "ballast.policytest"),
        why="the compiler is below the simulator and the command line",
    ),
    Layer(
        "ballast.fleet",
        ("ballast.cli", "ballast.policytest", "ballast.simulator"),
        why="the rollout engine is a library the CLI calls; the simulator may drive it, not the reverse",
    ),
    Layer("ballast.simulator", ("ballast.cli", "ballast.policytest"), why="the simulator never imports the CLI"),
    Layer(
        "ballast.bus",
        ("ballast.cli", "ballast.policytest", "ballast.simulator", "ballast.compiler", "ballast.dsl", "ballast.fleet"),
        why="the telemetry bus hosts the runtime as any service would: it runs bundles, it never compiles",
    ),
    Layer("ballast.policytest", ("ballast.cli", "ballast.simulator"), why="the test runner is a library the CLI calls"),
    Layer(
        "ballast",
        ("ballast.cli", "ballast.simulator", "ballast.policytest"),
        why="the public API, ballast/paths.py and ballast/explain.py are below every command",
    ),
    Layer(
        "ballast.service",
        ("ballast.cli", "ballast.simulator", "ballast.policytest", "ballast.compiler", "ballast.dsl", "ballast.fleet"),
        why="the service runs the runtime beside a host: it compiles nothing and never imports the command line",
    ),
    Layer("ballast.cli", (), why="the command line is the top: it may import every layer"),
)


class Module(NamedTuple):
    """One source file as the module it installs as."""

    name: str
    path: str  # relative to the repository, for the report
    source: str


class Import(NamedTuple):
    """One imported name and the line of its import."""

    line: int
    name: str


def installed_packages() -> dict[str, Path]:
    """Each package of pyproject.toml and its folder (the stages install as `ballast.*`)."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    folders = config.get("package-dir", {})
    out = {}
    for package in config["packages"]:
        parent, rest = package, []
        while parent not in folders and "." in parent:
            parent, _, last = parent.rpartition(".")
            rest.insert(0, last)
        out[package] = REPO / folders.get(parent, parent.replace(".", "/")) / Path(*rest)
    return out


def first_party_modules() -> Iterator[Module]:
    for package, folder in sorted(installed_packages().items()):
        for file in sorted(folder.glob("*.py")):
            name = package if file.stem == "__init__" else f"{package}.{file.stem}"
            yield Module(name, str(file.relative_to(REPO)), file.read_text(encoding="utf-8"))


def imports_of(module: Module) -> Iterator[Import]:
    """Every module name `module` imports, wherever the import is, relative ones resolved."""
    is_package = module.path.endswith("__init__.py")
    package = module.name if is_package else module.name.rpartition(".")[0]
    for node in ast.walk(ast.parse(module.source, module.path)):
        if isinstance(node, ast.Import):
            yield from (Import(node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{anchor}.{base}" if base else anchor
            # `from ballast.cli import exits` imports ballast.cli.exits: name the most precise module
            yield from (Import(node.lineno, f"{base}.{alias.name}" if alias.name != "*" else base) for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield Import(node.lineno, node.args[0].value)


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def layer_of(name: str) -> Layer | None:
    """The most specific layer that `name` belongs to."""
    matching = [layer for layer in LAYERS if _within(name, layer.package)]
    return max(matching, key=lambda layer: len(layer.package)) if matching else None


def breaks(layer: Layer, imported: str) -> bool:
    if "*" in layer.forbidden:
        top = imported.split(".")[0]
        return top not in sys.stdlib_module_names and not any(_within(imported, a) for a in layer.allowed)
    return any(_within(imported, f) for f in layer.forbidden)


def violations(modules: Iterable[Module]) -> list[str]:
    """`path:line: module imports name (why)` for every import that breaks its module's layer."""
    out = []
    for module in modules:
        layer = layer_of(module.name)
        if layer is None:
            continue
        for imp in imports_of(module):
            if breaks(layer, imp.name):
                out.append(f"{module.path}:{imp.line}: {module.name} imports {imp.name} ({layer.why})")
    return sorted(out)


def test_the_layers_import_only_downward() -> None:
    modules = list(first_party_modules())
    assert len(modules) > 50, "the module walk found too few files: is pyproject.toml's layout read right?"
    found = violations(modules)
    assert not found, "imports against the layering:\n" + "\n".join(found)


def test_every_stage_is_walked() -> None:
    walked = {m.name for m in first_party_modules()}
    for layer in LAYERS:
        assert any(_within(name, layer.package) and name != "ballast" for name in walked), layer.package


@pytest.mark.parametrize(
    ("name", "source", "line", "imported"),
    [
        ("ballast.runtime.fake", "import json\nimport lark\n", 2, "lark"),
        ("ballast.runtime.fake", "def f():\n    from ballast.compiler import pipeline\n", 2, "ballast.compiler.pipeline"),
        ("ballast.runtime.fake", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import numpy\n", 3, "numpy"),
        ("ballast.dsl.fake", "def f():\n    from ..compiler import pipeline\n", 2, "ballast.compiler.pipeline"),
        ("ballast.compiler.passes.fake", "import importlib\nimportlib.import_module('ballast.simulator.run')\n", 2, "ballast.simulator.run"),
        ("ballast.simulator.fake", "\nfrom ballast.cli import exits\n", 2, "ballast.cli.exits"),
        ("ballast.fake", "from ballast.cli.check import run\n", 1, "ballast.cli.check.run"),
        ("ballast.service.fake", "from ballast.compiler.pipeline import compile_paths\n", 1, "ballast.compiler.pipeline.compile_paths"),
        ("ballast.bus.fake", "from ballast.compiler import pipeline\n", 1, "ballast.compiler.pipeline"),
        ("ballast.runtime.fake", "from ballast.bus import Consumer\n", 1, "ballast.bus.Consumer"),
    ],
    ids=["runtime-third-party", "runtime-in-function", "runtime-type-checking", "dsl-relative", "compiler-importlib",
         "simulator-cli", "api-cli", "service-compiler", "bus-compiler", "runtime-bus"],
)
def test_a_violating_module_is_reported_with_its_line(name: str, source: str, line: int, imported: str) -> None:
    path = name.replace(".", "/") + ".py"
    assert violations([Module(name, path, source)]) == [
        f"{path}:{line}: {name} imports {imported} ({layer_of(name).why})"  # type: ignore[union-attr]
    ]


def test_what_a_layer_may_import_is_not_reported() -> None:
    allowed = [
        Module("ballast.runtime.fake", "runtime/fake.py", "import json\nimport nacl.signing\nfrom . import errors\n"),
        Module("ballast.simulator.fake", "simulator/fake.py", "import ballast\nfrom ballast.paths import expand_policies\n"),
        Module("ballast.cli.fake", "ballast/cli/fake.py", "from ballast.simulator import run\n"),
    ]
    assert violations(allowed) == []
