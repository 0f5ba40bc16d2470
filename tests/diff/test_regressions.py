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
