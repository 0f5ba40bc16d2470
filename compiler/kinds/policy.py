"""The `policy` kind: rules over one input, and the `module`s policies import.

Its stages are the policy language's own: the symbol tables and name checks of pass `resolve`
(`ballast.compiler.passes.resolve`), the checker (`ballast.compiler.checker`), the folding and
planning of pass `optimize`; at run time, `ballast.runtime.policy.CompiledPolicy`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ballast.compiler.checker import Checker
from ballast.compiler.kinds import IR
from ballast.compiler.passes.optimize import optimize_policy
from ballast.compiler.passes.resolve import check_unique_policies, resolve_policy
from ballast.dsl import ast
from ballast.dsl.format import format_document
from ballast.runtime.errors import ErrorList

if TYPE_CHECKING:
    from ballast.compiler.pipeline import Compilation


class PolicyKind:
    """A `policy` (rules evaluated per event) or a `module` (declarations it imports)."""

    name = "policy"
    keywords = ("policy", "module")
    ir_key = "policies"
    ir_required = True  # a bundle always has its policies, even none

    def resolve(self, compilation: Compilation, document: ast.Document, errors: ErrorList) -> None:
        model = resolve_policy(compilation, document, errors)
        if model is not None:  # a module is merged into the policies importing it
            compilation.resolved.setdefault(self.name, []).append(model)

    def check_across(self, compilation: Compilation, errors: ErrorList) -> None:
        check_unique_policies(compilation, errors)

    def lower(self, compilation: Compilation, errors: ErrorList) -> list[IR]:
        return [Checker(model, errors).policy() for model in compilation.resolved.get(self.name, [])]

    def optimize(self, entries: list[IR], errors: ErrorList) -> None:
        for policy in entries:
            optimize_policy(policy, errors)

    def manifest(self, entry: IR) -> IR:
        return {"name": entry["name"], "version": entry["version"], "rules": len(entry["rules"])}

    def load(self, entry: IR) -> Any:
        # Imported here: `ballast check` builds no policy and must not pay for code generation.
        from ballast.runtime.policy import CompiledPolicy

        return CompiledPolicy(entry)

    def format(self, document: ast.Document) -> str:
        return format_document(document)

    def diff(self, old: IR, new: IR, *, timeout_ms: int, solver_seconds: list[float] | None = None) -> list[Any]:
        # Imported here: only `ballast diff` pays for the solver.
        from ballast.compiler.diff.policy import Options, PolicyDiff

        diff = PolicyDiff(old, new, Options(timeout_ms))
        findings = diff.run()
        if solver_seconds is not None:
            solver_seconds.extend(diff.solver_seconds)
        return findings

    def explain(self, entry: IR) -> list[str]:
        return [f"{entry['name']}/{rule['name']}" for rule in entry["rules"]]


KIND = PolicyKind()
