"""Profile documents: the catalog compiles in both forms, mistakes are reported where they are,
and monotonicity is proven: every lowering of every catalog setting is caught."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import jsonschema
import pytest
from ruamel.yaml import YAML

from ballast.compiler.diff import unjustified
from ballast.compiler.diff.profile import diff_profiles
from ballast.compiler.kinds import without_positions
from ballast.compiler.pipeline import compile_paths
from ballast.dsl import ast
from ballast.dsl.format import format_document
from ballast.dsl.parser import parse_document
from ballast.dsl.yaml_profile import CHANGE_KEYS, PROFILE_KEYS, SETTING_KEYS
from ballast.runtime.errors import CompileError
from ballast.runtime.profile import Profile, Setting
from tests.support import run_cli

REPO = Path(__file__).resolve().parents[2]
PROFILES = REPO / "profiles"
CATALOG = {
    name: (PROFILES / f"{name}.bal").read_text(encoding="utf-8") for name in ("baseline", "sandbox", "regulated")
}
HEAD = 'profile p version "1" {\n'
TAIL = '  change "1" on "2026-12-01" "First."\n}\n'


def compiled(sources: dict[str, str]) -> dict[str, dict]:
    """The profiles' IR entries by name."""
    ir = compile_paths(list(sources), sources=sources, stop_after="optimize").ir
    return {entry["name"]: entry for entry in ir["profiles"]}


def catalog_sources() -> dict[str, str]:
    return {f"profiles/{name}.bal": text for name, text in CATALOG.items()}


def errors(body: str, **others: str) -> list[str]:
    """The diagnostics of profile `p` (with `body` between its head and change log) as
    `line:column code message`, compiled with the `others` profiles."""
    sources = {"p.bal": HEAD + body + TAIL, **{f"{name}.bal": text for name, text in others.items()}}
    with pytest.raises(CompileError) as caught:
        compile_paths(list(sources), sources=sources, stop_after="optimize")
    return [f"{d.span.line}:{d.span.column} {d.code} {d.message}" for d in caught.value.diagnostics]


# ---- the catalog ----


def test_the_catalog_profiles_compile_and_check() -> None:
    profiles = compiled(catalog_sources())
    assert sorted(profiles) == ["baseline", "regulated", "sandbox"]
    assert profiles["regulated"]["extends"] == ["baseline"]
    baseline = Profile.from_ir(profiles["baseline"])
    regulated = Profile.from_ir(profiles["regulated"])
    assert {s.name for s in baseline.settings} <= {s.name for s in regulated.settings}
    # export_limit comes after both of its dependencies, whatever the declaration order
    names = [s.name for s in regulated.settings]
    assert names.index("export_limit") > max(names.index("encryption_at_rest"), names.index("dlp_scanning"))
    code, out, err = run_cli("check", PROFILES)
    assert (code, err) == (0, "")
    assert out == "ok: 0 policies, 0 rules, 3 profiles\n"


def test_every_extending_catalog_profile_is_at_least_as_safe_as_its_parent() -> None:
    profiles = {name: Profile.from_ir(entry) for name, entry in compiled(catalog_sources()).items()}
    for child in ("sandbox", "regulated"):
        for parent_setting in profiles["baseline"].settings:
            mine = profiles[child].setting(parent_setting.name)
            assert mine is not None and parent_setting.at_least_as_safe(mine.value), (child, parent_setting.name)


def test_the_yaml_form_compiles_to_the_same_profile() -> None:
    baseline = str(PROFILES / "baseline.bal")
    from_bal = compile_paths([baseline, str(PROFILES / "sandbox.bal")]).ir["profiles"][1]
    from_yaml = compile_paths([baseline, str(PROFILES / "sandbox.yaml")]).ir["profiles"][1]
    assert without_positions({**from_bal, "file": ""}) == without_positions({**from_yaml, "file": ""})


