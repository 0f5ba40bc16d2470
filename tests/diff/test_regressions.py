"""Bugs found while writing the gold fixtures, each pinned where it was fixed."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from support import run_cli

POLICY = """\
policy shop.guard version "1" {
  input ev {
    pool: string
    load: float in [0, 1]
    queue: int in [0, 1000]
  }

  rule hot {
    when load > 0.8 && queue > 10
    then pause(targets: pool, duration: 5m)
  }
}
"""


def test_a_report_carries_no_solver_time(diff_texts) -> None:
    """The JSON had `solver_ms`, so two runs on the same sides gave different bytes."""
    head = POLICY.replace("load > 0.8", "load > 0.9")
    runs = [diff_texts(POLICY, head, "--format", "json")[1] for _ in range(2)]
    assert runs[0] == runs[1]
    (finding,) = json.loads(runs[0])["findings"]
    assert finding["id"] == "rule-condition-narrowed"
    assert "solver_ms" not in finding["details"]


def test_a_field_made_optional_does_not_rewrite_the_conditions_that_read_it(diff_texts) -> None:
    """The checker marks a read of an optional field `opt`; the diff took the flag for a change of
    the condition and reported `rule-condition-rewritten` with the same text on both sides."""
    head = POLICY.replace("queue: int", "queue?: int")
    code, out, _ = diff_texts(POLICY, head, "--format", "json")
    assert [f["id"] for f in json.loads(out)["findings"]] == ["input-field-made-optional"]
    assert code == 0


def test_a_threshold_is_named_when_the_field_became_optional(diff_texts) -> None:
    head = POLICY.replace("queue: int", "queue?: int").replace("queue > 10", "queue > 20")
    _, out, _ = diff_texts(POLICY, head, "--format", "json")
    (condition,) = [f for f in json.loads(out)["findings"] if f["subject"] == "hot"]
    assert condition["details"]["thresholds"] == [{"name": "queue > 10", "before": 10, "after": 20}]


def test_a_changed_constant_argument_has_no_empty_witness(diff_texts) -> None:
    """Two constant arguments differ on every input: the message ended in "differs when " and the
    details carried an empty `differs_when`."""
    _, out, _ = diff_texts(POLICY, POLICY.replace("duration: 5m", "duration: 10m"), "--format", "json")
    (finding,) = json.loads(out)["findings"]
    assert finding["id"] == "rule-action-argument-changed"
    assert finding["message"] == "rule 'hot' pause(duration: 5m) → pause(duration: 10m)"
    assert "differs_when" not in finding["details"]
    assert finding["confidence"] == "proven"


def test_a_computed_argument_that_changed_has_its_witness(diff_texts) -> None:
    base = POLICY.replace("pause(targets: pool, duration: 5m)", "scale(targets: pool, by: queue)")
    head = base.replace("by: queue", "by: queue + 1")
    _, out, _ = diff_texts(base, head, "--format", "json")
    (finding,) = json.loads(out)["findings"]
    assert finding["details"]["differs_when"].startswith("queue = ")
    assert finding["message"].startswith("rule 'hot' scale(by: queue) → scale(by: queue + 1); differs when queue = ")


def test_a_constant_threat_source_changed_has_no_empty_witness(diff_texts) -> None:
    threat = """\
