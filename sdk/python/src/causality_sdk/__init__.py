"""Causality's Python SDK: track behavioral events from servers, workers and scripts.

    from causality_sdk import Client

    with Client("ck_...", "http://127.0.0.1:8000") as causality:
        causality.track("custom", {"event_name": "report exported", "rows": 1200})
        causality.purchase_complete(order_id="o-1", total_cents=4998, currency="EUR",
                                    user_id="user-42")

``track`` only queues; a background thread batches, gzips and delivers, retrying network
errors, 5xx and 429 with backoff (never 4xx validation errors, which are logged).
``AsyncClient`` is the asyncio variant.
"""

from causality_sdk._version import __version__
from causality_sdk.asyncio_client import AsyncClient
from causality_sdk.client import Client
from causality_sdk.queue import MemoryQueue, SQLiteQueue
from causality_sdk.retry import Backoff, parse_retry_after
from causality_sdk.tracker import Stats, Tracker

__all__ = [
    "AsyncClient",
    "Backoff",
    "Client",
    "MemoryQueue",
    "SQLiteQueue",
    "Stats",
    "Tracker",
    "__version__",
    "parse_retry_after",
]
