"""Detectors for the `policy` kind: what changed between two checked IRs of one policy.

Rules are matched by name; a removed and an added rule that decide alike (same actions and time
clauses, conditions proven equivalent) are a rename. Conditions are compared by the solver
(`ballast.compiler.diff.solver`), never by their text: reordered operands, De Morgan, an inlined
constant are cosmetic, and a real change comes with inputs where the two sides decide differently,
each checked by evaluating both sides with the runtime's reference interpreter.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from ballast.compiler.diff.findings import GUARD_LOOSENED, GUARD_TIGHTENED, Finding, position
from ballast.compiler.diff.schema import diff_input, diff_parameters
from ballast.compiler.diff.solver import DEFAULT_TIMEOUT_MS, Comparison, Domain, compare, same_shape, same_value
from ballast.runtime.errors import EvaluationError
from ballast.runtime.interpret import evaluate_condition
from ballast.runtime.ir import unparse, walk
from ballast.runtime.values import format_duration

IR = dict[str, Any]


DOCUMENT = [1, 1]  # a finding about the whole document points at its first line


@dataclass
class Options:
    timeout_ms: int = DEFAULT_TIMEOUT_MS


class PolicyDiff:
    """The findings between two versions (`old`, `new`) of one policy."""

    def __init__(self, old: IR, new: IR, options: Options | None = None) -> None:
        self.old, self.new = old, new
        self.options = options or Options()
        self.name = new["name"]
        self.domain_fields = (old["input"]["fields"], new["input"]["fields"])
        self.findings: list[Finding] = []
        self.solver_seconds: list[float] = []

    def run(self) -> list[Finding]:
        self.metadata()
        base, head = self.where(self.old), self.where(self.new)
        self.findings.extend(diff_input("policy", self.name, self.old["input"], self.new["input"], base, head))
        self.actions()
        self.stream()
        self.rules()
        return self.findings

    # ---- helpers ----
    def where(self, policy: IR, at: list[int] | None = DOCUMENT) -> Any:
        """The position of `at` in the policy's file; None for a side the subject is not on."""
        return position(policy.get("file", "<policy>"), at) if at is not None else None

    def domain(self) -> Domain:
        return Domain(*self.domain_fields)

    def add(
        self, check: str, subject: str, message: str, old_at: Any = DOCUMENT, new_at: Any = DOCUMENT, **extra: Any
    ) -> Finding:
        finding = Finding(
            check,
            "policy",
            self.name,
            subject,
            message,
            self.where(self.old, old_at),
            self.where(self.new, new_at),
            confidence=extra.pop("confidence", "structural"),
            tags=tuple(extra.pop("tags", ())),
            details=extra,
        )
        self.findings.append(finding)
        return finding

    # ---- the document ----
    def metadata(self) -> None:
        changed = [
            key for key in ("version", "owner", "description", "labels") if self.old.get(key) != self.new.get(key)
        ]
        if changed:
            changes = {key: {"before": self.old.get(key), "after": self.new.get(key)} for key in changed}
            shown = [
                f"{key} {self.old.get(key)} → {self.new.get(key)}" if key == "version" else f"{key} changed"
                for key in changed
            ]
            self.add("policy-metadata-changed", "", f"policy {', '.join(shown)}", changes=changes)

    def actions(self) -> None:
        old, new = self.old["actions"], self.new["actions"]
        for name in old:
            if name not in new:
                self.add("action-removed", name, f"no rule emits action '{name}' any more", new_at=None)
        for name in new:
            if name not in old:
                self.add("action-added", name, f"action '{name}' is now emitted", old_at=None)
            else:
                base, head = self.where(self.old), self.where(self.new)
                self.findings.extend(diff_parameters("policy", self.name, name, old[name], new[name], base, head))

    def stream(self) -> None:
        old, new = self.old.get("stream") or {}, self.new.get("stream") or {}
        if old == new:
            return
        keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        parts = [f"{k} {_setting(old.get(k))} → {_setting(new.get(k))}" for k in keys]
        self.add(
            "stream-changed",
            "",
            "event time: " + "; ".join(parts),
            changes={k: {"before": old.get(k), "after": new.get(k)} for k in keys},
        )

    # ---- rules ----
    def rules(self) -> None:
        old = {r["name"]: r for r in self.old["rules"]}
        new = {r["name"]: r for r in self.new["rules"]}
        removed = [r for name, r in old.items() if name not in new]
        added = [r for name, r in new.items() if name not in old]
        for before, after in self.renames(removed, added):
            removed.remove(before)
            added.remove(after)
            self.add(
                "rule-renamed",
                after["name"],
                f"rule '{before['name']}' is now named '{after['name']}' and decides alike",
                before["at"],
                after["at"],
                confidence="proven",
                before=before["name"],
                after=after["name"],
            )
            self.rule(before, after)
        for rule in removed:
            self.add("rule-removed", rule["name"], f"rule '{rule['name']}' was removed", rule["at"], None)
        for rule in added:
            self.add(
                "rule-added",
                rule["name"],
                f"rule '{rule['name']}' was added: {unparse(rule['when'])}",
                None,
                rule["at"],
            )
        for name, before in old.items():
            if name in new:
                self.rule(before, new[name])
        self.order([n for n in old if n in new], [n for n in new if n in old])

    def renames(self, removed: list[IR], added: list[IR]) -> list[tuple[IR, IR]]:
        pairs = []
        taken: set[str] = set()
        for before in removed:
            for after in added:
                if after["name"] in taken or not _same_effects(before, after):
                    continue
                if (
                    compare(
                        before["when"], after["when"], self.domain(), self.options.timeout_ms, regions=False
                    ).verdict
                    == "equivalent"
                ):
                    pairs.append((before, after))
                    taken.add(after["name"])
                    break
        return pairs

    def order(self, old: list[str], new: list[str]) -> None:
        if old != new:
            moved = [name for i, name in enumerate(new) if old[i] != name]
            self.add("rule-reordered", "", f"rules reordered: {', '.join(moved)}", moved=moved)

    def rule(self, old: IR, new: IR) -> None:
        name = new["name"]
        self.condition(old, new)
        self.time_clauses(old, new)
        if old["priority"] != new["priority"]:
            self.add(
                "rule-priority-changed",
                name,
                f"rule '{name}' priority {old['priority']} → {new['priority']}",
                old["at"],
                new["at"],
                before=old["priority"],
                after=new["priority"],
            )
        if old["impact"] != new["impact"]:
            self.add(
                "rule-impact-changed",
                name,
                f"rule '{name}' impact {old['impact']} → {new['impact']}",
                old["at"],
                new["at"],
                before=old["impact"],
                after=new["impact"],
            )
        self.then(old, new)
        # the template; the values it shows follow the rule's own findings. A rule without a
        # reason reads "rule NAME fired": a rename changes it, and says so itself.
        defaults = (f"rule {old['name']} fired", f"rule {new['name']} fired")
        if _reason(old) != _reason(new) and (_reason(old), _reason(new)) != defaults:
            self.add(
                "rule-reason-changed",
                name,
                f"rule '{name}' reason: {_reason(old)!r} → {_reason(new)!r}",
                old["at"],
                new["at"],
                before=_reason(old),
                after=_reason(new),
            )
        changed = [k for k in ("description", "labels", "justification") if old.get(k) != new.get(k)]
        if changed:
            self.add(
                "rule-metadata-changed",
                name,
                f"rule '{name}' {', '.join(changed)} changed",
                old["at"],
                new["at"],
                changes={k: {"before": old.get(k), "after": new.get(k)} for k in changed},
            )

    def condition(self, old: IR, new: IR) -> None:
        name = new["name"]
        before, after = old["when"], new["when"]
        if same_shape(before, after):
            return
        after = self.aggregates(old, new, before, after)
        result = compare(before, after, self.domain(), self.options.timeout_ms)
        self.solver_seconds.append(result.seconds)
        if result.verdict == "equivalent":
            if not same_shape(before, after):
                self.add(
                    "rule-condition-rewritten",
                    name,
                    f"rule '{name}' condition rewritten, proven to decide alike: {unparse(before)} → {unparse(after)}",
                    old["when"].get("at"),
                    new["when"].get("at"),
                    confidence="proven",
                    before=unparse(before),
                    after=unparse(after),
                )
            return
        details = self.comparison_details(result, before, after, new)
        thresholds = _thresholds(before, after)
        moved = "; ".join(f"{t['name']} {_value(t['before'])} → {_value(t['after'])}" for t in thresholds)
        if thresholds:
            details["thresholds"] = thresholds
        lead = f"rule '{name}' " + (f"threshold {moved}: " if moved else "")
        confidence = details.pop("confidence")
        if result.verdict == "undecided":
            self.add(
                "rule-condition-undecided",
                name,
                lead
                + f"condition changed and could not be decided ({result.reason}): {unparse(before)} → {unparse(after)}",
                old["when"].get("at"),
                new["when"].get("at"),
                confidence="structural",
                **details,
            )
            return
        what = {
            "widened": ("rule-condition-widened", "now fires on more inputs", (GUARD_TIGHTENED,)),
            "narrowed": ("rule-condition-narrowed", "now fires on fewer inputs (guard loosened)", (GUARD_LOOSENED,)),
            "changed": (
                "rule-condition-changed",
                "fires on other inputs (guard loosened where it no longer fires)",
                (GUARD_LOOSENED,),
            ),
        }[result.verdict]
        self.add(
            what[0],
            name,
            lead + what[1] + _witness_text(result),
            old["when"].get("at"),
            new["when"].get("at"),
            confidence=confidence,
            tags=what[2],
            **details,
        )

    def comparison_details(self, result: Comparison, before: IR, after: IR, new_rule: IR) -> dict[str, Any]:
        details: dict[str, Any] = {
            "before": unparse(before),
            "after": unparse(after),
            "solver_ms": round(result.seconds * 1000, 1),
        }
        verified = True
        for key, witness, fires_new in (("now_fires", result.gained, True), ("no_longer_fires", result.lost, False)):
            if witness is None:
                continue
            entry: dict[str, Any] = {"input": witness.values, "text": witness.text()}
            region = result.gained_region if fires_new else result.lost_region
            if region:
                entry["region"] = region
            checked = self.check_witness(witness.values, before, after, fires_new)
            entry["verified"] = checked
            verified = verified and checked is True
            details[key] = entry
        if result.assumptions:
            details["assumptions"] = [f"{a} is treated as an unknown value" for a in result.assumptions]
        details["confidence"] = "proven" if verified and not result.assumptions else "structural"
        return details

    def check_witness(self, values: dict[str, Any], before: IR, after: IR, fires_new: bool) -> bool | None:
        """Evaluate both conditions on the witness with the reference interpreter: True when they
        decide as the solver said, False when not, None when the witness is not a plain event
        (nested fields, unknown functions)."""
        event = _event(values, self.new["input"]["fields"])
        if event is None:
            return None
        try:
            old_fires = _fires(before, event)
            new_fires = _fires(after, event)
        except KeyError:
            return None
        return (new_fires, old_fires) == ((True, False) if fires_new else (False, True))

    def aggregates(self, old: IR, new: IR, before: IR, after: IR) -> IR:
        """Report changed windows and aggregates; return `after` with each window that only moved
        set back to the old one, so the condition is compared on what else changed."""
        name = new["name"]
        old_aggs, new_aggs = _aggregates(before), _aggregates(after)
        if old_aggs == new_aggs:
            return after
        moved: dict[tuple[Any, ...], float] = {}
        for key in set(old_aggs) | set(new_aggs):
            a, b = old_aggs.get(key, []), new_aggs.get(key, [])
            if len(a) == 1 and len(b) == 1 and a != b:
                moved[key] = a[0]
                self.add(
                    "rule-window-changed",
                    name,
                    f"rule '{name}' window of {_agg_name(key)} {format_duration(a[0])} → {format_duration(b[0])}",
                    old["when"].get("at"),
                    new["when"].get("at"),
                    aggregate=_agg_name(key),
                    before=a[0],
                    after=b[0],
                )
        gone = [k for k in old_aggs if k not in new_aggs]
        came = [k for k in new_aggs if k not in old_aggs]
        if gone or came:
            parts = [f"no longer reads {_agg_name(k)}" for k in gone] + [f"now reads {_agg_name(k)}" for k in came]
            self.add(
                "rule-aggregate-changed",
                name,
                f"rule '{name}' " + ", ".join(parts),
                old["when"].get("at"),
                new["when"].get("at"),
                removed=[_agg_name(k) for k in gone],
                added=[_agg_name(k) for k in came],
            )
        if not moved:
            return after
        aligned = copy.deepcopy(after)
        for node in walk(aligned):
            if node["k"] == "agg" and _agg_key(node) in moved:
                node["window"] = moved[_agg_key(node)]
        return aligned

    def time_clauses(self, old: IR, new: IR) -> None:
        name = new["name"]
        a, b = old.get("state", {}), new.get("state", {})
        at = (old["at"], new["at"])
        if bool(a.get("exit")) != bool(b.get("exit")):
            gained = "gained" if b.get("exit") else "lost"
            self.add("rule-hysteresis-changed", name, f"rule '{name}' {gained} its enter/exit hysteresis", *at)
        elif a.get("exit") and not same_shape(a["exit"], b["exit"]):
            result = compare(a["exit"], b["exit"], self.domain(), self.options.timeout_ms)
            self.solver_seconds.append(result.seconds)
            if result.verdict != "equivalent":
                details = self.comparison_details(result, a["exit"], b["exit"], new)
                confidence = details.pop("confidence")
                tags = (GUARD_LOOSENED,) if result.gained is not None else ()  # resolves on more inputs
                self.add(
                    "rule-exit-changed",
                    name,
                    f"rule '{name}' exit condition {result.verdict}{_witness_text(result, 'resolves')}",
                    *at,
                    confidence=confidence,
                    tags=tags,
                    **details,
                )
        if a.get("group_by") != b.get("group_by"):
            self.add(
                "rule-group-by-changed",
                name,
                f"rule '{name}' group by {_keys(a.get('group_by'))} → {_keys(b.get('group_by'))}",
                *at,
                before=a.get("group_by"),
                after=b.get("group_by"),
            )
        for key, loosened_when_shorter in (("for", True), ("keep", False), ("cooldown", True), ("repeat", False)):
            x, y = a.get(key), b.get(key)
            if x == y:
                continue
            shorter = (y or 0) < (x or 0)
            tags = (GUARD_LOOSENED,) if loosened_when_shorter and shorter else ()
            word = "shortened" if shorter else "lengthened"
            self.add(
                f"rule-{key}-changed",
                name,
                f"rule '{name}' {key} {_duration(x)} → {_duration(y)} ({word})",
                *at,
                tags=tags,
                before=x,
                after=y,
            )
        x, y = a.get("limit"), b.get("limit")
        if x != y:
            rate_x = x[0] / x[1] if x else float("inf")
            rate_y = y[0] / y[1] if y else float("inf")
            tags = (GUARD_LOOSENED,) if rate_y > rate_x else ()
            word = "raised" if rate_y > rate_x else "lowered" if rate_y < rate_x else "reshaped"
            self.add(
                "rule-rate-limit-changed",
                name,
                f"rule '{name}' rate limit {_limit(x)} → {_limit(y)} ({word})",
                *at,
                tags=tags,
                before=x,
                after=y,
            )

    def then(self, old: IR, new: IR) -> None:
        name = new["name"]
        before = {call["action"]: call for call in old["then"]}
        after = {call["action"]: call for call in new["then"]}
        for action, call in before.items():
            if action not in after:
                self.add(
                    "rule-action-removed",
                    name,
                    f"rule '{name}' no longer emits {action}",
                    call["at"],
                    new["at"],
                    action=action,
                )
        for action, call in after.items():
            if action not in before:
                self.add(
                    "rule-action-added", name, f"rule '{name}' now emits {action}", old["at"], call["at"], action=action
                )
        for action in before:
            if action in after:
                self.arguments(name, action, before[action], after[action])

    def arguments(self, rule: str, action: str, old: IR, new: IR) -> None:
        for param in sorted(set(old["args"]) | set(new["args"])):
            a, b = old["args"].get(param), new["args"].get(param)
            if a is not None and b is not None:
                verdict, witness, assumptions = same_value(a, b, self.domain(), self.options.timeout_ms)
                if verdict == "equal":
                    if not same_shape(a, b):
                        self.add(
                            "rule-action-argument-rewritten",
                            rule,
                            f"rule '{rule}' {action}({param}) rewritten, proven equal: {unparse(a)} → {unparse(b)}",
                            a.get("at"),
                            b.get("at"),
                            confidence="proven",
                            action=action,
                            parameter=param,
                        )
                    continue
            check = "rule-targets-changed" if param == "targets" else "rule-action-argument-changed"
            text = f"rule '{rule}' {action}({param}: {_arg(a)}) → {action}({param}: {_arg(b)})"
            extra: dict[str, Any] = {"action": action, "parameter": param, "before": _arg(a), "after": _arg(b)}
            if a is not None and b is not None and witness is not None:
                extra["differs_when"] = witness.text()
                text += f"; differs when {witness.text()}"
            confidence = (
                "proven"
                if a is not None and b is not None and witness is not None and not assumptions
                else "structural"
            )
            self.add(check, rule, text, (a or old).get("at"), (b or new).get("at"), confidence=confidence, **extra)


