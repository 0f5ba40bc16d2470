"""Unit tests of each compiler pass, through the pipeline's `stop_after` so each pass is seen alone."""

from __future__ import annotations

import pytest

import ballast
from ballast.compiler.pipeline import PASS_NAMES, compile_paths
from ballast.dsl import ast
from ballast.runtime.errors import CompileError, InternalError

HEADER = """policy t.p version "1.0.0" {
  input telemetry {
    service: string
    tier: enum("critical", "standard", "batch")
    load: float in [0, 1]
    risk: float in [0, 100]
    depth: int
    canary?: bool
    res: { cpu: float, mem?: float }
  }
"""


def compile_source(body: str, stop_after: str | None = None, extra: dict[str, str] | None = None):
    sources = {"t.bal": HEADER + body + "\n}\n", **(extra or {})}
    return compile_paths(["t.bal"], stop_after=stop_after, sources=sources)


def cant_compile(body: str, code: str) -> CompileError:
    """Fails unless compiling raises a user-facing error with a position and the given code."""
    with pytest.raises(CompileError) as info:
        compile_source(body)
    codes = [d.code for d in info.value.diagnostics]
    assert code in codes, f"expected error code {code!r}, got {codes}"
    assert info.value.line >= 1 and info.value.column >= 1
    return info.value


def rule(name: str, when: str, then: str = "scale(targets: service)", extra: str = "") -> str:
    return f"  rule {name} {{\n    when {when}\n    then {then}\n{extra}  }}\n"


def test_passes_run_in_the_documented_order() -> None:
    assert PASS_NAMES == ["parse", "resolve", "check-types", "optimize", "codegen", "bundle"]


def test_each_pass_is_timed_and_stop_after_stops() -> None:
    full = compile_source(rule("r", "load > 0.5"))
    assert list(full.timings) == PASS_NAMES
    parsed = compile_source(rule("r", "load > 0.5"), stop_after="parse")
    assert list(parsed.timings) == ["parse"]
    assert parsed.models == [] and parsed.program is None


# ---- parse ----


def test_parse_builds_spans_and_keeps_comments() -> None:
    c = compile_source("  # a comment\n" + rule("r", "load > 0.5 and not canary"), stop_after="parse")
    doc = c.documents[0]
    assert doc.kind == "policy" and doc.name == "t.p" and doc.version.value == "1.0.0"
    (r,) = doc.of(ast.Rule)
    assert isinstance(r.when, ast.Logical) and r.when.keyword
    assert r.when.span.line == 13 and r.when.span.column == 10
    assert any(text == "# a comment" for _, _, text in doc.comments)


def test_durations_parse_to_seconds() -> None:
    c = compile_source("  const window = 1h30m\n  const quick = 250ms\n", stop_after="parse")
    consts = {k.name: k.value.value for k in c.documents[0].of(ast.Const)}
    assert consts == {"window": 5400.0, "quick": 0.25}


# ---- resolve ----


def test_resolve_merges_imported_modules() -> None:
    lib = "module t.lib {\n  const limit = 0.8\n  let hot = load > limit\n  action notify(targets: selector, channel: string)\n}\n"
    body = '  import "lib.bal"\n' + rule("r", "hot", 'notify(targets: service, channel: "ops")')
    c = compile_source(body, stop_after="resolve", extra={"lib.bal": lib})
    model = c.models[0]
    assert "limit" in model.consts and "hot" in model.lets and "notify" in model.actions
    assert set(model.actions) >= {"scale", "pause", "downgrade", "reroute"}


def test_resolve_reports_unknown_names_with_a_suggestion() -> None:
    error = cant_compile(rule("r", "lod > 0.5"), "name")
    assert "did you mean 'load'?" in error.diagnostics[0].hint


def test_resolve_reports_unknown_action_and_missing_argument() -> None:
    cant_compile(rule("r", "load > 0.5", "notify(targets: service)"), "action")
    cant_compile(rule("r", "load > 0.5", "reroute(targets: service)"), "action")  # `to` is required


# ---- check-types ----


def test_check_types_lowers_to_typed_ir() -> None:
    c = compile_source(rule("r", "load * 2 > depth && res.cpu / 2 > 0.1"), stop_after="check-types")
    when = c.ir["policies"][0]["rules"][0]["when"]
    left = when["l"]
    assert left["k"] == "cmp" and left["l"]["t"] == "float"  # int promoted into float arithmetic
    assert when["r"]["l"]["t"] == "float"  # `/` is true division even of ints
    assert when["r"]["l"]["l"] == {"k": "field", "path": ["res", "cpu"], "t": "float", "at": [12, 30, 12, 37]}


