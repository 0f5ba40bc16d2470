"""Loaded policies: events in, directives and per-event errors out.

`PolicySet.evaluate(event)` never raises for a bad event or a faulting rule: a bad event gets
an `invalid-event` problem naming the field and the fix, a faulting rule an `evaluation`
problem naming the rule; the rule neither fires nor stops the others.

A directive's id, reason and rationale are computed when first read, from the validated event
the directive keeps: evaluation does only the work that decides *what* fires, and a consumer
that reads ids or reasons pays for those alone. They are pure functions of (policy, rule,
action, event), so reading them later gives the same bytes as reading them at once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from ballast.runtime.codegen import compile_emitters, compile_matcher, timed_rules_source
from ballast.runtime.enforcement import DEFAULT_ENFORCE, DEFAULT_MODE, ENFORCE_LEVELS, MODES, hold_back
from ballast.runtime.errors import BallastError, UsageError
from ballast.runtime.events import EngineEvent
from ballast.runtime.functions import render
from ballast.runtime.interpret import check_expression, describe_fault
from ballast.runtime.interpret import evaluate as interpret
from ballast.runtime.ir import IR, unparse
from ballast.runtime.validate import check_schema, fast_checker, validate
from ballast.runtime.values import format_duration, iso, spec_problem

if TYPE_CHECKING:
    from ballast.runtime.changes import BundleRef

IMPACT_ORDER = ("minimal", "low", "moderate", "high", "critical")


@dataclass(frozen=True, slots=True)
class Problem:
    """Why an event produced no decision from a policy or a rule."""

    kind: str  # "invalid-event" | "evaluation"
    policy: str
    message: str
    rule: str = ""
    field: str = ""
    hint: str = ""

    def to_dict(self) -> dict[str, str]:
        out = {"kind": self.kind, "policy": self.policy, "message": self.message}
        for key in ("rule", "field", "hint"):
            value = getattr(self, key)
            if value:
                out[key] = value
        return out


class Directive:
    """One action a rule asks for: the seeds' `{directiveId, targets, action, reason}` and more."""

    __slots__ = ("_event", "_id", "_rule", "action_index", "params", "targets")

    def __init__(
        self, rule: _Rule, action_index: int, targets: list[str], params: dict[str, Any], event: Mapping[str, Any]
    ) -> None:
        # Five assignments and no more: at 1,000 rules this runs a million times a second.
        self._rule = rule
        self.action_index = action_index
        self.targets = targets
        self.params = params
        self._event = event

    action = property(lambda self: self._rule.actions[self.action_index], doc="scale, pause, downgrade, reroute, …")
    policy = property(lambda self: self._rule.policy, doc="The policy's name.")
    rule = property(lambda self: self._rule.name, doc="The rule's name.")
    priority = property(lambda self: self._rule.priority, doc="The rule's priority (higher first).")
    impact = property(lambda self: self._rule.impact, doc="minimal, low, moderate, high or critical.")
    enforce = property(lambda self: self._rule.enforce, doc="hard, soft or advisory (runtime/enforcement.py).")
    mode = property(lambda self: self._rule.mode, doc="deny (issued), warn or dryrun (held back).")
    event = property(
        lambda self: self._event,
        doc="The event the rule decided on, as the policy read it (checked, typed; an Engine adds `@` slots).",
    )

    @property
    def directive_id(self) -> str:
        """A deterministic id: the same bundle and event always give the same id."""
        try:
            return self._id
        except AttributeError:  # first read: computed once, then kept
            r = self._rule
            material = f"{r.policy}@{r.version}\x00{r.name}\x00{self.action_index}\x00{canonical_json(self._event)}"
            self._id: str = hashlib.sha256(material.encode("utf-8")).hexdigest()[:20]
            return self._id

    @property
    def reason(self) -> str:
        """The rule's reason template with the event's values filled in."""
        return self._rule.render_reason(self._event)

    @property
    def rationale(self) -> list[dict[str, Any]]:
        """The checks that made the condition true, each with the input values it read."""
        return self._rule.rationale(self._event)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "directive_id": self.directive_id,
            "policy": self.policy,
            "rule": self.rule,
            "action": self.action,
            "targets": self.targets,
            "params": self.params,
            "priority": self.priority,
            "impact": self.impact,
            "reason": self.reason,
            "rationale": self.rationale,
        }
        # Only when not the defaults, so the output of rules without them stays as it was.
        if self._rule.enforce != DEFAULT_ENFORCE:
            out["enforce"] = self._rule.enforce
        if self._rule.mode != DEFAULT_MODE:
            out["mode"] = self._rule.mode
        return out

    def __repr__(self) -> str:
        return f"Directive({self.policy}/{self.rule}: {self.action} {self.targets} {self.params})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Directive) and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]  # mutable-looking value object: compare, don't hash


