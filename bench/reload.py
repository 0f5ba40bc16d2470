"""The hot-reload benchmark: what a PolicyStore costs per event, and how long a reload takes.

    python -m bench.reload              # full run (about 2 minutes)
    python -m bench.reload --quick      # smoke run (about 20 s; rough numbers)
    python -m bench.reload --markdown   # the table as Markdown (for docs/performance.md)
    python -m bench.reload --profile    # also: where a reload of the stateful store spends its time

Evaluation through the store against the bare objects, in the same process: the events are cut
into slices of 500, each slice is run by both (the order alternating), and the report gives the
medians and the median of the pairs' ratios with its quartiles (short pairs meet the same load on
a shared machine, so their ratio is steadier than a ratio of long runs):

* stateless: the catalog set (`catalog/motb.bal`, 11 rules) over the catalog events repeated,
  `PolicySet.evaluate` against `PolicyStore.evaluate` (which reads the running set once per
  event and stamps the result with the bundle that decided it; no lock);
* stateful: the watchdog policy (`catalog/watchdog.bal`, bench/stateful.py's fleet of pools, its
  windows warmed up) in a bare `Engine` against a stateful store (`PolicyStore.process`: the
  same Engine behind a lock shared with reloads). Both see the same events in the same order.

Reload latency: `propose` of a newer signed bundle (versions raised, shapes unchanged, so every
rule keeps its state), median of the proposals: for the stateless store (read, verify two
signatures, build the evaluators, swap), for the stateful one (that, plus carrying the state of
every key into the new Engine, during which events wait), and for the stateful one with a
durable audit ledger (one more SQLite commit). `Engine.reload` alone is timed too.

This is a benchmark, not a test: it asserts nothing about speed.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ballast.compiler.pipeline import compile_paths
from ballast.runtime import from_checked_bundle
from ballast.runtime.audit import AuditLog
from ballast.runtime.bundle import dump_bundle
from ballast.runtime.engine import Engine
from ballast.runtime.keyring import Keyring, Role, TrustedKey
from ballast.runtime.ledger import Ledger
from ballast.runtime.signing import PrivateKey, sign_bundle
from ballast.runtime.store import PolicyStore
from bench.harness import (
    ROOT,
    BenchReport,
    cprofile_text,
    fmt_rate,
    head_lines,
    load_average,
    parse_arguments,
    plain_pass,
    progress,
    report_head,
    report_tail,
)
from bench.stateful import WARMUP_ROUNDS, Fleet

CATALOG = ROOT / "catalog"
SLICE = 500  # events a pair of measurements runs: short, so both meet the same load


@dataclass
class Settings:
    stateless_events: int  # sliced into pairs of SLICE
    keys: int
    rounds: int  # of every pool after the warm-up, sliced into pairs of SLICE
    reloads: int

    @classmethod
    def make(cls, quick: bool) -> Settings:
        return cls(10_000, 300, 8, 5) if quick else cls(100_000, 2_000, 12, 11)


@dataclass
class Report(BenchReport):
    settings: Settings
    rows: list[tuple[str, str]] = field(default_factory=list)


class Signed:
    """Versions of one catalog file, compiled, signed by two MetaAdmin keys, as bytes."""

    def __init__(self, file: str) -> None:
        self.keys = [PrivateKey.generate("bench-a"), PrivateKey.generate("bench-b")]
        self.keyring = Keyring(
            "bench",
            {"MetaAdmin": Role("MetaAdmin", 2)},
            tuple(TrustedKey(k.key_id, k.public_key, frozenset({"MetaAdmin"}), k.name) for k in self.keys),
            "MetaAdmin",
        )
        self.path = CATALOG / file
        self.source = self.path.read_text(encoding="utf-8")
        self.version = self.source.split('version "', 1)[1].split('"', 1)[0]

    def release(self, patch: int) -> bytes:
        """The file with its version's last number raised by `patch` (0: as it is), signed."""
        major_minor, last = self.version.rsplit(".", 1)
        source = self.source.replace(f'version "{self.version}"', f'version "{major_minor}.{int(last) + patch}"', 1)
        sources = {str(self.path): source}
        for lib in (CATALOG / "lib").glob("*.bal"):
            sources[str(lib)] = lib.read_text(encoding="utf-8")
        bundle = compile_paths([str(self.path)], sources=sources, source_date_epoch=0).bundle
        for key in self.keys:
            bundle = sign_bundle(bundle, key)
        return dump_bundle(bundle)