@pytest.mark.parametrize(
    ("when", "code"),
    [
        ('load > "high"', "type"),
        ('tier == "gold"', "enum"),
        ("load", "type"),
        ("0 < load < 1", "chain"),
        ("depth + true > 1", "type"),
        ('matches(service, "(")', "regex"),
        ("len(load) > 1", "type"),
        ("res.gpu > 1", "name"),
        ('canary ? 1 : "a"', "type"),
    ],
)
def test_check_types_rejects(when: str, code: str) -> None:
    cant_compile(rule("r", when), code)


def test_reason_template_is_checked() -> None:
    err = cant_compile(rule("r", "load > 0.5", extra='    reason "at {lod:.2f}"\n'), "reason")
    assert "did you mean 'load'?" in err.diagnostics[0].hint
    cant_compile(rule("r", "load > 0.5", extra='    reason "at {service:.2f}"\n'), "reason")


# ---- justification: a reviewer's note, in the IR only when written ----

JUSTIFIED = '    justification "p95 budget doubled in CHG-1234"\n'


def test_justification_is_in_the_rule_ir_when_written() -> None:
    c = compile_source(rule("r", "load > 0.9", extra=JUSTIFIED), stop_after="check-types")
    assert c.ir["policies"][0]["rules"][0]["justification"] == "p95 budget doubled in CHG-1234"


@pytest.mark.parametrize("extra", ["", '    justification ""\n'], ids=["absent", "empty"])
def test_a_rule_without_justification_has_no_key_in_its_ir(extra: str) -> None:
    """No key rather than an empty one: the IR, and so the bundle, of every older policy is unchanged."""
    c = compile_source(rule("r", "load > 0.9", extra=extra), stop_after="check-types")
    assert "justification" not in c.ir["policies"][0]["rules"][0]


def test_a_second_justification_is_a_duplicate_at_its_line_and_column() -> None:
    err = cant_compile(rule("r", "load > 0.9", extra=JUSTIFIED + '    justification "again"\n'), "duplicate")
    (duplicate,) = [d for d in err.diagnostics if d.code == "duplicate"]
    assert duplicate.message == "rule 'r' has a second 'justification' clause"
    assert (duplicate.span.line, duplicate.span.column) == (15, 5)  # the second clause; the rule starts on line 11
    assert duplicate.hint == "write each clause once"


def test_justification_does_not_change_decisions_and_its_bundle_loads() -> None:
    from ballast.runtime import from_bundle

    event = {"service": "api", "tier": "standard", "load": 0.95, "risk": 1.0, "depth": 0, "res": {"cpu": 0.1}}
    plain = compile_source(rule("r", "load > 0.9"))
    justified = compile_source(rule("r", "load > 0.9", extra=JUSTIFIED))
    reloaded = from_bundle(justified.bundle, allow_unsigned=True)  # the runtime reads a rule with the extra key
    expected = plain.program.evaluate(event).to_dict()
    assert expected["directives"]
    assert justified.program.evaluate(event).to_dict() == expected
    assert reloaded.evaluate(event).to_dict() == expected


# ---- optimize ----


def test_constant_folding() -> None:
    c = compile_source(
        rule("r", "load > 0.5 * 2 - 0.5 && true", "scale(targets: service, by: 1 + 2)"), stop_after="optimize"
    )
    r = c.ir["policies"][0]["rules"][0]
    assert r["when"]["k"] == "cmp" and r["when"]["r"] == {
        "k": "lit",
        "v": 0.5,
        "t": "float",
        "at": [12, 17, 12, 30],
        "folded": True,
    }
    assert r["then"][0]["args"]["by"]["v"] == 3


def test_folding_keeps_a_possible_fault() -> None:
    c = compile_source(rule("r", "depth / depth > 1 && false"), stop_after="optimize")
    assert c.ir["policies"][0]["rules"][0]["when"]["k"] == "and"  # x && false is not folded away


def test_constant_that_always_faults_is_an_error() -> None:
    cant_compile(rule("r", "load > 1 / 0"), "fault")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (rule("r", "load > 5 && load < 3"), "never"),
        (rule("r", 'tier == "batch" && tier == "critical"'), "never"),
        (rule("r", "load >= 0 && depth > 3"), "always"),
        (rule("a", "depth > 3") + rule("b", "depth > 5"), "shadowed"),
        (rule("r", "1 < 2"), "always"),
    ],
)
def test_optimize_warns(body: str, code: str) -> None:
    c = compile_source(body)
    assert code in [d.code for d in c.warnings]


def test_no_shadow_warning_when_actions_differ() -> None:
    c = compile_source(rule("a", "depth > 3") + rule("b", "depth > 5", "pause(targets: service)"))
    assert "shadowed" not in [d.code for d in c.warnings]


