"""The policies under test: compiled once, indexed by name, and the test file's names checked.

A test names rules, actions, parameters, fields, inputs, threats and modes; `check_names` finds
every one that the compiled set does not have, at its position in the test file, with a
suggestion. A test that passes its checks cannot fail for a typo, only for a wrong decision.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ballast.policytest.spec import Matcher, TestFile, kind_of, suggest
from ballast.runtime.errors import CompileError, Diagnostic, Span
from ballast.runtime.ir import IR
from ballast.runtime.policy import IMPACT_ORDER, PolicySet

PROBLEM_KINDS = ("invalid-event", "evaluation", "late-event", "internal")
EVENT_TYPES = (
    "RuleState",
    "Stale",
    "TelemetryGap",
    "Suppressed",
    "Coalesced",
    "Dropped",
    "ThreatIndexUpdated",
    "ModeChanged",
)


@dataclass
class Input:
    """One input name of the set and what reads it."""

    name: str
    fields: dict[str, str] = field(default_factory=dict)  # field → type, over every reader
    time_fields: dict[str, str] = field(default_factory=dict)  # the readers' stream time fields
    sequences: list[tuple[str, str]] = field(default_factory=list)  # (field, by)
    ids: list[tuple[str, str]] = field(default_factory=list)  # (field, type)
    policies: list[str] = field(default_factory=list)
    threats: list[str] = field(default_factory=list)


@dataclass
class Target:
    """A compiled policy set (policies and threats) and its names."""

    paths: list[str]
    program: PolicySet
    ir: IR
    inputs: dict[str, Input]
    rules: dict[str, list[tuple[str, IR]]]  # rule name → (policy, rule IR)

    @property
    def policies(self) -> list[IR]:
        return self.ir["policies"]

    @property
    def threats(self) -> list[IR]:
        return list(self.ir.get("threats", ()))

    @property
    def timed(self) -> bool:
        return any(p.get("stream", {}).get("time") for p in self.policies)

    def actions(self) -> dict[str, set[str]]:
        """Action name → its parameter names, over every policy."""
        out: dict[str, set[str]] = {}
        for p in self.policies:
            for name, params in p["actions"].items():
                out.setdefault(name, set()).update(param["name"] for param in params)
        return out

    def modes(self, threat: str | None = None) -> list[str]:
        out = ["normal"]
        for t in self.threats:
            if threat is None or t["name"] == threat:
                out.extend(m["name"] for m in t["modes"] if m["name"] not in out)
        return out


def compile_target(paths: Sequence[str]) -> Target:
    """Compile the policy files; raises CompileError (with the compiler's diagnostics)."""
    from ballast.compiler.pipeline import compile_paths

    compilation = compile_paths(list(paths))
    ir = compilation.ir
    inputs: dict[str, Input] = {}
    readers: list[tuple[IR, str, IR]] = [(p["input"], p["name"], p.get("stream") or {}) for p in ir["policies"]]
    readers += [
        (t["input"], t["name"], {"time": t.get("time")} if t.get("time") else {}) for t in ir.get("threats", ())
    ]
    threat_names = {t["name"] for t in ir.get("threats", ())}
    for schema, owner, stream in readers:
        entry = inputs.setdefault(schema["name"], Input(schema["name"]))
        types = {f["name"]: f["type"] if isinstance(f["type"], str) else "record" for f in schema["fields"]}
        entry.fields.update(types)
        (entry.threats if owner in threat_names else entry.policies).append(owner)
        if stream.get("time"):
            entry.time_fields[stream["time"]] = types.get(stream["time"], "timestamp")
        if "sequence" in stream and tuple(stream["sequence"]) not in entry.sequences:
            entry.sequences.append(tuple(stream["sequence"]))  # type: ignore[arg-type]
        if stream.get("id") and stream["id"] not in dict(entry.ids):
            entry.ids.append((stream["id"], types.get(stream["id"], "string")))
    rules: dict[str, list[tuple[str, IR]]] = {}
    for p in ir["policies"]:
        for r in p["rules"]:
            rules.setdefault(r["name"], []).append((p["name"], r))
    return Target(list(paths), compilation.program, ir, inputs, rules)


def compile_diagnostics(test: TestFile, exc: CompileError) -> list[Diagnostic]:
    """The test file's error for policies that do not compile, then the compiler's own."""
    count = len(exc.diagnostics)
    files = sorted({d.span.file for d in exc.diagnostics})
    span = test.policy_spans[0] if test.policy_spans else Span(test.path, 1, 1, 1, 2)
    for path, where in zip(test.policies, test.policy_spans, strict=True):
        if os.path.normpath(path) in {os.path.normpath(f) for f in files}:
            span = where
            break
    head = Diagnostic(
        "error",
        "test-policy",
        f"the policies under test do not compile: {count} error{'s' if count != 1 else ''} in {', '.join(files)}",
        span,
        "run `ballast check` on them; the errors follow",
    )
    return [head, *exc.diagnostics]


class _Checker:
    def __init__(self, test: TestFile, target: Target) -> None:
        self.test = test
        self.target = target
        self.out: list[Diagnostic] = []
        self.policy_names = [p["name"] for p in target.policies]
        self.threat_names = [t["name"] for t in target.threats]
        self.all_fields = sorted({f for i in target.inputs.values() for f in i.fields})
        self.time_fields = {f for i in target.inputs.values() for f in i.time_fields}

    def error(self, code: str, message: str, span: Span, hint: str = "") -> None:
        self.out.append(Diagnostic("error", code, message, span, hint))

    def run(self) -> list[Diagnostic]:
        for case in self.test.tests:
            self.fields(case.defaults, case.default_spans, self.all_fields, "any input")
            if case.sequence and not any(i.sequences for i in self.target.inputs.values()):
                self.error(
                    "test-name",
                    "sequence: true, but no policy declares `sequence … by …` in its stream",
                    case.sequence_span or case.span,
                    "remove it, or write the sequence numbers as a series",
                )
            if case.ids and not any(i.ids for i in self.target.inputs.values()):
                self.error(
                    "test-name",
                    "ids: true, but no policy declares an `id` field in its stream",
                    case.ids_span or case.span,
                    "remove it",
                )
            for s in case.series:
                source = self.input(s.input, s.input_span or s.span)
                if source is not None:
                    s.input = source.name
                    self.fields({**s.key, **s.values}, s.spans, sorted(source.fields), f"input '{source.name}'")
            for e in case.expect:
                check = {
                    "directive": self.check_directive,
                    "state": self.check_state,
                    "event": self.check_event,
                    "error": self.check_error,
                    "threat": self.check_threat,
                }[e.kind.removeprefix("no_").removesuffix("s")]
                for m in e.matchers:
                    check(m)
        return self.out

    # ---- events ----
    def input(self, name: str | None, span: Span) -> Input | None:
        names = sorted(self.target.inputs)
        if name is None:
            if len(names) == 1:
                return self.target.inputs[names[0]]
            self.error(
                "test-name",
                f"the policies read several inputs ({', '.join(names)}): say which this series is",
                span,
                f"add `input: {names[0]}`",
            )
            return None
        if name not in self.target.inputs:
            self.error(
                "test-name",
                f"no policy reads an input named '{name}'",
                span,
                suggest(name, names) or f"inputs are {', '.join(names)}",
            )
            return None
        return self.target.inputs[name]

    def fields(self, values: dict[str, Any], spans: dict[str, Span], declared: list[str], where: str) -> None:
        for name in values:
            span = spans.get(name, Span(self.test.path, 1, 1, 1, 2))
            if name in self.time_fields:
                self.error(
                    "test-name",
                    f"'{name}' is the stream's time field: the test sets it",
                    span,
                    "each event's time is start + step × interval",
                )
            elif name not in declared:
                self.error(
                    "test-name",
                    f"unknown field '{name}' (not in {where})",
                    span,
                    suggest(name, declared) or f"fields are {', '.join(declared)}",
                )

    # ---- expectations ----
    def policy(self, m: Matcher) -> str | None:
        name = m.values.get("policy")
        if name is not None and name not in self.policy_names:
            self.error(
                "test-name",
                f"no policy named '{name}' is under test",
                m.where("policy"),
                suggest(name, self.policy_names) or f"policies are {', '.join(self.policy_names)}",
            )
        return name

    def rule(self, m: Matcher, *, timed: bool = False) -> IR | None:
        name = m.values.get("rule")
        if name is None:
            return None
        policy = self.policy(m)
        found = [(p, r) for p, r in self.target.rules.get(str(name), []) if policy is None or p == policy]
        if not found:
            candidates = sorted(
                r for r, where in self.target.rules.items() if policy is None or any(p == policy for p, _ in where)
            )
            self.error(
                "test-name",
                f"unknown rule '{name}'",
                m.where("rule"),
                suggest(name, candidates) or f"rules are {', '.join(candidates)}",
            )
            return None
        rule = found[0][1]
        if timed and "state" not in rule:
            self.error(
                "test-name",
                f"rule '{name}' has no time clauses: it has no state",
                m.where("rule"),
                "expect its directives instead: `directive: {rule: ...}`",
            )
            return None
        return rule

    def check_directive(self, m: Matcher) -> None:
        rule = self.rule(m)
        if "policy" in m.values and "rule" not in m.values:
            self.policy(m)
        actions = self.target.actions()
        action = m.values.get("action")
        if action is not None:
            emitted = sorted(a["action"] for a in rule["then"]) if rule else sorted(actions)
            if action not in emitted:
                owner = f"rule '{rule['name']}'" if rule else "no rule under test"
                message = f"{owner} never emits '{action}'" if rule else f"no rule under test emits '{action}'"
                self.error(
                    "test-name",
                    message,
                    m.where("action"),
                    suggest(action, emitted)
                    or f"{owner if rule else 'the rules'} emit{'s' if rule else ''} {', '.join(emitted)}",
                )
        params = m.values.get("params")
        if params is not None:
            if not isinstance(params, dict):
                self.error("yaml-kind", f"params must be a mapping, not {kind_of(params)}", m.where("params"))
            else:
                known = sorted(
                    actions.get(action, set()) if action else set().union(*actions.values()) if actions else set()
                )
                for key in params:
                    if key not in known:
                        self.error(
                            "test-name",
                            f"unknown parameter '{key}'" + (f" of '{action}'" if action else ""),
                            m.where("params"),
                            suggest(key, known) or f"parameters are {', '.join(known)}",
                        )
        targets = m.values.get("targets")
        if (
            targets is not None
            and not isinstance(targets, str)
            and not (isinstance(targets, list) and all(isinstance(t, str) for t in targets))
        ):
            self.error(
                "yaml-kind",
                f"targets must be a string or a list of strings, not {kind_of(targets)}",
                m.where("targets"),
            )
        impact = m.values.get("impact")
        if impact is not None and impact not in IMPACT_ORDER:
            self.error(
                "test-name",
                f"unknown impact {impact!r}",
                m.where("impact"),
                suggest(impact, IMPACT_ORDER) or f"impacts are {', '.join(IMPACT_ORDER)}",
            )
        priority = m.values.get("priority")
        if priority is not None and (isinstance(priority, bool) or not isinstance(priority, int)):
            self.error("yaml-kind", f"priority must be a whole number, not {kind_of(priority)}", m.where("priority"))
        for key in ("reason", "reason_contains"):
            if key in m.values and not isinstance(m.values[key], str):
                self.error("yaml-kind", f"{key} must be a string, not {kind_of(m.values[key])}", m.where(key))

    def check_state(self, m: Matcher) -> None:
        rule = self.rule(m, timed=True)
        key = m.values.get("key", {})
        if not isinstance(key, dict):
            self.error(
                "yaml-kind",
                f"a state's key must be a mapping of the group-by fields, not {kind_of(key)}",
                m.where("key"),
            )
            return
        if rule is None:
            return
        group_by = list(rule["state"].get("group_by", ()))
        if sorted(key) != sorted(group_by):
            wanted = "{" + ", ".join(f"{f}: ..." for f in group_by) + "}" if group_by else "no key"
            self.error(
                "test-name",
                f"rule '{rule['name']}' keeps state per {', '.join(group_by) or 'policy (no group by)'}: the key must be {wanted}",
                m.where("key") if "key" in m.values else m.span,
                "name exactly the fields of its `group by`",
            )

    def check_event(self, m: Matcher) -> None:
        kind = m.values.get("type")
        if kind is not None and kind not in EVENT_TYPES and suggest(kind, EVENT_TYPES):
            self.error("test-name", f"unknown event type {kind!r}", m.where("type"), suggest(kind, EVENT_TYPES))
        if "rule" in m.values:
            self.rule(m)
        elif "policy" in m.values:
            self.policy(m)

    def check_error(self, m: Matcher) -> None:
        kind = m.values.get("kind")
        if kind is not None and kind not in PROBLEM_KINDS:
            self.error(
                "test-name",
                f"unknown error kind {kind!r}",
                m.where("kind"),
                suggest(kind, PROBLEM_KINDS) or f"kinds are {', '.join(PROBLEM_KINDS)}",
            )
        if "rule" in m.values:
            self.rule(m)
        elif "policy" in m.values and m.values["policy"] not in self.threat_names:
            self.policy(m)

    def check_threat(self, m: Matcher) -> None:
        if not self.threat_names:
            self.error("test-name", "no threat document is under test", m.span, "add the threat's file to `policies:`")
            return
        name = m.values.get("name")
        if name is None and len(self.threat_names) > 1:
            self.error(
                "test-name", "several threats are under test: say which", m.span, f"add `name: {self.threat_names[0]}`"
            )
        elif name is not None and name not in self.threat_names:
            self.error(
                "test-name",
                f"no threat named '{name}' is under test",
                m.where("name"),
                suggest(name, self.threat_names) or f"threats are {', '.join(self.threat_names)}",
            )
            return
        mode = m.values.get("mode")
        modes = self.target.modes(name)
        if mode is not None and mode not in modes:
            self.error(
                "test-name",
                f"unknown mode {mode!r}",
                m.where("mode"),
                suggest(mode, modes) or f"modes are {', '.join(modes)}",
            )
        for key in ("index", "index_min", "index_max"):
            value = m.values.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
                self.error("yaml-kind", f"{key} must be a number, not {kind_of(value)}", m.where(key))
        if not any(k in m.values for k in ("mode", "index", "index_min", "index_max")):
            self.error(
                "yaml-missing",
                "a threat expectation checks a mode or the index",
                m.span,
                "add `mode: heightened` or `index_min: 40`",
            )


def check_names(test: TestFile, target: Target) -> list[Diagnostic]:
    """Every name of the test file that the compiled set does not have, with its position."""
    return _Checker(test, target).run()


__all__ = ["Input", "Target", "check_names", "compile_diagnostics", "compile_target"]
