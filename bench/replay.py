"""The replay benchmark: a day of fleet telemetry through two versions of the catalog policy.

    python -m bench.replay              # full run: 24 h × 100 services × 1 Hz = 8.64 M events (about 4 minutes)
    python -m bench.replay --quick      # smoke run: 1 h = 360,000 events (about 15 s; numbers are rough)
    python -m bench.replay --markdown   # the table as Markdown (for docs/performance.md)
    python -m bench.replay --profile    # also: where the replay spends its time (cProfile, one quick-sized run)

The product target: replaying 24 hours of 100 services sampled every second (8.64 million
events) through a baseline and a candidate policy set takes under 2 minutes on one core.

Method. The telemetry is generated once, before any timing, as a JSONL file in a temporary
directory (its size is reported): `catalog/motb.bal`'s input, 100 agent pools (10% critical,
70% standard, 20% batch) with a diurnal load curve, noise, and about three incidents per pool
per day (load and risk spikes, latency, errors, queues, a starved trigger mesh, a stalled
scheduler, event-policy cascades, SLA dips), so every rule fires now and then: about 2
directives per 100 events in all. The baseline is the catalog's `motb.bal`; the candidate is a
copy of the catalog (so its `lib/thresholds.bal` import resolves) with one threshold changed:
`sla_breach` fires below 99.9% SLA adherence instead of 99.95%.

Each run is `ballast replay` end to end, in process: `ballast.cli.main` with the telemetry
file, both policy sets as source files (compiled inside the timed run) and the JSON report
written to a file in the temporary directory. The reported time is the median of the runs,
with `gc.collect()` before each; events/s is the event count over that median. Every run must
produce the same report byte for byte (the benchmark stops if not), and the report must count
every event and show `sla_breach` as the only changed rule.

This is a benchmark, not a test: it asserts nothing about speed.
"""

from __future__ import annotations

import gc
import io
import json
import math
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ballast.cli import main as ballast_main
from bench.harness import (
    ROOT,
    BenchReport,
    cprofile_text,
    head_lines,
    load_average,
    parse_arguments,
    report_head,
    report_tail,
)

CATALOG = ROOT / "catalog"
STARTED = time.perf_counter()
TARGET_S = 120.0  # 8.64 M events through both sets in under 2 minutes
SERVICES = 100
THRESHOLD_BEFORE = 'when sla_adherence < 99.95 && tier != "batch"'
THRESHOLD_AFTER = 'when sla_adherence < 99.9 && tier != "batch"'


@dataclass(frozen=True)
class Settings:
    quick: bool
    hours: int
    runs: int

    @classmethod
    def make(cls, quick: bool) -> Settings:
        return cls(True, 1, 3) if quick else cls(False, 24, 3)


@dataclass
class Report(BenchReport):
    settings: Settings
    events: int = 0
    file_bytes: int = 0
    generate_s: float = 0.0
    runs_s: list[float] = field(default_factory=list)
    summary: dict[str, object] = field(default_factory=dict)


