"""Benchmarks that print figures: ``python -m bench.ingest`` and ``python -m bench.sink``.

They are measurements, never assertions: the test suite does not import them.
"""
