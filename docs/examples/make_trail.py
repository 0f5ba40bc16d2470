"""Append the outcomes of a window's actions to an audit trail: START SUCCEEDED FAILED."""

import json
import sys

from ballast.runtime.supervisor_kpis import outcome_entry
from ballast.runtime.values import parse_timestamp

start, succeeded, failed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
t0 = parse_timestamp(start)
for i in range(succeeded + failed):
    ok = i >= failed  # the failures first
    entry = outcome_entry(
        f"act-{start[11:16]}-{i}", succeeded=ok, when=t0 + 10 + 14 * i, actor="mesh-executor",
        recovery_seconds=20.0 + 2 * i if ok else None,
    )
    print(json.dumps(entry))