def paired(pairs: int, a: Callable[[int], float], b: Callable[[int], float]) -> tuple[list[float], list[float]]:
    """`pairs` measurements of each on the same slice `i`, alternating which goes first, so
    each pair meets the same load on a shared machine."""
    first, second = [], []
    for i in range(pairs):
        if i % 2:
            second.append(b(i))
            first.append(a(i))
        else:
            first.append(a(i))
            second.append(b(i))
    return first, second


def rate(fn: Callable[[Any], Any], events: list[Any]) -> float:
    return len(events) * 1e9 / plain_pass(fn, events)


def throughput_rows(
    name: str, bare: str, stored: str, bare_rates: list[float], store_rates: list[float]
) -> list[tuple[str, str]]:
    """The two medians, and the median and quartiles of the ratio pair by pair (the noise)."""
    a, b = statistics.median(bare_rates), statistics.median(store_rates)
    ratios = [s / p for s, p in zip(store_rates, bare_rates, strict=True)]
    q1, mid, q3 = statistics.quantiles(ratios, n=4)
    return [
        (f"{name}: {bare} (events/s, median of {len(ratios)} slices)", fmt_rate(a)),
        (f"{name}: {stored} (events/s)", fmt_rate(b)),
        (f"{name}: store / bare, median of the pairs' ratios (quartiles)", f"{mid:.3f} ({q1:.3f} – {q3:.3f})"),
    ]


