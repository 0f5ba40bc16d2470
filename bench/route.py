"""The routing benchmark: a governance document with 200 intent types, one intent at a time.

    python -m bench.route              # full run (about a minute)
    python -m bench.route --quick      # smoke run (a few seconds; numbers are rough)
    python -m bench.route --markdown   # the table as Markdown (for docs/performance.md)
    python -m bench.route --profile    # also: where a routing spends its time (cProfile)

The document is generated: 200 intent types spread over the five tiers (40 each), six weighted
priorities, tier 3 asking for a minimum alignment of 50 %, and a vote of three voters with a
quorum of 2. The stream draws intents among the types with a fixed seed, each with a mission
context that signals one or two priorities. Before timing, every intent type is routed once and
its ballot (tiers 3 and 4) gets two approving votes, so a voting intent of the stream is
recounted and decided at each routing, as a service that routes it again after the vote sees it.

Measured, in one process (bench/harness.py's timing): `Router.route` on an in-memory vote
store, without a ledger; the same with every routing written to an in-memory audit ledger
(`AuditLog` over a list: the 5W1H narrative is built); the same with signed votes (each of the
two votes of a voting intent is checked against a voter keyring at every routing: Ed25519
verification); and `Governance.tier_of`, the tier lookup alone. p50/p95/p99 from a pass that
times each call (the clock pair's cost subtracted), calls/s from an un-instrumented pass; the
median of the runs. Before timing, the benchmark checks every routing of the stream against the
generator's table (the tier, and approved exactly for tiers 1 and 2 and the voted tiers 3 and 4
with enough alignment) and stops otherwise.
"""

from __future__ import annotations

import argparse
import base64
import random
import time
from collections.abc import Sequence
from typing import Any

import ballast
from ballast.runtime.audit import AuditLog
from ballast.runtime.governance import Governance, Intent, Router
from ballast.runtime.keyring import keyring_from_data
from ballast.runtime.signing import PrivateKey
from ballast.runtime.vote_signing import sign_vote
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

INTENT_TYPES = 200
TIERS = (0, 1, 2, 3, 4)
PRIORITIES = {"resilience": 1.0, "revenue": 0.8, "autonomy": 0.7, "learning": 0.6, "cost": 0.4, "latency": 0.3}
VOTERS = ("architect", "sre-lead", "risk-officer")
MIN_ALIGNMENT_TIER3 = 0.5
TARGET_P95_US = 100.0
T0 = 1_800_000_000.0


def tier_of_type(i: int) -> int:
    return TIERS[i % len(TIERS)]


def document_text(signed: bool = False) -> str:
    """The governance document (see the module docstring); `signed` asks for signed votes."""
    lines = ['governance bench.router version "1" {']
    for tier in TIERS:
        intents = ", ".join(f'"intent_{i:03d}"' for i in range(INTENT_TYPES) if tier_of_type(i) == tier)
        minimum = f"\n    min_alignment {MIN_ALIGNMENT_TIER3:.0%}" if tier == 3 else ""
        lines.append(f"  tier {tier} {{\n    intents [{intents}]{minimum}\n  }}")
    for name, weight in PRIORITIES.items():
        lines.append(f'  priority {name} {{\n    weight {weight}\n    signal "{name}_impact"\n  }}')
    voters = ", ".join(f'"{v}"' for v in VOTERS)
    signatures = '\n    signatures "required"' if signed else ""
    lines.append(
        f'  vote {{\n    voters [{voters}]\n    quorum 2\n    deadline 1h\n    ties "reject"{signatures}\n  }}'
    )
    return "\n".join([*lines, "}", ""])


def intents(n: int, seed: int = 14) -> list[dict[str, Any]]:
    """`n` intents drawn among the types; one id per type, so a voting type's ballot is reused."""
    rng = random.Random(seed)
    context = {i: {f"{p}_impact": True for p in rng.sample(sorted(PRIORITIES), 2)} for i in range(INTENT_TYPES)}
    out = []
    for _ in range(n):
        i = rng.randrange(INTENT_TYPES)
        out.append(
            {
                "id": f"i-{i:03d}",
                "type": f"intent_{i:03d}",
                "actor": "agent-7",
                "payload": {"cluster": f"c{i % 7}"},
                "mission_context": context[i],
            }
        )
    return out


def expected(intent: dict[str, Any]) -> tuple[int, bool]:
    """The tier and whether the router approves, from the generator's table (two approving votes)."""
    tier = tier_of_type(int(intent["type"].removeprefix("intent_")))
    alignment = max(PRIORITIES[s.removesuffix("_impact")] for s in intent["mission_context"])
    if tier == 3 and alignment < MIN_ALIGNMENT_TIER3:
        return tier, False
    return tier, tier in (1, 2, 3, 4)


