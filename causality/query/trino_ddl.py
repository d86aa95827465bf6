"""The Trino DDL of ``events`` and of its partition sync, generated from the Arrow schema.

docs/trino.md shows this output; a unit test keeps the two equal and checks that it parses
in sqlglot's Trino dialect. Partition columns come last, in directory order, as the Hive
connector requires; ``app_id`` is stored in the files as well, and Trino reads it from the
directory name like DuckDB does.
"""

from __future__ import annotations

import pyarrow as pa

from causality.events.arrow import EVENTS_SCHEMA
from causality.warehouse.layout import EVENTS_DIR, Partitioning


def partition_columns(partitioning: Partitioning) -> list[str]:
    """Directory levels of the layout, outermost first."""
    return ["app_id", "year", "month", "day"] + (["hour"] if partitioning == "hourly" else [])


def events_table_ddl(
    *, catalog: str, schema: str, warehouse: str, partitioning: Partitioning = "daily"
) -> str:
    """``CREATE TABLE`` for the Hive connector over ``{warehouse}/events``."""
    partitions = partition_columns(partitioning)
    columns = [
        f'  "{f.name}" {_trino_type(f.type)}' for f in EVENTS_SCHEMA if f.name not in partitions
    ]
    columns += [f'  "{name}" {"VARCHAR" if name == "app_id" else "INTEGER"}' for name in partitions]
    listed = ", ".join(f"'{name}'" for name in partitions)
    location = f"{warehouse.rstrip('/')}/{EVENTS_DIR}"
    return (
        f"CREATE TABLE IF NOT EXISTS {catalog}.{schema}.events (\n"
        + ",\n".join(columns)
        + "\n)\nWITH (\n"
        + f"  external_location = '{location}',\n"
        + "  format = 'PARQUET',\n"
        + f"  partitioned_by = ARRAY[{listed}]\n)"
    )


def sync_partitions_sql(*, catalog: str, schema: str, mode: str = "ADD") -> str:
    """Register new partition directories (``FULL`` also drops vanished ones)."""
    return (
        f"CALL {catalog}.system.sync_partition_metadata("
        f"schema_name => '{schema}', table_name => 'events', mode => '{mode}')"
    )


def _trino_type(arrow_type: pa.DataType) -> str:
    if pa.types.is_timestamp(arrow_type):
        return "TIMESTAMP(3)"
    if pa.types.is_boolean(arrow_type):
        return "BOOLEAN"
    if pa.types.is_int32(arrow_type):
        return "INTEGER"
    if pa.types.is_integer(arrow_type):
        return "BIGINT"
    return "VARCHAR"
