"""Benchmarks (run by hand or by `make bench`, never by pytest): `python -m bench.spine`."""
