"""The columnar back-end: stateless policies evaluated as column operations over whole batches.

A second code generator from the same IR as `runtime.codegen` (`codegen`), a plan saying which
rules it compiles and why the others fall back (`plan`), the row path's own code for those
(`fallback`), the schema check over columns (`schema`), and the policy that ties them together
(`policy`). Optional: it needs numpy and pyarrow (`pip install 'ballast[columnar]'`); the
runtime never imports it.
"""

from __future__ import annotations

from ballast.compiler.columnar.deps import INSTALL_HINT, available, require
from ballast.compiler.columnar.policy import Batch, ColumnarPolicy

__all__ = ["INSTALL_HINT", "Batch", "ColumnarPolicy", "available", "require"]
