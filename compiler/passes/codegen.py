"""Pass `codegen`: build the Python code objects of every policy from the optimized IR.

The code generator itself lives in the runtime (`ballast.runtime.codegen`), because a service
loading a bundle must rebuild the same code without the compiler. Running it here proves, at
compile time, that the IR compiles, and gives `--emit python` its text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ballast.runtime.ir import FORMAT
from ballast.runtime.policy import PolicySet

if TYPE_CHECKING:
    from ballast.compiler.pipeline import Compilation


def run(compilation: Compilation) -> None:
    compilation.ir["format"] = FORMAT
    compilation.program = PolicySet(compilation.ir, keep_ir=True)
