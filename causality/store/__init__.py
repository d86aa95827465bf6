"""PostgreSQL state through asyncpg: the pool, migrations, one repository module per table group.

Import the modules themselves (``causality.store.apps``...); this package re-exports nothing so
that ``causality.auth`` can build on it without import cycles.
"""
