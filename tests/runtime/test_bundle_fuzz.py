"""The loader against thousands of mutated bundles: refused with a BallastError, or a valid set.

A seeded mutator (a failure names its seed and case, and reproduces) changes a small bundle that
uses most of the IR: input types, a named condition, functions, a reason template, a stateful
rule with a window, and a threat document (catalog/gtbe.bal). Two kinds of mutation:

* bytes: bit flips, truncation, inserted and deleted bytes, repeated slices, runs of digits and
  brackets: the file an accident or an attacker leaves. A signed bundle so changed is always
  refused; an unsigned one loaded with `allow_unsigned=True` mostly fails its fingerprint.
* trees: a node of the IR replaced by a value of the wrong type, a huge number, a deep nesting or
  a long string, removed, duplicated or given an unknown key, duplicate keys in the text; then
  the fingerprint is recomputed, as whoever can write an unsigned bundle can, so the loader's
  checks of the IR itself are what stand.

Each case must raise a BallastError or load as a set that evaluates events (and runs in an
Engine) without an exception escaping, within a time limit. Code is always rebuilt from the IR,
never taken from it: a last test plants Python source in every string of the bundle and checks
none of it runs.
"""

from __future__ import annotations

import builtins
import contextlib
import copy
import hashlib
import json
import random
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import ballast
from ballast.compiler.pipeline import compile_paths
from ballast.runtime.bundle import dump_bundle, fingerprint
from ballast.runtime.engine import Engine
from ballast.runtime.errors import BallastError
from ballast.runtime.keyring import Keyring, Role, TrustedKey
from ballast.runtime.signing import PrivateKey, sign_bundle

SEED = 20261203
BYTE_CASES = 2000
TREE_CASES = 700
CASE_SECONDS = 30  # a case (load, evaluations, an Engine) running longer hangs; ~10 ms is usual
NOW = 1_780_000_000.0

POLICY = """\
policy fuzz.target version "1.0.0" {
  input ev {
    ts: timestamp
    pool: string
    tier: enum("critical", "standard", "batch")
    cpu: float in [0, 1]
    p99: duration
    tags: list<string>
    meta: { zone: string, weight: float }
    canary?: bool
  }

  stream {
    time ts
  }

  const limit = 0.85

  let hot = cpu > limit && p99 > 300ms

  rule scale_hot {
    when hot && tier != "batch" && len(tags) < 5
    then scale(targets: pool, by: 2)
    priority 50
    reason "{pool}: cpu {cpu:.0%} in {meta.zone}"
  }

  rule canary {
    when has(canary) && canary && ("edge" in tags || meta.weight > 2.5)
    then reroute(targets: pool, to: "stable", percent: round(cpu * 100, 1))
    priority 90
  }

  rule sustained {
    group by pool
    when avg(cpu, 1m) > 0.9
    for 30s
    then pause(targets: pool, duration: 10m)
    cooldown 5m
  }
}
"""
EVENTS = [
    {"ts": "2026-01-01T00:00:00Z", "pool": "a", "tier": "standard", "cpu": 0.95, "p99": "400ms",
     "tags": ["edge"], "meta": {"zone": "z", "weight": 3.0}, "canary": True},
    {"ts": "2026-01-01T00:00:45Z", "pool": "a", "tier": "batch", "cpu": 0.97, "p99": 0.5, "tags": [],
     "meta": {"zone": "z", "weight": 1.0}},
    {"pool": 3, "cpu": "high"},
    {"ts": "2026-01-01T00:01:00Z", "trp_risk": 83.0, "load": 0.9},  # for the threat document
]  # fmt: skip
GTBE = Path(__file__).resolve().parents[2] / "catalog" / "gtbe.bal"
KEY = PrivateKey.from_seed(hashlib.sha256(b"fuzz").digest(), "fuzz")
KEYRING = Keyring(
    "fuzz",
    {"MetaAdmin": Role("MetaAdmin")},
    (TrustedKey(KEY.key_id, KEY.public_key, frozenset({"MetaAdmin"})),),
    "MetaAdmin",
)
WRONG = [None, True, 0, -1, 2**63, 10**4000, 1e308, -0.0, "", "x", "fuzz.target", [], [None], {}, {"k": "lit"}]  # fmt: skip


