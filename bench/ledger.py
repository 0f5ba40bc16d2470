"""The audit ledger benchmark: appends/s durable and batched, and verifying a million entries.

    python -m bench.ledger              # full run (about 4 minutes: 1,000,000 entries to build and verify)
    python -m bench.ledger --quick      # smoke run (about 30 s: 100,000 entries; rough numbers)
    python -m bench.ledger --markdown   # the table as Markdown (for docs/performance.md)
    python -m bench.ledger --profile    # also: where verification spends its time (cProfile)

Every entry is a realistic `DirectiveIssued` envelope (a 5W1H narrative, two lines of rationale;
about 850 bytes stored), appended through `Ledger.append` one at a time, as `AuditLog.write`
does, into a fresh ledger in the system's temporary directory (on this machine the same ext4
disk as the repository). Appends/s are the median of the runs; a JSONL `AuditLog` with and
without `sync=True` is timed on the same entries for comparison.

* durable: the default, one transaction per append, committed with `synchronous=FULL` (an fsync
  of the write-ahead log per append); also with a signer (a checkpoint every 1000 entries);
* batched: `Batch(entries=100, ms=100)` and `Batch(entries=1000, ms=1000)`;
* verify: a ledger of N entries (1,000,000; 100,000 with --quick) signed every 1000 entries is
  built in batches, then verified (chain, columns, every checkpoint's ed25519 signature) in a
  fresh process, `LedgerReader.open(path).verify(trust)` against a keyring, timed inside it. That process
  then verifies again under tracemalloc and reports the peak of Python's allocations, and its own
  peak resident memory (VmHWM); so does one verifying a tenth of the entries: the two are equal
  when verification streams. Queries on the big ledger (by actor and subject, by
  kind and time, the newest 50 by outcome; median of 5) and an export to JSON lines (median of 3)
  are timed too.

This is a benchmark, not a test: it asserts nothing about speed.
"""

from __future__ import annotations

import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ballast.runtime.audit import AuditLog
from ballast.runtime.keyring import Keyring, Role, TrustedKey
from ballast.runtime.ledger import Batch, Ledger
from ballast.runtime.ledger_keys import LEDGER_ROLE, CheckpointTrust
from ballast.runtime.ledger_read import LedgerReader
from ballast.runtime.signing import PrivateKey
from bench.harness import (
    BenchReport,
    cprofile_text,
    fmt_rate,
    head_lines,
    load_average,
    parse_arguments,
    progress,
    report_head,
    report_tail,
)

SEED = bytes(range(32))
ACTORS = [
    f"motb.orchestration/{rule}" for rule in ("latency_breach", "batch_shed_on_load", "sla_breach", "htm_queue_warning")
]
OUTCOMES = ("scale", "pause", "reroute", "downgrade")


def writer_trust(seed: bytes) -> CheckpointTrust:
    """Trust the key of `seed` alone to sign checkpoints (VERIFY_CHILD builds the same)."""
    key = PrivateKey.from_seed(seed)
    writer = TrustedKey(key.key_id, key.public_key, frozenset({LEDGER_ROLE}))
    return CheckpointTrust(Keyring("bench", {LEDGER_ROLE: Role(LEDGER_ROLE)}, (writer,), LEDGER_ROLE))