@dataclass(slots=True)
class Result:
    """What one event produced: directives in priority order, and problems, if any."""

    directives: list[Directive] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    # What an Engine reports besides directives: rule state changes, telemetry gaps, suppressions.
    events: list[EngineEvent] = field(default_factory=list)
    # Which bundle decided, when a PolicyStore evaluated the event (None otherwise): one event is
    # decided by one version, and this names it (runtime/store.py `BundleRef`).
    bundle: BundleRef | None = None
    # The directives of `warn` and `dryrun` rules: computed, not issued (runtime/enforcement.py).
    held: list[Directive] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        out = {
            "directives": [d.to_dict() for d in self.directives],
            "errors": [e.to_dict() for e in self.errors],
        }
        if self.events:
            out["events"] = [e.to_dict() for e in self.events]
        if self.held:
            out["held"] = [d.to_dict() for d in self.held]
        if self.bundle is not None:
            out["bundle"] = self.bundle.to_dict()
        return out


def render_typed(value: Any, type_name: str) -> str:
    """A value for a reason: durations as `1m30s`, timestamps as RFC 3339, the rest as written."""
    if type_name == "duration" and isinstance(value, int | float):
        return format_duration(value)
    if type_name == "timestamp" and isinstance(value, int | float):
        return iso(value)
    return render(value)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


class _Rule:
    """A rule's metadata, its compiled emitter, and what reasons and rationales read."""

    __slots__ = (
        "_decoded",
        "_text",
        "actions",
        "emit",
        "enforce",
        "impact",
        "mode",
        "name",
        "policy",
        "priority",
        "then",
        "version",
    )

    def __init__(self, policy: IR, ir: IR) -> None:
        self.policy: str = policy["name"]
        self.version: str = policy.get("version", "")
        self.name: str = ir["name"]
        self.priority: int = ir.get("priority", 0)
        self.impact: str = ir.get("impact", "moderate")
        self.enforce: str = ir.get("enforce", DEFAULT_ENFORCE)
        self.mode: str = ir.get("mode", DEFAULT_MODE)
        if self.enforce not in ENFORCE_LEVELS or self.mode not in MODES:  # a bundle's IR is read, not trusted
            raise ValueError(f"rule {self.name!r}: unknown enforce {self.enforce!r} or mode {self.mode!r}")
        self.actions: list[str] = [a["action"] for a in ir["then"]]
        self.emit: Callable[[Any, list[Any]], None] = _never_compiled
        # The condition and reason template, for reasons and rationales: kept as compact JSON
        # and decoded the first time a directive of this rule is explained (most never are).
        reason = ir.get("reason", [])
        check_expression(ir["when"])  # interpreted when a directive is explained: checked once, here
        for part in reason:
            if not isinstance(part, str):
                check_expression(part["e"])
                _check_spec(part["spec"])
        self._text = json.dumps({"when": ir["when"], "reason": reason}, separators=(",", ":"))
        # The actions as the IR states them (read by the columnar back-end, which tells rules
        # that emit alike on two sets); the emitter compiled from them is what runs.
        self.then: list[IR] = ir["then"]
        self._decoded: tuple[IR, list[Any]] | None = None

    @property
    def when(self) -> IR:
        return self._explainable()[0]

    @property
    def reason(self) -> list[Any]:
        return self._explainable()[1]

    def _explainable(self) -> tuple[IR, list[Any]]:
        if self._decoded is None:
            data = json.loads(self._text)
            self._decoded = (data["when"], data["reason"])
        return self._decoded

    def render_reason(self, event: Mapping[str, Any]) -> str:
        return render_reason(self.reason, event)

    def rationale(self, event: Mapping[str, Any]) -> list[dict[str, Any]]:
        return rationale(self.when, event)


def render_reason(parts: list[Any], event: Mapping[str, Any]) -> str:
    """A reason template (text and `{value:spec}` parts) rendered for a validated event; a part
    that cannot be computed stays as written."""
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
            continue
        try:
            value = interpret(part["e"], event)
            out.append(format(value, part["spec"]) if part["spec"] else render_typed(value, part.get("t", "")))
        except (BallastError, ValueError, TypeError):
            out.append("{" + part["text"] + "}")
    return "".join(out)


