"""`ballast check`'s proofs: rules that never fire, shadowed rules and contradictory actions.

The optimizer's warnings (`passes/optimize.py`) are syntactic: bounds of `field OP literal`
conjuncts. This step asks the SMT solver (`compiler/diff/solver.py`) the same questions about
whole conditions, over a policy's typed inputs and declared ranges, with evaluation faults modelled
(a rule whose condition faults does not fire):

* `never`: no input within the declared ranges makes the rule's condition hold. The message
  names the conjuncts and ranges the proof needs (the solver's unsat core).
* `shadowed` (stateless rules): a rule R is shadowed by a rule S when S ranks ahead of R (a higher
  priority, or the same priority and earlier in the file: the order of their directives, and the
  one a directive queue keeps when it merges two directives for the same action and targets), S
  has the same actions with the same arguments, and S fires on every input on which R fires. R
  then never adds a directive S has not already issued ahead of it. A rule with time clauses is
  never shadowed: whether it emits depends on its history, not on one event.
* `conflict`: two rules that can fire on the same input scale the same targets in opposite
  directions (`by` above zero for one, below zero for the other; a computed `by` counts where it
  computes such a value). Whichever ranks first wins in a queue; neither author asked for that.

Every finding comes with a witness input. A finding needs the solver's proof: a question it cannot
answer within `TIMEOUT_MS` (or cannot model) gives no warning, never a guess. A witness that
depends on a function the solver does not model says what it assumes of it. The optimizer stays
the fast path: a rule it already warned about (`never`, `shadowed`) gets no second warning.

Results are cached on disk per policy (`dsl/disk_cache.py`), under a hash of the policy's IR (the
file name and positions its messages show included) and of the code that proves it (this module,
the solver, the optimizer's ranking, the IR helpers, z3's version): a `check` of unchanged
policies reads them back and imports no z3. A policy whose proofs ran into the time limit is not
cached, so the next run asks again (the cache never changes what `check` prints).
"""

from __future__ import annotations

import hashlib
import json
import marshal
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib.util import find_spec
from itertools import chain, islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ballast.dsl.disk_cache import cache_dir, load_trusted, save_atomically
from ballast.runtime import codegen as runtime_codegen
from ballast.runtime import ir as runtime_ir
from ballast.runtime.errors import Diagnostic, InternalError, Span
from ballast.runtime.ir import IR, conjuncts, unparse, walk

if TYPE_CHECKING:
    from ballast.compiler.pipeline import Compilation

FORMAT = 1  # bump when the cached findings are written differently
TIMEOUT_MS = 200  # the solver's limit per question
MAX_PAIRS = 200  # pairs of rules a policy may ask about (shadowed, conflict); above it, none are asked

# What a cached finding is a function of, besides the policy's IR: the code that computes it
# (paths from this file, so that computing the key imports none of it).
_HERE = Path(__file__).parent
_PROVERS = (
    _HERE / "prove.py",
    _HERE / "diff" / "solver.py",
    _HERE / "passes" / "optimize.py",  # rank, action_signature
    Path(str(runtime_codegen.__file__)),  # node_key
    Path(str(runtime_ir.__file__)),  # unparse, conjuncts
)

SHADOW_HINT = "merge the two rules, or give this one a distinct action or target"


def prove(compilation: Compilation, timeout_ms: int = TIMEOUT_MS) -> list[Diagnostic]:
    """The solver's warnings about the compilation's policies that the optimizer did not give."""
    given = {(d.code, d.span) for d in compilation.diagnostics}
    out = []
    for policy in compilation.ir.get("policies", []):
        for d in findings(policy, timeout_ms):
            if (d.code, d.span) not in given:
                out.append(d)
    return out


