import ballast
from ballast import Engine

engine = Engine(ballast.compile(["latency.bal"]))
T0 = 1763208000  # 2025-11-15T12:00:00Z
latencies = [150, 160, 300, 320, 310, 330, 320, 240, 230, 260, 150, 140, 150]
for i, ms in enumerate(latencies):
    result = engine.process({"ts": T0 + 10 * i, "pool": "A", "latency_ms": float(ms)})
    for d in result.directives:
        print(f"+{10 * i:>3}s {ms:>4} ms  {d.action} {d.targets}: {d.reason}")
    for e in result.events:
        print(f"+{10 * i:>3}s {ms:>4} ms  {e['state']}")
for e in engine.advance(T0 + 180).events:  # no more samples: time alone ends the `keep`
    print(f"advance to +180s   {e['state']} at {e['time']}")
print(engine.stats)
