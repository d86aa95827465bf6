"""Running SQL over the warehouse: the QueryEngine interface and its engines.

Every SQL text, whoever wrote it, takes one path (``prepare.prepare_query``):
``safety`` (one read-only SELECT over allowed tables) -> ``scoping`` (``events`` becomes a
subquery over the raw relation, filtered to the principal's apps) -> ``pruning`` (partition
predicates from ``timestamp`` predicates) -> ``limits`` -> ``transpile`` (Trino only) ->
printed by sqlglot. ``duckdb_engine`` and ``trino_engine`` run the result; ``factory``
picks one from settings; ``errors`` says why a query produced no rows.
"""