def findings(policy: IR, timeout_ms: int = TIMEOUT_MS) -> list[Diagnostic]:
    """The solver's warnings about one optimized policy, from the cache when it has them."""
    where = _cache_file(policy, timeout_ms)
    if where is not None:
        cached = load_trusted(where, _read)
        if cached is not None:
            return cached
    try:
        proof = Prover(policy, timeout_ms).run()
    except Exception as exc:  # a bug here must not surface as a raw traceback (as in the pipeline)
        raise InternalError(f"proving the rules of policy '{policy['name']}' failed: {exc!r}") from exc
    if where is not None and proof.complete:
        data = json.dumps([_to_json(d) for d in proof.diagnostics]).encode("utf-8")
        save_atomically(where, lambda f: f.write(data))
    return proof.diagnostics


# ---------------------------------------------------------------- the cache


@cache
def _code_digest() -> str:
    digest = hashlib.sha256(repr((FORMAT, sys.version_info[:3], sys.implementation.name)).encode())
    for path in _PROVERS:
        digest.update(path.read_bytes())
    z3 = find_spec("z3")  # finding the package imports none of it
    if z3 is None or z3.origin is None:
        raise RuntimeError("z3 is not installed")
    site = Path(z3.origin).parent.parent
    digest.update(" ".join(sorted(p.name for p in site.glob("z3_solver-*"))).encode())
    return digest.hexdigest()


def _cache_file(policy: IR, timeout_ms: int) -> Path | None:
    try:
        key = hashlib.sha256(_code_digest().encode())
        key.update(str(timeout_ms).encode())
        # marshal's version 2 marks neither shared objects nor interned strings (version 3 does),
        # so equal IRs give equal bytes (the compiler writes keys in a fixed order); it is twice
        # as fast as JSON, and this runs on every warm check
        key.update(marshal.dumps(policy, 2))
        return cache_dir() / "proofs" / f"{key.hexdigest()[:40]}.json"
    except (OSError, RuntimeError, ValueError):  # no home directory, an unreadable module file: no cache
        return None


def _to_json(d: Diagnostic) -> dict[str, Any]:
    s = d.span
    return {
        "code": d.code,
        "message": d.message,
        "hint": d.hint,
        "at": [s.file, s.line, s.column, s.end_line, s.end_column],
    }


def _read(f: Any) -> list[Diagnostic]:
    return [Diagnostic("warning", e["code"], e["message"], Span(*e["at"]), e["hint"]) for e in json.load(f)]


# ---------------------------------------------------------------- the proofs


@dataclass
class Rule:
    """One rule as the solver sees it."""

    ir: IR
    parts: list[Any]  # z3: the rule fires where every conjunct holds without a fault
    fires: Any
    opaque: set[str]  # functions the translation could not model
    possible: bool = True  # some input makes it fire (or the solver could not tell)


@dataclass
class Proof:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    complete: bool = True  # every question was answered: the result may be cached