def test_the_yaml_catalog_matches_the_schema_and_the_reader_takes_its_keys() -> None:
    schema = json.loads((REPO / "dsl" / "profile.schema.json").read_text(encoding="utf-8"))
    for path in sorted(PROFILES.glob("*.yaml")):
        jsonschema.Draft202012Validator(schema).validate(YAML(typ="safe").load(path.read_text(encoding="utf-8")))
    defs = schema["$defs"]
    assert set(defs["profile"]["properties"]) == set(PROFILE_KEYS)
    assert set(defs["setting"]["properties"]) == set(SETTING_KEYS)
    assert set(defs["change"]["properties"]) == set(CHANGE_KEYS)


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_fmt_is_idempotent_on_the_catalog(name: str) -> None:
    text = CATALOG[name]
    document = parse_document(text, f"{name}.bal")
    assert format_document(document) == text  # the catalog is written canonically
    again = parse_document(format_document(document), f"{name}.bal")
    assert format_document(again) == text


# ---- positioned errors ----


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("  setting a: integer {\n    higher is safer\n    value 1\n  }\n", "2:14 type setting 'a' has type 'integer'"),
        (
            "  setting a: int {\n    true is safer\n    value 1\n  }\n",
            "3:5 order setting 'a' is an int, which cannot be ordered by `true is safer`",
        ),
        ("  setting a: int {\n    value 1\n  }\n", "2:11 order setting 'a' needs exactly one safety order, has 0"),
        (
            "  setting a: int {\n    higher is safer\n    lower is safer\n    value 1\n  }\n",
            "4:5 order setting 'a' needs exactly one safety order, has 2",
        ),
        (
            "  setting a: int {\n    higher is safer\n    value 1.5\n  }\n",
            "4:11 value setting 'a' is an int; `1.5` is not one",
        ),
        ("  setting a: int {\n    higher is safer\n  }\n", "2:11 value setting 'a' needs exactly one value, has 0"),
        (
            "  setting a: enum {\n    order on > off\n    value of\n  }\n",
            "4:11 value setting 'a' is 'of', which its order does not rank",
        ),
        (
            "  setting a: enum {\n    order { x > y, y > x }\n    value x\n  }\n",
            "3:5 order setting 'a': the order makes 'x' both safer and less safe than 'y'",
        ),
        (
            "  setting a: bool {\n    true is safer\n    value yes\n  }\n",
            "4:11 value setting 'a' is a bool; `yes` is not one",
        ),
        (
            "  setting a: duration days {\n    lower is safer\n    value 1h\n  }\n",
            "2:14 unit setting 'a': only int settings take a unit",
        ),
        (
            "  setting a: int {\n    higher is safer\n    value 1\n  }\n  setting a: int {\n    higher is safer\n    value 2\n  }\n",
            "6:11 duplicate setting 'a' is declared twice",
        ),
        (
            "  setting a: int {\n    higher is safer\n    value 1\n    after b\n  }\n",
            "5:11 after setting 'a' comes after 'b', which is not a setting of profile 'p'",
        ),
        (
            "  setting a: int {\n    higher is safer\n    value 1\n    after a\n  }\n",
            "5:11 after setting 'a' comes after itself",
        ),
        ("  extends nowhere\n", "2:11 extends profile 'p' extends 'nowhere', which is not in the set"),
        (
            '  window std {\n    days ["sat", "sunday"]\n    start "02:00"\n    end "06:00"\n  }\n',
            "3:10 window window std: 'sunday' is not a day",
        ),
        (
            '  window std {\n    days ["sat"]\n    start "2am"\n    end "06:00"\n  }\n',
            "4:12 window window std: start '2am' is not a time of day",
        ),
        ('  change "0" on "2026-13-01" "Typo."\n', "2:18 date '2026-13-01' is not a date"),
        ('  change "1" on "2026-11-01" "Again."\n', "7:11 duplicate the change log has two entries for version '1'"),
    ],
)
def test_mistakes_are_reported_at_their_position(body: str, expected: str) -> None:
    setting = "  setting z: int {\n    higher is safer\n    value 1\n  }\n" if "setting" not in body else ""
    found = errors(body + setting)
    assert any(line.startswith(expected) for line in found), found


def test_a_version_without_a_change_log_entry_is_an_error() -> None:
    sources = {"p.bal": 'profile p version "2" {\n  setting a: int {\n    higher is safer\n    value 1\n  }\n' + TAIL}
    with pytest.raises(CompileError) as caught:
        compile_paths(["p.bal"], sources=sources)
    (d,) = caught.value.diagnostics
    assert (d.code, d.span.line, d.span.column) == ("changelog", 1, 20)
    assert "has no entry for it" in d.message and 'change "2"' in d.hint


