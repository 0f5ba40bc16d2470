"""A generated policy set and a head version of it with a known mix of changes, for bench/diff.py.

`make_pair(rules, seed)` writes (as text) one policy of `rules` rules over a typed input of 15
fields (floats and ints with ranges, three enums, a string, an optional float, the event time)
with a `stream { time ts }` block, and a head version in which about 5% of the rules are changed
in a known mix of ways. It also says which findings `ballast diff` must report between the two:
`Pair.expected`, counts by check id, so the benchmark can refuse to time a broken diff.

Rules have 1 to 4 comparisons joined by `&&` and `||` (nested one level, `a && (b || c)`):
thresholds on numeric fields, enum equalities and `in` lists, a service name, arithmetic
(`cpu / 100 + load > 1.5`, `queue_depth / max(replicas, 1) > 500`), an optional field, a
window aggregate. About one rule in six has a `for`, one in five a cooldown (both grouped by
service); every rule emits one or two actions with targets (`scale`, `reroute`, `downgrade`,
`pause` and a declared `page`).

The changes, each on a different rule, and the finding each must give:

| change | example | finding |
|---|---|---|
| threshold moved up or down | `load > 0.8` → `load > 0.88` | rule-condition-narrowed or -widened |
| operands reordered | `a && b` → `b && a` | rule-condition-rewritten (cosmetic) |
| rewritten by De Morgan | `a && b` → `!(!a || !b)`, with `!x > t` as `x <= t` | rule-condition-rewritten |
| a clause added | `a || b` → `(a || b) && env == "prod"` | rule-condition-narrowed |
| rule renamed | `r` → `r_renamed` | rule-renamed |
| rule removed / added | | rule-removed / rule-added |
| cooldown changed | `cooldown 5m` → `cooldown 10m` | rule-cooldown-changed |

and the policy's version is bumped (policy-metadata-changed). Everything is drawn from
`random.Random(seed)`: the same arguments give the same texts.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace

# ---------------------------------------------------------------------------------------------
# the input

NUMERIC: dict[str, tuple[str, float, float]] = {  # name: (type, min, max)
    "load": ("float", 0, 1),
    "cpu": ("float", 0, 100),
    "memory_gb": ("float", 0, 512),
    "latency_ms": ("float", 0, 600_000),
    "error_rate": ("float", 0, 1),
    "risk": ("float", 0, 100),
    "queue_depth": ("int", 0, 10_000_000),
    "replicas": ("int", 0, 1_000),
    "restarts": ("int", 0, 10_000),
}
ENUMS: dict[str, tuple[str, ...]] = {
    "region": ("us-east", "us-west", "eu-west", "ap-south"),
    "tier": ("critical", "standard", "batch"),
    "env": ("prod", "staging", "dev"),
}
WINDOW = "avg(latency_ms, 5m)"  # an empty window is null: a comparison with it faults
OPTIONAL = "saturation"  # saturation?: float in [0, 1]; a comparison with it faults when it is absent
SERVICES = 40

INPUT_BLOCK = "\n".join(
    [
        "  input fleet {",
        "    ts: timestamp",
        "    service: string",
        *(f"    {name}: enum({', '.join(f'{chr(34)}{v}{chr(34)}' for v in values)})" for name, values in ENUMS.items()),
        *(f"    {name}: {typ} in [{lo}, {hi}]" for name, (typ, lo, hi) in NUMERIC.items()),
        f"    {OPTIONAL}?: float in [0, 1]",
        "  }",
    ]
)
FIELD_COUNT = 2 + len(ENUMS) + len(NUMERIC) + 1

# ---------------------------------------------------------------------------------------------
# conditions: a small tree of comparisons

FLIP = {">": "<=", ">=": "<", "<": ">=", "<=": ">", "==": "!=", "!=": "=="}
MIRROR = {">": "<", ">=": "<=", "<": ">", "<=": ">=", "==": "==", "!=": "!="}

# arithmetic on the left of a threshold: (text, fields read, type, lowest and highest threshold)
ARITHMETIC = (
    ("cpu / 100 + load", ("cpu", "load"), "float", 1.2, 1.9),
    ("error_rate * 100", ("error_rate",), "float", 1.0, 20.0),
    ("memory_gb / max(replicas, 1)", ("memory_gb", "replicas"), "float", 4.0, 64.0),
    ("queue_depth / max(replicas, 1)", ("queue_depth", "replicas"), "float", 200.0, 5_000.0),
    ("latency_ms / 1000 + error_rate * 10", ("latency_ms", "error_rate"), "float", 2.0, 30.0),
)


@dataclass(frozen=True)
class Leaf:
    """One comparison: `left op value`; `value` is a number, a quoted string or a list's text."""

    left: str
    op: str
    value: float | int | str
    fields: tuple[str, ...]
    movable: bool = False  # a numeric threshold that can be moved
    faults: bool = False  # may fault (an optional field, an empty window): not reordered across `||`

    def text(self) -> str:
        return f"{self.left} {self.op} {_number(self.value)}"

    def negated(self) -> str:
        if self.op == "in":
            return f"!({self.text()})"
        return f"{self.left} {FLIP[self.op]} {_number(self.value)}"

    def mirrored(self) -> str:
        return f"{_number(self.value)} {MIRROR[self.op]} {self.left}"


