"""Replay: recorded telemetry through a baseline and a candidate policy set, open loop.

Both sets see the same events in the same order, each in its own runtime (an Engine when the
set has event time or threats, as `ballast eval` does; the policies' own evaluation otherwise).
Their directives are compared rule by rule (`ballast.simulator.decisions`) and summarised as a
`ballast.replay/1` report (docs/replay.md).

Time: the replay clock is the newest event time read so far, which is the Engine's own notion
of now, so a decision is placed where the Engine made it. The event time of a line is the field
its input's policies (or threats) declare in `stream { time … }`. Telemetry whose policies
declare no event time has no clock: a decision's `t_s` is then its event's index in the file
and its `time` is null.

Coverage: a replay that evaluated nothing proves nothing. A line is *evaluated* when at least
one set evaluated its event; it is *rejected* when it could not be read as an event (not JSON,
a bad envelope, a bad CSV row) or when every policy and threat of both sets that reads its
input refused the event (`invalid-event`, `late-event`). A report whose telemetry had no
evaluated line, or a larger share of rejected lines than `max_rejected`, carries a `failure`.

Speed: each line is parsed once and handed to both sets; a Decision is built only for an event
on which a rule fired, and only the decisions of the current instant are held in memory.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ballast.runtime.engine import Engine, iso
from ballast.runtime.errors import UsageError
from ballast.runtime.policy import CompiledPolicy, PolicySet, Problem, Result
from ballast.runtime.values import parse_timestamp
from ballast.simulator.decisions import Decision, DecisionDiff, decisions_of, policy_list, rule_keys
from ballast.simulator.replay_columns import column_records, plan_engine
from ballast.simulator.telemetry import BadLine, Fields, Quiet, Record, Screened, read_telemetry
from ballast.simulator.telemetry_columns import table_records

REPORT_FORMAT = "ballast.replay/1"
MAX_PROBLEM_EXAMPLES = 10
DEFAULT_MAX_REJECTED = 0.001  # 0.1 % of the lines: a recording is expected to be clean
PROGRESS_EVERY = 1 << 16  # lines between two calls of `progress`
REJECTING = frozenset({"invalid-event", "late-event"})  # problems that mean "this event was not evaluated"

Evaluate = Callable[[dict[str, Any], Result], None]  # adds one event's directives and problems to a Result


def replay(
    telemetry: str | Path,
    baseline: PolicySet,
    candidate: PolicySet,
    *,
    input: str | None = None,
    max_rejected: float = DEFAULT_MAX_REJECTED,
    origins: tuple[Mapping[str, Any], Mapping[str, Any]] | None = None,
    progress: Callable[[int], None] | None = None,
    engine: str = "auto",
    chunk_rows: int | None = None,
) -> dict[str, Any]:
    """The `ballast.replay/1` report of `telemetry` run through both policy sets.

    `input` sends every line to that input (see `read_telemetry`). `max_rejected` is the share
    of lines (0 to 1) that may be rejected before the report carries a `failure` (so does a
    replay that evaluated no line). `origins` describes where each set came from, as
    `{"paths": [...], "fingerprint": "..."}`, copied into the report so that two sets of the
    same names and versions can be told apart. `progress(lines)` is called every
    `PROGRESS_EVERY` lines (on the columnar engine, every chunk) with the number of lines read
    so far. `engine` is "auto", "row" or "columnar" (`replay_columns`: the report is the same on
    both); `chunk_rows` the rows per chunk of the columnar engine.

    Raises UsageError for a telemetry file that cannot be read at all, an unknown input or a
    `max_rejected` outside 0 to 1; lines that cannot be read are counted, reported as problems,
    and the replay goes on.
    """
    if not 0 <= max_rejected <= 1:
        raise UsageError(f"max_rejected must be a share from 0 to 1, got {max_rejected!r}")
    inputs = _schemas(baseline, candidate)
    plan = plan_engine(telemetry, baseline, candidate, inputs, input=input, engine=engine)
    records: Iterable[Record | BadLine | Quiet | Screened]
    if plan.engine == "columnar":
        records = column_records(
            telemetry, plan, inputs, chunk_rows=chunk_rows, progress=progress, progress_every=PROGRESS_EVERY
        )
    else:
        if plan.file_format in ("parquet", "arrow"):
            assert plan.target is not None  # plan_engine refuses a table without one input
            records = table_records(telemetry, plan.target, inputs[plan.target])
        else:
            records = read_telemetry(telemetry, inputs, input=input)
        if progress is not None:
            records = _reporting(records, progress)
    run = _Replay(_Side(baseline), _Side(candidate), inputs, _time_fields(baseline, candidate))
    run.feed(iter(records))
    run.finish()
    report = run.report(str(telemetry), origins or ({}, {}))
    report["telemetry"]["max_rejected"] = max_rejected
    report["failure"] = _failure(report["telemetry"], run.hint(str(telemetry), input), max_rejected)
    return report


def explain_engine(
    telemetry: str | Path, baseline: PolicySet, candidate: PolicySet, *, input: str | None = None, engine: str = "auto"
) -> str:
    """Which engine `replay` would run with these arguments, and on the columnar engine which
    rules run as column operations and why the others do not (`ballast replay --explain-plan`)."""
    inputs = _schemas(baseline, candidate)
    return plan_engine(telemetry, baseline, candidate, inputs, input=input, engine=engine).explain()


def _reporting(
    records: Iterable[Record | BadLine | Quiet | Screened], progress: Callable[[int], None]
) -> Iterator[Record | BadLine | Quiet]:
    """The records, calling `progress` every PROGRESS_EVERY of them (a separate loop, so a
    replay without progress pays nothing for it)."""
    for count, record in enumerate(records, start=1):
        if not count % PROGRESS_EVERY:
            progress(count)
        yield record


def _failure(telemetry: Mapping[str, Any], hint: str, max_rejected: float) -> dict[str, str] | None:
    """Why the replay proves nothing (no line evaluated, too many rejected), with the fix; or None."""
    lines, evaluated, rejected = telemetry["lines"], telemetry["evaluated"], telemetry["rejected"]
    if lines == 0:
        return {"reason": f"{telemetry['file']} holds no events", "hint": "point --telemetry at a recording"}
    if evaluated == 0:
        every = "its only line was" if lines == 1 else f"all {lines} lines were"
        return {"reason": f"no line was evaluated: {every} rejected", "hint": hint}
    if rejected > max_rejected * lines:
        return {
            "reason": f"{rejected} of {lines} lines ({share(rejected / lines)}) {'was' if rejected == 1 else 'were'} "
            f"rejected, more than --max-rejected {share(max_rejected)}",
            "hint": f"{hint}; or declare the share you accept with --max-rejected",
        }
    return None


def share(fraction: float) -> str:
    """A fraction as a percentage for a message: 0.001 -> '0.1 %', 2/13 -> '15.4 %'."""
    return f"{fraction * 100:.3g} %"


def _schemas(*sets: PolicySet) -> dict[str, Fields]:
    """Every input either set reads, with its schema (the first set's where both declare it)."""
    out: dict[str, Fields] = {}
    for policies in sets:
        for p in policies.policies:
            out.setdefault(p.input_name, p.fields)
        for t in policies.threats:
            out.setdefault(t["input"]["name"], t["input"]["fields"])
    return dict(sorted(out.items()))


def _time_fields(*sets: PolicySet) -> dict[str, str]:
    """The event-time field of each input whose policies or threats declare one."""
    out: dict[str, str] = {}
    for policies in sets:
        for p in policies.policies:
            if p.timing_ir["stream"].get("time"):
                out.setdefault(p.input_name, p.timing_ir["stream"]["time"])
        for t in policies.threats:
            if t.get("time"):
                out.setdefault(t["input"]["name"], t["time"])
    return out


class _Side:
    """One policy set under replay: how an event of each input reaches it, and its tallies."""

    def __init__(self, policies: PolicySet) -> None:
        self.policies = policies
        self.rules = rule_keys(policies)
        # how many policies and threats read each input: an event all of them refuse is rejected
        self.readers = {name: 0 for name in policies.inputs}
        for p in policies.policies:
            self.readers[p.input_name] += 1
        for t in policies.threats:
            self.readers[t["input"]["name"]] += 1
        self.decisions = 0
        self.problems = 0
        stateful = bool(policies.threats) or any(p.timing_ir["stream"].get("time") for p in policies.policies)
        self.engine = Engine(policies) if stateful else None
        self.evaluate: dict[str, Evaluate] = {}
        for name in policies.inputs:
            if self.engine is not None:
                # one input: every policy reads it, and input=None skips the Engine's routing
                routed = name if len(policies.inputs) > 1 else None
                self.evaluate[name] = _through_engine(self.engine, routed)
            else:
                self.evaluate[name] = _stateless([p for p in policies.policies if p.input_name == name])


def _through_engine(engine: Engine, input: str | None) -> Evaluate:
    process = engine.process

    def evaluate(event: dict[str, Any], result: Result) -> None:
        got = process(event, input)
        if got.directives:
            result.directives += got.directives
        if got.errors:
            result.errors += got.errors

    return evaluate


Absorb = Callable[
    [dict[str, Any], tuple[Mapping[str, frozenset[int]], Mapping[str, frozenset[int]]], Result, Result], None
]


def _absorbing(baseline: _Side, candidate: _Side, input: str) -> Absorb | None:
    """How a Screened event of `input` reaches both sets' Engines (`Engine.absorb`), or None when
    a set has no Engine (the columnar engine screens only where both have one)."""
    if baseline.engine is None or candidate.engine is None:
        return None
    engines = (baseline.engine, candidate.engine)
    routed = [input if len(side.policies.inputs) > 1 else None for side in (baseline, candidate)]
    reads = [input in side.policies.inputs for side in (baseline, candidate)]

    def absorb(event: dict[str, Any], screened: Screened, rb: Result, rc: Result) -> None:
        checked = screened.checked
        for engine, routing, read, q, result in zip(engines, routed, reads, screened.quiet, (rb, rc), strict=True):
            if not read:
                continue
            got = engine.absorb(event, q, routing, checked=checked)
            if got.directives:
                result.directives += got.directives
            if got.errors:
                result.errors += got.errors

    return absorb


def _stateless(policies: list[CompiledPolicy]) -> Evaluate:
    """`PolicySet.evaluate` for the policies of one input, but into the caller's Result: the
    caller keeps one for all the events on which nothing fires (most), not one per event."""

    def evaluate(event: dict[str, Any], result: Result) -> None:
        for policy in policies:
            try:
                policy.evaluate_into(event, result)
            except Exception as exc:  # a Ballast bug: reported as PolicySet.evaluate reports it
                result.errors.append(_internal(policy.name, exc))

    return evaluate


def _internal(policy: str, exc: BaseException) -> Problem:
    return Problem("internal", policy, f"internal error: {exc!r}", hint="please report this event and bundle")


Both = Callable[[dict[str, Any], Result, Result], None]  # one event into both sets' Results


def _both(baseline: _Side, candidate: _Side, input: str) -> Both:
    """How an event of `input` reaches both sets (a set that does not read it is skipped)."""
    shared = _shared_check(baseline, candidate, input)
    if shared is not None:
        return shared
    on_b, on_c = baseline.evaluate.get(input), candidate.evaluate.get(input)

    def evaluate(event: dict[str, Any], rb: Result, rc: Result) -> None:
        if on_b is not None:
            on_b(event, rb)
        if on_c is not None:
            on_c(event, rc)

    return evaluate


def _shared_check(baseline: _Side, candidate: _Side, input: str) -> Both | None:
    """One schema check for both sets when each evaluates `input` with one stateless policy of
    the same schema (a candidate that changes thresholds): the check is half of an evaluation."""
    if baseline.engine is not None or candidate.engine is not None:
        return None
    pb = [p for p in baseline.policies.policies if p.input_name == input]
    pc = [p for p in candidate.policies.policies if p.input_name == input]
    if len(pb) != 1 or len(pc) != 1 or pb[0].fields != pc[0].fields:
        return None
    b, c = pb[0], pc[0]
    check, decide_b, decide_c = b.check, b.decide, c.decide

    def evaluate(event: dict[str, Any], rb: Result, rc: Result) -> None:
        if check(event):  # valid as it is for one schema, so for the other: decide directly
            try:
                decide_b(event, rb)
            except Exception as exc:
                rb.errors.append(_internal(b.name, exc))
            try:
                decide_c(event, rc)
            except Exception as exc:
                rc.errors.append(_internal(c.name, exc))
            return
        for policy, result in ((b, rb), (c, rc)):  # problems to name, or values to convert
            try:
                policy.evaluate_into(event, result)
            except Exception as exc:
                result.errors.append(_internal(policy.name, exc))

    return evaluate


class _Replay:
    """The state of one replay: the clock, the current instant's decisions, the tallies."""

    def __init__(self, baseline: _Side, candidate: _Side, inputs: Mapping[str, Fields], time_fields: dict[str, str]):
        self.baseline = baseline
        self.candidate = candidate
        self.time_fields = time_fields
        self.per_input = dict.fromkeys(inputs, 0)
        self.events = 0
        self.unreadable = 0  # lines that are no event (BadLine)
        self.refused = 0  # events that every policy and threat reading them refused
        self.first_unreadable: BadLine | None = None
        self.first_refused: tuple[int, Problem] | None = None  # (line, why)
        self.start: float | None = None  # the first event time: t_s = 0
        self.newest = -math.inf
        self.differing_events = 0
        self.examples: list[dict[str, Any]] = []
        self.diff = DecisionDiff()
        self.instant: float | None = None  # t_s of the decisions held below
        self.held: tuple[list[Decision], list[Decision]] = ([], [])

    def feed(self, records: Iterator[Record | BadLine | Quiet | Screened]) -> None:
        """Evaluate every event in both sets; the hot loop of a replay. A Quiet run (the columnar
        engine's) is counted, not evaluated: nothing happens on it in either set."""
        both = {name: _both(self.baseline, self.candidate, name) for name in self.per_input}
        rb, rc = Result(), Result()
        per_input, time_fields = self.per_input, self.time_fields
        seq = 0
        absorbed = {name: _absorbing(self.baseline, self.candidate, name) for name in self.per_input}
        for record in records:
            screened = None
            if type(record) is not tuple:
                if type(record) is Quiet:
                    per_input[record.input] += record.count
                    seq += record.count
                    if record.same or record.split:
                        self._counted(record)
                    continue
                if type(record) is not Screened:
                    self._bad_line(record)  # type: ignore[arg-type]
                    continue
                screened = record
                line, name, event = record.line, record.input, record.event  # type: ignore[union-attr]
            else:
                line, name, event = record  # type: ignore[misc]
            per_input[name] += 1
            if time_fields and name in time_fields:
                self._tick(event.get(time_fields[name]))
            if screened is None:
                both[name](event, rb, rc)
            else:
                absorbed[name](event, screened, rb, rc)  # type: ignore[misc]
            if rb.directives or rc.directives or rb.errors or rc.errors:
                if (rb.errors or rc.errors) and self._refused(name, rb.errors, rc.errors):
                    self.refused += 1
                    if self.first_refused is None:
                        self.first_refused = (line, (rb.errors or rc.errors)[0])
                self._settle(seq, line, rb, rc)
                rb, rc = Result(), Result()
            seq += 1
        self.events = seq

    def _counted(self, quiet: Quiet) -> None:
        """The directives counted on the events of a Quiet run (the columnar engine's): those both
        sets issued alike (`same`), and those they issued differently on `differing` events
        (`split`), every rule that decided differently there having done so first on an event the
        replay saw in full, which set its first divergence.

        Exact only where each event is an instant of its own, with no clock (no event time): the
        columnar engine counts only there."""
        assert not self.time_fields
        self._flush()  # the instant held (an earlier event, maybe a rule's first divergence) is filed first
        for key, baseline, candidate in (*((key, n, n) for key, n in quiet.same), *quiet.split):
            self.diff.add_counts(key, baseline, candidate)
            self.baseline.decisions += baseline
            self.candidate.decisions += candidate
        self.differing_events += quiet.differing

    def finish(self) -> None:
        """What time alone decides by the newest event time; then the last instant is compared."""
        if self.start is not None:
            results = []
            for side in (self.baseline, self.candidate):
                results.append(side.engine.advance(self.newest) if side.engine is not None else Result())
            self._settle(self.events, None, *results)
        self._flush()

    def _refused(self, input: str, baseline: list[Problem], candidate: list[Problem]) -> bool:
        """Whether every policy and threat of both sets that reads `input` refused the event."""
        for side, problems in ((self.baseline, baseline), (self.candidate, candidate)):
            readers = side.readers.get(input, 0)
            if readers and len({p.policy for p in problems if p.kind in REJECTING}) < readers:
                return False
        return True

    def hint(self, file: str, input: str | None) -> str:
        """What to do about rejected lines, from what was rejected first."""
        inputs = sorted(self.per_input)
        if self.first_unreadable is not None and input is None and len(inputs) > 1:
            envelope = '{"input": NAME, "event": {...}}'
            return (
                f"the policies read {len(inputs)} inputs ({', '.join(inputs)}): when every line is an event of "
                f"one of them, name it (--input {inputs[-1]}); otherwise write each line as {envelope}"
            )
        if self.first_unreadable is not None:
            return f"fix the lines reported as problems, starting with {self.first_unreadable}"
        if self.first_refused is not None:
            line, problem = self.first_refused
            return (
                f"the policies refused the events on the lines reported as problems, starting with "
                f"{file}:{line} ({problem.policy}: {problem.message})"
            )
        return "see the problems in the report"

    def _tick(self, value: Any) -> None:
        t = parse_timestamp(value)
        if t is None or not math.isfinite(t):
            return  # the Engine reports the event as invalid; the clock stands
        if self.start is None:
            self.start = t
        if t > self.newest:
            self.newest = t

    def _now(self, seq: int) -> tuple[float, str | None]:
        if self.start is not None:
            return self.newest - self.start, iso(self.newest)
        if self.time_fields:
            return 0.0, None  # no event time read yet
        return float(seq), None  # no clock: events are placed by their index

    def _settle(self, seq: int, line: int | None, rb: Result, rc: Result) -> None:
        """File one event's decisions and problems (the rare path: something fired or failed)."""
        t_s, time = self._now(seq)
        db = decisions_of(rb, t_s=t_s, time=time, seq=seq) if rb.directives else []
        dc = decisions_of(rc, t_s=t_s, time=time, seq=seq) if rc.directives else []
        self.baseline.decisions += len(db)
        self.candidate.decisions += len(dc)
        if sorted((d.policy, d.rule, *d.shape) for d in db) != sorted((d.policy, d.rule, *d.shape) for d in dc):
            self.differing_events += 1
        if db or dc:
            if t_s != self.instant:
                self._flush()
                self.instant = t_s
            self.held[0].extend(db)
            self.held[1].extend(dc)
        self._problems(line, rb.errors, rc.errors)

    def _flush(self) -> None:
        if self.instant is not None:
            self.diff.add(self.instant, *self.held)
        self.instant, self.held = None, ([], [])

    def _problems(self, line: int | None, baseline: list[Problem], candidate: list[Problem]) -> None:
        self.baseline.problems += len(baseline)
        self.candidate.problems += len(candidate)
        if len(self.examples) >= MAX_PROBLEM_EXAMPLES or not (baseline or candidate):
            return
        b = [p.to_dict() for p in baseline]
        c = [p.to_dict() for p in candidate]
        found = [(p, "both" if p in c else "baseline") for p in b] + [(p, "candidate") for p in c if p not in b]
        for problem, side in found[: MAX_PROBLEM_EXAMPLES - len(self.examples)]:
            self.examples.append({"line": line, "side": side, **problem})

    def _bad_line(self, bad: BadLine) -> None:
        self.unreadable += 1
        if self.first_unreadable is None:
            self.first_unreadable = bad
        self.baseline.problems += 1  # neither set could evaluate it
        self.candidate.problems += 1
        if len(self.examples) < MAX_PROBLEM_EXAMPLES:
            self.examples.append({"side": "both", **bad.to_dict()})

    def report(self, file: str, origins: tuple[Mapping[str, Any], Mapping[str, Any]]) -> dict[str, Any]:
        b, c = self.baseline, self.candidate
        rules = self.diff.entries(baseline_rules=b.rules, candidate_rules=c.rules)
        recorded = _recorded_form(b.policies, c.policies)
        for rule in rules:
            if rule["first_divergence"] is not None:
                event = rule["first_divergence"]["event"]
                rule["first_divergence"]["event"] = recorded(rule["policy"], event)
        lines = self.events + self.unreadable
        rejected = self.unreadable + self.refused
        return {
            "format": REPORT_FORMAT,
            "telemetry": {
                "file": file,
                "lines": lines,
                "evaluated": lines - rejected,
                "rejected": rejected,
                "events": self.events,
                "from": iso(self.start) if self.start is not None else None,
                "to": iso(self.newest) if self.start is not None else None,
                "inputs": self.per_input,
            },
            "baseline": _describe(b.policies, origins[0]),
            "candidate": _describe(c.policies, origins[1]),
            "decisions": {"baseline": b.decisions, "candidate": c.decisions, "differing_events": self.differing_events},
            "problems": {"baseline": b.problems, "candidate": c.problems, "examples": self.examples},
            "rules": rules,
        }


def _describe(policies: PolicySet, origin: Mapping[str, Any]) -> dict[str, Any]:
    """A set in the report: its policies, and the paths and fingerprint it was loaded from."""
    return {
        "policies": policy_list(policies),
        "paths": list(origin.get("paths") or []),
        "fingerprint": origin.get("fingerprint"),
    }


def _recorded_form(*sets: PolicySet) -> Callable[[str, Mapping[str, Any]], dict[str, Any]]:
    """`(policy, event)` -> the event as the policy read it, in the form it is recorded in: the
    Engine's `@` slots (now, aggregates) dropped and timestamps back in ISO 8601."""
    timestamps: dict[str, set[str]] = {}
    for policies in sets:
        for p in policies.policies:
            timestamps.setdefault(p.name, {f["name"] for f in p.fields if f.get("type") == "timestamp"})

    def recorded(policy: str, event: Mapping[str, Any]) -> dict[str, Any]:
        times = timestamps.get(policy, set())
        out = {}
        for key, value in event.items():
            if key.startswith("@"):
                continue
            is_time = key in times and isinstance(value, int | float) and not isinstance(value, bool)
            out[key] = iso(value) if is_time and math.isfinite(value) else value
        return out

    return recorded


__all__ = [
    "DEFAULT_MAX_REJECTED",
    "MAX_PROBLEM_EXAMPLES",
    "REPORT_FORMAT",
    "explain_engine",
    "policy_list",
    "replay",
    "rule_keys",
    "share",
]
