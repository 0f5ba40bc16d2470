"""Benchmarks, run by hand or by `make bench`, never by pytest: `python -m bench.spine`.

One module per benchmark (`spine`, `stateful`, `replay`, `simulator`, `startup`), each run as
`python -m bench.<name>`; `harness` is what they share (timing, the machine's description, the
report's head and tail, the command line), `workloads/` the spine benchmark's events and the
hand-written Python it is compared with.
"""