@pytest.fixture(scope="module")
def bundle() -> dict[str, Any]:
    return compile_paths(["fuzz.bal", str(GTBE)], sources={"fuzz.bal": POLICY}, source_date_epoch=0).bundle


class Hang(Exception):
    """Raised by the alarm: a case ran past CASE_SECONDS."""


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise Hang in the block once it has run `seconds`, and every second after: an exception
    raised where Python ignores it (a garbage collector callback) is raised again."""

    def ring(signum: int, frame: object) -> None:
        raise Hang

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds, 1.0)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def outcome(path: Path, **load: Any) -> str:
    """'refused' or 'loaded'; fails the test on any other exception or a hang."""
    try:
        with deadline(CASE_SECONDS):
            try:
                policies = ballast.load(path, **load)
            except BallastError:
                return "refused"
            # a valid set: it evaluates events, and an Engine runs it, with nothing escaping,
            # down to the reasons and rationales a host reads from the directives
            engine = Engine(policies)
            for event in EVENTS:
                json.dumps(policies.evaluate(event).to_dict())
                json.dumps(engine.process(event).to_dict())
    except Hang:
        pytest.fail(f"{path.name}: no answer within {CASE_SECONDS} s")
    return "loaded"


# ---- bytes ----


def mutate_bytes(raw: bytes, rng: random.Random) -> bytes:
    i = rng.randrange(len(raw))
    kind = rng.randrange(8)
    if kind == 0:
        out = bytearray(raw)
        for _ in range(rng.randint(1, 3)):
            out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
        return bytes(out)
    if kind == 1:
        return raw[:i]
    if kind == 2:
        return raw[:i] + rng.randbytes(rng.randint(1, 8)) + raw[i:]
    if kind == 3:
        return raw[:i] + raw[i + rng.randint(1, 64) :]
    if kind == 4:
        j = min(len(raw), i + rng.randint(1, 200))
        return raw[:j] + raw[i:j] + raw[j:]
    if kind == 5:
        return raw[:i] + b"9" * rng.choice((20, 400, 5000)) + raw[i:]
    if kind == 6:
        depth = rng.choice((100, 5000, 200_000))
        return raw[:i] + b"[" * depth + b"]" * depth + raw[i:]
    return raw[:i] + bytes([rng.choice(b'{}[]",:0e-.\\ntfu')]) + raw[i + 1 :]


@pytest.mark.parametrize("signed", [False, True], ids=["unsigned", "signed"])
def test_mutated_bytes_are_refused_or_load_a_valid_set(bundle: dict[str, Any], tmp_path: Path, signed: bool) -> None:
    raw = dump_bundle(sign_bundle(bundle, KEY, now=NOW) if signed else bundle)
    load = {"trust": KEYRING, "now": NOW} if signed else {"allow_unsigned": True}
    rng = random.Random(SEED + signed)
    path = tmp_path / "b.json"
    seen: dict[str, int] = {}
    for case in range(BYTE_CASES // 2):
        mutated = mutate_bytes(raw, rng)
        path.write_bytes(mutated)
        result = outcome(path, **load)
        seen[result] = seen.get(result, 0) + 1
        if signed and mutated != raw:
            assert result == "refused", f"case {case}: a changed signed bundle loaded"
    assert seen.get("refused", 0) > BYTE_CASES // 4


# ---- trees ----


def places(node: Any, out: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """Every (container, key or index) of a JSON value, without recursion; a container shared by
    two places (or made a cycle by an earlier mutation) is walked once."""
    stack, seen = [node], set()
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        steps = (
            list(item.items()) if isinstance(item, dict) else list(enumerate(item)) if isinstance(item, list) else []
        )
        for step, child in steps:
            out.append((item, step))
            stack.append(child)
    return out


def deep(depth: int) -> Any:
    value: Any = {"k": "lit", "v": 1}
    for _ in range(depth):
        value = {"k": "not", "e": value} if depth % 2 else [value]
    return value


def mutate_tree(ir: dict[str, Any], rng: random.Random) -> None:
    container, step = rng.choice(places(ir, []))
    kind = rng.randrange(7)
    if kind == 0:
        container[step] = copy.deepcopy(rng.choice(WRONG))
    elif kind == 1:
        del container[step]
    elif kind == 2 and isinstance(container, dict):
        container[rng.choice(("k", "op", "fn", "unknown", "t", "at"))] = copy.deepcopy(rng.choice(WRONG))
    elif kind == 3:
        container[step] = deep(rng.choice((50, 400, 900)))  # deeper: see mutate_bytes, which writes the text
    elif kind == 4:
        container[step] = "A" * rng.choice((1000, 1_000_000))
    elif kind == 5 and isinstance(container, list):
        container.insert(step, container[step])  # shared, not copied: the text repeats it
    else:
        other, other_step = rng.choice(places(ir, []))
        container[step] = other[other_step]  # an ancestor makes a cycle, which cannot be written: skipped


def with_duplicate_key(text: str, rng: random.Random) -> str:
    """The text with one key of an object given twice (JSON keeps the last; others the first)."""
    ends = [i for i in range(len(text)) if text.startswith('":', i)]
    end = rng.choice(ends)
    start = text.rfind('"', 0, end)
    return text[:start] + f"{text[start : end + 2]}{json.dumps(rng.choice(WRONG[:12]))}," + text[start:]


def compact(bundle: dict[str, Any]) -> str:
    """The bundle as compact JSON: what an unsigned load reads as well as the indented form, and
    quick to write for the deep trees (json's indenting encoder is pure Python)."""
    return json.dumps(bundle, sort_keys=True, separators=(",", ":"), allow_nan=False)


def test_mutated_trees_with_their_fingerprint_recomputed_are_refused_or_load_a_valid_set(
    bundle: dict[str, Any], tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    path = tmp_path / "b.json"
    seen: dict[str, int] = {}
    for _ in range(TREE_CASES):
        mutated = copy.deepcopy(bundle)
        for _ in range(rng.randint(1, 2)):
            mutate_tree(mutated["ir"], rng)
        try:
            mutated["manifest"]["fingerprint"]["hash"] = fingerprint(mutated["ir"])
            text = compact(mutated)
        except (ValueError, RecursionError):  # not JSON any more (a cycle, too deep to write): nothing to load
            continue
        if rng.random() < 0.15:
            text = with_duplicate_key(text, rng)
        path.write_text(text, encoding="utf-8")
        result = outcome(path, allow_unsigned=True)
        seen[result] = seen.get(result, 0) + 1
    assert seen.get("refused", 0) > TREE_CASES // 10 and seen.get("loaded", 0) > TREE_CASES // 20, seen


# ---- no code from the bundle runs ----

PLANTED = (
    "__import__('builtins').BALLAST_PWNED = 1\n"
    "\"); __import__('builtins').BALLAST_PWNED = 1 #\n"
    "'); __import__('builtins').BALLAST_PWNED = 1 #\n"
    "{__import__('builtins').BALLAST_PWNED}"
)


def strings_of(bundle: dict[str, Any]) -> list[tuple[Any, Any]]:
    """Every string of the IR (values, and keys as ("key", name)) and of the manifest (values:
    the manifest's keys and its fingerprint are checked before anything is built)."""
    out = []
    for container, step in places(bundle["ir"], []):
        if isinstance(container[step], str):
            out.append((container, step))
        if isinstance(container, dict) and isinstance(step, str):
            out.append((container, ("key", step)))
    fingerprint_entry = bundle["manifest"]["fingerprint"]
    for container, step in places(bundle["manifest"], []):
        if isinstance(container[step], str) and container is not fingerprint_entry:
            out.append((container, step))
    return out


@contextlib.contextmanager
def compile_only_trees() -> Iterator[list[str]]:
    """While active, `compile` given source text (not an `ast` tree) is recorded."""
    texts: list[str] = []
    real: Callable[..., Any] = builtins.compile

    def spy(source: Any, *args: Any, **kw: Any) -> Any:
        if isinstance(source, str | bytes):
            texts.append(source if isinstance(source, str) else source.decode("utf-8", "replace"))
        return real(source, *args, **kw)

    builtins.compile = spy
    try:
        yield texts
    finally:
        builtins.compile = real


def test_python_source_planted_in_every_string_never_runs(bundle: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    count = len(strings_of(bundle))
    assert count > 100
    results: dict[str, int] = {}
    with compile_only_trees() as texts:
        for index in range(count):
            planted = copy.deepcopy(bundle)
            container, step = strings_of(planted)[index]
            if isinstance(step, tuple):  # a key: plant the source as the key itself
                container[PLANTED] = container.pop(step[1])
            else:
                container[step] = PLANTED
            planted["manifest"]["fingerprint"]["hash"] = fingerprint(planted["ir"])
            path.write_bytes(dump_bundle(planted))
            try:
                result = outcome(path, allow_unsigned=True)
            except BallastError as exc:  # raised while evaluating: a BallastError is fine
                assert "__import__" not in str(exc) or "is not defined" not in str(exc)
                result = "raised"
            results[result] = results.get(result, 0) + 1
            assert not hasattr(builtins, "BALLAST_PWNED"), f"string {index} of the bundle ran as code"
    assert not [t for t in texts if "BALLAST_PWNED" in t], "source text from the bundle was compiled"
    assert results.get("loaded", 0) > count // 4  # most strings are data: the set still loads


# ---- what the fuzzer found, kept as cases ----


def _first_field(ir: dict[str, Any]) -> dict[str, Any]:
    return next(c[s] for c, s in places(ir, []) if isinstance(c[s], dict) and c[s].get("k") == "field")


FOUND: dict[str, Callable[[dict[str, Any]], None]] = {
    # a path given as a string: a million subscripts, seconds to build, then a RecursionError
    "path-a-long-string": lambda ir: _first_field(ir).__setitem__("path", "A" * 100_000),
    # an enum given as a string: matched by substring, a "did you mean" over its characters
    "enum-a-string": lambda ir: ir["policies"][0]["input"]["fields"][2]["type"].__setitem__("enum", "critical"),
    # interpreted on every update of the threat: an unknown operator met by the Engine, not the loader
    "threat-operator": lambda ir: ir["threats"][0]["sources"][2]["expr"].__setitem__("op", "**"),
    "threat-time-field": lambda ir: ir["threats"][0].__setitem__("time", "when"),
    # a string of a gigabyte for every directive
    "reason-spec-width": lambda ir: ir["policies"][0]["rules"][0]["reason"][2].__setitem__("spec", "999999999"),
}


@pytest.mark.parametrize("case", FOUND)
def test_what_the_fuzzer_found_is_refused_when_loading(bundle: dict[str, Any], tmp_path: Path, case: str) -> None:
    edited = copy.deepcopy(bundle)
    FOUND[case](edited["ir"])
    edited["manifest"]["fingerprint"]["hash"] = fingerprint(edited["ir"])
    path = tmp_path / "b.json"
    path.write_bytes(dump_bundle(edited))
    with pytest.raises(BallastError) as caught:
        ballast.load(path, allow_unsigned=True)
    assert getattr(caught.value, "reason", "") == "malformed-ir", caught.value


def test_the_compiler_refuses_the_format_specs_the_loader_refuses() -> None:
    with pytest.raises(ballast.CompileError) as caught:
        compile_paths(["p.bal"], sources={"p.bal": POLICY.replace("{cpu:.0%}", "{cpu:5000}")})
    assert [(d.code, d.message) for d in caught.value.diagnostics] == [
        ("reason", "format spec ':5000' asks for a width or precision above 1000")
    ]