def progress(message: str) -> None:
    print(f"[{time.perf_counter() - STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# the telemetry


@dataclass
class Pool:
    name: str
    tier: str
    region: str
    phase: float  # where the pool's daily peak falls, in radians
    base: float  # mean load
    incidents: list[tuple[int, int, str]]  # (start s, end s, kind)


INCIDENTS = ("overload", "latency", "errors", "queue", "mesh", "scheduler", "cascade", "sla")


def make_pools(rng: random.Random, seconds: int) -> list[Pool]:
    tiers = ["critical"] * 10 + ["standard"] * 70 + ["batch"] * 20
    rng.shuffle(tiers)
    regions = ("eu-west", "eu-central", "us-east", "ap-south")
    pools = [
        Pool(f"pool-{i:03d}", tiers[i], regions[i % 4], rng.uniform(0, 2 * math.pi), rng.uniform(0.3, 0.5), [])
        for i in range(SERVICES)
    ]
    for _ in range(max(1, round(3 * SERVICES * seconds / 86_400))):  # about three incidents per pool per day
        start = rng.randrange(0, seconds)
        rng.choice(pools).incidents.append((start, start + rng.randrange(120, 1_200), rng.choice(INCIDENTS)))
    return pools


def write_telemetry(path: Path, seconds: int, seed: int = 7) -> int:
    """One motb telemetry sample per pool per second, as JSONL; returns the number of events."""
    rng = random.Random(seed)
    pools = make_pools(rng, seconds)
    rand, gauss = rng.random, rng.gauss
    events = 0
    with open(path, "w", encoding="utf-8", buffering=1 << 20) as out:
        for t in range(seconds):
            day = math.sin(2 * math.pi * t / 86_400)
            for p in pools:
                incident = next((kind for start, end, kind in p.incidents if start <= t < end), "")
                load = min(
                    1.0, max(0.0, p.base + 0.2 * math.sin(2 * math.pi * t / 86_400 + p.phase) + 0.03 * gauss(0, 1))
                )
                risk = min(100.0, max(0.0, 30 + 8 * day + 5 * gauss(0, 1)))
                latency, errors, sla, queue = (
                    80 + 260 * load**4 + 10 * rand(),
                    0.002 * rand(),
                    99.96 + 0.04 * rand(),
                    int(60 + 400 * load * rand()),
                )
                subscriptions, dispatch, depth = 20 + int(10 * rand()), 10 + 8 * rand(), 1 + int(3 * rand())
                if incident == "overload":
                    load, risk = min(1.0, 0.82 + 0.15 * rand()), 81 + 15 * rand()
                elif incident == "latency":
                    load, latency = 0.65 + 0.1 * rand(), 260 + 200 * rand()
                elif incident == "errors":
                    errors = 0.03 + 0.05 * rand()
                elif incident == "queue":
                    queue = int(900 + 5_000 * rand())
                elif incident == "mesh":
                    subscriptions = int(6 * rand())
                elif incident == "scheduler":
                    dispatch = 0.5 * rand()
                elif incident == "cascade":
                    depth = 8 + int(4 * rand())
                elif incident == "sla":
                    sla = 99.85 + 0.12 * rand()
                out.write(
                    f'{{"agent":"{p.name}-a{t % 4}","pool":"{p.name}","region":"{p.region}","tier":"{p.tier}",'
                    f'"load":{load:.4f},"risk":{risk:.2f},"latency_p95_ms":{latency:.1f},"error_rate":{errors:.5f},'
                    f'"sla_adherence":{sla:.3f},"htm_queue_depth":{queue},"workers":8,"subscriptions":{subscriptions},'
                    f'"dispatch_rate":{dispatch:.3f},"policy_depth":{depth}}}\n'
                )
                events += 1
    return events


def make_candidate(directory: Path) -> Path:
    """A copy of the catalog with one threshold of motb.bal changed; returns the candidate's path."""
    copy = directory / "candidate"
    shutil.copytree(CATALOG, copy, ignore=shutil.ignore_patterns("*.jsonl", "tests", "__pycache__"))
    policy = copy / "motb.bal"
    text = policy.read_text(encoding="utf-8")
    if THRESHOLD_BEFORE not in text:
        raise SystemExit(f"catalog/motb.bal no longer has `{THRESHOLD_BEFORE}`: update the benchmark's candidate")
    policy.write_text(text.replace(THRESHOLD_BEFORE, THRESHOLD_AFTER), encoding="utf-8")
    return policy


# ---------------------------------------------------------------------------------------------
# the runs


def replay_once(telemetry: Path, candidate: Path, output: Path) -> tuple[float, int, str]:
    """`ballast replay` end to end in process: (seconds, exit code, stderr)."""
    args = ["replay", "--telemetry", str(telemetry), "--baseline", str(CATALOG / "motb.bal")]
    args += ["--candidate", str(candidate), "-o", str(output)]
    err = io.StringIO()
    gc.collect()
    started = time.perf_counter()
    code = ballast_main(args, stdout=io.StringIO(), stderr=err)
    return time.perf_counter() - started, code, err.getvalue()


def bench(settings: Settings, profile: bool) -> Report:
    report = Report(settings, load_before=load_average())
    with tempfile.TemporaryDirectory(prefix="ballast-replay-bench-") as tmp:
        directory = Path(tmp)
        telemetry = directory / "telemetry.jsonl"
        progress(f"generating {settings.hours} h × {SERVICES} services × 1 Hz of telemetry")
        started = time.perf_counter()
        report.events = write_telemetry(telemetry, settings.hours * 3_600)
        report.generate_s = time.perf_counter() - started
        report.file_bytes = telemetry.stat().st_size
        candidate = make_candidate(directory)
        first: bytes | None = None
        for run in range(settings.runs):
            output = directory / f"report-{run}.json"
            seconds, code, err = replay_once(telemetry, candidate, output)
            if code not in (0, 1):
                raise SystemExit(f"ballast replay failed with exit code {code}: {err}")
            data = output.read_bytes()
            if first is None:
                first = data
            elif data != first:
                raise SystemExit("two runs of the same replay wrote different reports")
            report.runs_s.append(seconds)
            progress(f"run {run + 1}/{settings.runs}: {seconds:.1f} s ({report.events / seconds:,.0f} events/s)")
        summary = json.loads(first or b"{}")
        check(summary, report.events)
        report.summary = summary_of(summary)
        if profile:
            report.profile_text = profile_replay(directory, candidate)
    report.load_after = load_average()
    return report


def check(summary: dict, events: int) -> None:
    """The report must count every generated event and show the candidate's one change."""
    if summary["telemetry"]["events"] != events or summary["problems"]["baseline"]:
        raise SystemExit(f"the replay read {summary['telemetry']['events']} of {events} events, with problems")
    changed = [r["rule"] for r in summary["rules"] if r["change"] != "same"]
    if changed != ["sla_breach"]:
        raise SystemExit(f"expected only sla_breach to change, got {changed}")


def summary_of(summary: dict) -> dict[str, object]:
    rule = next(r for r in summary["rules"] if r["rule"] == "sla_breach")
    decisions = summary["decisions"]
    return {
        "directives, baseline / candidate": f"{decisions['baseline']:,} / {decisions['candidate']:,}",
        "events decided differently": f"{decisions['differing_events']:,}",
        "sla_breach fired, baseline → candidate": f"{rule['baseline']:,} → {rule['candidate']:,} ({rule['change']})",
    }


def profile_replay(directory: Path, candidate: Path) -> str:
    telemetry = directory / "profile.jsonl"
    write_telemetry(telemetry, 3_600, seed=11)
    listing = cprofile_text(lambda: replay_once(telemetry, candidate, directory / "profile.json"), 14)
    return "Where the time goes (cProfile of one replay of 1 h of telemetry):\n" + listing.strip()


# ---------------------------------------------------------------------------------------------
# the table


def render(report: Report, markdown: bool) -> str:
    s = report.settings
    median = statistics.median(report.runs_s)
    rate = report.events / median
    full_day_s = 8_640_000 / rate
    method = (
        f"`ballast replay` end to end in process (compiling both sets, writing the JSON report), "
        f"median of {s.runs} runs; every run's report identical"
    )
    load = (report.load_before, report.load_after)
    head = head_lines("replay", s.quick, method, load, quick_note="1 h of telemetry, rough numbers")
    rows = [
        ("events", f"{report.events:,} ({s.hours} h × {SERVICES} services × 1 Hz)"),
        (
            "telemetry file",
            f"{report.file_bytes / 2**20:,.0f} MiB of JSONL ({report.file_bytes / report.events:.0f} B per event)",
        ),
        ("replay time, median", f"{median:.1f} s (runs: {', '.join(f'{x:.1f}' for x in report.runs_s)})"),
        ("events/s (each through both sets)", f"{rate:,.0f}"),
        ("time per event", f"{median / report.events * 1e6:.2f} µs"),
        *((k, str(v)) for k, v in report.summary.items()),
    ]
    report.notes = [
        f"telemetry generated once before timing, in {report.generate_s:.0f} s (not timed); the candidate is catalog/motb.bal "
        "with `sla_breach` at 99.9% instead of 99.95%",
    ]
    what = "24 h × 100 services × 1 Hz (8.64 M events) through both sets in < 2 min on one core"
    measured = f"{median:.1f} s" if not s.quick else f"{full_day_s:.0f} s projected from 1 h at {rate:,.0f} events/s"
    report.targets = [(what, measured, full_day_s < TARGET_S)]
    return "\n".join([*report_head(head, rows, markdown), "", *report_tail(report, markdown)])


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_arguments(
        argv,
        "replay",
        __doc__,
        quick="1 h of telemetry instead of 24 h; rough numbers",
        profile="also profile one replay of 1 h of telemetry",
    )
    started = time.perf_counter()
    report = bench(Settings.make(args.quick), args.profile)
    report.elapsed_s = time.perf_counter() - started
    print(render(report, args.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