def rationale(when: IR, event: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The checks that made a condition true for a validated event: each leaf that decided it,
    its value and the inputs it read (empty when the condition faults)."""
    trace: dict[int, Any] = {}
    try:
        interpret(when, event, trace)
    except BallastError:
        return []
    checks: list[dict[str, Any]] = []
    _collect(when, trace, True, checks)
    return checks


def _collect(node: IR, trace: dict[int, Any], wanted: bool, out: list[dict[str, Any]]) -> None:
    """The leaves that decided the condition's value (all of an `&&`, the true side of an `||`)."""
    k = node["k"]
    if id(node) not in trace:
        return
    if k == "let":
        _collect(node["e"], trace, wanted, out)
    elif k == "not":
        _collect(node["e"], trace, not wanted, out)
    elif k in ("and", "or"):
        for side in (node["l"], node["r"]):
            if trace.get(id(side)) is wanted or (k == "and") == wanted:
                _collect(side, trace, wanted, out)
    else:
        from ballast.runtime.ir import walk

        inputs = {
            ".".join(n["path"]) if n["k"] == "field" else unparse(n): trace[id(n)]
            for n in walk(node)
            if n["k"] in ("field", "agg") and id(n) in trace
        }
        out.append({"check": unparse(node), "value": trace[id(node)], "inputs": inputs})


def copy_containers(value: Any) -> Any:
    """A copy of the containers of a JSON-like value, so later changes to the original do not show."""
    if type(value) is dict:
        return {k: copy_containers(v) for k, v in value.items()}
    if type(value) is list:
        return [copy_containers(v) for v in value]
    return value


def _mutable(t: Any) -> bool:
    """Whether values of a schema type may hold containers the host could change later."""
    if isinstance(t, str):
        return t in ("any", "selector")
    return "enum" not in t


def _check_spec(spec: Any) -> None:
    """A reason placeholder's format spec: None, or a text `values.spec_problem` accepts."""
    if spec is not None and (not isinstance(spec, str) or spec_problem(spec)):
        raise ValueError("a reason's format spec is a short text such as .2f")


def _never_compiled(ev: Any, out: list[Any]) -> None:
    raise AssertionError("a rule's emitter is set by its policy")


class CompiledPolicy:
    """One policy, ready to evaluate: schema checks, the fused matcher, argument builders."""

    def __init__(self, ir: IR) -> None:
        self.name: str = ir["name"]
        self.file: str = ir.get("file", "<policy>")
        # What an Engine needs to run the rules with time clauses (few; the rest is compiled).
        self.timing_ir: IR = {"stream": ir.get("stream") or {}, "rules": [r for r in ir["rules"] if "state" in r]}
        # The timed rules compiled by the first Engine of this policy (the loader builds one to
        # check them): they hold no state, so every later Engine shares them.
        self.timed_rules: list[Any] | None = None
        self.stateless = len(self.timing_ir["rules"]) < len(ir["rules"])  # some rule is for the matcher
        self.version: str = ir.get("version", "")
        self.input_name: str = ir["input"]["name"]
        self.fields: list[dict[str, Any]] = ir["input"]["fields"]
        self.signatures: dict[str, Any] = ir.get("actions", {})  # each action's parameters, as its emitters read them
        check_schema(self.fields)  # a bundle's IR is read, not trusted
        self.check = fast_checker(self.fields)
        self.match, self.python_source = compile_matcher(ir)
        self.rules = [_Rule(ir, rule) for rule in ir["rules"]]
        # partial(Directive, rule) builds a directive with one Python frame, not two
        makes = [partial(Directive, rule) for rule in self.rules]
        for rule, emit in zip(self.rules, compile_emitters(ir, makes), strict=True):
            rule.emit = emit
        ranked = sorted(range(len(self.rules)), key=lambda i: (-self.rules[i].priority, i))
        self._rank = {i: r for r, i in enumerate(ranked)}
        self._plain_order = all(self._rank[i] == i for i in self._rank)
        # events of a flat schema hold only immutable values: a shallow copy freezes them
        self.nested = any(_mutable(f["type"]) for f in self.fields)

    def freeze(self, data: dict[str, Any]) -> dict[str, Any]:
        """A copy of a checked event that later changes to the host's dict (or to a record or
        list in it) do not show: what directives and an Engine's keys keep."""
        return copy_containers(data) if self.nested else dict(data)

    def report_fault(self, result: Result, index: int, exc: BaseException, hint: str) -> None:
        """Add an `evaluation` problem for rule `index`, which faulted with `exc`."""
        result.errors.append(
            Problem("evaluation", self.name, describe_fault(exc), rule=self.rules[index].name, hint=hint)
        )

    def evaluate_into(self, event: Any, result: Result) -> None:
        data = self.prepare(event, result)
        if data is not None:
            self.decide(data, result)

    def prepare(self, event: Any, result: Result) -> dict[str, Any] | None:
        """The event checked against the input schema (normalized), or None with its problems."""
        if self.check(event):
            return event
        data, problems = validate(event, self.fields)
        if data is None:
            for p in problems:
                result.errors.append(Problem("invalid-event", self.name, p.message, field=p.field, hint=p.hint))
        return data

    def decide(self, data: dict[str, Any], result: Result) -> None:
        """The stateless rules' directives for a validated event."""
        fired: list[int] = []
        faults: list[tuple[int, BaseException]] = []
        self.match(data, fired.append, faults.append)
        if faults:
            for index, exc in sorted(faults, key=lambda f: f[0]):
                self.report_fault(result, index, exc, "the rule did not fire for this event")
        if not fired:
            return
        if self._plain_order:
            fired.sort()
        else:
            fired.sort(key=self._rank.__getitem__)
        # directives read the event later; a host mutating its dict (or a record or list in it) must not change them
        frozen = copy_containers(data) if self.nested else dict(data)
        directives = result.directives
        rules = self.rules
        for index in fired:
            try:
                rules[index].emit(frozen, directives)
            except Exception as exc:  # an argument faulted or is out of range: the rule does not fire
                hint = "an action argument could not be computed or is outside its range; the rule did not fire"
                self.report_fault(result, index, exc, hint)


class PolicySet:
    """Policies evaluated together; built from IR (a bundle) by `ballast.load` or the compiler."""

    def __init__(self, ir: IR, *, keep_ir: bool = False) -> None:
        self.policies = [CompiledPolicy(p) for p in ir["policies"]]
        self.threats: list[IR] = list(ir.get("threats", ()))  # run by an Engine (ballast.runtime.threat)
        self.safety: list[IR] = list(ir.get("safety", ()))  # run by ballast.runtime.safety.SafetyCatalog
        # run by ballast.runtime.supervisor.Supervisor (the simulator runs it in the loop)
        self.supervisors: list[IR] = list(ir.get("supervisors", ()))
        # The compiled code no longer needs the IR; the compiler keeps it for its tools.
        self.ir: IR | None = ir if keep_ir else None
        # The compiler's warnings when the set was compiled in this process (a bundle has none).
        self.warnings: list[Any] = []
        # Some rule is `warn` or `dryrun`: its directives are held back after each evaluation.
        self.graded = any(rule.mode != DEFAULT_MODE for p in self.policies for rule in p.rules)

    @property
    def inputs(self) -> list[str]:
        """The input names the policies declare, sorted."""
        return sorted({p.input_name for p in self.policies} | {t["input"]["name"] for t in self.threats})

    def evaluate(self, event: Any, input: str | None = None) -> Result:
        """Every policy's decisions for one event; never raises for bad events.

        With `input`, only the policies whose input has that name see the event (a set that
        consumes several telemetry streams); raises UsageError for an input no policy declares.
        """
        result = Result()
        policies = self.policies
        if input is not None:
            policies = [p for p in self.policies if p.input_name == input]
            if not policies:
                raise UsageError(
                    f"no policy in this set reads the input {input!r}; inputs are {', '.join(self.inputs)}"
                )
        for policy in policies:
            try:
                policy.evaluate_into(event, result)
            except Exception as exc:  # a Ballast bug must not take its host down: report it
                result.errors.append(
                    Problem(
                        "internal", policy.name, f"internal error: {exc!r}", hint="please report this event and bundle"
                    )
                )
        if len(self.policies) > 1 and result.directives:
            result.directives.sort(key=lambda d: -d.priority)
        if self.graded:
            hold_back(result)
        return result

    def python_source(self) -> str:
        """The generated matcher of every policy, for audit (`ballast compile --emit python`)."""
        return "\n\n".join(
            f"# policy {p.name} {p.version}\n"
            + ("# every rule has windows or time clauses: the stateless matcher is empty\n" if not p.stateless else "")
            + p.python_source
            + (f"\n\n{timed_rules_source(p.timing_ir)}" if p.timing_ir["rules"] else "")
            for p in self.policies
        )

    @property
    def rule_count(self) -> int:
        return sum(len(p.rules) for p in self.policies)
