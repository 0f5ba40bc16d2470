"""The commands behind `ballast …`: each takes parsed arguments and streams, returns an exit code."""

from __future__ import annotations

import contextlib
import difflib
import json
from argparse import Namespace
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from ballast.cli import EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE
from ballast.paths import expand_policies as expand
from ballast.runtime.errors import BallastError, CompileError, Diagnostic, UsageError, sort_diagnostics
from ballast.runtime.reading import EventLines, UnreadableInput, loads, read_text


def _print_diagnostics(
    diagnostics: list[Diagnostic], fmt: str, out: TextIO, summary: dict[str, int] | None = None
) -> None:
    if fmt == "json":
        report: dict[str, Any] = {"diagnostics": [d.to_json() for d in diagnostics]}
        if summary is not None:
            report["summary"] = summary
        out.write(json.dumps(report, indent=2) + "\n")
        return
    for d in diagnostics:
        out.write(d.render() + "\n")
    errors = sum(1 for d in diagnostics if d.severity == "error")
    warnings = len(diagnostics) - errors
    if diagnostics:
        out.write(f"{errors} error{'s' if errors != 1 else ''}, {warnings} warning{'s' if warnings != 1 else ''}\n")


def _compile(paths: list[str], **kwargs: Any):
    from ballast.compiler.pipeline import compile_paths

    return compile_paths(paths, **kwargs)