def _same_effects(a: IR, b: IR) -> bool:
    strip = ("name", "index", "at", "reason", "description", "labels", "justification", "when")
    return same_shape({k: v for k, v in a.items() if k not in strip}, {k: v for k, v in b.items() if k not in strip})


def _fires(condition: IR, event: dict[str, Any]) -> bool:
    try:
        return evaluate_condition(condition, event)
    except EvaluationError:
        return False


def _event(values: dict[str, Any], fields: list[IR]) -> dict[str, Any] | None:
    """A complete event around a witness: other required fields at a valid value."""
    event: dict[str, Any] = {}
    for name, value in values.items():
        if "." in name and "(" not in name:
            return None
        if "(" in name:  # an aggregate: the Engine passes it under its slot key
            if value is not None:
                event["@" + name] = value
            continue
        if value is not None:
            event[name] = value
    known = {f["name"] for f in fields}
    if any("(" not in n and n not in known for n in values):
        return None
    for f in fields:
        if f["name"] not in event and not f.get("optional") and f["name"] not in values:
            event[f["name"]] = _filler(f)
    return event


def _filler(f: IR) -> Any:
    typ = f["type"]
    if isinstance(typ, dict):
        if "enum" in typ:
            return typ["enum"][0]
        if "list" in typ:
            return []
        if "map" in typ:
            return {}
        return {g["name"]: _filler(g) for g in typ["record"] if not g.get("optional")}
    low = f.get("min", 0)
    if typ in ("int",):
        return int(low)
    if typ in ("float", "duration", "timestamp"):
        return float(low)
    return {"string": "", "bool": False}.get(typ, "")