class Prover:
    """The questions about one policy, on one solver holding the input domain."""

    def __init__(self, policy: IR, timeout_ms: int) -> None:
        import z3

        from ballast.compiler.diff.solver import Domain

        self.z3 = z3
        self.policy = policy
        self.file = policy["file"]
        self.timeout_ms = timeout_ms
        self.domain = Domain(policy["input"]["fields"])
        self.sources: dict[str, str] = {}  # a window aggregate's name → the field it reads
        self.proof = Proof()

    def run(self) -> Proof:
        z3 = self.z3
        rules = [self.translate(r) for r in self.policy["rules"]]
        pairs = list(islice(chain(self.shadow_pairs(rules), self.conflict_pairs(rules)), MAX_PAIRS + 1))
        self.solver = z3.Solver()
        self.solver.set("timeout", self.timeout_ms)
        self.added = 0  # how many of the domain's constraints the solver holds
        for rule in rules:
            if rule is not None:
                self.never(rule)
        if len(pairs) <= MAX_PAIRS:
            shadowed: set[str] = set()
            for kind, *pair in pairs:
                if kind == "shadow":
                    later, earlier = pair
                    if later.ir["name"] not in shadowed and self.shadowed(later, earlier):
                        shadowed.add(later.ir["name"])
                else:
                    self.conflict(*pair)
        return self.proof

    # ---- translation ----

    def translate(self, ir: IR) -> Rule | None:
        """The rule's condition as z3 terms; None when the solver cannot model it."""
        from ballast.compiler.diff.solver import Translator, Unsupported

        when = ir["when"]
        if when["k"] == "lit":  # `when true`, or folded: the optimizer's business
            return None
        translator = Translator(self.domain)
        try:
            parts = [translator.fires(part) for part in conjuncts(when)]
        except (Unsupported, self.z3.Z3Exception, RecursionError):  # RecursionError: nested too deep
            return None
        for node in walk(when):
            if node["k"] == "agg":
                self.sources[unparse(node)] = ".".join(node["path"])
        return Rule(ir, parts, self.z3.And(*parts), set(translator.opaque_used))

    def argument(self, ir: IR) -> tuple[Any, Any, set[str]] | None:
        """An action argument as (value, ok, opaque terms); None when it cannot be modelled."""
        from ballast.compiler.diff.solver import Translator, Unsupported

        translator = Translator(self.domain)
        try:
            term = translator.term(ir)
        except (Unsupported, self.z3.Z3Exception, RecursionError):  # RecursionError: nested too deep
            return None
        if term.sort not in ("int", "real"):
            return None
        ok = self.z3.And(term.ok, self.z3.Not(term.null))
        return term.value, ok, set(translator.opaque_used)

    # ---- asking ----

    def sync(self) -> None:
        """Give the solver the ranges of the inputs translated since it last asked."""
        self.solver.add(*self.domain.constraints[self.added :])
        self.added = len(self.domain.constraints)

    def ask(self, *formulas: Any) -> Any:
        """sat / unsat / unknown of the formulas on the domain; an unknown makes the proof incomplete."""
        self.sync()
        self.solver.push()
        self.solver.add(*formulas)
        try:
            status = self.solver.check()
        except self.z3.Z3Exception:
            status = self.z3.unknown
        self.solver.pop()
        if status == self.z3.unknown:
            self.proof.complete = False
        return status

    def example(self, formula: Any, opaque: set[str]) -> str | None:
        """An input on which `formula` holds, as round as it allows, and what it assumes."""
        from ballast.compiler.diff.solver import rounded_witness

        z3 = self.z3
        self.sync()
        self.solver.push()
        try:
            self.solver.add(formula)
            if self.solver.check() != z3.sat:
                self.proof.complete = False
                return None
            witness = rounded_witness(self.solver, self.domain, formula)
        except z3.Z3Exception:
            self.proof.complete = False
            return None
        finally:
            self.solver.pop()
        text = witness.text() or "any input"
        assumed = [name for name in sorted(opaque | self.correlated(witness.values)) if name in witness.values]
        if assumed:
            text += f", assuming {' and '.join(assumed)} can be as shown"
        return text

    def correlated(self, values: dict[str, Any]) -> set[str]:
        """The window aggregates of a witness that read the same field as another of its inputs:
        the solver treats them as independent, while `min(x, 1m)` is never above `x`."""
        fields = {name: self.sources.get(name, name) for name in values}
        shared = {f for f in fields.values() if list(fields.values()).count(f) > 1}
        return {name for name, f in fields.items() if f in shared and name in self.sources}

    # ---- never ----

    def never(self, rule: Rule) -> None:
        z3 = self.z3
        status = self.ask(rule.fires)
        if status != z3.unsat:
            return
        rule.possible = False
        parts, ranges = self.why(rule)
        name = rule.ir["name"]
        if len(parts) == 1:
            what = f"{parts[0]} cannot hold"
        elif parts:
            what = f"{' && '.join(parts)} contradict each other"
        else:
            what = "its condition cannot hold"
        where = f" ({', '.join(ranges)})" if ranges else ""
        self.warn(
            "never",
            f"rule '{name}' can never fire: {what}{where}",
            rule.ir["when"],
            "no input within the declared types and ranges satisfies all of these (proven by the solver)",
        )

    def why(self, rule: Rule) -> tuple[list[str], list[str]]:
        """The conjuncts and declared ranges that make the condition impossible (an unsat core)."""
        z3 = self.z3
        core_solver = z3.Solver()
        core_solver.set("timeout", self.timeout_ms)
        core_solver.set("core.minimize", True)
        tracked: dict[str, tuple[str, Any]] = {}
        for i, (part, node) in enumerate(zip(rule.parts, conjuncts(rule.ir["when"]), strict=True)):
            flag = z3.Bool(f"part {i}")
            core_solver.add(z3.Implies(flag, part))
            tracked[str(flag)] = ("part", node)
        for j, constraint in enumerate(self.domain.constraints):
            flag = z3.Bool(f"range {j}")
            core_solver.add(z3.Implies(flag, constraint))
            tracked[str(flag)] = ("range", constraint)
        flags = [z3.Bool(name) for name in tracked]
        try:
            status = core_solver.check(*flags)
        except z3.Z3Exception:
            status = z3.unknown
        if status != z3.unsat:  # proven impossible, but no core in time: name the whole condition
            self.proof.complete = False
            return [unparse(rule.ir["when"])], []
        core = {str(c) for c in core_solver.unsat_core()}
        parts = [unparse(node) for name, (kind, node) in tracked.items() if name in core and kind == "part"]
        read: list[str] = []
        for name, (kind, constraint) in tracked.items():
            if name in core and kind == "range":
                for var in self._variables_of(constraint):
                    if var not in read:
                        read.append(var)
        return parts, [self.describe(var) for var in read]

    def _variables_of(self, constraint: Any) -> list[str]:
        exprs = {str(v.expr): v.name for v in self.domain.variables.values()}
        out = []
        stack = [constraint]
        while stack:
            e = stack.pop()
            if self.z3.is_const(e) and str(e) in exprs and exprs[str(e)] not in out:
                out.append(exprs[str(e)])
            stack.extend(e.children())
        return sorted(out)

    def describe(self, name: str) -> str:
        """A variable's declared range: `load is declared in [0, 1]`, `tier is declared one of "a",
        "b"`, `avg(load, 1m) is in [0, 1], as load is`."""
        if name in self.sources:
            source = self.sources[name]
            declared = self._declared(source)
            if declared is None:
                return f"{name} >= 0"  # count() and stddev() are never negative
            return f"{name} is {declared}, as {source} is"
        declared = self._declared(name)
        return f"{name} is declared {declared}" if declared else name

    def _declared(self, name: str) -> str | None:
        declarations = self.domain.fields.get(name, [])
        for d in declarations:
            typ = d["type"]
            if isinstance(typ, dict) and "enum" in typ:
                return "one of " + ", ".join(json.dumps(v) for v in typ["enum"])
        lows = [d["min"] for d in declarations if "min" in d]
        highs = [d["max"] for d in declarations if "max" in d]
        if lows and highs:
            return f"in [{max(lows):g}, {min(highs):g}]"
        if lows:
            return f">= {max(lows):g}"
        if highs:
            return f"<= {min(highs):g}"
        return None

    # ---- shadowed ----

    def shadow_pairs(self, rules: list[Rule | None]) -> Iterator[tuple[str, Rule, Rule]]:
        """(later, earlier) pairs of stateless rules with the same actions, in rank order."""
        from ballast.compiler.passes.optimize import action_signature, rank

        stateless = sorted((r for r in rules if r is not None and "state" not in r.ir), key=lambda r: rank(r.ir))
        by_signature: dict[str, list[Rule]] = {}
        for r in stateless:
            by_signature.setdefault(action_signature(r.ir), []).append(r)
        for members in by_signature.values():
            for position, later in enumerate(members):
                for earlier in members[:position]:
                    yield "shadow", later, earlier

    def shadowed(self, later: Rule, earlier: Rule) -> bool:
        z3 = self.z3
        if not later.possible or not earlier.possible:
            return False  # a rule that never fires is the `never` warning's
        if self.ask(later.fires, z3.Not(earlier.fires)) != z3.unsat:
            return False
        example = self.example(z3.And(later.fires, earlier.fires), later.opaque | earlier.opaque)
        if example is None:
            return False
        name, other = later.ir["name"], earlier.ir["name"]
        self.warn(
            "shadowed",
            f"rule '{name}' is shadowed by rule '{other}': whenever it fires, '{other}' fires with the same actions"
            f" (both fire on {example})",
            later.ir,
            SHADOW_HINT,
        )
        return True

    # ---- conflict ----

    def conflict_pairs(self, rules: list[Rule | None]) -> Iterator[tuple[str, Rule, Rule, IR, IR, IR]]:
        """Pairs of `scale` calls of two rules on a common target that may scale it both ways:
        literal amounts of opposite signs, or a computed amount (the solver decides)."""
        from ballast.compiler.diff.solver import same_shape

        calls: list[tuple[Rule, IR, int]] = []  # (rule, scale call, sign of by: 0 when computed)
        for r in rules:
            for call in r.ir["then"] if r is not None else ():
                by = call["args"]["by"] if call["action"] == "scale" else None
                if by is not None and (by["k"] != "lit" or by["v"] != 0):
                    calls.append((r, call, 0 if by["k"] != "lit" else (1 if by["v"] > 0 else -1)))
        # lazily, in file order: the caller stops asking past MAX_PAIRS
        for j, (second, y, sign_y) in enumerate(calls):
            for first, x, sign_x in calls[:j]:
                if first is second or (sign_x == sign_y != 0):
                    continue
                target = _common_target(x["args"]["targets"], y["args"]["targets"], same_shape)
                if target is not None:
                    yield "conflict", first, second, x, y, target

    def conflict(self, first: Rule, second: Rule, a: IR, b: IR, target: IR) -> None:
        z3 = self.z3
        if not first.possible or not second.possible:
            return
        by_a, by_b = self.argument(a["args"]["by"]), self.argument(b["args"]["by"])
        if by_a is None or by_b is None:
            return
        (va, ok_a, opaque_a), (vb, ok_b, opaque_b) = by_a, by_b
        opposite = z3.Or(z3.And(va > 0, vb < 0), z3.And(va < 0, vb > 0))
        both = z3.And(first.fires, second.fires, ok_a, ok_b, opposite)
        if self.ask(both) != z3.sat:
            return
        example = self.example(both, first.opaque | second.opaque | opaque_a | opaque_b)
        if example is None:
            return
        one, other = first.ir["name"], second.ir["name"]
        self.warn(
            "conflict",
            f"rules '{one}' and '{other}' scale {unparse(target)} in opposite directions on the same input:"
            f" '{one}' by {unparse(a['args']['by'])}, '{other}' by {unparse(b['args']['by'])} (both fire on {example})",
            b,
            "make the two conditions exclusive, or let one rule decide which way to scale",
        )

    # ---- reporting ----

    def warn(self, code: str, message: str, node: IR, hint: str) -> None:
        line, column, end_line, end_column = node.get("at") or [1, 1, 1, 2]
        span = Span(self.file, line, column, end_line, end_column)
        self.proof.diagnostics.append(Diagnostic("warning", code, message, span, hint))


def _targets(selector: IR) -> list[IR]:
    """The target expressions of a selector: the items of a list literal, else the selector."""
    return list(selector["items"]) if selector["k"] == "list" else [selector]


def _common_target(a: IR, b: IR, same_shape: Any) -> IR | None:
    for x in _targets(a):
        for y in _targets(b):
            if same_shape(x, y):
                return x
    return None
