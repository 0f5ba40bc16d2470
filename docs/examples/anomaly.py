import math
import random

import ballast
from ballast import Engine

engine = Engine(ballast.compile(["anomaly.bal"]))
rng = random.Random(7)
noise = [rng.uniform(-1, 1) for _ in range(20)]
series = {
    "steady": [100 + 10 * math.sin(2 * math.pi * i / 10) for i in range(20)],
    "spike": [100 + n for n in noise[:19]] + [104],
    "drop": [100 + n for n in noise[:19]] + [60],
    "drift": [100 + 2 * i + n for i, n in enumerate(noise)],
    "oscillation": [100 + 10 * (i % 2) for i in range(20)],
    "flat-then-jump": [100.0] * 19 + [500.0],
    "white-noise": [100 + rng.gauss(0, 1) for _ in range(20)],
}
for i in range(20):  # every pool sends a sample every 15 s: 20 samples, 4m45s
    last = {}
    for pool, values in series.items():
        last[pool] = engine.process({"ts": 1763208000 + 15 * i, "pool": pool, "latency_ms": values[i]})
for pool, result in last.items():  # what the 20th sample of each pool gave
    flagged = [f"{d.params['kind']}, severity {d.params['severity']} ({d.reason})" for d in result.directives]
    print(f"{pool:>15}: {flagged[0] if flagged else 'none'}")
