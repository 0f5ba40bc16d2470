"""Bugs found while writing the gold fixtures, each pinned where it was fixed."""

from __future__ import annotations

import json

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
