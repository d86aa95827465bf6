"""DuckDB in-process over the Parquet warehouse: the default engine.

Setup creates one internal view, ``causality_internal.events_raw``, over the Hive layout with
the partition columns typed as integers, then locks the connection down: file access only
under the warehouse root, no extension loading, no spilling to disk (the memory limit is a
hard limit), UTC like the partitions, and the configuration locked so no query can loosen
any of it. Analysts never name that view: every SQL goes through ``prepare_query``, which
refuses qualified names and rewrites ``events`` into a scoped, pruned subquery over it. The
lockdown is the second wall, for anything the first one might miss.

Queries run on their own cursor in a worker thread; a timeout interrupts that cursor only.
Compaction deletes files it merged, so a file listed at bind time can be gone when it is
read: such a query is retried once, then reported as ``WarehouseChanged``.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Callable
from typing import Any, Final, TypeVar

import duckdb
import pyarrow as pa

from causality.config import Settings
from causality.events.arrow import EVENTS_SCHEMA
from causality.query.engine import QueryResult
from causality.query.errors import (
    QueryError,
    QueryMemoryExceeded,
    QueryTimeout,
    ResultTooLarge,
    WarehouseChanged,
)
from causality.query.prepare import PreparedQuery, prepare_query
from causality.warehouse.filesystem import is_local, open_warehouse
from causality.warehouse.layout import events_glob

RAW_SCHEMA: Final = "causality_internal"
RAW_TABLE: Final = f"{RAW_SCHEMA}.events_raw"
_BATCH_ROWS: Final = 2048
_VANISHED = re.compile(
    r"FileNotFoundError|No such file or directory|NoSuchKey|Not Found|No files found", re.I
)
T = TypeVar("T")


class DuckDBEngine:
    """One DuckDB database per engine; each query gets its own cursor and worker thread."""

    dialect: Final = "duckdb"

    def __init__(
        self, *, settings: Settings, memory_limit: str | None = None, threads: int | None = None
    ) -> None:
        self._settings = settings
        self._memory_limit = memory_limit or settings.query_memory_limit
        fs, root = open_warehouse(settings)
        self._local = is_local(fs)
        if self._local:
            self._root = root
        else:
            protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
            self._root = f"{protocol}://{root}"
        self._fs = fs
        self._root_path = root
        self._con = duckdb.connect(
            config={
                "memory_limit": self._memory_limit,
                "threads": threads or settings.query_threads,
            }
        )
        if not self._local:
            self._con.register_filesystem(fs)
        for statement in (
            "SET TimeZone = 'UTC'",  # partitions and naive literals are UTC
            "SET temp_directory = ''",  # no spilling: a query over its memory limit fails
            "SET autoinstall_known_extensions = false",
            "SET autoload_known_extensions = false",
            f"CREATE SCHEMA {RAW_SCHEMA}",
        ):
            self._con.execute(statement)
        self._con.execute("SET allowed_directories = ?", [[self._root.rstrip("/") + "/"]])
        self._con.execute("SET enable_external_access = false")
        # nothing a query says can loosen the settings above (memory, paths, access)
        self._con.execute("SET lock_configuration = true")
        self._has_files: bool | None = None
        self._lock = threading.Lock()
        self._refresh_view()

    # -- the QueryEngine interface

    def prepare(
        self,
        sql: str,
        *,
        limit: int | None = None,
        offset: int = 0,
        app_ids: frozenset[str] | None = None,
    ) -> PreparedQuery:
        """Check, scope, prune and limit ``sql`` for this engine (raises UnsafeQuery)."""
        return prepare_query(
            sql,
            dialect="duckdb",
            app_ids=app_ids,
            limit=limit or self._settings.query_row_limit,
            max_limit=self._settings.query_max_row_limit,
            offset=offset,
            raw_table=RAW_TABLE,
            partitioning=self._settings.partitioning,
        )

    async def query(
        self,
        sql: str,
        *,
        limit: int | None = None,
        offset: int = 0,
        app_ids: frozenset[str] | None = None,
    ) -> QueryResult:
        """Prepare and run; every caller, the CLI included, takes this checked path."""
        return await self.run(self.prepare(sql, limit=limit, offset=offset, app_ids=app_ids))

    async def run(self, prepared: PreparedQuery) -> QueryResult:
        """Run prepared SQL under the timeout, the row limit and the result size cap."""
        if prepared.dialect != "duckdb":
            raise ValueError(f"this engine runs DuckDB SQL, not {prepared.dialect}")
        started = time.perf_counter()
        table, truncated = await self._in_thread(
            lambda cursor: self._fetch_with_retry(cursor, prepared)
        )
        return to_result(table, truncated=truncated, started=started)

    async def explain(
        self, sql: str, *, app_ids: frozenset[str] | None = None, analyze: bool = False
    ) -> str:
        """The plan of the prepared query; with ``analyze`` it runs and reports files read."""
        prepared = self.prepare(sql, app_ids=app_ids)
        keyword = "EXPLAIN ANALYZE" if analyze else "EXPLAIN"

        def plan(cursor: duckdb.DuckDBPyConnection) -> str:
            self._before_query()
            rows = cursor.sql(f"{keyword} {prepared.sql}").fetchall()
            return "\n".join(str(row[-1]) for row in rows)

        return await self._in_thread(plan)

    async def close(self) -> None:
        """Close the connection (waits for running queries to notice)."""
        self._con.close()

    # -- running

    async def _in_thread(self, work: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        """Run ``work`` on a fresh cursor in a thread; interrupt only that cursor on timeout."""
        cursor = self._con.cursor()

        def guarded() -> T:
            try:
                return work(cursor)
            except duckdb.Error as exc:
                raise self._translate(exc) from exc
            finally:
                cursor.close()

        task = asyncio.ensure_future(asyncio.to_thread(guarded))
        timeout = self._settings.query_timeout_s
        try:
            return await asyncio.wait_for(asyncio.shield(task), timeout=timeout)
        except TimeoutError:
            cursor.interrupt()
            try:
                await task
            except QueryError:
                pass
            raise QueryTimeout(f"query exceeded {timeout:g}s and was cancelled") from None
        except asyncio.CancelledError:
            cursor.interrupt()  # the caller went away; stop the work, the thread closes it
            raise

    def _fetch_with_retry(
        self, cursor: duckdb.DuckDBPyConnection, prepared: PreparedQuery
    ) -> tuple[pa.Table, bool]:
        for attempt in (1, 2):
            try:
                self._before_query()  # may bind the view, which reads file footers too
                return self._fetch(cursor, prepared)
            except duckdb.Error as exc:
                if not _file_vanished(exc):
                    raise
                if attempt == 2:
                    raise WarehouseChanged(
                        "warehouse files changed twice while the query read them "
                        "(compaction in progress); retry in a moment"
                    ) from exc
                # nothing to reset: DuckDB expands the glob afresh for every query
        raise AssertionError("unreachable")

    def _fetch(
        self, cursor: duckdb.DuckDBPyConnection, prepared: PreparedQuery
    ) -> tuple[pa.Table, bool]:
        cap, max_bytes = prepared.limit, self._settings.query_max_result_bytes
        reader = cursor.sql(prepared.sql).to_arrow_reader(_BATCH_ROWS)
        batches: list[pa.RecordBatch] = []
        rows = size = 0
        for batch in reader:
            batch = batch.slice(0, cap + 1 - rows)
            batches.append(batch)
            rows += batch.num_rows
            size += batch.nbytes
            if size > max_bytes:
                raise ResultTooLarge(
                    f"the result is larger than {max_bytes:,} bytes; select fewer columns or "
                    "rows, or aggregate"
                )
            if rows > cap:
                break
        table = pa.Table.from_batches(batches, reader.schema)
        truncated = table.num_rows > cap
        return (table.slice(0, cap) if truncated else table), truncated

    def _before_query(self) -> None:
        if not self._local:
            # s3fs's glob lists afresh but never overwrites a directory listing it cached
            # earlier, and file lookups trust that cache: a file another process added since
            # would be "not found". One LIST per query keeps the cache (and so no HEAD per file).
            self._fs.invalidate_cache()
        if not self._has_files:
            self._refresh_view()

    def _translate(self, exc: duckdb.Error) -> QueryError:
        """DuckDB's exceptions as ours, with the warehouse location taken out of messages."""
        message = _first_useful_line(str(exc)).replace(self._root, "<warehouse>")
        if isinstance(exc, duckdb.InterruptException):
            return QueryTimeout("query was interrupted")
        if isinstance(exc, duckdb.OutOfMemoryException):
            return QueryMemoryExceeded(
                f"the query needed more than query_memory_limit ({self._memory_limit}); "
                "aggregate more or read fewer rows"
            )
        if isinstance(exc, duckdb.PermissionException):
            return QueryError(f"the query tried something this engine does not allow: {message}")
        return QueryError(message)

    # -- the internal view

    def _warehouse_has_files(self) -> bool:
        try:
            return bool(self._fs.glob(events_glob(self._root_path)))
        except FileNotFoundError:
            return False

    def _refresh_view(self) -> None:
        """(Re)create the raw view: over the files when there are some, else empty and typed."""
        has_files = self._warehouse_has_files()
        if has_files == self._has_files:
            return
        with self._lock:
            partitions = _partition_columns(self._settings)
            if has_files:
                hive_types = ", ".join(f"'{name}': {kind}" for name, kind in partitions.items())
                self._con.execute(
                    f"CREATE OR REPLACE VIEW {RAW_TABLE} AS SELECT * FROM read_parquet("
                    f"'{events_glob(self._root)}', hive_partitioning = true, "
                    # every file has EVENTS_SCHEMA; union_by_name would open every file's
                    # footer at bind time, defeating partition pruning
                    f"hive_types = {{{hive_types}}}, "
                    "hive_types_autocast = false)"
                )
            else:
                typed = [
                    f'CAST(NULL AS {_duckdb_type(f.type)}) AS "{f.name}"'
                    for f in EVENTS_SCHEMA
                    if f.name not in partitions
                ]
                typed += [f'CAST(NULL AS {kind}) AS "{name}"' for name, kind in partitions.items()]
                self._con.execute(
                    f"CREATE OR REPLACE VIEW {RAW_TABLE} AS SELECT {', '.join(typed)} WHERE false"
                )
            self._has_files = has_files


def _partition_columns(settings: Settings) -> dict[str, str]:
    columns = {"app_id": "VARCHAR", "year": "INTEGER", "month": "INTEGER", "day": "INTEGER"}
    if settings.partitioning == "hourly":
        columns["hour"] = "INTEGER"
    return columns


def _file_vanished(exc: duckdb.Error) -> bool:
    """A listed file was gone when read. DuckDB reports it only in text: native reads as
    IOException, fsspec reads (S3) as a plain Error carrying the Python traceback."""
    io_error = (
        isinstance(exc, duckdb.IOException | duckdb.HTTPException) or type(exc) is duckdb.Error
    )
    return io_error and _VANISHED.search(str(exc)) is not None


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