def test_a_dependency_cycle_is_reported_with_the_cycle() -> None:
    body = "".join(
        f"  setting {name}: int {{\n    higher is safer\n    value 1\n    after {after}\n  }}\n"
        for name, after in (("a", "b"), ("b", "c"), ("c", "a"))
    )
    (line,) = errors(body)
    assert line == "5:11 after the settings' `after` dependencies form a cycle: a → b → c → a"


def test_profiles_that_extend_each_other_in_a_cycle_are_reported() -> None:
    q = 'profile q version "1" {\n  extends p\n\n' + TAIL
    found = errors("  extends q\n", q=q)
    assert any("extend each other in a cycle" in line for line in found), found


def test_a_redeclared_setting_keeps_its_parents_type_and_order() -> None:
    body = "  extends baseline\n\n  setting mfa: enum {\n    order required > off\n    value required\n  }\n"
    found = errors(body, baseline=CATALOG["baseline"])
    assert found == [
        "4:11 extends setting 'mfa' is enum ordered `required > off` here but enum ordered "
        "`required > optional > off` in profile 'baseline'"
    ]


def test_a_lowered_setting_names_the_setting_both_values_and_the_order() -> None:
    body = "  extends baseline\n\n  setting log_retention: int days {\n    higher is safer\n    value 30\n  }\n"
    (line,) = errors(body, baseline=CATALOG["baseline"])
    assert line == (
        "6:11 monotonic profile 'p' lowers setting 'log_retention' from 90 days (profile 'baseline') "
        "to 30 days: higher is safer"
    )


# ---- the monotonicity proof: every lowering of every catalog setting is caught ----


def weaker_values(s: Setting) -> list[object]:
    """Every value of the setting that is not at least as safe as its required value, among its
    type's values near it (all of them for enums and booleans)."""
    match s.type:
        case "int":
            candidates: list[object] = [s.value - 1, s.value + 1, 0, s.value * 10]
        case "duration":
            candidates = ["1s", "1m", "30m", "1h", "8h", "30d"]
        case "bool":
            candidates = [True, False]
        case "enum":
            candidates = list(s.order.values)
        case _:
            candidates = [s.value + "-other", ""]
    return [v for v in candidates if s.at_least_as_safe(v) is False]


def value_text(s: Setting, value: object) -> str:
    if s.type == "bool":
        return "true" if value else "false"
    if s.type == "string":
        return json.dumps(value)
    return str(value)


def mutants() -> list[tuple[str, Setting, object]]:
    profiles = {name: Profile.from_ir(entry) for name, entry in compiled(catalog_sources()).items()}
    return [(name, s, v) for name, p in sorted(profiles.items()) for s in p.settings for v in weaker_values(s)]


MUTANTS = mutants()


def test_the_mutants_cover_every_catalog_setting_that_can_be_lowered() -> None:
    profiles = {name: Profile.from_ir(entry) for name, entry in compiled(catalog_sources()).items()}
    covered = {(name, s.name) for name, s, _ in MUTANTS}
    for name, profile in profiles.items():
        for s in profile.settings:
            if (name, s.name) not in covered:  # only a setting at the bottom of its order has no weaker value
                assert s.type == "enum" and all(s.at_least_as_safe(v) for v in s.order.values), (name, s.name)
    assert len(covered) >= 30


@pytest.mark.parametrize(("profile", "setting", "value"), MUTANTS, ids=lambda x: getattr(x, "name", str(x)))
def test_a_profile_extending_a_catalog_profile_cannot_lower_any_setting(
    profile: str, setting: Setting, value: object
) -> None:
    unit = f" {setting.unit}" if setting.unit else ""
    body = (
        f"  extends {profile}\n\n  setting {setting.name}: {setting.type}{unit} {{\n"
        f"    {_order(setting)}\n    value {value_text(setting, value)}\n  }}\n"
    )
    found = errors(body, **CATALOG)
    assert len(found) == 1 and found[0].startswith("6:") and found[0].split()[1] == "monotonic", found  # at the value
    assert f"setting '{setting.name}'" in found[0] and setting.order.text() in found[0]


def _order(s: Setting) -> str:
    if s.order.form in ("chain", "partial"):
        text = s.order.text()
        return f"order {text}"
    return s.order.text()