threat shop.threat version "1" {
  input signals {
    ts: timestamp
    risk?: float in [0, 100]
  }
  stream { time ts }
  source risk weight 1 from 50
  mode lockdown when index >= 75 exit below 60
}
"""
    _, out, _ = diff_texts(threat, threat.replace("from 50", "from 60"), "--format", "json")
    (finding,) = json.loads(out)["findings"]
    assert finding["id"] == "threat-source-changed"
    assert finding["message"] == "source 'risk' 50 → 60"


WATCH = """\
policy shop.watch version "1" {
  input sample {
    ts: timestamp
    pool: string
    latency_ms: float in [0, 10000]
  }

  stream {
    time ts
  }

  rule slow {
    group by pool
    when avg(latency_ms, 1m) > 250
    then scale(targets: pool)
  }
}
"""


def test_the_maximum_instead_of_the_average_widens_the_rule(diff_texts) -> None:
    """Aggregates of one field over one window were independent unknowns: avg > 250 → max > 250
    was `changed` (tagged guard-loosened) with a witness where the average had data and the
    maximum had none. The maximum is at least the average: the rule only fires on more inputs."""
    _, out, _ = diff_texts(WATCH, WATCH.replace("avg(latency_ms, 1m)", "max(latency_ms, 1m)"), "--format", "json")
    ids = {f["id"]: f for f in json.loads(out)["findings"]}
    assert set(ids) == {"rule-aggregate-changed", "rule-condition-widened"}
    widened = ids["rule-condition-widened"]
    assert widened["tags"] == ["guard-tightened"]
    assert widened["details"]["now_fires"]["verified"] is True


def test_a_window_with_samples_is_one_fact_for_every_aggregate_of_it(diff_texts) -> None:
    head = WATCH.replace("when avg(latency_ms, 1m) > 250", "when !absent(latency_ms, 1m) && avg(latency_ms, 1m) > 250")
    _, out, _ = diff_texts(WATCH, head, "--format", "json")
    assert [f["id"] for f in json.loads(out)["findings"]] == ["rule-aggregate-changed", "rule-condition-rewritten"]
    head = WATCH.replace(
        "when avg(latency_ms, 1m) > 250", "when count(latency_ms, 1m) > 0 || min(latency_ms, 1m) > 250"
    )
    base = WATCH.replace("when avg(latency_ms, 1m) > 250", "when max(latency_ms, 1m) >= 0")
    _, out, _ = diff_texts(base, head, "--format", "json")
    assert [f["id"] for f in json.loads(out)["findings"]] == ["rule-aggregate-changed", "rule-condition-rewritten"]


TIERS = """\
policy shop.tiers version "1" {
  input ev {
    pool: string
    tier: enum("critical", "standard")
  }

  action tag(targets: selector, tier: string)

  rule hot {
    when tier == "critical"
    then tag(targets: pool, tier: tier)
  }
}
"""


def test_an_input_enum_that_became_a_string_is_widened_not_breaking(diff_texts) -> None:
    """Every event valid before is valid after (the enum's values are strings): it was reported
    input-field-type-changed, breaking, and failed the default --fail-on."""
    head = TIERS.replace('tier: enum("critical", "standard")\n  }', "tier: string\n  }")
    code, out, _ = diff_texts(TIERS, head, "--format", "json")
    (finding,) = json.loads(out)["findings"]
    assert (finding["id"], finding["level"], code) == ("input-field-type-widened", "behavioral", 0)
    assert finding["message"] == 'input field \'tier\' changed type: enum("critical", "standard") → string'


def test_an_input_string_that_became_an_enum_is_breaking(diff_texts) -> None:
    base = TIERS.replace('tier: enum("critical", "standard")\n  }', "tier: string\n  }")
    code, out, _ = diff_texts(base, TIERS, "--format", "json")
    assert [(f["id"], f["level"]) for f in json.loads(out)["findings"]] == [("input-field-type-changed", "breaking")]
    assert code == 1


def test_an_action_parameter_that_became_a_string_is_breaking(diff_texts) -> None:
    """A consumer of the directive may now receive any string: for parameters widening breaks."""
    base = TIERS.replace("tier: string)", 'tier: enum("critical", "standard"))')
    code, out, _ = diff_texts(base, TIERS, "--format", "json")
    assert [(f["id"], f["level"]) for f in json.loads(out)["findings"]] == [
        ("action-parameter-type-changed", "breaking")
    ]
    assert code == 1


def test_a_changed_exit_condition_points_at_the_exit_condition(diff_texts) -> None:
    """It pointed at the rule's first line, where a changed `when` points at the condition."""
    base = WATCH.replace(
        "    when avg(latency_ms, 1m) > 250\n",
        "    enter when avg(latency_ms, 1m) > 250\n    exit when avg(latency_ms, 1m) < 200\n",
    )
    _, out, _ = diff_texts(base, base.replace("< 200", "< 150"), "--format", "json")
    (finding,) = json.loads(out)["findings"]
    assert finding["id"] == "rule-exit-changed"
    assert finding["base"] == {"file": "base.bal", "line": 15, "column": 15}
    assert finding["head"] == {"file": "head.bal", "line": 15, "column": 15}


ROUNDING = """\
policy shop.rounding version "1" {
  input ev {
    pool: string
    load: float in [0, 1]
    errors: int in [0, 1000]
  }

  rule hot {
    when CONDITION
    then scale(targets: pool)
  }
}
"""


def rounding(condition: str) -> str:
    return ROUNDING.replace("CONDITION", condition)


def test_float_arithmetic_that_agrees_on_the_reals_only_is_not_cosmetic(diff_texts) -> None:
    """The solver reads floats as real numbers: `errors * 0.1 > 0.3` and `errors > 3` agree there,
    so the change was rule-condition-rewritten, cosmetic and proven. Python rounds 3 * 0.1 to
    0.30000000000000004: at errors = 3 the base fires and the head does not."""
    assert 3 * 0.1 > 0.3
    code, out, _ = diff_texts(rounding("errors * 0.1 > 0.3"), rounding("errors > 3"), "--format", "json")
    (finding,) = json.loads(out)["findings"]
    assert (finding["id"], finding["level"], finding["confidence"]) == (
        "rule-condition-undecided",
        "behavioral",
        "structural",
    )
    assert "Python's rounding of errors * 0.1" in finding["message"]
    assert code == 0


def test_float_arithmetic_the_change_does_not_touch_is_still_decided(diff_texts) -> None:
    base = rounding("load * 100 > 80")
    _, out, _ = diff_texts(base, rounding("100 * load > 80"), "--format", "json")
    assert json.loads(out)["findings"] == []  # the same product: no change at all
    _, out, _ = diff_texts(base, rounding("load * 100 > 85"), "--format", "json")
    (finding,) = json.loads(out)["findings"]
    assert (finding["id"], finding["confidence"]) == ("rule-condition-narrowed", "proven")
    assert finding["details"]["no_longer_fires"]["verified"] is True
    _, out, _ = diff_texts(rounding("load - 0.8 > 0"), rounding("load > 0.8"), "--format", "json")
    assert [f["id"] for f in json.loads(out)["findings"]] == ["rule-condition-rewritten"]  # a - b > 0 is a > b
    _, out, _ = diff_texts(rounding("errors / 2 > 3"), rounding("errors > 6"), "--format", "json")
    assert [f["id"] for f in json.loads(out)["findings"]] == ["rule-condition-rewritten"]  # halving is exact


def test_a_threat_source_rewritten_with_other_rounding_is_a_change(diff_texts) -> None:
    assert 0.29 * 100 != 0.29 * 10 * 10
    threat = """\
threat shop.threat version "1" {
  input signals {
    ts: timestamp
    load?: float in [0, 1]
  }
  stream { time ts }
  source load weight 1 from load * 100
  mode lockdown when index >= 75 exit below 60
}
"""
    _, out, _ = diff_texts(threat, threat.replace("load * 100", "load * 10 * 10"), "--format", "json")
    assert [f["id"] for f in json.loads(out)["findings"]] == ["threat-source-changed"]
    _, out, _ = diff_texts(threat, threat.replace("load * 100", "100 * load"), "--format", "json")
    assert [f["id"] for f in json.loads(out)["findings"]] == ["threat-source-rewritten"]


@pytest.fixture
def policy_repo(tmp_path, monkeypatch):
    """A git repository (branch team/base) with p.bal and sub/s.bal importing lib/limits.bal,
    the limit then raised from 0.8 to 0.9 in the work tree."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")

    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false", *args],
            cwd=tmp_path,
            check=True,
            capture_output=True,
        )

    (tmp_path / "lib").mkdir()
    (tmp_path / "sub").mkdir()
    (tmp_path / "lib" / "limits.bal").write_text(
        "module shop.limits {\n  const load_limit = 0.8\n}\n", encoding="utf-8"
    )
    policy = POLICY.replace("load > 0.8", "load > load_limit").replace("  input ev", '  import "IMPORT"\n\n  input ev')
    (tmp_path / "p.bal").write_text(policy.replace("IMPORT", "lib/limits.bal"), encoding="utf-8")
    (tmp_path / "sub" / "s.bal").write_text(
        policy.replace("IMPORT", "../lib/limits.bal").replace("shop.guard", "shop.sub"), encoding="utf-8"
    )
    git("init", "-q")
    git("add", ".")
    git("commit", "-q", "-m", "policies")
    git("branch", "team/base")
    (tmp_path / "lib" / "limits.bal").write_text(
        "module shop.limits {\n  const load_limit = 0.9\n}\n", encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_git_side_imports_from_its_own_revision(policy_repo) -> None:
    """A file at the top of a git side (`HEAD:p.bal`) imported "lib/limits.bal" from the work
    tree, not from HEAD: a threshold moved in the module was no finding at all. A file in a
    folder imported from the revision, but "../" went to the disk."""
    for base, head in (("HEAD:p.bal", "p.bal"), ("team/base:p.bal", "p.bal"), ("HEAD:sub/s.bal", "sub/s.bal")):
        code, out, err = run_cli("diff", base, head, "--format", "json")
        assert (code, err) == (0, ""), (base, err)
        (finding,) = json.loads(out)["findings"]
        assert finding["details"]["thresholds"] == [{"name": "load_limit", "before": 0.8, "after": 0.9}], base
        assert finding["base"]["file"] == base


def test_the_top_of_a_git_side_from_a_folder(policy_repo, monkeypatch) -> None:
    """`HEAD:..` from sub/ named the top as ".", which matched no file: "no such file or directory"."""
    monkeypatch.chdir(policy_repo / "sub")
    code, out, err = run_cli("diff", "HEAD:..", "..", "--format", "json")
    assert (code, err) == (0, "")
    assert sorted(f["base"]["file"] for f in json.loads(out)["findings"]) == ["HEAD:p.bal", "HEAD:sub/s.bal"]


def test_a_date_yaml_cannot_build_points_at_the_value(tmp_path, monkeypatch) -> None:
    """`expires: 2099-13-01` (or any date ruamel cannot construct) was reported at 1:1 of the file;
    the YAML reader is shared, so a YAML policy had the same problem."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "base.bal").write_text(POLICY, encoding="utf-8")
    (tmp_path / "ignore.yaml").write_text(
        "ignore:\n  - finding: rule-removed/shop.guard/hot\n    reason: r\n    expires: 2099-13-01\n", encoding="utf-8"
    )
    code, _, err = run_cli("diff", "base.bal", "base.bal", "--ignore", "ignore.yaml")
    assert code == 2
    assert "ignore.yaml:4:14: error[yaml]: invalid YAML value: month must be in 1..12" in err
    (tmp_path / "p.yaml").write_text(
        'policy: p\nversion: "1"\ndescription: 2026-02-30\ninput:\n  ev:\n    pool: string\n'
        'rules:\n  - name: r\n    when: pool == "x"\n    then: "scale(targets: pool)"\n',
        encoding="utf-8",
    )
    code, out, _ = run_cli("check", "p.yaml")
    assert code == 1
    assert "p.yaml:3:14: error[yaml]: invalid YAML value: day is out of range for month" in out
