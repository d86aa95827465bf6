"""Trends, funnels, retention and paths: SQL builders over `events` and chart-ready shapes.

Each builder module has a request Struct, ``build_sql(q, *, now) -> str`` (one duckdb-dialect
SELECT; ``common.to_trino`` transpiles it), ``max_rows(q, *, now)`` (the row limit to run it
with) and ``shape(q, result, *, now) -> dict`` (the JSON a chart renders directly).
"""