# Runs in a fresh interpreter: verify, and report the time and the peak resident memory; with
# a second argument, verify again under tracemalloc and report the peak of Python's allocations.
VERIFY_CHILD = """
import json, sys, time, tracemalloc
from ballast.runtime.keyring import Keyring, Role, TrustedKey
from ballast.runtime.ledger_keys import LEDGER_ROLE, CheckpointTrust
from ballast.runtime.ledger_read import LedgerReader
from ballast.runtime.signing import PrivateKey

def high_water_kb():  # this process's own peak RSS (ru_maxrss would include the parent's, from fork)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0

key = PrivateKey.from_seed(bytes(range(32)))
writer = TrustedKey(key.key_id, key.public_key, frozenset({LEDGER_ROLE}))
trust = CheckpointTrust(Keyring("bench", {LEDGER_ROLE: Role(LEDGER_ROLE)}, (writer,), LEDGER_ROLE))
before = high_water_kb()
t0 = time.perf_counter()
with LedgerReader.open(sys.argv[1]) as ledger:
    report = ledger.verify(trust)
elapsed = time.perf_counter() - t0
peak = high_water_kb()
traced = 0
if len(sys.argv) > 2:
    tracemalloc.start()
    with LedgerReader.open(sys.argv[1]) as ledger:
        ledger.verify(trust)
    traced = tracemalloc.get_traced_memory()[1]
print(json.dumps({"s": elapsed, "ok": report.ok, "entries": report.entries, "checkpoints": report.verified_checkpoints,
                  "rss_before_kb": before, "rss_peak_kb": peak, "traced_peak": traced}))
"""


@dataclass
class Settings:
    quick: bool
    runs: int
    durable: int  # appends per durable run
    batched: int  # appends per batched run
    big: int  # entries of the ledger to verify

    @classmethod
    def make(cls, quick: bool) -> Settings:
        if quick:
            return cls(quick, runs=3, durable=100, batched=20_000, big=100_000)
        return cls(quick, runs=5, durable=300, batched=30_000, big=1_000_000)


@dataclass
class Report(BenchReport):
    settings: Settings
    rates: dict[str, float] = field(default_factory=dict)  # appends/s
    verify: dict[str, Any] = field(default_factory=dict)
    small_verify: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)  # seconds
    bytes_per_entry: float = 0.0


def entry(i: int) -> dict[str, Any]:
    """The i-th directive entry, as `directive_entry` builds them."""
    actor = ACTORS[i % len(ACTORS)]
    outcome = OUTCOMES[i % len(OUTCOMES)]
    pool = f"pool-{i % 97}"
    reason = f"load 0.{90 + i % 10} and risk {80 + i % 20} above 0.8 / 80 on standard pool {pool}"
    return {
        "kind": "DirectiveIssued",
        "action_id": f"{i:020x}",
        "directive_id": f"{i:020x}",
        "subject": pool,
        "actor": actor,
        "scope": "motb.orchestration",
        "outcome": outcome,
        "reason": reason,
        "latency_ms": 0.041,
        "narrative": {
            "who": f"policy motb.orchestration, rule {actor.split('/')[1]}",
            "what": f'{outcome} {pool} {{"level": 1}}',
            "when": "2025-11-15T12:03:30Z",
            "where": pool,
            "why": [
                reason,
                f"load > load_limit was true (load=0.{90 + i % 10})",
                f"risk > risk_limit was true (risk={80 + i % 20})",
            ],
            "how": "rule condition held (impact low, priority 100)",
        },
    }


def appends_per_second(make_sink: Callable[[Path], Any], count: int, runs: int, scratch: Path, name: str) -> float:
    """The median appends/s of `count` single appends into a fresh sink, over `runs` runs."""
    rates = []
    entries = [entry(i) for i in range(count)]
    for run in range(runs):
        path = scratch / f"{name}-{run}"
        sink = make_sink(path)
        write = sink.append if isinstance(sink, Ledger) else sink.write
        t0 = time.perf_counter()
        for e in entries:
            write(e)
        close = getattr(sink, "close", None)
        if close is not None:
            close()  # a batched ledger commits its last batch here: part of the cost
        rates.append(count / (time.perf_counter() - t0))
    return statistics.median(rates)


def _batched(batch: Batch) -> Callable[[Path], Ledger]:
    return lambda path: Ledger.open(path.with_suffix(".sqlite"), batch=batch)


