"""DuckDB in-process over the Parquet warehouse: the default engine.

The `events` view reads the Hive layout (partition directories pruned on ``app_id`` and the
date columns) and exposes exactly the columns of EVENTS.md. After the view exists, file
access is restricted to the warehouse and the configuration is locked.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import duckdb
import pyarrow as pa

from causality.config import Settings
from causality.events.arrow import EVENTS_SCHEMA
from causality.query.engine import QueryError, QueryResult, QueryTimeout
from causality.warehouse.filesystem import is_local, open_warehouse
from causality.warehouse.layout import events_glob


class DuckDBEngine:
    """One DuckDB connection per engine; queries run in worker threads on cursors."""

    def __init__(self, *, settings: Settings, memory_limit: str = "2GB", threads: int = 2) -> None:
        self._settings = settings
        fs, root = open_warehouse(settings)
        self._local = is_local(fs)
        if self._local:
            self._root = root
        else:
            protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
            self._root = f"{protocol}://{root}"
        self._fs = fs
        self._root_path = root
        self._con = duckdb.connect(config={"memory_limit": memory_limit, "threads": threads})
        if not self._local:
            self._con.register_filesystem(fs)
        self._con.execute("SET allowed_directories = ?", [[self._root.rstrip("/") + "/"]])
        self._con.execute("SET enable_external_access = false")
        # nothing a query says can loosen the settings above (memory, paths, access)
        self._con.execute("SET lock_configuration = true")
        self._has_files: bool | None = None
        self._lock = threading.Lock()
        self._refresh_view()

    def _warehouse_has_files(self) -> bool:
        try:
            return bool(self._fs.glob(events_glob(self._root_path)))
        except FileNotFoundError:
            return False

    def _refresh_view(self) -> None:
        """(Re)create the view: over the files when there are some, else an empty typed view."""
        has_files = self._warehouse_has_files()
        if has_files == self._has_files:
            return
        with self._lock:
            if has_files:
                columns = ", ".join(f'"{name}"' for name in EVENTS_SCHEMA.names)
                self._con.execute(
                    f"CREATE OR REPLACE VIEW events AS SELECT {columns} FROM read_parquet("
                    f"'{events_glob(self._root)}', hive_partitioning = true, "
                    "union_by_name = true, hive_types_autocast = false)"
                )
            else:
                typed = ", ".join(
                    f'CAST(NULL AS {_duckdb_type(f.type)}) AS "{f.name}"' for f in EVENTS_SCHEMA
                )
                self._con.execute(f"CREATE OR REPLACE VIEW events AS SELECT {typed} WHERE false")
            self._has_files = has_files

    def execute_arrow(self, sql: str, *, limit: int | None = None) -> tuple[pa.Table, bool]:
        """Run synchronously and return an Arrow table capped at ``limit`` rows."""
        if not self._local:
            # s3fs's glob lists afresh but never overwrites a directory listing it cached
            # earlier, and file lookups trust that cache: a file another process added since
            # would be "not found". One LIST per query keeps the cache (and so no HEAD per file).
            self._fs.invalidate_cache()
        if not self._has_files:
            self._refresh_view()
        cap = limit if limit is not None else self._settings.query_row_limit
        cursor = self._con.cursor()
        try:
            reader = cursor.sql(sql).to_arrow_reader(min(cap + 1, 65536))
            batches: list[pa.RecordBatch] = []
            rows = 0
            for batch in reader:
                batches.append(batch)
                rows += batch.num_rows
                if rows > cap:
                    break
            table = pa.Table.from_batches(batches, reader.schema)
        except duckdb.InterruptException as exc:
            raise QueryTimeout("query timed out") from exc
        except duckdb.Error as exc:
            raise QueryError(_first_useful_line(str(exc))) from exc
        finally:
            cursor.close()
        truncated = table.num_rows > cap
        return (table.slice(0, cap) if truncated else table), truncated

    async def query(self, sql: str, *, limit: int | None = None) -> QueryResult:
        """Run in a thread; interrupt the connection when the timeout passes."""
        started = time.perf_counter()
        task = asyncio.create_task(asyncio.to_thread(self.execute_arrow, sql, limit=limit))
        try:
            table, truncated = await asyncio.wait_for(
                asyncio.shield(task), timeout=self._settings.query_timeout_s
            )
        except TimeoutError:
            self._con.interrupt()
            try:
                await task
            except QueryError:
                pass
            raise QueryTimeout(
                f"query exceeded {self._settings.query_timeout_s:g}s and was cancelled"
            ) from None
        return to_result(table, truncated=truncated, started=started)

    async def close(self) -> None:
        """Close the connection (waits for running queries to notice)."""
        self._con.close()


def _first_useful_line(message: str) -> str:
    """DuckDB's one-line summary; for errors raised inside fsspec, the exception's last line."""
    lines = [line for line in message.splitlines() if line.strip()]
    if not lines:
        return "query failed"
    if lines[0].startswith("Traceback"):
        return lines[-1].strip()
    return lines[0]


def _duckdb_type(arrow_type: pa.DataType) -> str:
    """The DuckDB type a Parquet column of this Arrow type reads as."""
    if pa.types.is_timestamp(arrow_type):
        return "TIMESTAMPTZ" if arrow_type.tz else "TIMESTAMP"
    if pa.types.is_boolean(arrow_type):
        return "BOOLEAN"
    if pa.types.is_int32(arrow_type):
        return "INTEGER"
    if pa.types.is_integer(arrow_type):
        return "BIGINT"
    if pa.types.is_floating(arrow_type):
        return "DOUBLE"
    return "VARCHAR"


def to_result(table: pa.Table, *, truncated: bool, started: float) -> QueryResult:
    """Arrow table to JSON-friendly rows (timestamps as ISO strings)."""
    columns: list[list[Any]] = []
    for col in table.columns:
        if pa.types.is_timestamp(col.type):
            columns.append([None if v is None else v.isoformat() for v in col.to_pylist()])
        else:
            columns.append(col.to_pylist())
    rows = [list(r) for r in zip(*columns, strict=True)] if columns else []
    return QueryResult(
        columns=table.column_names,
        types=[str(t) for t in table.schema.types],
        rows=rows,
        truncated=truncated,
        elapsed_ms=(time.perf_counter() - started) * 1000,
    )