@dataclass(frozen=True)
class Node:
    """`&&` or `||` of two or more children."""

    op: str  # "&&" | "||"
    children: tuple[Node | Leaf, ...]


Tree = Node | Leaf


def render(tree: Tree, inside: str = "") -> str:
    """The condition's text, parenthesised where a `||` sits inside a `&&` (and the reverse, for the reader)."""
    if isinstance(tree, Leaf):
        return tree.text()
    text = f" {tree.op} ".join(render(c, tree.op) for c in tree.children)
    return f"({text})" if inside and inside != tree.op else text


def de_morgan(tree: Tree) -> str:
    """`!(…)` of the negation pushed down to the comparisons: decides exactly as `tree` when nothing faults."""

    def negate(t: Tree, inside: str) -> str:
        if isinstance(t, Leaf):
            return t.negated()
        op = "||" if t.op == "&&" else "&&"
        text = f" {op} ".join(negate(c, op) for c in t.children)
        return f"({text})" if inside and inside != op else text

    return f"!({negate(tree, '')})"


def reordered(tree: Tree) -> str:
    """The same condition with the operands of the top `&&`/`||` in reverse order (or a comparison mirrored)."""
    if isinstance(tree, Leaf):
        return tree.mirrored()
    return render(Node(tree.op, tree.children[::-1]))


def leaves(tree: Tree) -> list[Leaf]:
    return [tree] if isinstance(tree, Leaf) else [leaf for c in tree.children for leaf in leaves(c)]


def replace_leaf(tree: Tree, old: Leaf, new: Leaf) -> Tree:
    if isinstance(tree, Leaf):
        return new if tree is old else tree
    return Node(tree.op, tuple(replace_leaf(c, old, new) for c in tree.children))