def stateless(settings: Settings, report: Report) -> None:
    progress("stateless: the catalog set, PolicySet.evaluate against PolicyStore.evaluate")
    signed = Signed("motb.bal")
    store = PolicyStore(signed.keyring)
    store.propose(signed.release(0)).check()
    bare = from_checked_bundle(json.loads(signed.release(0)))
    lines = (CATALOG / "events.jsonl").read_text(encoding="utf-8").splitlines()
    events = [json.loads(line) for line in lines if line.strip()]
    stream = (events * (settings.stateless_events // len(events) + 1))[: settings.stateless_events]
    assert [r.to_dict() for r in map(bare.evaluate, events)] == [
        {k: v for k, v in store.evaluate(e).to_dict().items() if k != "bundle"} for e in events
    ], "the store must decide as the set it runs"
    slices = [stream[i : i + SLICE] for i in range(0, len(stream), SLICE)]
    plain, stored = paired(
        len(slices), lambda i: rate(bare.evaluate, slices[i]), lambda i: rate(store.evaluate, slices[i])
    )
    report.rows += throughput_rows("stateless", "PolicySet.evaluate", "PolicyStore.evaluate", plain, stored)
    latencies = []
    for patch in range(1, settings.reloads + 1):
        body = signed.release(patch)
        started = time.perf_counter()
        store.propose(body).check()
        latencies.append((time.perf_counter() - started) * 1000)
    report.rows.append(("stateless: propose → running (ms, median)", f"{statistics.median(latencies):.1f}"))


def stateful(settings: Settings, report: Report, profile: bool) -> None:
    progress(f"stateful: the watchdog over {settings.keys} pools, Engine.process against PolicyStore.process")
    signed = Signed("watchdog.bal")
    store = PolicyStore(signed.keyring, stateful=True)
    store.propose(signed.release(0)).check()
    engine = Engine(from_checked_bundle(json.loads(signed.release(0))))
    fleet = Fleet(settings.keys)
    for r in range(WARMUP_ROUNDS):
        for event in fleet.next_round():
            engine.process(event)
            store.process(event)
        if r % 10 == 9:
            progress(f"  warm-up round {r + 1}/{WARMUP_ROUNDS}")
    events = fleet.rounds(settings.rounds)  # time only moves forward: new rounds, sliced, each slice run by both
    slices = [events[i : i + SLICE] for i in range(0, len(events), SLICE)]
    bare_rates, store_rates = paired(
        len(slices), lambda i: rate(engine.process, slices[i]), lambda i: rate(store.process, slices[i])
    )
    report.rows += throughput_rows("stateful", "Engine.process", "PolicyStore.process", bare_rates, store_rates)
    bodies = [signed.release(patch) for patch in range(1, 2 * settings.reloads + 2)]
    latencies = []
    for body in bodies[: settings.reloads]:
        started = time.perf_counter()
        outcome = store.propose(body).check()
        latencies.append((time.perf_counter() - started) * 1000)
    assert all(c.state == "kept" for c in outcome.state), "same shapes: every rule keeps its state"
    keys = store.engine.stats["motb.watchdog"]["keys"]  # type: ignore[union-attr]
    report.rows.append(
        (f"stateful: propose → running, {keys} keys kept (ms, median)", f"{statistics.median(latencies):.1f}")
    )
    reload_only = []
    for body in bodies[settings.reloads : 2 * settings.reloads]:
        policies = from_checked_bundle(json.loads(body))
        started = time.perf_counter()
        engine.reload(policies)
        reload_only.append((time.perf_counter() - started) * 1000)
    report.rows.append(
        (f"stateful: Engine.reload alone, {keys} keys (ms, median)", f"{statistics.median(reload_only):.1f}")
    )
    with tempfile.TemporaryDirectory() as scratch:
        ledger = Ledger.open(Path(scratch) / "audit.sqlite")
        store.audit = AuditLog(ledger)
        audited = []
        for patch in range(2 * settings.reloads + 2, 3 * settings.reloads + 2):
            body = signed.release(patch)
            started = time.perf_counter()
            store.propose(body).check()
            audited.append((time.perf_counter() - started) * 1000)
        ledger.close()
    report.rows.append(("stateful: propose with a durable ledger (ms, median)", f"{statistics.median(audited):.1f}"))
    if profile:
        body = signed.release(3 * settings.reloads + 5)
        store.audit = None
        report.profile_text = cprofile_text(lambda: store.propose(body).check(), 25)


def run_bench(settings: Settings, profile: bool) -> Report:
    load = load_average()
    report = Report(settings, load_before=load)
    stateless(settings, report)
    stateful(settings, report, profile)
    report.load_after = load_average()
    report.notes = [
        f"throughput: pairs of {SLICE}-event slices, each slice run by the bare object and by the store, the "
        f"order alternating; stateless: {settings.stateless_events:,} events; stateful: {settings.rounds} rounds "
        f"of {settings.keys:,} pools, after {WARMUP_ROUNDS} warm-up rounds",
        f"reload latency: median of {settings.reloads} proposals, each a newer version of the same file, "
        "signed by 2 keys (threshold 2)",
    ]
    return report


def render(report: Report, markdown: bool) -> str:
    s = report.settings
    head = head_lines(
        "hot reload",
        s.reloads < 11,
        "store and bare objects run on the same 500-event slices, alternating, in one process; ratios pair by pair",
        (report.load_before, report.load_after),
    )
    return "\n".join([*report_head(head, report.rows, markdown), "", *report_tail(report, markdown)])


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_arguments(
        argv,
        "reload",
        __doc__,
        quick="a fast smoke run (300 pools, 5 reloads); rough numbers",
        profile="also print a cProfile of one reload of the stateful store",
    )
    started = time.perf_counter()
    report = run_bench(Settings.make(args.quick), args.profile)
    report.elapsed_s = time.perf_counter() - started
    print(render(report, args.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