def voter_keys() -> tuple[dict[str, PrivateKey], Any]:
    keys = {v: PrivateKey.from_seed(bytes([n + 1]) * 32, v) for n, v in enumerate(VOTERS)}
    entries = [
        {"id": k.key_id, "name": v, "public_key": base64.b64encode(k.public_key).decode(), "roles": ["Voter"]}
        for v, k in keys.items()
    ]
    data = {"keyring": "bench", "roles": {"Voter": {"threshold": 1}}, "default_role": "Voter", "keys": entries}
    return keys, keyring_from_data(data)


def prepared(governance: Governance, stream: list[dict[str, Any]], *, ledger: bool, signed: bool) -> Router:
    """A router whose voting intents of `stream` have their ballot open with two approving votes."""
    keys, keyring = voter_keys()
    audit = AuditLog(lambda entry: None) if ledger else None
    router = Router(governance, ledger=audit, clock=lambda: T0, voter_keys=keyring if signed else None)
    for intent in {i["id"]: i for i in stream}.values():
        router.route(intent)
        if governance.tier_of(intent["type"]).number in (3, 4):
            digest = Intent.from_json(intent).digest()
            for voter in VOTERS[:2]:
                signature = sign_vote(intent["id"], digest, voter, "approve", T0, keys[voter]) if signed else None
                router.vote(intent["id"], voter, "approve", T0, signature=signature)
    return router


def main(argv: Sequence[str] | None = None) -> int:
    def options(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--intents", type=int, help="intents per pass (default 10,000; --quick 2,000)")
        parser.add_argument("--runs", type=int, help="runs to take the median of (default 7; --quick 3)")

    args = parse_arguments(
        argv, "route", __doc__ or "", "a few seconds, rough numbers", "where a routing spends its time", options
    )
    started = time.perf_counter()
    load_before = load_average()
    plain, signed = (
        Governance.from_ir(ballast.compile(["g.bal"], sources={"g.bal": document_text(s)}).ir["governance"][0])
        for s in (False, True)
    )
    stream = intents(args.intents or (2_000 if args.quick else 10_000))
    runs = args.runs or (3 if args.quick else 7)
    routers = {
        "route": prepared(plain, stream, ledger=False, signed=False),
        "ledger": prepared(plain, stream, ledger=True, signed=False),
        "signed": prepared(signed, stream, ledger=False, signed=True),
    }
    progress(f"checking {len(stream)} routings against the generator's table")
    voting = 0
    for name, router in routers.items():
        for intent in stream:
            routing = router.route(intent)
            if (routing.tier, routing.approved) != expected(intent):
                raise SystemExit(
                    f"bench.route ({name}): {intent['type']} routed to tier {routing.tier}, approved "
                    f"{routing.approved}; the table says {expected(intent)}: {routing.reasoning}"
                )
            voting += name == "route" and routing.requires_vote

    def lookup(intent: dict[str, Any]) -> object:
        return plain.tier_of(intent["type"])

    functions = {name: router.route for name, router in routers.items()}
    functions["lookup"] = lookup
    medians = interleaved_medians(functions, stream, runs)
    rows = []
    for name, label in (
        ("route", "Router.route (in-memory votes, no ledger)"),
        ("ledger", "… writing each routing to an audit ledger (in memory)"),
        ("signed", "… with signed votes (2 Ed25519 checks per voted intent)"),
        ("lookup", "Governance.tier_of (the lookup alone)"),
    ):
        rate, p50, p95, p99 = medians[name]
        rows.append((label, f"{fmt_rate(rate)} calls/s; p50 {p50:.1f} µs, p95 {p95:.1f} µs, p99 {p99:.1f} µs"))
    report = BenchReport(
        notes=[
            f"{INTENT_TYPES} intent types over {len(TIERS)} tiers, {len(PRIORITIES)} priorities; {len(stream)} intents, "
            f"{voting} ({100 * voting / len(stream):.0f} %) of a voting tier (recounted at each routing)",
            "every routing of the stream gave the generator's tier and decision",
            "one core: the benchmark runs in one thread",
        ],
        targets=[
            (
                f"routing P95 under {TARGET_P95_US:.0f} µs for {INTENT_TYPES} intent types (unsigned votes)",
                f"{medians['route'][2]:.1f} µs",
                medians["route"][2] < TARGET_P95_US,
            )
        ],
        load_before=load_before,
        load_after=load_average(),
    )
    if args.profile:
        route = routers["route"].route
        report.profile_text = cprofile_text(lambda: [route(i) for i in stream], 15)
    report.elapsed_s = time.perf_counter() - started
    method = f"median of {runs} runs; calls/s from an un-instrumented pass, latencies from a timed pass"
    head = head_lines("route", args.quick, method, (load_before, report.load_after))
    print("\n".join([*report_head(head, rows, args.markdown), "", *report_tail(report, args.markdown)]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