def _aggregates(node: IR) -> dict[tuple[Any, ...], list[float]]:
    out: dict[tuple[Any, ...], list[float]] = {}
    for n in walk(node):
        if n["k"] == "agg":
            out.setdefault(_agg_key(n), []).append(n.get("window", 0.0))
    return {k: sorted(v) for k, v in out.items()}


def _agg_key(node: IR) -> tuple[Any, ...]:
    return (node["fn"], tuple(node["path"]), node.get("p"), node.get("alpha"))


def _agg_name(key: tuple[Any, ...]) -> str:
    fn, path, p, alpha = key
    args = [".".join(path)] + [format(x, "g") for x in (p, alpha) if x is not None]
    return f"{fn}({', '.join(args)})"


def _thresholds(a: IR, b: IR) -> list[dict[str, Any]]:
    """When two conditions differ only in literals, each literal that moved: its constant's name
    (or the comparison it is in), before and after."""
    out: list[dict[str, Any]] = []

    def walk_pair(x: Any, y: Any, context: IR | None) -> bool:
        if isinstance(x, dict) and isinstance(y, dict):
            if x.get("k") == "let":
                return walk_pair(x["e"], y["e"] if y.get("k") == "let" else y, context)
            if y.get("k") == "let":
                return walk_pair(x, y["e"], context)
            if x.get("k") == "lit" and y.get("k") == "lit":
                if x["v"] != y["v"]:
                    if (
                        type(x["v"]) is bool
                        or not isinstance(x["v"], int | float)
                        or not isinstance(y["v"], int | float)
                    ):
                        return False
                    label = x.get("const") or y.get("const") or (unparse(context) if context else unparse(x))
                    out.append({"name": label, "before": x["v"], "after": y["v"]})
                return True
            keys = set(x) - {"at", "const", "text", "t"}
            if keys != set(y) - {"at", "const", "text", "t"}:
                return False
            here = x if x.get("k") == "cmp" else context
            return all(walk_pair(x[k], y[k], here) for k in keys)
        if isinstance(x, list) and isinstance(y, list):
            return len(x) == len(y) and all(walk_pair(p, q, context) for p, q in zip(x, y, strict=True))
        return bool(x == y)

    if walk_pair(a, b, None):
        return out
    # Not the same shape: still name the constants whose value moved (`load_limit 0.8 → 0.85`).
    before, after = _constants(a), _constants(b)
    return [
        {"name": n, "before": before[n], "after": after[n]}
        for n in sorted(before)
        if n in after and before[n] != after[n]
    ]


