"""Trino through its DBAPI client: the same QueryEngine over the same Parquet layout, at scale.

The Hive connector's ``events`` table (docs/trino.md) has the partition columns, like
DuckDB's internal view, so the same ``prepare_query`` path scopes and prunes it; the SQL is
printed in Trino's dialect. Limits are Trino's own session properties
(``query_max_execution_time``, ``query_max_memory``) plus our row and byte caps while
fetching; the client is blocking, so each query runs in a worker thread with its own
connection. The session time zone is UTC, matching the partitions and naive literals.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import math
import re
import time
from typing import Any, Final
from urllib.parse import urlparse

import msgspec
import trino
from trino.auth import BasicAuthentication
from trino.exceptions import TrinoQueryError

from causality.config import Settings
from causality.query.engine import QueryResult
from causality.query.errors import (
    QueryError,
    QueryMemoryExceeded,
    QueryTimeout,
    QueryUnavailable,
    ResultTooLarge,
    WarehouseChanged,
)
from causality.query.prepare import PreparedQuery, prepare_query

_FETCH_ROWS: Final = 1000
_VANISHED_ERRORS: Final = frozenset({"HIVE_FILE_NOT_FOUND", "HIVE_CANNOT_OPEN_SPLIT"})
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b)\s*$", re.IGNORECASE)
_UNITS: Final = {"b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4}
_UNITS |= {"kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4}


class TrinoEngine:
    """Runs prepared Trino SQL; catalog, schema, user and URL come from settings."""

    dialect: Final = "trino"

    def __init__(self, *, settings: Settings) -> None:
        if not settings.trino_url:
            raise ValueError("query_engine is trino but trino_url is not set")
        self._settings = settings
        self._url = urlparse(settings.trino_url)
        self.raw_table = f"{settings.trino_catalog}.{settings.trino_schema}.events"

    def prepare(
        self,
        sql: str,
        *,
        limit: int | None = None,
        offset: int = 0,
        app_ids: frozenset[str] | None = None,
    ) -> PreparedQuery:
        """Check, scope, prune and limit ``sql``, printed for Trino (raises UnsafeQuery)."""
        return prepare_query(
            sql,
            dialect="trino",
            app_ids=app_ids,
            limit=limit or self._settings.query_row_limit,
            max_limit=self._settings.query_max_row_limit,
            offset=offset,
            raw_table=self.raw_table,
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
        """Prepare and run, exactly as DuckDBEngine.query does."""
        return await self.run(self.prepare(sql, limit=limit, offset=offset, app_ids=app_ids))

    async def run(self, prepared: PreparedQuery) -> QueryResult:
        """Run in a thread; cancel the Trino query if our own timeout passes first."""
        if prepared.dialect != "trino":
            raise ValueError(f"this engine runs Trino SQL, not {prepared.dialect}")
        started = time.perf_counter()
        cursors: list[Any] = []
        task = asyncio.ensure_future(asyncio.to_thread(self._run_with_retry, prepared, cursors))
        # Trino enforces query_max_execution_time itself; ours adds room for queueing
        timeout = self._settings.query_timeout_s + 5.0
        try:
            columns, types, rows, truncated = await asyncio.wait_for(
                asyncio.shield(task), timeout=timeout
            )
        except (TimeoutError, asyncio.CancelledError) as exc:
            for cursor in cursors:
                await asyncio.to_thread(_cancel, cursor)
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise QueryTimeout(
                f"query exceeded {self._settings.query_timeout_s:g}s and was cancelled"
            ) from None
        return QueryResult(
            columns=columns,
            types=types,
            rows=rows,
            truncated=truncated,
            elapsed_ms=(time.perf_counter() - started) * 1000,
        )

    async def close(self) -> None:
        """Nothing is held between queries (one HTTP session per query)."""

    def _run_with_retry(
        self, prepared: PreparedQuery, cursors: list[Any]
    ) -> tuple[list[str], list[str], list[list[Any]], bool]:
        for attempt in (1, 2):
            try:
                return self._fetch(prepared, cursors)
            except TrinoQueryError as exc:
                if exc.error_name not in _VANISHED_ERRORS:
                    raise _translate(exc, self._settings) from exc
                if attempt == 2:
                    raise WarehouseChanged(
                        "warehouse files changed twice while the query read them "
                        "(compaction in progress); retry in a moment"
                    ) from exc
            except trino.exceptions.HttpError as exc:
                raise QueryUnavailable(f"Trino answered with an error: {exc}") from exc
            except (trino.exceptions.TrinoConnectionError, OSError) as exc:
                raise QueryUnavailable(f"cannot reach Trino at {self._settings.trino_url}") from exc
        raise AssertionError("unreachable")

    def _fetch(
        self, prepared: PreparedQuery, cursors: list[Any]
    ) -> tuple[list[str], list[str], list[list[Any]], bool]:
        conn = self._connect()
        try:
            cursor = conn.cursor()
            cursors.append(cursor)
            cursor.execute(prepared.sql)
            rows: list[list[Any]] = []
            size, cap = 0, self._settings.query_max_result_bytes
            while len(rows) <= prepared.limit:
                batch = [[_jsonable(v) for v in row] for row in cursor.fetchmany(_FETCH_ROWS)]
                if not batch:
                    break
                size += len(msgspec.json.encode(batch))
                if size > cap:
                    raise ResultTooLarge(
                        f"the result is larger than {cap:,} bytes; select fewer columns or "
                        "rows, or aggregate"
                    )
                rows.extend(batch)
            description = cursor.description or []
            truncated = len(rows) > prepared.limit
            if truncated:
                _cancel(cursor)
            columns = [str(d[0]) for d in description]
            types = [str(d[1]) for d in description]
            return columns, types, rows[: prepared.limit], truncated
        finally:
            conn.close()

    def _connect(self) -> Any:
        settings, url = self._settings, self._url
        scheme = url.scheme or "http"
        auth = None
        if settings.trino_password:
            auth = BasicAuthentication(settings.trino_user, settings.trino_password)
        return trino.dbapi.connect(
            host=url.hostname or "localhost",
            port=url.port or (443 if scheme == "https" else 8080),
            http_scheme=scheme,
            user=settings.trino_user,
            catalog=settings.trino_catalog,
            schema=settings.trino_schema,
            auth=auth,
            timezone="UTC",
            source="causality",
            max_attempts=1,
            request_timeout=settings.query_timeout_s + 10.0,
            session_properties={
                "query_max_execution_time": f"{math.ceil(settings.query_timeout_s)}s",
                "query_max_memory": f"{data_size_bytes(settings.query_memory_limit)}B",
            },
        )


def data_size_bytes(text: str) -> int:
    """``1GB`` (powers of 1000) or ``1GiB`` (powers of 1024), as DuckDB reads them."""
    match = _SIZE.match(text)
    if match is None:
        raise ValueError(f"not a data size: {text!r}")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def _translate(exc: TrinoQueryError, settings: Settings) -> QueryError:
    name = exc.error_name or ""
    if name == "EXCEEDED_TIME_LIMIT":
        return QueryTimeout(f"query exceeded {settings.query_timeout_s:g}s and was cancelled")
    if "MEMORY_LIMIT" in name:
        return QueryMemoryExceeded(
            f"the query needed more than query_memory_limit ({settings.query_memory_limit}); "
            "aggregate more or read fewer rows"
        )
    if exc.error_type in ("INTERNAL_ERROR", "INSUFFICIENT_RESOURCES"):
        return QueryUnavailable(f"Trino could not run the query: {name}")
    return QueryError(exc.message)


def _cancel(cursor: Any) -> None:
    try:
        cursor.cancel()
    except Exception:  # best effort: the query may already be gone
        pass


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value