def _number(value: float | int | str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    return format(value, ".4g") if abs(value) < 1e5 else str(int(value)) + ".0"


def _nice(value: float, typ: str) -> float | int:
    """Three significant digits (an int for an int field, at least 1)."""
    if typ == "int":
        return max(1, int(float(f"{value:.3g}")))
    return float(f"{value:.3g}")


# ---------------------------------------------------------------------------------------------
# rules


@dataclass(frozen=True)
class Rule:
    name: str
    tree: Tree
    then: str
    group_by: bool = False
    for_: str = ""
    cooldown: str = ""
    priority: int | None = None
    impact: str = ""
    reason: str = ""
    when: str = ""  # the condition's text when it is not `render(tree)` (a rewritten head rule)

    def text(self) -> str:
        lines = [f"  rule {self.name} {{"]
        if self.group_by:
            lines.append("    group by service")
        lines.append(f"    when {self.when or render(self.tree)}")
        if self.for_:
            lines.append(f"    for {self.for_}")
        lines.append(f"    then {self.then}")
        if self.cooldown:
            lines.append(f"    cooldown {self.cooldown}")
        if self.priority is not None:
            lines.append(f"    priority {self.priority}")
        if self.impact:
            lines.append(f"    impact {self.impact}")
        if self.reason:
            lines.append(f'    reason "{self.reason}"')
        lines.append("  }")
        return "\n".join(lines)


class Generator:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def leaf(self, used: set[str]) -> Leaf:
        """A comparison over fields not in `used` (so a rule reads each field once and a moved
        threshold always matters)."""
        rng = self.rng
        while True:
            kind = rng.choices(
                ("threshold", "enum", "in", "service", "arithmetic", "optional", "window"),
                weights=(50, 12, 8, 10, 10, 4, 3),
            )[0]
            if kind == "threshold":
                name = rng.choice(sorted(set(NUMERIC) - used))
                typ, lo, hi = NUMERIC[name]
                op = rng.choice((">", ">", ">=", "<", "<="))
                share = rng.uniform(0.5, 0.95) if op in (">", ">=") else rng.uniform(0.05, 0.5)
                return Leaf(name, op, _nice(lo + share * (hi - lo), typ), (name,), movable=True)
            if kind == "enum":
                free = sorted(set(ENUMS) - used)
                if not free:
                    continue
                name = rng.choice(free)
                return Leaf(name, rng.choice(("==", "==", "!=")), f'"{rng.choice(ENUMS[name])}"', (name,))
            if kind == "in":
                name = rng.choice(("region", "tier"))
                if name in used:
                    continue
                values = sorted(rng.sample(ENUMS[name], 2), key=ENUMS[name].index)
                return Leaf(name, "in", "[" + ", ".join(f'"{v}"' for v in values) + "]", (name,))
            if kind == "service":
                if "service" in used:
                    continue
                return Leaf("service", "==", f'"svc-{rng.randrange(SERVICES):03d}"', ("service",))
            if kind == "arithmetic":
                text, reads, typ, lo, hi = rng.choice(ARITHMETIC)
                if used & set(reads):
                    continue
                return Leaf(text, ">", _nice(rng.uniform(lo, hi), typ), reads, movable=True)
            if kind == "optional":
                if OPTIONAL in used:
                    continue
                return Leaf(OPTIONAL, ">", _nice(rng.uniform(0.7, 0.95), "float"), (OPTIONAL,), True, faults=True)
            if "latency_ms" in used:  # a window aggregate: the service's mean latency over 5 minutes
                continue
            value = _nice(rng.uniform(200, 2_000), "float")
            return Leaf(WINDOW, ">", value, ("latency_ms",), True, faults=True)

    def tree(self) -> Tree:
        rng = self.rng
        n = rng.choices((1, 2, 3, 4), weights=(20, 35, 30, 15))[0]
        used: set[str] = set()
        parts: list[Leaf] = []
        for _ in range(n):
            leaf = self.leaf(used)
            used.update(leaf.fields)
            parts.append(leaf)
        if n == 1:
            return parts[0]
        if n == 2:
            return Node(rng.choice(("&&", "&&", "||")), tuple(parts))
        shape = rng.choice(("all", "all", "nested", "nested", "or-of-and"))
        if shape == "all":
            return Node("&&", tuple(parts))
        if shape == "nested":  # a && (b || c) [&& d]
            return Node("&&", (parts[0], Node("||", (parts[1], parts[2])), *parts[3:]))
        half = n // 2  # (a && b) || (c && d), or a || (b && c)
        left = parts[0] if half == 1 else Node("&&", tuple(parts[:half]))
        return Node("||", (left, Node("&&", tuple(parts[half:]))))

    def action(self) -> str:
        rng = self.rng
        kind = rng.choices(("scale", "reroute", "downgrade", "page", "pause"), weights=(40, 15, 15, 20, 10))[0]
        if kind == "scale":
            return f"scale(targets: service, by: {rng.randint(1, 4)})"
        if kind == "reroute":
            return f'reroute(targets: service, to: "{rng.choice(("standby", "overflow", "eu-west"))}", percent: {rng.choice((25.0, 50.0, 100.0))})'
        if kind == "downgrade":
            return f"downgrade(targets: service, level: {rng.randint(1, 3)})"
        if kind == "page":
            return f'page(targets: [service, "sre-oncall"], channel: "#{rng.choice(("ops", "sre", "platform"))}")'
        return f"pause(targets: service, duration: {rng.choice(('1m', '5m', '15m'))})"

    def rule(self, name: str) -> Rule:
        rng = self.rng
        tree = self.tree()
        actions = [self.action()]
        if rng.random() < 0.15:
            second = self.action()
            if second.split("(")[0] != actions[0].split("(")[0]:
                actions.append(second)
        reads_window = any(leaf.left == WINDOW for leaf in leaves(tree))
        for_ = rng.choice(("30s", "1m", "2m", "5m")) if rng.random() < 0.16 else ""
        cooldown = rng.choice(("1m", "5m", "10m", "15m")) if rng.random() < 0.2 else ""
        first = leaves(tree)[0].left
        reason = ""
        if rng.random() < 0.5:
            reason = f"{{service}}: {first} at {{{first}}}" if first in NUMERIC else "{service} matched"
        return Rule(
            name,
            tree,
            ", ".join(actions),
            group_by=bool(for_ or cooldown or reads_window),
            for_=for_,
            cooldown=cooldown,
            priority=rng.randrange(10, 100) if rng.random() < 0.5 else None,
            impact=rng.choice(("", "minimal", "low", "moderate", "high", "critical")),
            reason=reason,
        )


# ---------------------------------------------------------------------------------------------
# the two versions


# How the changed 5% is shared out among the kinds of change (for 1000 rules: 50 changes).
MIX = (
    ("threshold", 12),
    ("reorder", 8),
    ("de-morgan", 8),
    ("clause", 6),
    ("rename", 4),
    ("remove", 3),
    ("add", 3),
    ("cooldown", 6),
)
SHARE_CHANGED = 0.05


@dataclass
class Pair:
    base: str  # the policy's text
    head: str
    rules: int
    changes: dict[str, int]  # kind of change: how many
    expected: Counter[str] = field(default_factory=Counter)  # finding id: how many


def policy_text(name: str, version: str, rules: list[Rule]) -> str:
    head = [
        f'policy {name} version "{version}" {{',
        '  owner "sre-core"',
        '  description "generated for bench/diff.py: a fleet of services, 15 input fields"',
        "",
        INPUT_BLOCK,
        "",
        "  stream {",
        "    time ts",
        "    lateness 30s",
        "  }",
        "",
        '  action page(targets: selector, channel: string = "#oncall")',
        "",
    ]
    return "\n".join(head + [r.text() + "\n" for r in rules] + ["}", ""])


def change_counts(rules: int) -> dict[str, int]:
    """How many rules each kind of change touches: 5% of the rules in all, at least one of each."""
    scale = SHARE_CHANGED * rules / sum(w for _, w in MIX)
    return {kind: max(1, round(w * scale)) for kind, w in MIX}


def make_pair(rules: int, seed: int = 20251203) -> Pair:
    """The base policy of `rules` rules, its head version and the findings expected between them."""
    rng = random.Random(seed)
    gen = Generator(rng)
    base = [
        gen.rule(f"r{i:04d}_{rng.choice(('load', 'latency', 'errors', 'queue', 'risk', 'capacity'))}")
        for i in range(rules)
    ]
    counts = change_counts(rules)
    pair = Pair("", "", rules, counts)
    expected = pair.expected
    expected["policy-metadata-changed"] = 1
    head: list[Rule | None] = list(base)
    free = list(range(rules))
    rng.shuffle(free)

    def take(eligible: Callable[[Rule], bool]) -> int:
        """A rule not changed yet that `eligible` accepts, at random."""
        for position, i in enumerate(free):
            if eligible(base[i]):
                del free[position]
                return i
        raise ValueError(f"no rule left for a change of this kind ({rules} rules are too few)")

    def plain(r: Rule) -> bool:  # nothing faults: reordering and De Morgan keep the decisions
        return not any(leaf.faults for leaf in leaves(r.tree))

    for n in range(counts["threshold"]):
        i = take(lambda r: any(leaf.movable for leaf in leaves(r.tree)))
        rule = base[i]
        leaf = next(leaf for leaf in leaves(rule.tree) if leaf.movable)
        up = n % 2 == 0
        typ = NUMERIC[leaf.left][0] if leaf.left in NUMERIC else "float"
        moved = _nice(float(leaf.value) * (1.1 if up else 0.9), typ)
        if moved == leaf.value:
            moved = leaf.value + (1 if up else -1)
        head[i] = replace(rule, tree=replace_leaf(rule.tree, leaf, replace(leaf, value=moved)))
        fires_more = up == (leaf.op in ("<", "<="))
        expected["rule-condition-widened" if fires_more else "rule-condition-narrowed"] += 1
    for _ in range(counts["reorder"]):
        i = take(lambda r: plain(r) and isinstance(r.tree, Node))
        head[i] = replace(base[i], when=reordered(base[i].tree))
        expected["rule-condition-rewritten"] += 1
    for _ in range(counts["de-morgan"]):
        i = take(plain)
        head[i] = replace(base[i], when=de_morgan(base[i].tree))
        expected["rule-condition-rewritten"] += 1
    for _ in range(counts["clause"]):
        i = take(lambda r: all("env" not in leaf.fields for leaf in leaves(r.tree)))
        clause = Leaf("env", "==", '"prod"', ("env",))
        tree = base[i].tree
        parts = (*tree.children, clause) if isinstance(tree, Node) and tree.op == "&&" else (tree, clause)
        head[i] = replace(base[i], tree=Node("&&", parts))
        expected["rule-condition-narrowed"] += 1
    for _ in range(counts["cooldown"]):
        i = take(lambda r: bool(r.cooldown))
        head[i] = replace(base[i], cooldown={"1m": "2m", "5m": "10m", "10m": "5m", "15m": "10m"}[base[i].cooldown])
        expected["rule-cooldown-changed"] += 1
    for _ in range(counts["rename"]):
        i = take(lambda r: True)
        head[i] = replace(base[i], name=base[i].name + "_renamed")
        expected["rule-renamed"] += 1
    for _ in range(counts["remove"]):
        head[take(lambda r: True)] = None
        expected["rule-removed"] += 1
    added = [gen.rule(f"added_{n:02d}_capacity") for n in range(counts["add"])]
    expected["rule-added"] += len(added)
    pair.base = policy_text("bench.fleet", "1.0.0", base)
    pair.head = policy_text("bench.fleet", "1.1.0", [r for r in head if r is not None] + added)
    return pair
