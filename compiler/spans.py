"""Source positions as the IR writes them.

Every IR node carries `at`: [line, column, end line, end column] of the source it came from.
Here, below the checker and the function and window rules that all build IR nodes, so none of
them imports another for it.
"""

from __future__ import annotations

from ballast.runtime.errors import Span


def at(span: Span) -> list[int]:
    """The `at` of an IR node built from the source at `span`."""
    return [span.line, span.column, span.end_line, span.end_column]