def build(path: Path, count: int) -> float:
    """A signed ledger of `count` entries, appended in large batches; the seconds it took."""
    t0 = time.perf_counter()
    with Ledger.open(
        path, signer=PrivateKey.from_seed(SEED), checkpoint_every=1000, batch=Batch(entries=10_000, ms=60_000)
    ) as ledger:
        chunk = 1000
        for start in range(0, count, chunk):
            ledger.append_many([entry(i) for i in range(start, min(count, start + chunk))])
            if start % 100_000 == 0 and start:
                progress(f"built {start:,} entries")
    return time.perf_counter() - t0


def verify_in_child(path: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", VERIFY_CHILD, str(path), "traced"], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def timed(fn: Callable[[], Any], repeats: int = 5) -> tuple[float, Any]:
    """The median seconds of `repeats` calls (the first warms the page cache like any other) and the last value."""
    times, value = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), value


def run_bench(settings: Settings, profile: bool) -> Report:
    report = Report(settings=settings)
    report.load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="ballast-ledger-bench-") as tmp:
        scratch = Path(tmp)
        n, runs = settings.durable, settings.runs
        progress(f"durable appends ({n} per run, {runs} runs)")
        report.rates["ledger, durable (fsync per append)"] = appends_per_second(
            lambda p: Ledger.open(p.with_suffix(".sqlite")), n, runs, scratch, "durable"
        )
        report.rates["ledger, durable, signed every 1000"] = appends_per_second(
            lambda p: Ledger.open(p.with_suffix(".sqlite"), signer=PrivateKey.from_seed(SEED)),
            n,
            runs,
            scratch,
            "signed",
        )
        report.rates["JSONL AuditLog, sync=True (fsync per entry)"] = appends_per_second(
            lambda p: AuditLog.append_to(p.with_suffix(".jsonl"), sync=True), n, runs, scratch, "jsonl-sync"
        )
        n = settings.batched
        progress(f"batched appends ({n:,} per run, {runs} runs)")
        for batch in (Batch(100, 100), Batch(1000, 1000)):
            report.rates[f"ledger, batched Batch({batch.entries}, {batch.ms:g} ms)"] = appends_per_second(
                _batched(batch), n, runs, scratch, f"batch{batch.entries}"
            )
        report.rates["JSONL AuditLog, flushed, no fsync"] = appends_per_second(
            lambda p: AuditLog.append_to(p.with_suffix(".jsonl")), n, runs, scratch, "jsonl"
        )
        big, small = scratch / "big.sqlite", scratch / "small.sqlite"
        progress(f"building a signed ledger of {settings.big:,} entries")
        report.timings["build"] = build(big, settings.big)
        build(small, settings.big // 10)
        report.bytes_per_entry = sum(f.stat().st_size for f in scratch.glob("big.sqlite*")) / settings.big
        progress("verifying it in a fresh process")
        report.verify = verify_in_child(big)
        report.small_verify = verify_in_child(small)
        progress("queries and export")
        with LedgerReader.open(big) as reader:
            report.timings["query actor"], found = timed(
                lambda: sum(1 for _ in reader.query(actor=ACTORS[1], subject="pool-7"))
            )
            report.notes.append(f"query by actor and subject matched {found:,} entries")
            head = reader.head()
            assert head is not None
            report.timings["query kind+time"], found = timed(
                lambda: sum(1 for _ in reader.query(kind="DirectiveIssued", since=head.time))
            )
            report.timings["query newest 50"], _ = timed(lambda: list(reader.query(outcome="pause", limit=50)))
            sink = _Counting()
            report.timings["export"], _ = timed(lambda: reader.export(sink), 3)
            if profile:
                trust = writer_trust(SEED)
                report.profile_text = cprofile_text(lambda: reader.verify(trust), 12)
    report.load_after = load_average()
    return report


class _Counting(io.TextIOBase):
    """A text sink that counts what is written (an export's cost without a disk's)."""

    def __init__(self) -> None:
        self.chars = 0

    def write(self, text: str) -> int:
        self.chars += len(text)
        return len(text)


def render(report: Report, markdown: bool) -> str:
    s = report.settings
    method = (
        f"appends/s = median of {s.runs} runs of single appends into a fresh file ({s.durable} durable, "
        f"{s.batched:,} batched per run; close() included); verify in a fresh process, timed inside it"
    )
    head = head_lines("audit ledger", s.quick, method, (report.load_before, report.load_after))
    rows = [(label, f"{fmt_rate(rate)} appends/s ({1e6 / rate:,.0f} µs each)") for label, rate in report.rates.items()]
    v, small = report.verify, report.small_verify
    per = v["s"] / max(1, v["entries"]) * 1e6
    rows += [
        (
            f"build {s.big:,} signed entries (Batch(10000), append_many of 1000)",
            f"{report.timings['build']:.1f} s ({fmt_rate(s.big / report.timings['build'])} entries/s)",
        ),
        (
            "size on disk",
            f"{report.bytes_per_entry:.0f} bytes per entry ({report.bytes_per_entry * s.big / 1e6:,.0f} MB)",
        ),
        (
            f"verify {v['entries']:,} entries, {v['checkpoints']:,} signed checkpoints",
            f"{v['s']:.1f} s ({per:.1f} µs per entry), {'OK' if v['ok'] else 'FAILED'}",
        ),
        (
            "verify: peak of Python's allocations (tracemalloc)",
            f"{v['traced_peak'] / 1024:.0f} KiB for {v['entries']:,} entries, {small['traced_peak'] / 1024:.0f} KiB for {small['entries']:,}",
        ),
        (
            "verify: peak resident memory of the process",
            f"{v['rss_peak_kb'] / 1024:.0f} MB for {v['entries']:,} entries, {small['rss_peak_kb'] / 1024:.0f} MB for {small['entries']:,}",
        ),
        ("query: one actor and subject (indexed)", f"{report.timings['query actor'] * 1000:.1f} ms"),
        ("query: kind since a time (indexed)", f"{report.timings['query kind+time'] * 1000:.1f} ms"),
        ("query: newest 50 of an outcome", f"{report.timings['query newest 50'] * 1000:.1f} ms"),
        (f"export {s.big:,} entries as JSON lines", f"{report.timings['export']:.1f} s"),
    ]
    durable = report.rates["ledger, durable (fsync per append)"]
    batched = report.rates["ledger, batched Batch(100, 100 ms)"]
    report.notes[:0] = [
        "durable appends cost one fsync each: the rate is the disk's sync rate, whatever the entry",
        f"batched Batch(100, 100 ms) is {batched / durable:.0f}x the durable rate; a crash loses up to 99 entries or 100 ms of them",
        f"verify memory: the process's resident memory before verifying (the interpreter, sqlite3 and PyNaCl loaded) was {v['rss_before_kb'] / 1024:.0f} MB; "
        "tracemalloc counts Python's allocations, not SQLite's page cache (2 MB by default)",
    ]
    stream_ok = v["traced_peak"] <= small["traced_peak"] * 1.5 + 65536
    report.targets = [
        (
            "verify streams: its memory does not grow with the ledger",
            f"peak {v['traced_peak'] / 1024:.0f} KiB at {v['entries']:,} entries vs {small['traced_peak'] / 1024:.0f} KiB at {small['entries']:,}",
            stream_ok,
        ),
        (
            "a verified ledger verifies",
            f"{v['entries']:,} entries, {v['checkpoints']:,} checkpoints",
            bool(v["ok"] and small["ok"]),
        ),
    ]
    return "\n".join([*report_head(head, rows, markdown), "", *report_tail(report, markdown)])


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_arguments(
        argv,
        "ledger",
        __doc__,
        quick="a fast smoke run (100,000 entries to verify); rough numbers",
        profile="also print a cProfile of verify",
    )
    started = time.perf_counter()
    report = run_bench(Settings.make(args.quick), args.profile)
    report.elapsed_s = time.perf_counter() - started
    print(render(report, args.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
