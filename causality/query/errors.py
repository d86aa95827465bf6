"""Why a query did not produce rows, as a small hierarchy the gateway maps to HTTP.

Every message is safe to show to the query's author (it names their SQL, never a path or a
credential). ``code`` is the stable error code of the API body; the HTTP status belongs to the
gateway, which is expected to map:

============================  ====================  ======  =========
class                         code                  status  transient
============================  ====================  ======  =========
``UnsafeQuery``               ``unsafe_sql``        400     no
``QueryError``                ``query_failed``      400     no
``QueryTimeout``              ``query_timeout``     504     no
``QueryMemoryExceeded``       ``query_memory``      422     no
``ResultTooLarge``            ``result_too_large``  413     no
``WarehouseChanged``          ``warehouse_changed`` 503     yes
``QueryUnavailable``          ``query_unavailable`` 503     yes
============================  ====================  ======  =========

504 for a timeout because the gateway waited on its query engine (Trino is literally an
upstream server); 408 would blame the client for sending its request slowly.
"""

from __future__ import annotations


class QueryError(Exception):
    """The engine rejected or failed the query; the message is safe to show to the author."""

    code = "query_failed"
    transient = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __reduce__(self) -> tuple[type, tuple[str]]:
        return (type(self), (self.message,))


class UnsafeQuery(QueryError):
    """The SQL is not one read-only SELECT over the allowed tables (nothing was run).

    ``position`` is the character offset in the submitted text when it is known.
    """

    code = "unsafe_sql"

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.position = position

    def __reduce__(self) -> tuple[type, tuple[str, int | None]]:  # type: ignore[override]
        return (type(self), (self.message, self.position))


class QueryTimeout(QueryError):
    """The query ran past its time limit and was interrupted."""

    code = "query_timeout"


class QueryMemoryExceeded(QueryError):
    """The query needed more memory than ``query_memory_limit``; the engine itself is fine."""

    code = "query_memory"


class ResultTooLarge(QueryError):
    """The result grew past ``query_max_result_bytes`` and was dropped."""

    code = "result_too_large"


class WarehouseChanged(QueryError):
    """Files vanished under the query twice in a row (compaction); retrying later works."""

    code = "warehouse_changed"
    transient = True


class QueryUnavailable(QueryError):
    """The query engine (Trino) could not be reached; nothing is wrong with the SQL."""

    code = "query_unavailable"
    transient = True
