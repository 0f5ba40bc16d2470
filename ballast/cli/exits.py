"""The exit codes of the `ballast` command line, the same for every command.

| code | meaning                                                                  |
|------|--------------------------------------------------------------------------|
| 0    | success                                                                  |
| 1    | the inputs have problems: compile errors, events with errors, fmt diffs |
| 2    | the command could not run: bad arguments, unreadable files, bad bundle   |
| 3    | an internal error in Ballast (a bug: please report it)                   |

Their own module, so that the commands and `ballast.cli` (which runs them) both import it and
neither imports the other.
"""

from __future__ import annotations

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3

__all__ = ["EXIT_INTERNAL", "EXIT_OK", "EXIT_PROBLEMS", "EXIT_USAGE"]