def run_check(args: Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    from ballast.compiler.pipeline import PassFailed

    paths = expand(args.paths)
    try:
        compilation = _compile(paths, stop_after="optimize")
    except PassFailed as exc:
        diagnostics = sort_diagnostics(exc.diagnostics + _warnings_of(exc))
        _print_diagnostics(diagnostics, args.format, out, check_summary(diagnostics, exc.compilation.documents))
        return EXIT_PROBLEMS
    summary = check_summary(compilation.diagnostics, compilation.documents)
    _print_diagnostics(compilation.diagnostics, args.format, out, summary)
    if args.format == "text" and not compilation.diagnostics:
        modules = f", {_count(summary['modules'], 'module')}" if summary["modules"] else ""
        modules += f", {_count(summary['threats'], 'threat')}" if summary["threats"] else ""
        out.write(
            f"ok: {_count(summary['policies'], 'policy', 'policies')}, {_count(summary['rules'], 'rule')}{modules}\n"
        )
    if args.werror and compilation.warnings:
        return EXIT_PROBLEMS
    return EXIT_OK


def check_summary(diagnostics: list[Diagnostic], documents: list[Any]) -> dict[str, int]:
    """The counts `check` reports: findings, and the documents named on the command line that parsed.

    Imported modules are not counted: they are part of the policies that import them.
    """
    from ballast.dsl import ast

    errors = sum(1 for d in diagnostics if d.severity == "error")
    policies = [d for d in documents if d.kind == "policy"]
    return {
        "errors": errors,
        "warnings": len(diagnostics) - errors,
        "policies": len(policies),
        "rules": sum(len(p.of(ast.Rule)) for p in policies),
        "modules": sum(1 for d in documents if d.kind == "module"),
        "threats": sum(1 for d in documents if d.kind == "threat"),
    }


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


def _warnings_of(exc: CompileError) -> list[Diagnostic]:
    return exc.warnings


def run_compile(args: Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    from ballast.runtime.bundle import dump_bundle

    paths = expand(args.paths)
    try:
        compilation = _compile(paths, stop_after=args.dump_after)
    except CompileError as exc:
        _print_diagnostics(sort_diagnostics(exc.diagnostics + exc.warnings), args.format, err)
        return EXIT_PROBLEMS
    if compilation.diagnostics:
        _print_diagnostics(compilation.diagnostics, args.format, err)
    if args.dump_after:
        out.write(dump_state(compilation, args.dump_after) + "\n")
        return EXIT_OK
    if args.emit == "python":
        out.write(compilation.program.python_source() + "\n")
    elif args.emit == "ir":
        out.write(json.dumps(compilation.ir, indent=2, sort_keys=True) + "\n")
    if args.output:
        try:
            Path(args.output).write_bytes(dump_bundle(compilation.bundle))
        except OSError as exc:
            raise UsageError(f"cannot write {args.output}: {exc.strerror or exc}") from None
        manifest = compilation.bundle["manifest"]
        err.write(
            f"wrote {args.output}: {_count(sum(p['rules'] for p in manifest['policies']), 'rule')}, sha256 {manifest['fingerprint']['hash'][:16]}…\n"
        )
    return EXIT_OK


def dump_state(compilation: Any, after: str) -> str:
    """What a pass produced, as text: the AST after parse/resolve, the IR after the rest."""
    if after in ("parse", "resolve"):
        from dataclasses import asdict, is_dataclass

        def plain(value: Any) -> Any:
            if is_dataclass(value) and not isinstance(value, type):
                return {
                    "node": type(value).__name__,
                    **{k: plain(v) for k, v in asdict(value).items() if k != "comments"},
                }
            if isinstance(value, list | tuple):
                return [plain(v) for v in value]
            return value

        if after == "parse":
            return json.dumps([plain(d) for d in compilation.documents], indent=2, default=str)
        models = [
            {
                "policy": m.document.name,
                "input": str(m.input),
                "constants": sorted(m.consts),
                "conditions": sorted(m.lets),
                "actions": {
                    name: [
                        f"{p.name}{'?' if p.optional else ''}: {p.type}" + (" = …" if p.default is not None else "")
                        for p in a.params
                    ]
                    for name, a in sorted(m.actions.items())
                },
                "rules": [r.name for r in m.rules],
            }
            for m in compilation.models
        ]
        return json.dumps(models, indent=2)
    if after == "codegen":
        return compilation.program.python_source()
    if after == "bundle":
        return json.dumps(compilation.bundle["manifest"], indent=2, sort_keys=True)
    return json.dumps(compilation.ir, indent=2, sort_keys=True)


def _load_program(paths: list[str]):
    """A bundle (one .json file) or policy sources."""
    if len(paths) == 1 and paths[0].endswith(".json"):
        from ballast.runtime import load_bundle

        return load_bundle(paths[0])
    return _compile(expand(paths)).program


def run_eval(args: Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    try:
        program = _load_program(args.paths)
    except CompileError as exc:
        _print_diagnostics(exc.diagnostics, "text", err)
        return EXIT_PROBLEMS
    if args.input is not None and args.input not in program.inputs:
        raise UsageError(f"--input {args.input}: no policy reads that input; inputs are {', '.join(program.inputs)}")
    stream = open_events(args.events, stdin)
    problems = 0
    evaluate = program.evaluate
    audit = None
    if args.audit_sync and not args.audit:
        raise UsageError("--audit-sync needs --audit FILE")
    if args.audit or program.threats or any(p.timing_ir["stream"].get("time") for p in program.policies):
        from ballast.runtime.audit import AuditLog
        from ballast.runtime.engine import Engine

        if args.audit:
            # Appended like a log, never truncated: re-running must not destroy an earlier trail.
            # measure=False: a file of decisions stays reproducible.
            audit = AuditLog.append_to(args.audit, measure=False, sync=args.audit_sync)
        # Event time: state carries from line to line. The Engine writes (and flushes) the audit
        # entries of an event before `process` returns, so before its line is printed.
        evaluate = Engine(program, audit=audit).process
    try:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                event = loads(line.rstrip("\r\n"))  # columns count within the line; limits kept
            except json.JSONDecodeError as exc:
                problems += 1
                record = {
                    "line": number,
                    "directives": [],
                    "errors": [
                        {
                            "kind": "invalid-json",
                            "message": f"line {number}, column {exc.colno}: {exc.msg}",
                            "hint": "each line must be one JSON object",
                        }
                    ],
                }
                _write_record(record, args.format, out)
                continue
            try:
                result = evaluate(event, input=args.input)
            except UsageError as exc:
                if audit is None:
                    raise
                raise UsageError(f"{exc}; stopped at line {number} of {args.events}, which was not reported") from None
            if result.errors:
                problems += 1
            _write_record({"line": number, **result.to_dict()}, args.format, out)
    except UnicodeDecodeError as exc:
        raise UsageError(f"{args.events}: not UTF-8 text ({exc.reason})") from None
    finally:
        stream.close()
        if audit is not None:
            with contextlib.suppress(UsageError):  # a write error was raised already, with its line
                audit.close()
    return EXIT_PROBLEMS if problems else EXIT_OK


def _write_record(record: dict[str, Any], fmt: str, out: TextIO) -> None:
    if fmt == "json":
        out.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
        return
    for d in record["directives"]:
        out.write(
            f"line {record['line']}: {d['action']} {', '.join(d['targets'])} {json.dumps(d['params'], sort_keys=True)} [{d['policy']}/{d['rule']}, {d['impact']}] {d['reason']}\n"
        )
    for e in record.get("events", []):
        if e["type"] == "ThreatIndexUpdated":  # the rationale is in the JSON output and the audit trail
            detail = f"{e['threat']} index {e['index']} (raw {e['raw_index']}), mode {e['mode']}"
            if e.get("suppressed"):
                detail += f", {e['wanted']} held back by {e['suppressed']}"
            out.write(f"line {record['line']}: ThreatIndexUpdated: {detail}\n")
            continue
        detail = ", ".join(f"{k}={v}" for k, v in e.items() if k not in ("type", "policy"))
        out.write(f"line {record['line']}: {e['type']}: {detail}\n")
    for e in record["errors"]:
        where = "/".join(x for x in (e.get("policy", ""), e.get("rule", "")) if x)
        hint = f" (hint: {e['hint']})" if e.get("hint") else ""
        out.write(f"line {record['line']}: error: {where + ': ' if where else ''}{e['message']}{hint}\n")


@dataclass
class FormatResult:
    """One file through `fmt`: its text, its canonical form (None when it does not parse)."""

    path: str
    text: str
    formatted: str | None
    diagnostics: list[Diagnostic]

    @property
    def changed(self) -> bool:
        return self.formatted is not None and self.formatted != self.text


def run_fmt(args: Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    if args.format == "json" and args.diff:
        raise UsageError("--diff prints a unified diff: use it without --format json")
    if args.with_text and args.format != "json":
        raise UsageError("--with-text adds each file's formatted text to the JSON report: add --format json")
    results = []
    for path in expand(args.paths, (".bal",)):
        if not path.endswith(".bal"):
            err.write(f"{path}: skipped: fmt formats .bal files\n")
            continue
        result = format_file(path)
        results.append(result)
        written = result.changed and not (args.check or args.diff)
        if written:
            Path(path).write_text(result.formatted or "", encoding="utf-8")
        if args.format == "text":
            _print_format_result(result, args, written, out, err)
    if args.format == "json":
        out.write(json.dumps(_format_report(results, args), indent=2, ensure_ascii=False) + "\n")
    if any(r.diagnostics for r in results):
        return EXIT_PROBLEMS
    if any(r.changed for r in results) and (args.check or args.diff):
        return EXIT_PROBLEMS
    return EXIT_OK


def format_file(path: str) -> FormatResult:
    """Read and format one .bal file; a syntax error is kept as diagnostics, not raised."""
    from ballast.compiler.passes.parse import bundle_diagnostic
    from ballast.compiler.pipeline import attach_source_lines
    from ballast.dsl.format import format_document
    from ballast.dsl.parser import SyntaxProblem, parse_document

    text = read_source(path)
    bundle = bundle_diagnostic(path, text)
    if bundle is not None:
        return FormatResult(path, text, None, attach_source_lines([bundle], {path: text}))
    try:
        return FormatResult(path, text, format_document(parse_document(text, path)), [])
    except SyntaxProblem as problem:
        return FormatResult(path, text, None, attach_source_lines(problem.diagnostics, {path: text}))


def _print_format_result(result: FormatResult, args: Namespace, written: bool, out: TextIO, err: TextIO) -> None:
    for d in result.diagnostics:
        err.write(d.render() + "\n")
    if not result.changed:
        return
    if args.diff:
        out.writelines(
            difflib.unified_diff(
                result.text.splitlines(True),
                (result.formatted or "").splitlines(True),
                result.path,
                result.path + " (formatted)",
            )
        )
    elif written:
        out.write(f"reformatted {result.path}\n")
    else:
        out.write(f"would reformat {result.path}\n")


def _format_report(results: list[FormatResult], args: Namespace) -> dict[str, Any]:
    """`fmt --format json`: per file whether it was canonical and what was done, then totals."""
    files = []
    for r in results:
        entry: dict[str, Any] = {
            "path": r.path,
            "formatted": None if r.formatted is None else not r.changed,
            "written": r.changed and not args.check,
            "diagnostics": [d.to_json() for d in r.diagnostics],
        }
        if args.with_text and r.formatted is not None:
            entry["text"] = r.formatted
        files.append(entry)
    return {
        "files": files,
        "summary": {
            "files": len(results),
            "unformatted": sum(1 for r in results if r.changed),
            "failed": sum(1 for r in results if r.diagnostics),
        },
    }


def run_explain(args: Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    from ballast.explain import explain_rule

    if args.events is not None:
        return _explain_history(args, out, err, stdin)
    if args.at is not None:
        raise UsageError("--at needs --events FILE (the history to replay up to that time)")
    event = read_event_argument(args.event)
    try:
        compilation = _compile(expand(args.paths))
    except CompileError as exc:
        _print_diagnostics(exc.diagnostics, "text", err)
        return EXIT_PROBLEMS
    try:
        report = explain_rule(compilation.ir, args.rule, event)
    except BallastError as exc:
        raise UsageError(str(exc)) from None
    if args.format == "json":
        out.write(json.dumps(report, indent=2, sort_keys=True, default=repr) + "\n")
    else:
        out.write(report["text"])
    return EXIT_PROBLEMS if report["error"] else EXIT_OK  # an invalid event or a fault is a problem


def read_source(path: str) -> str:
    """The text of a policy file named on the command line; UsageError says why it cannot be read."""
    return read_text(path, "policy file")


def read_event_argument(value: str) -> Any:
    """`--event JSON` or `--event @FILE`, decoded within the limits of `ballast.runtime.reading`."""
    text = value
    if value.startswith("@"):
        try:
            # Not only regular files: `--event @/dev/stdin` is a fair use; the size cap bounds it.
            text = read_text(value[1:], "event file", regular_only=False)
        except UnreadableInput as exc:
            raise UsageError(f"cannot read the event from {exc}") from None
    try:
        return loads(text)
    except json.JSONDecodeError as exc:
        if value.startswith("@"):
            raise UsageError(f"{value[1:]}:{exc.lineno}:{exc.colno}: the event is not valid JSON: {exc.msg}") from None
        raise UsageError(f"--event is not valid JSON: {exc.msg} at column {exc.colno}") from None


def open_events(name: str, stdin: TextIO) -> Any:
    """The lines of `--events NAME` ('-': standard input), each within the line limit; close() it."""
    return EventLines(name, stdin)


def _explain_history(args: Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    """`explain --events FILE [--at TIME]`: a stateful rule's state after replaying a history."""
    from ballast.explain import explain_history
    from ballast.runtime.values import parse_timestamp

    at = None
    if args.at is not None:
        at = parse_timestamp(float(args.at) if _is_number(args.at) else args.at)
        if at is None:
            raise UsageError(f"--at {args.at}: not a time; write RFC 3339 (2025-11-15T12:03:30Z) or epoch seconds")
    try:
        compilation = _compile(expand(args.paths))
    except CompileError as exc:
        _print_diagnostics(exc.diagnostics, "text", err)
        return EXIT_PROBLEMS
    source = "<stdin>" if args.events == "-" else args.events
    stream = open_events(args.events, stdin)
    try:
        report = explain_history(compilation.ir, compilation.program, args.rule, stream, source, at)
    except UnicodeDecodeError as exc:
        raise UsageError(f"{source}: not UTF-8 text ({exc.reason})") from None
    finally:
        stream.close()
    if args.format == "json":
        out.write(json.dumps(report, indent=2, sort_keys=True, default=repr) + "\n")
    else:
        out.write(report["text"])
    return EXIT_PROBLEMS if report["error"] or report["problems"] else EXIT_OK


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


__all__ = [
    "EXIT_USAGE",
    "FormatResult",
    "check_summary",
    "expand",
    "format_file",
    "run_check",
    "run_compile",
    "run_eval",
    "run_explain",
    "run_fmt",
]