def test_shadowing_follows_the_rank_of_the_rules() -> None:
    # b comes later but ranks ahead of a: a is shadowed by b, and b (first in the directives) is not
    c = compile_source(rule("a", "depth > 5") + rule("b", "depth > 3", extra="    priority 1\n"))
    assert [d.message.split(":")[0] for d in c.warnings if d.code == "shadowed"] == ["rule 'a' is shadowed by rule 'b'"]
    c = compile_source(rule("a", "depth > 3") + rule("b", "depth > 5", extra="    priority 1\n"))
    assert "shadowed" not in [d.code for d in c.warnings]


def test_plan_dispatches_on_a_discriminating_field_and_chains_thresholds() -> None:
    rules = "".join(rule(f"s{i}", f'service == "svc-{i % 3}" && depth > {i}') for i in range(9))
    rules += rule("any1", "load > 0.5") + rule("any2", "load > 0.9 && risk > 50") + rule("any3", "load > 0.7")
    c = compile_source(rules, stop_after="optimize")
    plan = c.ir["policies"][0]["plan"]
    keyed = [g for g in plan["groups"] if g["key_path"] == ["service"]]
    assert sorted(v for g in keyed for v in g["values"]) == ["svc-0", "svc-1", "svc-2"]
    # each service group chains its depth thresholds in ascending order
    for g in keyed:
        (chain,) = g["chains"]
        thresholds = [s["threshold"] for s in chain["steps"]]
        assert thresholds == sorted(thresholds) and chain["path"] == ["depth"]
    (rest,) = [g for g in plan["groups"] if g["key_path"] is None]
    (chain,) = rest["chains"]
    assert [s["threshold"] for s in chain["steps"]] == [0.5, 0.7, 0.9]


def test_plan_never_reorders_past_a_conjunct_that_may_fault() -> None:
    body = rule("a", 'depth / 0 > 1 && service == "x"') + rule("b", 'service == "y"') + rule("c", 'service == "z"')
    c = compile_source(body, stop_after="optimize")
    groups = c.ir["policies"][0]["plan"]["groups"]
    rest = next(g for g in groups if g["key_path"] is None)
    assert [e["rule"] for e in rest["singles"]] == [0]  # rule a stays unindexed: its fault must be seen


def test_shared_subexpressions_are_hoisted_once_per_group() -> None:
    body = "  let hot = load > 0.8 && risk > 80\n" + rule("a", "!hot && depth > 1") + rule("b", "hot || canary == true")
    c = compile_source(body, stop_after="optimize")
    rest = c.ir["policies"][0]["plan"]["groups"][-1]
    assert any(s["k"] == "let" and s["name"] == "hot" for s in rest["shared"])


# ---- codegen ----


def test_codegen_emits_dispatch_chains_and_no_text_eval() -> None:
    rules = "".join(rule(f"s{i}", f'service == "svc-{i % 2}" && depth > {i}') for i in range(4))
    program = compile_source(rules).program
    source = program.python_source()
    assert "def match(ev, fired, faulted):" in source
    assert ".get(ev['service'])" in source
    fired: list[int] = []
    policy = program.policies[0]
    event = {"service": "svc-0", "tier": "batch", "load": 0.1, "risk": 1.0, "depth": 3, "res": {"cpu": 0.1}}
    policy.match(event, fired.append, [].append)
    assert sorted(fired) == [0, 2]  # svc-0 with depth 3 > 0 and > 2


def test_generated_code_points_at_the_policy_file() -> None:
    program = compile_source(rule("r", "depth / (depth - depth) > 1")).program
    code = program.policies[0].match.__code__
    assert code.co_filename == "t.bal"


def test_unexpected_failure_in_a_pass_is_an_internal_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from ballast.compiler import pipeline

    def broken(compilation) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(pipeline, "PASSES", [("parse", broken)])
    with pytest.raises(InternalError, match="compiler pass 'parse' failed"):
        pipeline.compile_paths(["x.bal"], sources={"x.bal": ""})
    assert issubclass(InternalError, ballast.BallastError)


# ---- the expression API ----


def test_compile_expression_validate_checks_the_event() -> None:
    checked = ballast.compile_expression("load > 0.8", {"load": "float in [0, 1]"}, validate=True)
    assert checked({"load": 0.9}) is True
    assert checked({"load": 1}) is True  # an int where a float is declared is promoted
    for bad, words in [
        ({"load": True}, "must be float"),
        ({"load": 3.0}, "out of range"),
        ({"lod": 0.9}, "did you mean 'load'"),
    ]:
        with pytest.raises(ballast.EvaluationError, match=words):
            checked(bad)


def test_compile_expression_trusts_types_by_default_like_hand_written_code() -> None:
    fast = ballast.compile_expression("load > 0.8", {"load": "float"})
    assert fast({"load": 0.9}) is True
    with pytest.raises(ballast.EvaluationError, match="missing field or key 'load'"):
        fast({})


