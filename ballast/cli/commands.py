"""The commands behind `ballast …`: each takes parsed arguments and streams, returns an exit code."""

from __future__ import annotations

import difflib
import json
from argparse import Namespace
from pathlib import Path
from typing import Any, TextIO

from ballast.cli import EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE
from ballast.paths import expand_paths
from ballast.runtime.errors import BallastError, CompileError, Diagnostic, UsageError, sort_diagnostics

POLICY_SUFFIXES = (".bal", ".yaml", ".yml")


SCENARIO_SUFFIXES = (".scenario.yaml", ".scenario.yml")


def expand(paths: list[str], suffixes: tuple[str, ...] = POLICY_SUFFIXES) -> list[str]:
    """Files as given; directories expanded to the policy files under them, sorted.

    A directory expands to its `.bal` files and to the `.yaml`/`.yml` files that have no `.bal`
    sibling of the same stem: `x.yaml` next to `x.bal` is that policy's YAML twin, and compiling
    both would clash on the policy name. A twin is checked when it is named explicitly.
    """
    def wanted(p: Path) -> bool:
        return (
            p.suffix in suffixes
            and "tests" not in p.parts
            and not p.name.endswith((".test.yaml", ".test.yml"))  # policy tests: `ballast test`
            and not p.name.endswith(SCENARIO_SUFFIXES)  # simulator scenarios: `ballast simulate`
            and not (p.suffix in (".yaml", ".yml") and p.with_suffix(".bal").is_file())
        )

    return expand_paths(paths, wanted, f"no policy files ({', '.join(suffixes)})")


def _print_diagnostics(diagnostics: list[Diagnostic], fmt: str, out: TextIO) -> None:
    if fmt == "json":
        out.write(json.dumps({"diagnostics": [d.to_json() for d in diagnostics]}, indent=2) + "\n")
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
    paths = expand(args.paths)
    try:
        compilation = _compile(paths, stop_after="optimize")
    except CompileError as exc:
        _print_diagnostics(sort_diagnostics(exc.diagnostics + _warnings_of(exc)), args.format, out)
        return EXIT_PROBLEMS
    _print_diagnostics(compilation.diagnostics, args.format, out)
    if args.format == "text" and not compilation.diagnostics:
        rules = sum(len(p["rules"]) for p in compilation.ir["policies"])
        count = sum(1 for d in compilation.documents if d.kind == "module")
        modules = f", {_count(count, 'module')}" if count else ""
        threats = len(compilation.ir.get("threats", ()))
        modules += f", {_count(threats, 'threat')}" if threats else ""
        out.write(
            f"ok: {_count(len(compilation.ir['policies']), 'policy', 'policies')}, {_count(rules, 'rule')}{modules}\n"
        )
    if args.werror and compilation.warnings:
        return EXIT_PROBLEMS
    return EXIT_OK


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
    if args.events == "-":
        stream = stdin
    else:
        try:
            stream = open(args.events, encoding="utf-8")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise UsageError(f"cannot read events from {args.events}: {exc.strerror or exc}") from None
    problems = 0
    evaluate = program.evaluate
    audit_file = None
    if args.audit or program.threats or any(p.timing_ir["stream"].get("time") for p in program.policies):
        from ballast.runtime.audit import AuditLog
        from ballast.runtime.engine import Engine

        audit = None
        if args.audit:
            try:
                audit_file = open(args.audit, "w", encoding="utf-8")  # noqa: SIM115 - closed below
            except OSError as exc:
                raise UsageError(f"cannot write the audit trail to {args.audit}: {exc.strerror or exc}") from None
            audit = AuditLog(audit_file, measure=False)  # a file of decisions stays reproducible
        evaluate = Engine(program, audit=audit).process  # event time: state carries from line to line
    try:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                event = json.loads(line.rstrip("\r\n"))  # columns count within the line
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
            result = evaluate(event, input=args.input)
            if result.errors:
                problems += 1
            _write_record({"line": number, **result.to_dict()}, args.format, out)
    except UnicodeDecodeError as exc:
        raise UsageError(f"{args.events}: not UTF-8 text ({exc.reason})") from None
    finally:
        if stream is not stdin:
            stream.close()
        if audit_file is not None:
            audit_file.close()
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


def run_fmt(args: Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    from ballast.dsl.format import format_document
    from ballast.dsl.parser import SyntaxProblem, parse_document

    changed = 0
    failed = 0
    for path in expand(args.paths, (".bal",)):
        if not path.endswith(".bal"):
            err.write(f"{path}: skipped: fmt formats .bal files\n")
            continue
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read {path}: {exc}") from None
        try:
            formatted = format_document(parse_document(text, path))
        except SyntaxProblem as problem:
            for d in problem.diagnostics:
                from ballast.compiler.pipeline import attach_source_lines

                err.write(attach_source_lines([d], {path: text})[0].render() + "\n")
            failed += 1
            continue
        if formatted == text:
            continue
        changed += 1
        if args.diff:
            out.writelines(
                difflib.unified_diff(text.splitlines(True), formatted.splitlines(True), path, path + " (formatted)")
            )
        elif args.check:
            out.write(f"would reformat {path}\n")
        else:
            Path(path).write_text(formatted, encoding="utf-8")
            out.write(f"reformatted {path}\n")
    if failed:
        return EXIT_PROBLEMS
    if changed and (args.check or args.diff):
        return EXIT_PROBLEMS
    return EXIT_OK


def run_explain(args: Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    from ballast.cli.explain import explain_rule

    text = args.event
    if text.startswith("@"):
        try:
            text = Path(text[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read the event from {text[1:]}: {exc.strerror or exc}") from None
    try:
        event = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--event is not valid JSON: {exc.msg} at column {exc.colno}") from None
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


__all__ = ["EXIT_USAGE", "expand", "run_check", "run_compile", "run_eval", "run_explain", "run_fmt"]