OWN_MUTANTS = [
    (name, s, v)
    for name, s, v in MUTANTS
    if s.declared_in == name  # a new version lowers a setting the profile itself declares
]


@pytest.mark.parametrize(("profile", "setting", "value"), OWN_MUTANTS, ids=lambda x: getattr(x, "name", str(x)))
def test_a_new_version_that_lowers_a_setting_needs_a_justification(
    profile: str, setting: Setting, value: object
) -> None:
    path = f"profiles/{profile}.bal"
    document = parse_document(CATALOG[profile], path)
    items = []
    for item in document.items:
        if isinstance(item, ast.ProfileSetting) and item.name == setting.name:
            old = item.values[0]
            text = value_text(setting, value)
            item = dataclasses.replace(item, values=(dataclasses.replace(old, text=text),))
        items.append(item)
    mutated = format_document(dataclasses.replace(document, items=tuple(items)))
    old_ir = compiled(catalog_sources())[profile]
    try:
        new_ir = compiled({**catalog_sources(), path: mutated})[profile]
    except CompileError as exc:  # lower than the profile it extends: caught by the compiler already
        (d,) = exc.diagnostics
        assert profile != "baseline" and d.code == "monotonic" and f"setting '{setting.name}'" in d.message
        return
    findings = diff_profiles(old_ir, new_ir)
    lowered = [f for f in findings if f.id == "profile-setting-lowered"]
    assert [f.subject for f in lowered] == [setting.name]
    assert "guard-loosened" in lowered[0].tags
    assert unjustified(findings, {"profiles": [new_ir]}) == [lowered[0].key]
    justified = {**new_ir, "changes": [{**c, "justification": "DPA-7 agreed"} for c in new_ir["changes"]]}
    assert unjustified(findings, {"profiles": [justified]}) == []


def test_ballast_diff_require_justification_on_profile_versions(tmp_path: Path) -> None:
    old = tmp_path / "old.bal"
    old.write_text(CATALOG["baseline"])
    new = tmp_path / "new.bal"
    new.write_text(
        CATALOG["baseline"]
        .replace("value 1h", "value 8h")
        .replace('version "3"', 'version "4"')
        .replace('instead of 8h."\n', 'instead of 8h."\n  change "4" on "2026-12-02" "Sessions back to 8h."\n')
    )
    code, out, _ = run_cli("diff", old, new, "--require-justification")
    assert code == 1
    assert "profile-setting-lowered" in out and "session_timeout" in out and "missing justification" in out
    new.write_text(
        new.read_text().replace(
            '"Sessions back to 8h."', '"Sessions back to 8h." justification "INC-42: operators locked out"'
        )
    )
    code, out, _ = run_cli("diff", old, new, "--require-justification", "--format", "json")
    assert code == 0
    report = json.loads(out)
    lowered = [f for f in report["findings"] if f["id"] == "profile-setting-lowered"]
    assert [f["subject"] for f in lowered] == ["session_timeout"] and "justification" not in lowered[0]


def test_the_yaml_form_reports_its_mistakes_at_their_line_and_column() -> None:
    text = (
        'profile: bad\nversion: "1"\nsetings: {}\nsettings:\n  a: {type: int, order: higher, value: 1}\n'
        '  c: [1]\nchanges:\n  - {version: "1", date: "2026-12-01"}\n'
    )
    with pytest.raises(CompileError) as caught:
        compile_paths(["bad.yaml"], sources={"bad.yaml": text})
    found = [(d.span.line, d.span.column, d.message, d.hint) for d in caught.value.diagnostics]
    assert found[0] == (3, 1, "unknown key 'setings' in a profile", "did you mean 'settings'?")
    assert found[1][:2] == (5, 25) and found[1][3] == "order: higher is safer"
    assert found[2][:3] == (6, 3, "setting 'c' must be a mapping")
    assert found[3][:3] == (8, 5, "a change needs text (strings)")


def test_a_yaml_profile_without_a_version_says_so() -> None:
    text = "profile: p\nsettings:\n  a: {type: int, order: higher is safer, value: 1}\n"
    with pytest.raises(CompileError) as caught:
        compile_paths(["p.yaml"], sources={"p.yaml": text})
    (d,) = caught.value.diagnostics
    assert (d.span.line, d.span.column, d.message) == (1, 1, "profile 'p' has no version (a string)")