def test_a_rule_written_when_true_is_not_warned_about() -> None:
    c = compile_source(rule("r", "true"))
    assert [d.code for d in c.warnings] == []


# ---- the document-kind registry ----

KIND_CATALOG = [
    "catalog/motb.bal",
    "catalog/gtbe.bal",
    "catalog/safety/workflows.bal",
    "catalog/fleet/edge.fleet.bal",
    "catalog/fleet/policy-2026-12.rollout.bal",
    "catalog/governance/router.bal",
    "catalog/scoring/tenants.bal",
    "profiles/baseline.bal",
    "catalog/supervisor/meta-loop.bal",
]
# Kinds whose diff tells only "unchanged" yet: a change raises NotSupportedYet.
NO_DIFF_YET = {"scoring", "supervisor"}


def test_every_kind_has_every_hook() -> None:
    """Each registered kind answers every stage: a stage it lacks says so, never silently."""
    import inspect

    from ballast.compiler import kinds

    registered = kinds.registry()
    assert [k.name for k in registered] == [
        "policy",
        "threat",
        "safety",
        "fleet",
        "rollout",
        "governance",
        "scoring",
        "profile",
        "supervisor",
    ]
    for kind in registered:
        for attribute in kinds.ATTRIBUTES:
            assert hasattr(kind, attribute), f"kind {kind.name!r} has no {attribute!r}"
        for hook in kinds.HOOKS:
            method = getattr(kind, hook, None)
            assert callable(method), f"kind {kind.name!r} has no hook {hook!r}"
            wanted = inspect.signature(getattr(kinds.DocumentKind, hook)).parameters
            assert list(inspect.signature(method).parameters) == [p for p in wanted if p != "self"], hook
    keywords = [w for k in registered for w in k.keywords]
    assert len(keywords) == len(set(keywords)) and {"policy", "module", "threat"} <= set(keywords)
    assert len({k.ir_key for k in registered}) == len(registered)
    with pytest.raises(KeyError):
        kinds.kind_of("cluster")


def test_every_kind_runs_each_stage_on_the_catalog() -> None:
    from ballast.compiler import kinds
    from ballast.dsl.parser import parse_document

    compilation = compile_paths(KIND_CATALOG)
    for kind in kinds.registry():
        entries = compilation.ir[kind.ir_key]
        assert entries, f"the catalog has no {kind.name} to check the kind with"
        for entry in entries:
            assert kind.load(entry) is not None
            assert kind.manifest(entry)["name"] == entry["name"]
            assert kind.diff(entry, entry, timeout_ms=1000) == []  # a document against itself: no finding
            if kind.name == "safety":  # a class removed is a loosened guard
                removed = kind.diff(entry, {**entry, "classes": entry["classes"][1:]}, timeout_ms=1000)
                assert [(f.id, f.subject) for f in removed] == [("safety-class-removed", entry["classes"][0]["name"])]
            elif kind.name == "governance":  # a lower quorum is a loosened guard
                vote = {**entry["vote"], "quorum": entry["vote"]["quorum"] - 1}
                lowered = kind.diff(entry, {**entry, "vote": vote}, timeout_ms=1000)
                assert [(f.id, f.subject) for f in lowered] == [("governance-vote-loosened", "vote quorum")]
            elif kind.name in ("fleet", "rollout"):  # a new version is a metadata change
                changed = kind.diff(entry, {**entry, "version": "changed"}, timeout_ms=1000)
                assert [(f.id, f.subject) for f in changed] == [(f"{kind.name}-metadata-changed", "")]
            elif kind.name in NO_DIFF_YET:
                with pytest.raises(kinds.NotSupportedYet):
                    kind.diff(entry, {**entry, "version": "changed"}, timeout_ms=1000)
    for path in KIND_CATALOG:
        with open(path, encoding="utf-8") as f:
            document = parse_document(f.read(), path)
        kind = compilation.kind_of(document)
        assert kind.format(document) == kind.format(parse_document(kind.format(document), path))
    policy, threat, safety, *_ = kinds.registry()
    first = compilation.ir["policies"][0]
    assert policy.explain(first) == [f"{first['name']}/{rule['name']}" for rule in first["rules"]]
    with pytest.raises(kinds.NotSupportedYet):
        threat.explain(compilation.ir["threats"][0])
    with pytest.raises(kinds.NotSupportedYet):
        safety.explain(compilation.ir["safety"][0])


def test_no_pass_names_a_kind() -> None:
    """Passes walk `compilation.kinds`; none imports a kind's module."""
    from pathlib import Path

    import ballast.compiler.passes as passes

    for module in Path(passes.__path__[0]).glob("*.py"):
        text = module.read_text(encoding="utf-8")
        assert "from ballast.compiler.kinds" not in text and "import ballast.compiler.kinds" not in text, module.name
