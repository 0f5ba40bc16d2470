"""The one error tree of Ballast, and the diagnostics that user-facing errors carry.

It lives in the runtime because the runtime is the bottom layer: the compiler, the CLI and
embedding services all raise and catch these, and the runtime must stay standard-library only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_REPORTED_ERRORS = 50


@dataclass(frozen=True, slots=True)
class Span:
    """A region of a source file: 1-based line and column, end exclusive."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    def shifted(self, line: int, column: int) -> Span:
        """This span moved so that its (1, 1) lands on (line, column); used for embedded text."""
        first_col = column - 1 if self.line == 1 else 0
        end_col = column - 1 if self.end_line == 1 else 0
        return Span(
            self.file,
            self.line + line - 1,
            self.column + first_col,
            self.end_line + line - 1,
            self.end_column + end_col,
        )


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One finding of the compiler: an error or a warning, with a stable code and a hint."""

    severity: str  # "error" | "warning"
    code: str
    message: str
    span: Span
    hint: str = ""
    source_line: str = ""

    def render(self) -> str:
        """GCC style: `file:line:col: error[code]: message`, the line, a caret, the hint."""
        head = f"{self.span}: {self.severity}[{self.code}]: {self.message}"
        lines = [head]
        if self.source_line:
            text = self.source_line.rstrip("\n").expandtabs(1)
            width = 1
            if self.span.end_line == self.span.line:
                width = max(1, self.span.end_column - self.span.column)
            width = min(width, max(1, len(text) - self.span.column + 1))
            lines.append(f"    {text}")
            lines.append("    " + " " * (self.span.column - 1) + "^" * width)
        if self.hint:
            lines.append(f"    hint: {self.hint}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, object]:
        return {
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "file": self.span.file,
            "line": self.span.line,
            "column": self.span.column,
            "end_line": self.span.end_line,
            "end_column": self.span.end_column,
            "hint": self.hint,
        }


def sort_diagnostics(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """All findings of a run in file order, duplicates dropped."""
    seen: set[tuple[object, ...]] = set()
    unique = []
    for d in diagnostics:
        key = (d.span, d.code, d.message)
        if key not in seen:
            seen.add(key)
            unique.append(d)
    return sorted(unique, key=lambda d: (d.span.file, d.span.line, d.span.column, d.code))


class BallastError(Exception):
    """Root of every error Ballast raises on purpose."""


class CompileError(BallastError):
    """A policy or expression that cannot be compiled; carries every error found in the run.

    `line` and `column` (1-based) and `file` point at the first error.
    """

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        errors = sort_diagnostics([d for d in diagnostics if d.severity == "error"])
        if not errors:
            raise ValueError("CompileError needs at least one error diagnostic")
        self.diagnostics: list[Diagnostic] = errors
        self.warnings: list[Diagnostic] = sort_diagnostics([d for d in diagnostics if d.severity == "warning"])
        first = errors[0]
        self.file = first.span.file
        self.line = first.span.line
        self.column = first.span.column
        self.code = first.code
        super().__init__(self.render())

    def render(self, limit: int = MAX_REPORTED_ERRORS) -> str:
        shown = [d.render() for d in self.diagnostics[:limit]]
        hidden = len(self.diagnostics) - limit
        if hidden > 0:
            shown.append(f"... and {hidden} more errors")
        return "\n".join(shown)


class EvaluationError(BallastError):
    """Evaluating an expression faulted (division by zero, a missing field, an absent value)."""

    def __init__(self, message: str, *, expression: str = "", field: str = "") -> None:
        self.expression = expression
        self.field = field
        super().__init__(message)


class BundleError(BallastError):
    """A bundle that cannot be loaded: unreadable, of an unknown format, tampered with, or not
    trusted (unsigned, or its signatures do not satisfy the caller's keyring).

    `reason` names what failed with a stable code, for programs (docs/security.md lists them):
    `unreadable`, `not-json`, `not-a-bundle`, `format`, `fingerprint-mismatch`, `malformed-ir`,
    `unsigned`, `no-keyring`, `bad-signature`, `unknown-key`, `revoked-key`, `expired-key`,
    `key-not-yet-valid`, `missing-role`, `too-few-signers`, `not-canonical`; and, when a
    PolicyStore judges a change (runtime/store.py), `rollback` and `bad-version`.
    """

    def __init__(self, message: str, *, reason: str = "invalid") -> None:
        self.reason = reason
        super().__init__(message)


class UsageError(BallastError):
    """A call of the public API or the CLI with arguments that cannot work."""


class LedgerError(UsageError):
    """An audit ledger that cannot be opened, read or written: missing, not a ledger, locked by
    another writer, or a write that failed (runtime/ledger.py). A tampered ledger is not an
    error: verification reports what it found."""


class InternalError(BallastError):
    """A bug in Ballast itself: please report it with the input that caused it."""


@dataclass(slots=True)
class ErrorList:
    """Collects diagnostics during a pass so that all of a file's errors are reported at once."""

    items: list[Diagnostic] = field(default_factory=list)

    def error(self, code: str, message: str, span: Span, hint: str = "") -> None:
        self.items.append(Diagnostic("error", code, message, span, hint))

    def warning(self, code: str, message: str, span: Span, hint: str = "") -> None:
        self.items.append(Diagnostic("warning", code, message, span, hint))

    @property
    def has_errors(self) -> bool:
        return any(d.severity == "error" for d in self.items)