def _constants(node: IR) -> dict[str, Any]:
    return {n["const"]: n["v"] for n in walk(node) if n["k"] == "lit" and "const" in n}


def _witness_text(result: Comparison, verb: str = "fires") -> str:
    parts = []
    if result.gained is not None:
        region = f" (where {result.gained_region})" if result.gained_region else ""
        parts.append(f"now also {verb} when {result.gained.text()}{region}")
    if result.lost is not None:
        region = f" (where {result.lost_region})" if result.lost_region else ""
        parts.append(f"no longer {verb} when {result.lost.text()}{region}")
    return (": " + "; ".join(parts)) if parts else ""


def _reason(rule: IR) -> str:
    return "".join(
        p if isinstance(p, str) else "{" + p["text"] + (":" + p["spec"] if p["spec"] else "") + "}"
        for p in rule["reason"]
    )


def _arg(node: IR | None) -> str:
    return "(absent)" if node is None else unparse(node)


def _value(v: Any) -> str:
    return format(v, "g") if isinstance(v, float) else str(v)


def _setting(v: Any) -> str:
    if v is None:
        return "(unset)"
    if isinstance(v, float):
        return format_duration(v)
    if isinstance(v, list):
        return " by ".join(str(x) for x in v)
    return str(v)


def _duration(v: float | None) -> str:
    return "(none)" if v is None else format_duration(v)


def _limit(v: list[Any] | None) -> str:
    return "(none)" if v is None else f"at most {v[0]} per {format_duration(v[1])}"


def _keys(v: list[str] | None) -> str:
    return ", ".join(v) if v else "(none)"
