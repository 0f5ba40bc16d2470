import json

import ballast
from ballast import Engine

policies = ballast.compile(["latency.bal"])
engine = Engine(policies)
T0 = 1763208000  # 2025-11-15T12:00:00Z
for i, ms in enumerate([150, 160, 300, 320, 310, 330]):
    result = engine.process({"ts": T0 + 10 * i, "pool": "A", "latency_ms": float(ms)})
print([e["state"] for e in result.events])  # the last sample (+50s) started the `for 30s`

saved = json.dumps(engine.snapshot())  # e.g. written to disk before a restart
print(saved[:150], "…")

restored = Engine.restore(policies, json.loads(saved))
result = restored.advance(T0 + 80)  # in the new process, the `for` completes at +80s
print([(e["state"], e["time"]) for e in result.events], [d.reason for d in result.directives])
