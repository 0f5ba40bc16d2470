"""`python -m ballast.cli`: the same as the `ballast` console script."""

from ballast.cli import entry

entry()
