"""Fleet rollouts: a rollout plan applied to real clusters, durably, resumably, behind gates.

- `clock`: the time the engine runs on (`SystemClock`, or `ManualClock` in tests and rehearsals);
- `gates`: one telemetry sample judged by a gate, and Argo-style counting of the samples;
- `adapter`: the `ClusterAdapter` interface the engine reaches clusters through;
- `local`: the local adapter (each cluster a directory; docs/rollouts.md);
- `store`: the run's durable state in SQLite (WAL);
- `engine`: `ActionRun`, the state machine that pushes wave by wave;
- `planning`: what a plan would do per wave and cluster, and the checks before a run starts
  (the safety rules again, the semantic diff of each cluster's bundle, justification);
- `drift`: what runs against what the fleet document says.
"""

from __future__ import annotations
