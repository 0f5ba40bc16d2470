"""The preflight benchmark: a 200-class safety catalog, one action descriptor at a time.

    python -m bench.preflight              # full run (about 5 minutes; the interpreter baseline is most of it)
    python -m bench.preflight --quick      # smoke run (a few seconds; numbers are rough)
    python -m bench.preflight --markdown   # the table as Markdown (for docs/performance.md)
    python -m bench.preflight --profile    # also: where a preflight spends its time (cProfile)

The catalog is generated: 200 classes over 20 operations (10 each), each class a conjunction of
the operation, a volume threshold, a sensitivity or environment test and sometimes a role
membership (`"admin" in roles`), with the controls the seed's catalog uses. The descriptors are
drawn with a fixed seed; about a third match at least one class.

Measured, in one process (bench/harness.py's timing): `SafetyCatalog.assess` (validation, the
fused matcher, reasons and rationales of the classes that fired), `Gate.preflight(...,
simulate=True)` (the same plus the canonical hash and the requirements, no store, no ledger), the
preflight with its report (`to_dict()`: the reasons and rationales, computed when first read), and as
the baseline the reference interpreter (`ballast.runtime.interpret.evaluate_condition` on every
class's condition). p50/p95/p99 from a pass that times each call (the clock pair's cost
subtracted), calls/s from an un-instrumented pass; the median of the runs. Before timing, the
benchmark checks that the compiled matcher fires exactly the classes the interpreter says, for
every descriptor, and stops otherwise.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Sequence

import ballast
from ballast.runtime.approval_store import MemoryApprovalStore
from ballast.runtime.approvals import Gate
from ballast.runtime.interpret import evaluate_condition
from ballast.runtime.safety import SafetyCatalog
from bench.harness import (
    BenchReport,
    cprofile_text,
    fmt_rate,
    head_lines,
    interleaved_medians,
    load_average,
    parse_arguments,
    progress,
    report_head,
    report_tail,
)

CLASSES = 200
OPERATIONS = [f"op{i:02d}" for i in range(20)]
SENSITIVITIES = ("public", "internal", "confidential", "restricted")
ENVIRONMENTS = ("dev", "staging", "prod")
TARGET_P95_US = 100.0


def catalog_text(seed: int = 14) -> str:
    """A safety catalog of CLASSES classes (see the module docstring)."""
    rng = random.Random(seed)
    ops = ", ".join(f'"{o}"' for o in OPERATIONS)
    lines = [
        'safety bench.catalog version "1" {',
        "  input action {",
        "    actor: string",
        "    roles: list<string>",
        f"    operation: enum({ops})",
        f"    sensitivity: enum({', '.join(repr(s).replace(chr(39), chr(34)) for s in SENSITIVITIES)})",
        f"    environment: enum({', '.join(repr(e).replace(chr(39), chr(34)) for e in ENVIRONMENTS)})",
        "    tenant: string",
        "    volume: int",
        "  }",
        "  approvals expire after 1h",
    ]
    controls = ["dual_control", "justification", "hold 10m", 'approvers role "dba" count 2', "block"]
    for i in range(CLASSES):
        op = OPERATIONS[i % len(OPERATIONS)]
        threshold = rng.choice([100, 1000, 10_000, 100_000])
        extra = rng.choice(
            [
                f'sensitivity == "{rng.choice(SENSITIVITIES)}"',
                f'environment == "{rng.choice(ENVIRONMENTS)}"',
                '"admin" in roles',
                'sensitivity == "restricted" or environment == "prod"',
            ]
        )
        require = ", ".join(sorted(rng.sample(controls[:4], rng.randint(1, 3)))) if rng.random() > 0.05 else "block"
        lines += [
            f"  class c{i:03d} {{",
            f'    when operation == "{op}" and volume >= {threshold} and ({extra})',
            f"    risk {rng.choice(['low', 'medium', 'high', 'critical'])}",
            f"    require {require}",
            f"    mode {rng.choice(['deny', 'deny', 'deny', 'warn', 'dryrun'])}",
            '    reason "{actor} on {tenant}: {volume} rows"',
            "  }",
        ]
    return "\n".join([*lines, "}", ""])


def descriptors(n: int, seed: int = 91) -> list[dict[str, object]]:
    rng = random.Random(seed)
    return [
        {
            "actor": f"user{rng.randrange(50)}",
            "roles": rng.sample(["sre", "admin", "dba", "viewer"], rng.randint(0, 2)),
            "operation": rng.choice(OPERATIONS),
            "sensitivity": rng.choice(SENSITIVITIES),
            "environment": rng.choice(ENVIRONMENTS),
            "tenant": f"t{rng.randrange(20)}",
            "volume": rng.choice([5, 50, 500, 5000, 50_000, 500_000]),
        }
        for _ in range(n)
    ]


def main(argv: Sequence[str] | None = None) -> int:
    def options(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--descriptors", type=int, help="descriptors per pass (default 10,000; --quick 2,000)")
        parser.add_argument("--runs", type=int, help="runs to take the median of (default 7; --quick 3)")

    args = parse_arguments(
        argv, "preflight", __doc__ or "", "a few seconds, rough numbers", "where a preflight spends its time", options
    )
    started = time.perf_counter()
    load_before = load_average()
    catalog_ir = ballast.compile(["bench.bal"], sources={"bench.bal": catalog_text()}).safety[0]
    catalog = SafetyCatalog(catalog_ir)
    gate = Gate(catalog, MemoryApprovalStore(), clock=lambda: 1_800_000_000.0)
    stream = descriptors(args.descriptors or (2_000 if args.quick else 10_000))
    runs = args.runs or (3 if args.quick else 7)
    progress(f"checking the matcher against the interpreter on {len(stream)} descriptors")
    matched = 0
    for action in stream:
        want = [c["name"] for c in catalog.classes if evaluate_condition(c["when"], action)]
        got = [f.name for f in catalog.assess(action).fired]
        if got != want:
            raise SystemExit(f"bench.preflight: the matcher fired {got}, the interpreter {want}, for {action}")
        matched += bool(want)

    def interpreted(action: dict[str, object]) -> list[str]:
        return [c["name"] for c in catalog.classes if evaluate_condition(c["when"], action)]

    def simulate(action: dict[str, object]) -> object:
        return gate.preflight(action, simulate=True)

    def reported(action: dict[str, object]) -> object:
        return gate.preflight(action, simulate=True).to_dict()

    functions = {"assess": catalog.assess, "preflight": simulate, "report": reported, "interpreter": interpreted}
    medians = interleaved_medians(functions, stream, runs)
    rows = []
    for name, label in (
        ("preflight", "Gate.preflight(simulate=True)"),
        ("report", "… and its report (reasons, rationales)"),
        ("assess", "SafetyCatalog.assess"),
        ("interpreter", "reference interpreter (baseline)"),
    ):
        rate, p50, p95, p99 = medians[name]
        rows.append((label, f"{fmt_rate(rate)} calls/s; p50 {p50:.1f} µs, p95 {p95:.1f} µs, p99 {p99:.1f} µs"))
    speedup = medians["interpreter"][2] / medians["preflight"][2]
    rows.append(("preflight p95 vs the interpreter's", f"{speedup:.1f}× faster"))
    report = BenchReport(
        notes=[
            f"{CLASSES} classes over {len(OPERATIONS)} operations; {len(stream)} descriptors, "
            f"{matched} ({100 * matched / len(stream):.0f} %) match at least one class",
            "the matcher fired exactly the interpreter's classes for every descriptor",
            "one core: the benchmark runs in one thread",
        ],
        targets=[
            (
                f"preflight P95 under {TARGET_P95_US:.0f} µs for a {CLASSES}-class catalog",
                f"{medians['preflight'][2]:.1f} µs",
                medians["preflight"][2] < TARGET_P95_US,
            )
        ],
        load_before=load_before,
        load_after=load_average(),
    )
    if args.profile:
        report.profile_text = cprofile_text(lambda: [simulate(a) for a in stream], 15)
    report.elapsed_s = time.perf_counter() - started
    method = f"median of {runs} runs; calls/s from an un-instrumented pass, latencies from a timed pass"
    head = head_lines("preflight", args.quick, method, (load_before, report.load_after))
    print("\n".join([*report_head(head, rows, args.markdown), "", *report_tail(report, args.markdown)]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
